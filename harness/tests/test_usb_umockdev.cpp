// UsbTransport (libusb-1.0, unmodified) and UsbtmcTransport against the emulated reference
// DMM presented as a USBTMC/USB488 device through umockdev (hilbench-emulator --usb). This
// process runs under libumockdev-preload (ctest: the name contains "umockdev"); the
// emulator runs without it and owns the testbed (UMOCKDEV_DIR from its ready line).
//
// Shows: discovery by VID:PID, serial and bus/port path (and clear errors for none); the
// SCPI client unchanged over USBTMC (*IDN?, MEAS:VOLT:DC?, the error queue drained);
// GET_CAPABILITIES, READ_STATUS_BYTE over interrupt-IN, REN_CONTROL/GO_TO_LOCAL; chunks
// timestamped; and each USB defect knob detected: bTag not echoed (ProtocolError), EOM
// never set (read_message times out naming EOM), a stalled Bulk-IN recovered by abort (the
// next query gets its own answer), wrong capabilities, and an unplug mid-read (typed error
// within the deadline; the device is found again after it is re-plugged).
#define BOOST_TEST_MODULE usb_umockdev
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/tests/child_process.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"
#include "hilbench/protocol/usbtmc.hpp"
#include "hilbench/transport/usb.hpp"

using namespace std::chrono_literals;
using emulator_test::ChildProcess;
using hilbench::Deadline;
using hilbench::UsbQuery;
using hilbench::UsbSettings;
using hilbench::UsbTransport;
using hilbench::usbtmc::UsbtmcTransport;

