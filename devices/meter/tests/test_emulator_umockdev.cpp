// The emulator's real RTU path: hilbench-emulator presents /dev/ttyUSB0 through umockdev
// (UmockdevBench) and serves Modbus RTU on its pty master; this test opens the port the way
// the harness does, from a process under libumockdev-preload (ctest sets LD_PRELOAD for
// tests whose name contains "umockdev"), with UMOCKDEV_DIR from the ready line.
#define BOOST_TEST_MODULE emulator_umockdev
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

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

BOOST_AUTO_TEST_CASE(rtu_through_the_umockdev_presented_port) {
  // The emulator owns the testbed and must not itself run under the preload.
  EmulatorProcess emulator({"--profile", em1_path}, false, {"LD_PRELOAD", "UMOCKDEV_DIR"});
  const auto ready = emulator.ready();
  const std::string testbed = ready["serial"]["umockdev_dir"];
  BOOST_TEST(ready["serial"]["device_path"] == "/dev/ttyUSB0");
  BOOST_TEST(ready["serial"]["baud"] == 19200);
  BOOST_TEST(path_exists(testbed));

  if (under_umockdev_preload()) {
    ::setenv("UMOCKDEV_DIR", testbed.c_str(), 1);
    UniqueFd port(::open("/dev/ttyUSB0", O_RDWR | O_NOCTTY | O_CLOEXEC));
    BOOST_REQUIRE_MESSAGE(port.get() >= 0,
                          "cannot open /dev/ttyUSB0 in the testbed: " << std::strerror(errno));
    termios settings{};
    BOOST_REQUIRE_EQUAL(::tcgetattr(port.get(), &settings), 0);
    ::cfmakeraw(&settings);
    BOOST_REQUIRE_EQUAL(::tcsetattr(port.get(), TCSANOW, &settings), 0);

    // A write over TCP, read back over RTU: one register state behind both interfaces.
    UniqueFd client = connect_tcp(ready["tcp"]["port"]);
    BOOST_TEST(tcp_transaction(client.get(), 1, Bytes{6, 0, 2, 0, 4}) == (Bytes{6, 0, 2, 0, 4}),
               boost::test_tools::per_element());
    const Bytes request = with_crc({1, 3, 0, 0, 0, 3});
    BOOST_REQUIRE_EQUAL(::write(port.get(), request.data(), request.size()),
                        static_cast<ssize_t>(request.size()));
    const Bytes expected = with_crc({1, 3, 6, 0, 1, 0, 15, 0, 4});
    auto reply = read_exact(port.get(), expected.size(), reply_budget);
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(*reply == expected, boost::test_tools::per_element());

    // Device identification over RTU.
    const Bytes identification = with_crc({1, 0x2B, 0x0E, 4, 0x80});
    BOOST_REQUIRE_EQUAL(::write(port.get(), identification.data(), identification.size()),
                        static_cast<ssize_t>(identification.size()));
    const std::string serial_number = "EM1-2026-000123";
    auto answer = read_exact(port.get(), 1 + 9 + serial_number.size() + 2, reply_budget);
    BOOST_REQUIRE(answer.has_value());
    BOOST_TEST(std::string(answer->begin() + 10, answer->end() - 2) == serial_number);
    ::unsetenv("UMOCKDEV_DIR");
  } else {
    BOOST_TEST_MESSAGE("not under libumockdev-preload: only the testbed lifetime is checked");
  }

  emulator.close_stdin();
  BOOST_TEST(emulator.wait_exit(std::chrono::milliseconds{5'000}) == 0);
  BOOST_TEST(!path_exists(testbed), "the testbed " << testbed << " outlived the emulator");
}
