#pragma once
// Serial transport through libserialport: a local UART, a USB-serial adapter, or an
// emulated port presented by umockdev (devices/, docs/ARCHITECTURE.md) — one code path.
// Implements the SerialLine capability (character time; reconfigure while open).
// Not thread-safe (see Transport). Owns the OS port: closed when the transport is destroyed.
#include <cstdint>
#include <memory>
#include <string>

#include "hilbench/transport/serial_line.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench {

/// The port to open and the line settings to open it with.
struct SerialSettings : LineSettings {
  std::string port;  ///< OS name: "/dev/ttyUSB0", "COM3"
};

/// Modem-control lines as the port reports them (true = asserted).
struct ModemLines {
  bool dtr = false, rts = false;                           // outputs
  bool cts = false, dsr = false, dcd = false, ri = false;  // inputs
};

class SerialTransport final : public Transport, public SerialLine {
 public:
  /// Opens and configures the port. Throws PortNotFound (message names the port) or
  /// TransportError (busy, permission, unsupported setting — names the setting).
  explicit SerialTransport(SerialSettings settings);
  ~SerialTransport() override;

  std::string name() const override;
  /// Port name and the line settings in effect (updated by reconfigure()).
  const SerialSettings& settings() const noexcept { return settings_; }

  SerialLine* serial_line() noexcept override { return this; }
  LineSettings line_settings() const override { return settings_; }
  /// sp_set_config on the open port, then a read-back of every setting (see SerialLine).
  /// Throws ConnectionClosed if the port has hung up.
  void reconfigure(const LineSettings& settings) override;

  ModemLines modem_lines();
  void set_dtr(bool asserted);
  void set_rts(bool asserted);

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;
  bool peer_gone() override;  ///< the port hung up (adapter unplugged, emulator gone)

 private:
  struct Port;  // RAII owner of the sp_port handle
  /// Validates, applies and reads back `wanted`; throws TransportError(operation) naming the
  /// setting at fault. Does not update settings_.
  void apply(const LineSettings& wanted, const std::string& operation);
  SerialSettings settings_;
  std::unique_ptr<Port> port_;
};

}  // namespace hilbench
