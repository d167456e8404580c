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
#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "common/device_port.hpp"
#include "common/scpi_engine.hpp"

namespace hilbench::emu::scpi {

class SerialSession {
 public:
  static constexpr std::size_t max_message_bytes = 64 * 1024;
  SerialSession(asio::io_context& io, Engine& engine, int device_fd, bool presenter_link,
                std::function<void(const std::string&)> log);
  SerialSession(const SerialSession&) = delete;
  SerialSession& operator=(const SerialSession&) = delete;
  void close() { port_.close(); }

 private:
  void on_bytes(std::span<const std::uint8_t> bytes);

  Engine& engine_;
  std::function<void(const std::string&)> log_;
  std::string message_;
  bool discarding_ = false;  ///< the rest of an over-long message, up to its LF
  DevicePort port_;          ///< last: destroyed (its reads cancelled) first
};

}  // namespace hilbench::emu::scpi
