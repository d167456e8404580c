// SerialTransport against a real libserialport path: an emulated USB-serial adapter presented
// in-process by umockdev (this binary runs under libumockdev-preload, see
// cmake/HilbenchTesting.cmake). The test plays the device on the pty master.
#define BOOST_TEST_MODULE serial_transport
#include <libserialport.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/umockdev_port.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/transport/serial.hpp"

using namespace std::chrono_literals;
using namespace std::string_view_literals;
using hilbench::Bytes;
using hilbench::Chunk;
using hilbench::ConnectionClosed;
using hilbench::Deadline;
using hilbench::DeviceTimeout;
using hilbench::Direction;
using hilbench::Parity;
using hilbench::PortNotFound;
using hilbench::SerialSettings;
using hilbench::SerialTransport;
using hilbench::TransportError;
namespace emu = hilbench::emu;

namespace {

// Generous: these bound waits for events that normally take microseconds.
constexpr auto kPatience = 5s;

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

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

void device_write(int fd, std::string_view text) {
  const ssize_t n = ::write(fd, text.data(), text.size());
  BOOST_REQUIRE_EQUAL(n, static_cast<ssize_t>(text.size()));
}

SerialSettings settings(int baud, Parity parity = Parity::none, int stop_bits = 1) {
  SerialSettings chosen;
  chosen.baud = baud;
  chosen.parity = parity;
  chosen.stop_bits = stop_bits;
  return chosen;
}

double elapsed_seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

/// One emulated adapter, and the harness's transport on it.
struct EmulatedPort {
  static emu::UsbSerialIdentity identity() {
    emu::UsbSerialIdentity id;
    id.vendor_id = "10C4";
    id.product_id = "EA60";
    id.serial = "HB-TEST-42";
    id.manufacturer = "hilbench tests";
    id.product = "emulated CP2102";
    return id;
  }

  EmulatedPort()
      : bench(std::make_unique<emu::UmockdevBench>()),
        port(&bench->add_serial_port("ttyUSB0", identity())) {
    // umockdev sets it too; the harness side must see it whoever made the testbed.
    ::setenv("UMOCKDEV_DIR", bench->root_dir().c_str(), 1);
  }

  std::unique_ptr<SerialTransport> open(SerialSettings settings = {}) const {
    settings.port = port->device_path();
    return std::make_unique<SerialTransport>(settings);
  }

  int device_fd() const { return port->device_fd(); }

