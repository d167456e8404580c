#pragma once
// Serial transport through libserialport: a local UART, a USB-serial adapter, or an
// emulated port presented by umockdev (devices/, docs/ARCHITECTURE.md) — one code path.
#include <cstdint>
#include <memory>
#include <string>

#include "hilbench/transport/transport.hpp"

namespace hilbench {

enum class Parity : std::uint8_t { none, odd, even, mark, space };
enum class FlowControl : std::uint8_t { none, xon_xoff, rts_cts, dtr_dsr };

struct SerialSettings {
  std::string port;  ///< OS name: "/dev/ttyUSB0", "COM3"
  int baud = 9600;   ///< bits per second
  int data_bits = 8;
  Parity parity = Parity::none;
  int stop_bits = 1;
  FlowControl flow_control = FlowControl::none;
};

/// Modem-control lines as the port reports them (true = asserted).
struct ModemLines {
  bool dtr = false, rts = false;                           // outputs
  bool cts = false, dsr = false, dcd = false, ri = false;  // inputs
};

class SerialTransport final : public Transport {
 public:
  /// Opens and configures the port. Throws PortNotFound (message names the port) or
  /// TransportError (busy, permission, unsupported setting — names the setting).
  explicit SerialTransport(SerialSettings settings);
  ~SerialTransport() override;

  std::string name() const override;
  const SerialSettings& settings() const noexcept { return settings_; }

  /// Duration of one character on the wire: (1 start + data + parity + stop) bits / baud.
  Nanoseconds character_time() const noexcept;
  /// Modbus RTU inter-frame silence t3.5: 3.5 character times, fixed 1750 us above 19200 baud.
  Nanoseconds frame_silence() const noexcept;

  ModemLines modem_lines();
  void set_dtr(bool asserted);
  void set_rts(bool asserted);

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;

 private:
  struct Port;  // RAII owner of the sp_port handle
  SerialSettings settings_;
  std::unique_ptr<Port> port_;
};

}  // namespace hilbench
