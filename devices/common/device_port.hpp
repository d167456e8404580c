#pragma once
// The device side of one serial line, shared by every kind that serves one byte stream on it
// (the SCPI instruments' RS-232 face, the transmitter): a raw tty fd (a pty master, a
// self-presented umockdev port) or a hilbench-presenter link (common/uart_link.hpp, one
// packet per message). The meter's RTU endpoint paces its own replies and keeps its own loop.
//
// Reading: every byte that arrives goes to `on_bytes` ('D' packets unwrapped on a presenter
// link; 'L' packets, the host's line settings, need no action: the presenter models
// mismatches). A raw tty nobody holds open reads EOF or EIO: `on_hangup` is called (drop a
// half-received message) and reading resumes 10 ms later. A presenter that goes away ends the
// serial side (logged; the rest of the device goes on).
// Writing: send() queues; on a presenter link a message longer than one packet is split. Past
// `max_queued` packets waiting (nobody reads the line) the rest of a message is dropped and
// logged, so a dead reader cannot grow the emulator's memory.
// Runs on the io_context's thread; the fd stays the caller's and must outlive close().
#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/uart_link.hpp"

namespace hilbench::emu {

class DevicePort {
 public:
  using Log = std::function<void(const std::string&)>;
  using BytesHandler = std::function<void(std::span<const std::uint8_t>)>;

  DevicePort(asio::io_context& io, int device_fd, bool presenter_link, Log log,
             BytesHandler on_bytes, std::function<void()> on_hangup, std::size_t max_queued);
  ~DevicePort();
  DevicePort(const DevicePort&) = delete;
  DevicePort& operator=(const DevicePort&) = delete;

  /// Starts reading (call once the owner is ready for on_bytes).
  void start();
  void send(std::span<const std::uint8_t> bytes);
  void close();
  bool closed() const noexcept { return closed_; }

 private:
  void read_next();
  void write_next();

  asio::posix::stream_descriptor port_;
  asio::steady_timer retry_timer_;
  bool presenter_link_;
  Log log_;
  BytesHandler on_bytes_;
  std::function<void()> on_hangup_;
  std::size_t max_queued_;
  std::array<std::uint8_t, uart_link::max_packet> buffer_{};
  std::deque<std::vector<std::uint8_t>> outgoing_;  ///< packets (presenter link) or raw bytes
  bool writing_ = false;
  bool closed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace hilbench::emu
