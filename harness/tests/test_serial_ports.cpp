// Serial port discovery through libserialport's port list, against USB-serial adapters a
// umockdev testbed presents (real libserialport enumeration over a faked sysfs).
#define BOOST_TEST_MODULE serial_ports
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "common/umockdev_port.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/transport/serial_ports.hpp"

using hilbench::ConfigError;
using hilbench::find_serial_port;
using hilbench::list_serial_ports;
using hilbench::PortNotFound;
using hilbench::SerialPortQuery;
namespace emu = hilbench::emu;

namespace {

emu::UsbSerialIdentity adapter(std::string vid, std::string pid, std::string serial) {
  emu::UsbSerialIdentity id;
  id.vendor_id = std::move(vid);
  id.product_id = std::move(pid);
  id.serial = std::move(serial);
  id.manufacturer = "hilbench tests";
  id.product = "emulated adapter";
  return id;
}

/// Three adapters: two FT232R (same VID:PID, different serials) and one CP2102.
struct ThreeAdapters {
  ThreeAdapters() : bench(std::make_unique<emu::UmockdevBench>()) {
    bench->add_serial_port("ttyUSB0", adapter("0403", "6001", "FT-A"));
    bench->add_serial_port("ttyUSB1", adapter("0403", "6001", "FT-B"));
    bench->add_serial_port("ttyUSB2", adapter("10C4", "EA60", "CP-1"));
    ::setenv("UMOCKDEV_DIR", bench->root_dir().c_str(), 1);
  }
  std::unique_ptr<emu::UmockdevBench> bench;
};

SerialPortQuery by(std::string serial, std::optional<std::uint16_t> vid = std::nullopt,
                   std::optional<std::uint16_t> pid = std::nullopt) {
  SerialPortQuery query;
  query.usb_serial = std::move(serial);
  query.usb_vendor_id = vid;
  query.usb_product_id = pid;
  return query;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(discovery, ThreeAdapters)

BOOST_AUTO_TEST_CASE(every_adapter_is_listed_with_its_usb_identity) {
  const auto ports = list_serial_ports();
  int seen = 0;
  for (const auto& port : ports) {
    if (port.name == "/dev/ttyUSB2") {
      ++seen;
      BOOST_TEST(port.transport == "usb");
      BOOST_TEST(port.usb_vendor_id.value_or(0) == 0x10C4);
      BOOST_TEST(port.usb_product_id.value_or(0) == 0xEA60);
      BOOST_TEST(port.usb_serial == "CP-1");
      BOOST_TEST(port.usb_manufacturer == "hilbench tests");
    }
    if (port.name == "/dev/ttyUSB0" || port.name == "/dev/ttyUSB1") ++seen;
  }
  BOOST_TEST(seen == 3);
}

BOOST_AUTO_TEST_CASE(a_port_is_found_by_adapter_serial_number) {
  BOOST_TEST(find_serial_port(by("FT-B")) == "/dev/ttyUSB1");
  BOOST_TEST(find_serial_port(by("CP-1")) == "/dev/ttyUSB2");
}

BOOST_AUTO_TEST_CASE(a_port_is_found_by_vid_pid_when_that_is_unique) {
  BOOST_TEST(find_serial_port(by("", 0x10C4, 0xEA60)) == "/dev/ttyUSB2");
  BOOST_TEST(find_serial_port(by("FT-A", 0x0403, 0x6001)) == "/dev/ttyUSB0");
}

BOOST_AUTO_TEST_CASE(an_ambiguous_query_names_every_match) {
  try {
    find_serial_port(by("", 0x0403, 0x6001));
    BOOST_FAIL("expected ConfigError");
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    BOOST_TEST(message.find("2 adapters match") != std::string::npos);
    BOOST_TEST(message.find("/dev/ttyUSB0") != std::string::npos);
    BOOST_TEST(message.find("/dev/ttyUSB1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_missing_adapter_is_port_not_found_listing_what_was_seen) {
  try {
    find_serial_port(by("NOPE"));
    BOOST_FAIL("expected PortNotFound");
  } catch (const PortNotFound& error) {
    const std::string message = error.what();
    BOOST_TEST(message.find("serial NOPE") != std::string::npos);
    BOOST_TEST(message.find("serial CP-1") != std::string::npos);
  }
  BOOST_CHECK_THROW(find_serial_port({}), ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()
