// The umockdev port presenter: the sysfs tree it describes, the pty it hands the device,
// the modem-line ioctl handler (and that every other ioctl still reaches the pty), hang-up
// on destruction, and hilbench-present-port end to end. Runs under libumockdev-preload
// (cmake/HilbenchTesting.cmake), so opening /dev/ttyUSB0 goes through the testbed.
#define BOOST_TEST_MODULE umockdev_port
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/tests/child_process.hpp"
#include "common/tests/test_paths.hpp"
#include "common/umockdev_port.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using emulator_test::ChildProcess;
using hilbench::UniqueFd;
using hilbench::emu::PresentedPort;
using hilbench::emu::UmockdevBench;
using hilbench::emu::UsbSerialIdentity;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

/// poll() for `events` with a generous bound; the revents seen (0 on timeout).
short wait_for(int fd, short events, std::chrono::milliseconds patience = 5000ms) {
  pollfd poll_fd{fd, events, 0};
  if (::poll(&poll_fd, 1, static_cast<int>(patience.count())) <= 0) return 0;
  return poll_fd.revents;
}

std::string read_some(int fd) {
  if ((wait_for(fd, POLLIN) & POLLIN) == 0) return {};
  std::array<char, 256> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string();
}

void write_all(int fd, std::string_view text) {
  BOOST_REQUIRE_EQUAL(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

/// Opens an emulated node the way a harness would (through the preload).
UniqueFd open_emulated(const std::string& device_path) {
  UniqueFd fd(::open(device_path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  BOOST_REQUIRE_MESSAGE(fd.get() >= 0, "cannot open " << device_path << " through umockdev");
  return fd;
}

int modem_bits(int fd) {
  int bits = 0;
  BOOST_REQUIRE_EQUAL(::ioctl(fd, TIOCMGET, &bits), 0);
  return bits;
}

struct Bench {
  Bench() : bench(std::make_unique<UmockdevBench>()) {}
  PresentedPort& add(const std::string& tty, const UsbSerialIdentity& identity = {}) {
    PresentedPort& port = bench->add_serial_port(tty, identity);
    ::setenv("UMOCKDEV_DIR", bench->root_dir().c_str(), 1);
    return port;
  }
  fs::path root() const { return bench->root_dir(); }
  std::unique_ptr<UmockdevBench> bench;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(umockdev_port, Bench)

BOOST_AUTO_TEST_CASE(describes_a_usb_serial_adapter_as_the_kernel_does) {
  UsbSerialIdentity identity;
  identity.vendor_id = "1A86";
  identity.product_id = "7523";
  identity.serial = "back\\slash";
  PresentedPort& port = add("ttyUSB3", identity);
  BOOST_TEST(port.tty_name() == "ttyUSB3");
  BOOST_TEST(port.device_path() == "/dev/ttyUSB3");

  const fs::path tty_class = root() / "sys/class/tty/ttyUSB3";
  BOOST_TEST(fs::is_symlink(tty_class));
  BOOST_TEST(fs::read_symlink(tty_class).string().find("usb") != std::string::npos);
  // libserialport climbs from the tty's device link to the usb_device attributes.
  const fs::path usb_device = fs::canonical(tty_class / "device" / ".." / "..");
  BOOST_TEST(read_text(usb_device / "idVendor") == "1a86");
  BOOST_TEST(read_text(usb_device / "idProduct") == "7523");
  BOOST_TEST(read_text(usb_device / "serial") == "back\\slash");
  BOOST_TEST(read_text(tty_class / "dev") == "188:3");
  BOOST_TEST(fs::read_symlink(root() / "dev/ttyUSB3").string().starts_with("/dev/pts/"));
}

BOOST_AUTO_TEST_CASE(the_device_side_is_a_raw_pty_master) {
  const int fd = add("ttyUSB0").device_fd();
  termios settings{};
  BOOST_REQUIRE_EQUAL(::tcgetattr(fd, &settings), 0);
  BOOST_TEST((settings.c_lflag & (ICANON | ECHO)) == 0U);
  BOOST_TEST((settings.c_oflag & OPOST) == 0U);
}

BOOST_AUTO_TEST_CASE(modem_lines_are_answered_from_the_model) {
  PresentedPort& port = add("ttyUSB0");
  const UniqueFd host = open_emulated(port.device_path());
  const auto defaults = port.modem_lines();
  BOOST_TEST((!defaults.dtr && !defaults.rts && defaults.cts && defaults.dsr && defaults.dcd &&
              !defaults.ri));

  int dtr = TIOCM_DTR;
  BOOST_REQUIRE_EQUAL(::ioctl(host.get(), TIOCMBIS, &dtr), 0);
  BOOST_TEST(port.modem_lines().dtr);
  int only_rts = TIOCM_RTS;  // TIOCMSET replaces both outputs; inputs are not the host's
  BOOST_REQUIRE_EQUAL(::ioctl(host.get(), TIOCMSET, &only_rts), 0);
  BOOST_TEST(!port.modem_lines().dtr);
  BOOST_TEST(port.modem_lines().rts);
  BOOST_TEST(port.modem_lines().cts);
  int rts = TIOCM_RTS;
  BOOST_REQUIRE_EQUAL(::ioctl(host.get(), TIOCMBIC, &rts), 0);
  BOOST_TEST(!port.modem_lines().rts);

  port.set_device_lines(/*cts=*/false, /*dsr=*/true, /*dcd=*/false, /*ri=*/true);
  const int bits = modem_bits(host.get());
  BOOST_TEST((bits & TIOCM_CTS) == 0);
  BOOST_TEST((bits & TIOCM_DSR) != 0);
  BOOST_TEST((bits & TIOCM_CAR) == 0);
  BOOST_TEST((bits & TIOCM_RNG) != 0);
}

BOOST_AUTO_TEST_CASE(other_ioctls_still_reach_the_pty) {
  // umockdev 0.17 answers an unhandled ioctl with ENOTTY; the handler passes them on.
  PresentedPort& port = add("ttyUSB0");
  const UniqueFd host = open_emulated(port.device_path());
  termios settings{};
  BOOST_TEST(::ioctl(host.get(), TCGETS, &settings) == 0);
  write_all(port.device_fd(), "abc");
  BOOST_REQUIRE((wait_for(host.get(), POLLIN) & POLLIN) != 0);
  int waiting = 0;
  BOOST_TEST(::ioctl(host.get(), TIOCINQ, &waiting) == 0);
  BOOST_TEST(waiting == 3);
  BOOST_TEST(read_some(host.get()) == "abc");
  write_all(host.get(), "xyz");
  BOOST_TEST(read_some(port.device_fd()) == "xyz");
}

BOOST_AUTO_TEST_CASE(several_ports_share_one_bench) {
  UsbSerialIdentity second;
  second.serial = "HB000002";
  PresentedPort& a = add("ttyUSB0");
  PresentedPort& b = add("ttyUSB1", second);
  BOOST_TEST(a.device_fd() != b.device_fd());
  const auto usb_of = [&](const std::string& tty) {
    return fs::canonical(root() / "sys/class/tty" / tty / "device" / ".." / "..");
  };
  BOOST_TEST(usb_of("ttyUSB0") != usb_of("ttyUSB1"));
  BOOST_TEST(read_text(usb_of("ttyUSB1") / "serial") == "HB000002");
  BOOST_TEST(read_text(usb_of("ttyUSB0") / "devnum") != read_text(usb_of("ttyUSB1") / "devnum"));

  const UniqueFd host_b = open_emulated(b.device_path());
  int dtr = TIOCM_DTR;
  BOOST_REQUIRE_EQUAL(::ioctl(host_b.get(), TIOCMBIS, &dtr), 0);
  BOOST_TEST(b.modem_lines().dtr);
  BOOST_TEST(!a.modem_lines().dtr);  // each port has its own lines
}

BOOST_AUTO_TEST_CASE(bad_names_and_identities_are_refused) {
  add("ttyUSB0");
  BOOST_CHECK_THROW(bench->add_serial_port("ttyUSB0", {}), std::invalid_argument);
  BOOST_CHECK_THROW(bench->add_serial_port("ttyUSB", {}), std::invalid_argument);
  BOOST_CHECK_THROW(bench->add_serial_port("../ttyUSB1", {}), std::invalid_argument);
  UsbSerialIdentity bad_vid;
  bad_vid.vendor_id = "40X3";
  BOOST_CHECK_THROW(bench->add_serial_port("ttyUSB1", bad_vid), std::invalid_argument);
  UsbSerialIdentity two_lines;
  two_lines.serial = "A\nE: INJECTED=1";
  BOOST_CHECK_THROW(bench->add_serial_port("ttyUSB1", two_lines), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(destroying_the_bench_hangs_up_and_removes_the_testbed) {
  PresentedPort& port = add("ttyUSB0");
  const UniqueFd host = open_emulated(port.device_path());
  const fs::path testbed = root();
  bench.reset();
  BOOST_TEST((wait_for(host.get(), POLLIN) & POLLHUP) != 0);
  BOOST_TEST(!fs::exists(testbed));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

ChildProcess start_present_port() {
  return ChildProcess(emulator_test::present_port_path, {"--serial", "SIM-7"});
}

}  // namespace

BOOST_AUTO_TEST_CASE(present_port_relays_both_ways_and_exits_on_stdin_eof) {
  ChildProcess process = start_present_port();
  const nlohmann::json ready = process.ready();
  BOOST_TEST(ready.at("event") == "ready");
  BOOST_TEST(ready.at("device_path") == "/dev/ttyUSB0");
  const std::string testbed = ready.at("umockdev_dir");
  BOOST_TEST(fs::exists(testbed));
  BOOST_TEST(read_text(fs::path(testbed) / "sys/class/tty/ttyUSB0/device/../../serial") == "SIM-7");

  {
    const UniqueFd simulator(::open(ready.at("peer_path").get<std::string>().c_str(),
                                    O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    BOOST_REQUIRE(simulator.get() >= 0);
    ::setenv("UMOCKDEV_DIR", testbed.c_str(), 1);
    const UniqueFd harness = open_emulated("/dev/ttyUSB0");
    write_all(harness.get(), "request");
    BOOST_TEST(read_some(simulator.get()) == "request");
    write_all(simulator.get(), "answer");
    BOOST_TEST(read_some(harness.get()) == "answer");
    int dtr = TIOCM_DTR;  // answered by the presenter's model, across processes
    BOOST_TEST(::ioctl(harness.get(), TIOCMBIS, &dtr) == 0);
    BOOST_TEST((modem_bits(harness.get()) & TIOCM_DTR) != 0);
    ::unsetenv("UMOCKDEV_DIR");
  }

  process.close_stdin();
  BOOST_TEST(process.wait_exit(5000ms) == 0);
  BOOST_TEST(!fs::exists(testbed));
}

BOOST_AUTO_TEST_CASE(present_port_exits_cleanly_on_sigterm) {
  ChildProcess process = start_present_port();
  const std::string testbed = process.ready().at("umockdev_dir");
  process.send_signal(SIGTERM);
  BOOST_TEST(process.wait_exit(5000ms) == 0);
  BOOST_TEST(!fs::exists(testbed));
}
