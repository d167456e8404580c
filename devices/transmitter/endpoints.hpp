#pragma once
// The transmitter's serial endpoint around its sans-io engines (server.hpp), on one Asio
// io_context run by one thread. One serial port speaks one protocol, the profile's
// [interface] protocol:
// - modbus-rtu: frames end at t3.5 of silence (3.5 character times, 1750 us above 19200
//   baud); each reply is sent whole.
// - ascii: requests end at LF; a line longer than AsciiEngine::max_line is answered ERR 3
//   and the rest of it up to the LF discarded.
// Over a hilbench-presenter link (common/uart_link.hpp) the presenter paces the line and
// models framing mismatches; on a raw fd (--serial, --serial-fd) replies are written at
// once, unpaced. While nobody holds a raw tty open (EIO) the endpoint retries every 10 ms.
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "common/device_port.hpp"
#include "transmitter/server.hpp"

namespace hilbench::emu::transmitter {

using LogSink = std::function<void(const std::string&)>;

/// t3.5 for `serial` (Modbus over serial line 2.5.1.1).
std::chrono::nanoseconds frame_silence(const SerialSettings& serial);

class SerialEndpoint {
 public:
  /// Serves `model` on `device_fd` (owned by the caller; must outlive close()).
  SerialEndpoint(asio::io_context& io, Model& model, int device_fd, LogSink log,
                 bool presenter_link);
  ~SerialEndpoint();
  SerialEndpoint(const SerialEndpoint&) = delete;
  SerialEndpoint& operator=(const SerialEndpoint&) = delete;
  void close();
  /// The device's supply (common/power.hpp): while `powered` says false, what arrives is lost
  /// and nothing is answered, as a transmitter without power.
  void set_gate(std::function<bool()> powered) { powered_ = std::move(powered); }

 private:
  void on_bytes(std::span<const std::uint8_t> bytes);
  void on_frame_silence();
  void send(const Bytes& reply);

  asio::steady_timer silence_timer_;
  ModbusRtuEngine rtu_;
  AsciiEngine ascii_;
  LogSink log_;
  std::function<bool()> powered_;
  bool ascii_mode_;
  std::chrono::nanoseconds silence_;
  Bytes pending_;            ///< the frame or line being received
  bool discarding_ = false;  ///< ascii: the rest of an over-long line
  std::uint64_t silence_generation_ = 0;
  bool closed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  DevicePort port_;  ///< last: destroyed (its reads cancelled) first
};

}  // namespace hilbench::emu::transmitter
