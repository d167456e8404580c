#pragma once
// SerialLine: the capability of a transport that ends in an asynchronous serial line (a UART,
// a USB-serial adapter, an emulated port; later RFC 2217). Protocols that time their framing
// in characters (Modbus RTU t3.5) or switch baud rate mid-session (IEC 62056-21 mode C) ask
// `Transport::serial_line()` for it instead of knowing the transport's class, so a decorator
// wrapping a serial transport (TransportDecorator) still answers with the wrapped line.
//
// Not thread-safe (like Transport): one thread uses a transport and its line at a time.
// Nothing here is journaled by itself; a caller that reconfigures a line under test should
// record that as an observation.
#include <cstdint>

#include "hilbench/clock.hpp"

namespace hilbench {

enum class Parity : std::uint8_t { none, odd, even, mark, space };
enum class FlowControl : std::uint8_t { none, xon_xoff, rts_cts, dtr_dsr };

/// Character framing and speed of a serial line.
struct LineSettings {
  int baud = 9600;    ///< bits per second (> 0)
  int data_bits = 8;  ///< 5..8
  Parity parity = Parity::none;
  int stop_bits = 1;  ///< 1 or 2
  FlowControl flow_control = FlowControl::none;
};

/// Duration of one character on the wire: (1 start + data + parity + stop) bits / baud,
/// truncated to whole ns.
Nanoseconds character_time(const LineSettings& settings) noexcept;

class SerialLine {
 public:
  /// The settings in effect (as read back from the port when they were applied).
  virtual LineSettings line_settings() const = 0;
  /// Applies `settings` while the port stays open, then reads them back. Throws
  /// TransportError naming the setting that is invalid, was refused, or did not stick (the
  /// previous settings are then restored as far as the port allows). Takes effect at once:
  /// call it while the line is idle, bytes in flight may be garbled.
  virtual void reconfigure(const LineSettings& settings) = 0;
  /// One character at the current settings (follows reconfigure()).
  Nanoseconds character_time() const { return hilbench::character_time(line_settings()); }

 protected:
  SerialLine() = default;
  SerialLine(const SerialLine&) = default;
  SerialLine& operator=(const SerialLine&) = default;
  ~SerialLine() = default;  // not owned through this interface
};

}  // namespace hilbench