namespace {

const std::string emulator_path = HILBENCH_EMULATOR_PATH;
const std::string dmm_profile =
    std::string(HILBENCH_SOURCE_DIR) + "/devices/profiles/dmm6-reference.toml";
constexpr const char* kSerial = "DMM6-2026-000042";

/// A DMM emulator with its USB face, and this process pointed at its testbed.
struct UsbDmm {
  explicit UsbDmm(const std::vector<std::string>& defects = {}) {
    std::vector<std::string> args{"--profile", dmm_profile, "--usb"};
    for (const auto& defect : defects) {
      args.push_back("--defect");
      args.push_back(defect);
    }
    process = std::make_unique<ChildProcess>(
        emulator_path, args, false, std::vector<std::string>{"LD_PRELOAD", "UMOCKDEV_DIR"});
    ready = process->ready();
    BOOST_REQUIRE(ready["usb"].is_object());
    ::setenv("UMOCKDEV_DIR", ready["usb"]["umockdev_dir"].get<std::string>().c_str(), 1);
  }
  ~UsbDmm() {
    process->close_stdin();
    process->wait_exit(std::chrono::milliseconds{5'000});
    ::unsetenv("UMOCKDEV_DIR");
  }
  std::unique_ptr<ChildProcess> process;
  nlohmann::json ready;
};

UsbSettings by_serial() {
  UsbSettings settings;
  settings.query.serial = kSerial;
  return settings;
}

std::shared_ptr<UsbtmcTransport> open_usbtmc(UsbSettings settings = by_serial()) {
  return std::make_shared<UsbtmcTransport>(std::make_shared<UsbTransport>(std::move(settings)));
}

std::unique_ptr<hilbench::scpi::Client> client_over(std::shared_ptr<UsbtmcTransport> transport) {
  hilbench::scpi::ClientOptions options;
  options.timeout = 1s;
  return std::make_unique<hilbench::scpi::Client>(std::move(transport), options);
}

}  // namespace

BOOST_AUTO_TEST_CASE(discovery_by_vid_pid_serial_and_path) {
  UsbDmm dmm;
  BOOST_TEST(dmm.ready["usb"]["resource"] == "USB0::0x1209::0x0001::DMM6-2026-000042::INSTR");
  const auto seen = hilbench::list_usb_devices();
  BOOST_REQUIRE_EQUAL(seen.size(), 1U);
  BOOST_TEST(seen[0].vendor_id == 0x1209);
  BOOST_TEST(seen[0].product_id == 0x0001);
  BOOST_TEST(seen[0].serial == kSerial);
  BOOST_TEST(seen[0].manufacturer == "hilbench");
  BOOST_TEST(seen[0].product == "DMM-6");
  BOOST_TEST(seen[0].path == "1-1");
  {
    UsbSettings ids;
    ids.query.vendor_id = 0x1209;
    ids.query.product_id = 0x0001;
    UsbTransport usb(ids);
    BOOST_TEST(usb.name() == "usb:1209:0001:DMM6-2026-000042");
    BOOST_TEST(usb.interface_class() == 0xFE);
    BOOST_TEST(usb.interface_subclass() == 3);
    BOOST_TEST(usb.interface_protocol() == 1);
    BOOST_TEST(usb.endpoints().bulk_out == 0x01);
    BOOST_TEST(usb.endpoints().bulk_in == 0x82);
    BOOST_TEST(usb.endpoints().interrupt_in == 0x83);
  }
  {
    UsbSettings path;
    path.query.path = "1-1";
    UsbTransport usb(path);
    BOOST_TEST(usb.device().serial == kSerial);
  }
  UsbSettings missing;
  missing.query.serial = "NOPE";
  try {
    UsbTransport usb(missing);
    BOOST_FAIL("a missing serial must not open");
  } catch (const hilbench::PortNotFound& error) {
    BOOST_TEST(std::string(error.what()).find("DMM6-2026-000042") != std::string::npos);
  }
  BOOST_CHECK_THROW(UsbTransport(UsbSettings{}), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(scpi_client_runs_unchanged_over_usbtmc) {
  UsbDmm dmm;
  auto transport = open_usbtmc();
  std::vector<hilbench::Chunk> chunks;
  transport->usb().set_chunk_sink([&](const hilbench::Chunk& chunk) { chunks.push_back(chunk); });
  BOOST_TEST(transport->name() == "usbtmc:1209:0001:DMM6-2026-000042");
  const auto& caps = transport->capabilities();
  BOOST_TEST(caps.bcd_usbtmc == 0x0100);
  BOOST_TEST(!caps.listen_only);
  BOOST_TEST(!caps.talk_only);
  BOOST_TEST(caps.bcd_usb488 == 0x0100);
  BOOST_TEST(caps.is_488_2);
  BOOST_TEST(caps.scpi);
  auto client = client_over(transport);
  const auto identity = client->identify();
  BOOST_TEST(identity.manufacturer == "hilbench");
  BOOST_TEST(identity.model == "DMM-6");
  BOOST_TEST(identity.serial_number == kSerial);
  BOOST_TEST(identity.firmware == "2.1.0");
  const double volts = client->query_number("MEAS:VOLT:DC?");
  BOOST_TEST(std::abs(volts - 10.0) < 6 * 10e-6);
  BOOST_TEST(transport->recoveries() == 0U);
  // Raw bulk transfers reached the USB transport's chunk sink, stamped in order.
  BOOST_REQUIRE(chunks.size() >= 4U);
  for (std::size_t i = 1; i < chunks.size(); ++i)
    BOOST_TEST(chunks[i].monotonic_ns >= chunks[i - 1].monotonic_ns);
  BOOST_TEST((chunks.front().direction == hilbench::Direction::tx));
  BOOST_TEST(chunks.front().bytes[0] == 1);  // DEV_DEP_MSG_OUT

  // A bad command: the error queue holds it, the client raises ScpiError, then all is clean.
  BOOST_CHECK_THROW(client->command("BOGUS:CMD"), hilbench::scpi::ScpiError);
  BOOST_TEST(client->query("*IDN?").find("DMM-6") != std::string::npos);

  // USB488: the status byte over interrupt-IN, remote/local control.
  client->command("*CLS");
  BOOST_TEST(transport->read_status_byte(Deadline::after(1s)) == 0);
  transport->ren_control(true, Deadline::after(1s));
  transport->go_to_local(Deadline::after(1s));
  transport->ren_control(false, Deadline::after(1s));
}

BOOST_AUTO_TEST_CASE(a_query_without_answer_times_out_and_the_device_is_recovered) {
  UsbDmm dmm;
  auto transport = open_usbtmc();
  auto client = client_over(transport);
  // A command is not a query: asking for an answer finds none; the transfer is aborted.
  const std::string configure = "CONF:VOLT:DC\n";
  transport->write(
      std::span(reinterpret_cast<const std::uint8_t*>(configure.data()), configure.size()),
      Deadline::after(1s));
  BOOST_CHECK_THROW(transport->read_message(Deadline::after(200ms)), hilbench::DeviceTimeout);
  BOOST_TEST(transport->recoveries() == 1U);
  BOOST_TEST(transport->last_recovery().find("abort_bulk_in") != std::string::npos);
  BOOST_TEST(client->query("CONF?").find("VOLT") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(knob_tag_not_echoed_is_a_protocol_error) {
  UsbDmm dmm({"usbtmc_tag_not_echoed"});
  auto transport = open_usbtmc();
  auto client = client_over(transport);
  try {
    client->query("*IDN?");
    BOOST_FAIL("a reply with another bTag must not be accepted");
  } catch (const hilbench::ProtocolError& error) {
    BOOST_TEST(std::string(error.what()).find("bTag") != std::string::npos);
  }
  BOOST_TEST(transport->recoveries() >= 1U);
}

BOOST_AUTO_TEST_CASE(knob_eom_never_set_is_found_by_read_message) {
  UsbDmm dmm({"usbtmc_eom_never_set"});
  auto transport = open_usbtmc();
  const std::string idn = "*IDN?\n";
  transport->write(std::span(reinterpret_cast<const std::uint8_t*>(idn.data()), idn.size()),
                   Deadline::after(1s));
  try {
    transport->read_message(Deadline::after(300ms));
    BOOST_FAIL("a message without EOM must not end");
  } catch (const hilbench::DeviceTimeout& error) {
    BOOST_TEST(std::string(error.what()).find("EOM") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(knob_stall_until_abort_is_recovered_by_abort) {
  UsbDmm dmm({"usbtmc_stall_until_abort"});
  auto transport = open_usbtmc();
  auto client = client_over(transport);
  client->set_timeout(300ms);
  BOOST_CHECK_THROW(client->query("MEAS:VOLT:DC?"), hilbench::DeviceTimeout);
  BOOST_TEST(transport->recoveries() >= 1U);
  BOOST_TEST(transport->last_recovery().find("success") != std::string::npos);
  // The withheld answer is gone: the next query gets its own.
  client->set_timeout(1s);
  BOOST_TEST(client->query("*IDN?").find("DMM-6") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(knob_wrong_capabilities_is_visible) {
  UsbDmm dmm({"usbtmc_wrong_capabilities"});
  auto transport = open_usbtmc();
  const auto& caps = transport->capabilities();
  BOOST_TEST(caps.listen_only);
  BOOST_TEST(!caps.is_488_2);
  BOOST_TEST(!caps.scpi);
  BOOST_CHECK_THROW(transport->ren_control(true, Deadline::after(1s)), hilbench::ProtocolError);
}

BOOST_AUTO_TEST_CASE(knob_unplug_mid_read_gives_a_typed_error_and_the_device_comes_back) {
  UsbDmm dmm({"usb_unplug_mid_read"});
  {
    auto transport = open_usbtmc();
    auto client = client_over(transport);
    BOOST_TEST(client->query("*IDN?").find("DMM-6") != std::string::npos);
    const auto started = std::chrono::steady_clock::now();
    try {
      client->query("MEAS:VOLT:DC?");
      BOOST_FAIL("an unplugged device must not answer");
    } catch (const hilbench::ConnectionClosed& error) {
      // Named by the transport the client holds: the USBTMC layer over the vanished device.
      BOOST_TEST(error.device() == "usbtmc:1209:0001:DMM6-2026-000042");
      BOOST_TEST(std::string(error.what()).find("gone") != std::string::npos);
    }
    BOOST_TEST((std::chrono::steady_clock::now() - started < 1s));  // within the deadline
    BOOST_TEST(transport->connection_lost());
  }
  // Re-plugged with the next device number: found again by serial (bounded retries).
  const Deadline patience = Deadline::after(5s);
  std::shared_ptr<UsbtmcTransport> again;
  while (!again) {
    try {
      again = open_usbtmc();
    } catch (const hilbench::PortNotFound&) {
      BOOST_REQUIRE_MESSAGE(!patience.expired(), "the device never came back");
      std::this_thread::sleep_for(20ms);  // polling the bus, as a lab script would
    }
  }
  BOOST_TEST(again->usb().device().address == 3);
  auto client = client_over(again);
  BOOST_TEST(std::abs(client->query_number("MEAS:VOLT:DC?") - 10.0) < 6 * 10e-6);
}
