// The emulator's real RTU path: hilbench-presenter presents /dev/ttyUSB0 through umockdev,
// hilbench-emulator attaches to it (--serial-socket) and serves Modbus RTU at the profile's
// 8E1; this test opens the port the way the harness does, from a process under
// libumockdev-preload and the termios shim (ctest sets LD_PRELOAD for tests whose name
// contains "umockdev"), with UMOCKDEV_DIR from the presenter's ready line.
#define BOOST_TEST_MODULE emulator_umockdev
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "emulator_process.hpp"

using namespace emulator_test;

namespace {

bool path_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

bool under_umockdev_preload() {
  const char* preload = std::getenv("LD_PRELOAD");
  return preload && std::string(preload).find("umockdev-preload") != std::string::npos;
}

}  // namespace

namespace {

const std::string presenter_path =
    (std::filesystem::path(emulator_path).parent_path() / "hilbench-presenter").string();

/// Opens the emulated port as a harness would: raw, 19200 8E1 (the profile's line). The
/// parity only sticks through the termios shim this test runs under.
UniqueFd open_8e1(const std::string& path) {
  UniqueFd port(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  BOOST_REQUIRE_MESSAGE(port.get() >= 0, "cannot open " << path << ": " << std::strerror(errno));
  termios settings{};
  BOOST_REQUIRE_EQUAL(::tcgetattr(port.get(), &settings), 0);
  ::cfmakeraw(&settings);
  settings.c_cflag |= PARENB;
  ::cfsetspeed(&settings, B19200);
  BOOST_REQUIRE_EQUAL(::tcsetattr(port.get(), TCSANOW, &settings), 0);
  BOOST_REQUIRE_EQUAL(::tcgetattr(port.get(), &settings), 0);
  BOOST_TEST((settings.c_cflag & PARENB) != 0U);
  return port;
}

Bytes read_holding_0_to_2(int port) {
  const Bytes request = with_crc({1, 3, 0, 0, 0, 3});
  BOOST_REQUIRE_EQUAL(::write(port, request.data(), request.size()),
                      static_cast<ssize_t>(request.size()));
  auto reply = read_exact(port, 11, reply_budget);
  return reply ? *reply : Bytes{};
}

}  // namespace

// The bench's real RTU path: hilbench-presenter owns the testbed and the UART; the emulator
// attaches to its port; the harness (this process) opens /dev/ttyUSB0 through the preload.
BOOST_AUTO_TEST_CASE(rtu_at_8e1_through_a_presenter_port_survives_an_emulator_kill) {
  BOOST_REQUIRE_MESSAGE(under_umockdev_preload(), "run by ctest under libumockdev-preload");
  const std::vector<std::string> no_preload{"LD_PRELOAD", "UMOCKDEV_DIR"};
  ChildProcess presenter(presenter_path, {"--port", "ttyUSB0:HB-em1", "--port", "ttyUSB1:HB-other"},
                         false, no_preload);
  const auto bench = presenter.ready();
  const std::string testbed = bench["umockdev_dir"];
  const std::string socket = bench["ports"][0]["socket"];
  auto emulator = std::make_unique<EmulatorProcess>(
      std::vector<std::string>{"--profile", em1_path, "--serial-socket", socket}, false,
      no_preload);
  const auto ready = emulator->ready();
  BOOST_TEST(ready["serial"]["parity"] == "even");
  BOOST_TEST(ready["serial"]["socket"] == socket);

  ::setenv("UMOCKDEV_DIR", testbed.c_str(), 1);
  {
    const UniqueFd port = open_8e1("/dev/ttyUSB0");
    const UniqueFd other = open_8e1("/dev/ttyUSB1");
    // A write over TCP, read back over RTU: one register state behind both interfaces.
    UniqueFd client = connect_tcp(ready["tcp"]["port"]);
    BOOST_TEST(tcp_transaction(client.get(), 1, Bytes{6, 0, 2, 0, 4}) == (Bytes{6, 0, 2, 0, 4}),
               boost::test_tools::per_element());
    const Bytes expected = with_crc({1, 3, 6, 0, 1, 0, 15, 0, 4});
    BOOST_TEST(read_holding_0_to_2(port.get()) == expected, boost::test_tools::per_element());

    // The emulator dies: the harness's port stays open, the line goes silent; a restarted
    // emulator reattaches and answers; the other port never noticed.
    emulator->send_signal(SIGKILL);
    BOOST_TEST(emulator->wait_exit(std::chrono::milliseconds{5'000}) ==
               ChildProcess::killed_by_signal);
    const Bytes request = with_crc({1, 3, 0, 0, 0, 3});
    BOOST_TEST(::write(port.get(), request.data(), request.size()) ==
               static_cast<ssize_t>(request.size()));
    BOOST_TEST(!read_exact(port.get(), 1, std::chrono::milliseconds{200}).has_value());
    emulator = std::make_unique<EmulatorProcess>(
        std::vector<std::string>{"--profile", em1_path, "--serial-socket", socket}, false,
        no_preload);
    emulator->ready();
    const Bytes fresh = with_crc({1, 3, 6, 0, 1, 0, 15, 0, 1});  // a fresh register state
    BOOST_TEST(read_holding_0_to_2(port.get()) == fresh, boost::test_tools::per_element());
    int bits = 0;
    BOOST_TEST(::ioctl(other.get(), TIOCMGET, &bits) == 0);
  }
  ::unsetenv("UMOCKDEV_DIR");

  emulator->close_stdin();
  BOOST_TEST(emulator->wait_exit(std::chrono::milliseconds{5'000}) == 0);
  presenter.close_stdin();
  BOOST_TEST(presenter.wait_exit(std::chrono::milliseconds{5'000}) == 0);
  BOOST_TEST(!path_exists(testbed), "the testbed " << testbed << " outlived the presenter");
}
