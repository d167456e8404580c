// TransportDecorator over a SerialTransport on an emulated USB-serial adapter (umockdev; this
// binary runs under libumockdev-preload, see cmake/HilbenchTesting.cmake). The test plays a
// Modbus RTU device on the pty master. What it shows: a pass-through decorator hides nothing
// a protocol needs — the Modbus client still finds the serial line through it and keeps t3.5
// at the port's baud rate, not the fixed 1750 us fallback it would use without a line.
#define BOOST_TEST_MODULE serial_decorator
#include <poll.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/umockdev_port.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/transport/decorator.hpp"
#include "hilbench/transport/serial.hpp"

using namespace std::chrono_literals;
using hilbench::Bytes;
using hilbench::Chunk;
using hilbench::Deadline;
using hilbench::Direction;
using hilbench::Nanoseconds;
using hilbench::SerialSettings;
using hilbench::SerialTransport;
using hilbench::TransportDecorator;
namespace emu = hilbench::emu;
namespace modbus = hilbench::modbus;

namespace {

constexpr auto kPatience = 5s;   // bounds waits for events that normally take microseconds
constexpr int kSlowBaud = 1200;  // t3.5 = 3.5 x 10 bits / 1200 baud = 29.17 ms >> 1750 us

/// The device side: reads from the pty master until `count` bytes or the deadline.
Bytes device_read(int fd, std::size_t count, Deadline deadline = Deadline::after(kPatience)) {
  Bytes out;
  while (out.size() < count && !deadline.expired()) {
    pollfd poll_fd{fd, POLLIN, 0};
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining());
    if (::poll(&poll_fd, 1, static_cast<int>(wait.count())) <= 0) continue;
    std::uint8_t buf[256];
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, count - out.size()));
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

struct EmulatedPort {
  EmulatedPort()
      : bench(std::make_unique<emu::UmockdevBench>()),
        port(&bench->add_serial_port("ttyUSB0", emu::UsbSerialIdentity{})) {
    ::setenv("UMOCKDEV_DIR", bench->root_dir().c_str(), 1);
  }
  std::shared_ptr<SerialTransport> open(int baud) const {
    SerialSettings settings;
    settings.port = port->device_path();
    settings.baud = baud;
    return std::make_shared<SerialTransport>(settings);
  }
  std::unique_ptr<emu::UmockdevBench> bench;
  emu::PresentedPort* port;
};

class ChunkLog {
 public:
  hilbench::ChunkSink sink() {
    return [this](const Chunk& chunk) {
      std::lock_guard lock(mutex_);
      chunks_.push_back(chunk);
    };
  }
  std::vector<Chunk> chunks() const {
    std::lock_guard lock(mutex_);
    return chunks_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Chunk> chunks_;
};

/// Silence before each request that follows an answer: first tx chunk of a request minus
/// the last rx chunk before it (the end of the previous answer), in ns.
std::vector<std::int64_t> silences_before_requests(const std::vector<Chunk>& chunks) {
  std::vector<std::int64_t> silences;
  std::int64_t last_rx = 0;
  Direction previous = Direction::tx;
  for (const Chunk& chunk : chunks) {
    if (chunk.direction == Direction::rx) last_rx = chunk.monotonic_ns;
    if (chunk.direction == Direction::tx && previous == Direction::rx && last_rx != 0)
      silences.push_back(chunk.monotonic_ns - last_rx);
    previous = chunk.direction;
  }
  return silences;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(serial_decorator, EmulatedPort)

BOOST_AUTO_TEST_CASE(a_pass_through_decorator_forwards_bytes_name_and_line) {
  const auto serial = open(9600);
  const auto wrapped = std::make_shared<TransportDecorator>(serial);
  BOOST_TEST(wrapped->name() == "pass(serial:/dev/ttyUSB0)");
  BOOST_TEST(wrapped->serial_line() == serial->serial_line());
  ChunkLog outer, wire;
  wrapped->set_chunk_sink(outer.sink());
  serial->set_chunk_sink(wire.sink());

  const Bytes ping{'p', 'i', 'n', 'g'};
  wrapped->write(ping, Deadline::after(kPatience));
  BOOST_TEST(device_read(port->device_fd(), 4) == ping, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(::write(port->device_fd(), "pong", 4), 4);
  BOOST_TEST(wrapped->read_exact(4, Deadline::after(kPatience)) == (Bytes{'p', 'o', 'n', 'g'}),
             boost::test_tools::per_element());
  // Both levels captured the same traffic: the wire below, what was passed on above.
  BOOST_TEST(outer.chunks().size() == wire.chunks().size());
  BOOST_CHECK_THROW(TransportDecorator(nullptr), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(modbus_rtu_keeps_t35_of_the_wrapped_line) {
  const auto serial = open(kSlowBaud);
  const auto wrapped = std::make_shared<TransportDecorator>(serial);
  ChunkLog log;
  wrapped->set_chunk_sink(log.sink());

  modbus::ClientOptions options;
  options.framing = modbus::Framing::rtu;
  options.unit = 1;
  options.timeout = kPatience;  // rtu_silence left 0: derive t3.5 from the line
  modbus::Client client(wrapped, options);
  const Nanoseconds t35 = modbus::rtu_frame_silence(serial->line_settings());
  BOOST_TEST(t35.count() == 10LL * 1'000'000'000 / kSlowBaud * 7 / 2);
  BOOST_TEST((client.frame_silence() == t35));  // found the line through the decorator
  BOOST_TEST((t35 > 10 * modbus::fallback_rtu_frame_silence));

  // The device echoes each Write Single Register request (its normal answer) at once.
  constexpr int requests = 3;
  const int fd = port->device_fd();
  std::thread device([fd] {
    for (int i = 0; i < requests; ++i) {
      const Bytes request = device_read(fd, 8);
      if (request.size() != 8) return;
      if (::write(fd, request.data(), request.size()) != 8) return;
    }
  });
  for (int i = 0; i < requests; ++i) client.write_single_register(1, static_cast<std::uint16_t>(i));
  device.join();

  const auto silences = silences_before_requests(log.chunks());
  BOOST_REQUIRE_EQUAL(silences.size(), static_cast<std::size_t>(requests - 1));
  for (const std::int64_t silence : silences) {
    BOOST_TEST_MESSAGE("silence before request: " << silence / 1000 << " us (t3.5 "
                                                  << t35.count() / 1000 << " us)");
    BOOST_TEST(silence >= t35.count());
  }
}

BOOST_AUTO_TEST_CASE(t35_follows_a_reconfigured_line_through_the_decorator) {
  const auto serial = open(9600);
  const auto wrapped = std::make_shared<TransportDecorator>(serial);
  modbus::ClientOptions options;
  options.framing = modbus::Framing::rtu;
  modbus::Client client(wrapped, options);
  BOOST_TEST(client.frame_silence().count() == 10LL * 1'000'000'000 / 9600 * 7 / 2);
  hilbench::LineSettings faster = serial->line_settings();
  faster.baud = 38400;
  wrapped->serial_line()->reconfigure(faster);
  BOOST_TEST((client.frame_silence() == modbus::fallback_rtu_frame_silence));  // > 19200 baud
}

BOOST_AUTO_TEST_SUITE_END()
