#pragma once
// SCPI over a serial line (an instrument's RS-232 port): LF-terminated program messages (a CR
// before the LF is dropped), each response message sent with LF, the same framing as the raw
// TCP socket. On the device side of a hilbench-presenter port (uart_link packets: the
// presenter paces the line at the profile's character time and garbles what a host with
// other settings sends) or on a raw fd (bytes as they are, unpaced). The engine is the one
// the instrument's TCP and USB faces share. A message longer than max_message_bytes is
// discarded up to its LF (and logged): a serial line has no connection to drop.
// Ownership: the fd belongs to the caller and must outlive close(). Thread-safety: one
// io_context thread.
#include <array>
#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/scpi_engine.hpp"
#include "common/uart_link.hpp"

namespace hilbench::emu::scpi {

class SerialSession {
 public:
  static constexpr std::size_t max_message_bytes = 64 * 1024;
  SerialSession(asio::io_context& io, Engine& engine, int device_fd, bool presenter_link,
                std::function<void(const std::string&)> log);
  ~SerialSession();
  SerialSession(const SerialSession&) = delete;
  SerialSession& operator=(const SerialSession&) = delete;
  void close();

 private:
  void read_next();
  void on_bytes(const std::uint8_t* bytes, std::size_t count);
  void send(const std::string& text);
  void write_next();

  asio::posix::stream_descriptor port_;
  asio::steady_timer retry_timer_;
  Engine& engine_;
  std::function<void(const std::string&)> log_;
  bool presenter_link_;
  std::array<std::uint8_t, uart_link::max_packet> buffer_{};
  std::string message_;
  bool discarding_ = false;           ///< the rest of an over-long message, up to its LF
  std::deque<std::string> outgoing_;  ///< packets (presenter link) or raw text
  bool writing_ = false;
  bool closed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace hilbench::emu::scpi