  std::unique_ptr<emu::UmockdevBench> bench;
  emu::PresentedPort* port;
};

/// Collects chunks from a transport's sink; thread-safe so a device thread can wait on it.
class ChunkLog {
 public:
  hilbench::ChunkSink sink() {
    return [this](const Chunk& chunk) {
      std::lock_guard lock(mutex_);
      chunks_.push_back(chunk);
      if (chunk.direction == Direction::rx && !first_rx_seen_) {
        first_rx_seen_ = true;
        first_rx_.set_value();
      }
    };
  }
  std::future<void> first_rx() { return first_rx_.get_future(); }
  std::vector<Chunk> chunks(Direction direction) const {
    std::lock_guard lock(mutex_);
    std::vector<Chunk> selected;
    for (const Chunk& chunk : chunks_)
      if (chunk.direction == direction) selected.push_back(chunk);
    return selected;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Chunk> chunks_;
  bool first_rx_seen_ = false;
  std::promise<void> first_rx_;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(serial_transport, EmulatedPort)

BOOST_AUTO_TEST_CASE(write_reaches_the_device_and_is_captured) {
  auto transport = open();
  ChunkLog log;
  transport->set_chunk_sink(log.sink());
  const Bytes request = {0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B};
  const std::int64_t before = hilbench::monotonic_ns();
  transport->write(request, Deadline::after(kPatience));

  BOOST_TEST(device_read(device_fd(), request.size()) == request, boost::test_tools::per_element());
  const auto tx = log.chunks(Direction::tx);
  BOOST_REQUIRE(!tx.empty());
  Bytes captured;
  for (const Chunk& chunk : tx) {
    BOOST_TEST(chunk.monotonic_ns >= before);
    captured.insert(captured.end(), chunk.bytes.begin(), chunk.bytes.end());
  }
  BOOST_TEST(captured == request, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(device_bytes_arrive_in_timestamped_chunks) {
  auto transport = open();
  ChunkLog log;
  transport->set_chunk_sink(log.sink());
  auto first_chunk = log.first_rx();
  const int fd = device_fd();
  device_write(fd, "first-");
  // The rest goes out only after the harness has received the first part: two chunks.
  std::thread device([&] {
    if (first_chunk.wait_for(kPatience) == std::future_status::ready) device_write(fd, "second");
  });

  const std::int64_t before = hilbench::monotonic_ns();
  const Bytes received = transport->read_exact(12, Deadline::after(kPatience));
  const std::int64_t after = hilbench::monotonic_ns();
  device.join();

  BOOST_TEST(received == bytes_of("first-second"), boost::test_tools::per_element());
  const auto rx = log.chunks(Direction::rx);
  BOOST_TEST(rx.size() >= 2U);
  Bytes captured;
  std::int64_t previous = before;
  for (const Chunk& chunk : rx) {
    BOOST_TEST(chunk.monotonic_ns >= previous);  // non-decreasing, after the call began
    previous = chunk.monotonic_ns;
    captured.insert(captured.end(), chunk.bytes.begin(), chunk.bytes.end());
  }
  BOOST_TEST(previous <= after);
  BOOST_TEST(captured == received, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(read_until_stops_at_the_delimiter) {
  auto transport = open();
  device_write(device_fd(), "OK 12\r\nNEXT");
  const Bytes delimiter = bytes_of("\r\n");
  BOOST_TEST(
      transport->read_until(delimiter, 64, Deadline::after(kPatience)) == bytes_of("OK 12\r\n"),
      boost::test_tools::per_element());
  // Nothing past the delimiter was consumed.
  BOOST_TEST(transport->read_exact(4, Deadline::after(kPatience)) == bytes_of("NEXT"),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(read_until_silence_keeps_a_frame_whole_and_splits_frames) {
  auto transport = open();
  const int fd = device_fd();

  // A pause much shorter than the silence does not end the frame: the second half is sent
  // as soon as the harness has the first.
  ChunkLog log;
  transport->set_chunk_sink(log.sink());
  auto first_chunk = log.first_rx();
  device_write(fd, "\x01\x03\x04"sv);
  std::thread device([&] {
    if (first_chunk.wait_for(kPatience) == std::future_status::ready)
      device_write(fd, "\x00\x0A\x00\x0B"sv);
  });
  const Bytes whole = transport->read_until_silence(500ms, 256, Deadline::after(kPatience));
  device.join();
  const Bytes expected = {0x01, 0x03, 0x04, 0x00, 0x0A, 0x00, 0x0B};
  BOOST_TEST(whole == expected, boost::test_tools::per_element());

  // Two bursts with silence between them are two frames; each read ends on the silence,
  // long before its deadline.
  device_write(fd, "frame-A");
  auto started = std::chrono::steady_clock::now();
  BOOST_TEST(
      transport->read_until_silence(30ms, 256, Deadline::after(kPatience)) == bytes_of("frame-A"),
      boost::test_tools::per_element());
  BOOST_TEST(elapsed_seconds(started) < 3.0);
  device_write(fd, "frame-B");
  started = std::chrono::steady_clock::now();
  BOOST_TEST(
      transport->read_until_silence(30ms, 256, Deadline::after(kPatience)) == bytes_of("frame-B"),
      boost::test_tools::per_element());
  BOOST_TEST(elapsed_seconds(started) < 3.0);
}

BOOST_AUTO_TEST_CASE(silence_times_out_within_the_deadline) {
  auto transport = open();
  const auto budget = 200ms;
  const auto started = std::chrono::steady_clock::now();
  try {
    transport->read_exact(1, Deadline::after(budget));
    BOOST_FAIL("read_exact returned although the device sent nothing");
  } catch (const DeviceTimeout& timeout) {
    BOOST_TEST(timeout.device() == "serial:/dev/ttyUSB0");
    BOOST_TEST((timeout.deadline() == std::chrono::nanoseconds(budget)));
  }
  const double elapsed = elapsed_seconds(started);
  BOOST_TEST(elapsed >= 0.19);  // waited for the budget (clock granularity aside)...
  BOOST_TEST(elapsed < 1.5);    // ...and not much past it (generous for loaded CI)
}

BOOST_AUTO_TEST_CASE(write_times_out_when_the_device_stops_reading) {
  auto transport = open();
  // The device never reads: the tty buffers fill and the write must give up at the deadline.
  const Bytes flood(1 << 20, 0x55);
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(transport->write(flood, Deadline::after(300ms)), DeviceTimeout);
  BOOST_TEST(elapsed_seconds(started) < 2.0);
}

BOOST_AUTO_TEST_CASE(discard_input_drops_stale_bytes) {
  auto transport = open();
  device_write(device_fd(), "stale");
  BOOST_TEST(transport->read_exact(1, Deadline::after(kPatience)) == bytes_of("s"),
             boost::test_tools::per_element());
  transport->discard_input();
  device_write(device_fd(), "fresh");
  BOOST_TEST(transport->read_exact(5, Deadline::after(kPatience)) == bytes_of("fresh"),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(modem_lines_reach_both_sides) {
  auto transport = open();
  transport->set_dtr(true);
  transport->set_rts(false);
  auto model = port->modem_lines();
  BOOST_TEST(model.dtr);
  BOOST_TEST(!model.rts);
  transport->set_rts(true);
  transport->set_dtr(false);
  model = port->modem_lines();
  BOOST_TEST(!model.dtr);
  BOOST_TEST(model.rts);

  port->set_device_lines(/*cts=*/false, /*dsr=*/true, /*dcd=*/false, /*ri=*/true);
  auto lines = transport->modem_lines();
  BOOST_TEST(!lines.cts);
  BOOST_TEST(lines.dsr);
  BOOST_TEST(!lines.dcd);
  BOOST_TEST(lines.ri);
  BOOST_TEST(lines.rts);  // outputs read back through the same TIOCMGET
  BOOST_TEST(!lines.dtr);
  port->set_device_lines(true, false, true, false);
  lines = transport->modem_lines();
  BOOST_TEST(lines.cts);
  BOOST_TEST(!lines.dsr);
  BOOST_TEST(lines.dcd);
  BOOST_TEST(!lines.ri);
}

BOOST_AUTO_TEST_CASE(a_missing_port_is_named) {
  try {
    SerialSettings missing;
    missing.port = "/dev/ttyUSB9";
    SerialTransport transport(missing);
    BOOST_FAIL("opened a port that does not exist");
  } catch (const PortNotFound& error) {
    BOOST_TEST(std::string(error.what()).find("/dev/ttyUSB9") != std::string::npos);
    BOOST_TEST(error.device() == "serial:/dev/ttyUSB9");
  }
}

BOOST_AUTO_TEST_CASE(parity_and_7_data_bits_are_kept_by_the_uart_model) {
  // The pty underneath forces CS8 and no parity; the port's ioctl handler keeps what the
  // harness asked for and answers it back, reached through the termios shim this test runs
  // under (devices/common/termios_shim.c). SerialTransport reads every setting back.
  const auto even = open(settings(9600, Parity::even));
  BOOST_TEST((even->settings().parity == Parity::even));
  BOOST_TEST(port->host_line().parity == "even");
  BOOST_TEST(even->character_time().count() == 11LL * 1'000'000'000 / 9600);
  auto seven = settings(300, Parity::even);
  seven.data_bits = 7;
  const auto iec = open(seven);
  BOOST_TEST(port->host_line().data_bits == 7U);
  BOOST_TEST(port->host_line().baud == 300U);
  BOOST_CHECK_THROW(open(settings(0)), TransportError);
  BOOST_CHECK_NO_THROW(open(settings(115200, Parity::none, 2)));
  BOOST_TEST(port->host_line().stop_bits == 2U);
}

BOOST_AUTO_TEST_CASE(a_vanished_device_closes_the_connection) {
  auto transport = open();
  bench.reset();  // the emulator goes away while the harness has the port open

  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(transport->read_exact(1, Deadline::after(kPatience)), ConnectionClosed);
  BOOST_TEST(elapsed_seconds(started) < 1.0);  // at once, not at the deadline
  BOOST_CHECK_THROW(transport->write(bytes_of("x"), Deadline::after(kPatience)), ConnectionClosed);
  BOOST_CHECK_THROW(transport->modem_lines(), ConnectionClosed);
  BOOST_CHECK_THROW(transport->set_dtr(true), ConnectionClosed);
}

BOOST_AUTO_TEST_CASE(the_port_is_listed_as_a_usb_adapter) {
  sp_port** raw_list = nullptr;
  BOOST_REQUIRE_EQUAL(sp_list_ports(&raw_list), SP_OK);
  const std::unique_ptr<sp_port*, decltype(&sp_free_port_list)> list(raw_list, &sp_free_port_list);
  sp_port* found = nullptr;
  for (sp_port** entry = list.get(); *entry != nullptr; ++entry)
    if (std::string(sp_get_port_name(*entry)) == "/dev/ttyUSB0") found = *entry;
  BOOST_REQUIRE(found != nullptr);
  BOOST_TEST(sp_get_port_transport(found) == SP_TRANSPORT_USB);
  int vid = 0, pid = 0;
  BOOST_REQUIRE_EQUAL(sp_get_port_usb_vid_pid(found, &vid, &pid), SP_OK);
  BOOST_TEST(vid == 0x10C4);
  BOOST_TEST(pid == 0xEA60);
  BOOST_TEST(std::string(sp_get_port_usb_serial(found)) == "HB-TEST-42");
  BOOST_TEST(std::string(sp_get_port_usb_manufacturer(found)) == "hilbench tests");
  BOOST_TEST(std::string(sp_get_port_usb_product(found)) == "emulated CP2102");
}

BOOST_AUTO_TEST_CASE(character_time_follows_the_settings) {
  const auto slow = open(settings(9600, Parity::none, 2));  // 8N2: 11 bits
  BOOST_TEST(slow->character_time().count() == 11LL * 1'000'000'000 / 9600);
  BOOST_TEST(slow->serial_line() == slow.get());
  const auto fast = open(settings(115200));  // 8N1: 10 bits
  BOOST_TEST(fast->character_time().count() == 10LL * 1'000'000'000 / 115200);
}

BOOST_AUTO_TEST_CASE(reconfigure_changes_the_baud_rate_of_the_open_port) {
  auto transport = open(settings(9600));
  const int fd = device_fd();
  hilbench::SerialLine& line = *transport->serial_line();
  BOOST_TEST(line.character_time().count() == 10LL * 1'000'000'000 / 9600);

  hilbench::LineSettings mode_c = line.line_settings();
  mode_c.baud = 1200;
  line.reconfigure(mode_c);
  BOOST_TEST(line.line_settings().baud == 1200);
  BOOST_TEST(transport->settings().baud == 1200);
  BOOST_TEST(line.character_time().count() == 10LL * 1'000'000'000 / 1200);
  // The OS port really runs at the new speed: read back from the other end of the pty (on a
  // pty master, TCGETS answers with the slave's termios), independently of the transport.
  termios attributes{};
  BOOST_REQUIRE_EQUAL(::tcgetattr(fd, &attributes), 0);
  BOOST_TEST(::cfgetospeed(&attributes) == static_cast<speed_t>(B1200));

  // Still open: traffic flows both ways at the new settings.
  transport->write(bytes_of("ping"), Deadline::after(kPatience));
  BOOST_TEST(device_read(fd, 4) == bytes_of("ping"), boost::test_tools::per_element());
  device_write(fd, "pong");
  BOOST_TEST(transport->read_exact(4, Deadline::after(kPatience)) == bytes_of("pong"),
             boost::test_tools::per_element());

  // Parity on the open port: kept by the UART model (the pty alone would drop it).
  hilbench::LineSettings even = line.line_settings();
  even.parity = Parity::even;
  line.reconfigure(even);
  BOOST_TEST((line.line_settings().parity == Parity::even));
  BOOST_TEST(port->host_line().parity == "even");

  // A setting no UART has is refused by name and the line stays as it was.
  hilbench::LineSettings zero = line.line_settings();
  zero.baud = 0;
  try {
    line.reconfigure(zero);
    BOOST_FAIL("baud 0 accepted");
  } catch (const TransportError& error) {
    BOOST_TEST(error.operation().find("reconfigure") == 0U);
  }
  BOOST_TEST(line.line_settings().baud == 1200);
  BOOST_TEST((line.line_settings().parity == Parity::even));
}

BOOST_AUTO_TEST_SUITE_END()
