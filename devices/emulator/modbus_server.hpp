#pragma once
// The emulated device's Modbus server engine (sans-io): PDU in, PDU (or silence) out, plus
// RTU and MBAP framing. Written independently of the harness's client codec on purpose:
// the harness is tested against it, so they must not share bugs (only the CRC table idea).
// Defect knobs from the profile change its behaviour so each conformance test can fail.
// Not thread-safe: one server per device, driven from the emulator's I/O thread.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "profile.hpp"

namespace hilbench::emu {

using Bytes = std::vector<std::uint8_t>;

enum class Interface : std::uint8_t { rtu, tcp };

class ModbusServer {
 public:
  explicit ModbusServer(const DeviceProfile& profile);

  /// Answers one request PDU addressed to this device; nullopt = stay silent.
  std::optional<Bytes> handle_pdu(std::span<const std::uint8_t> pdu, Interface via);
  /// One complete RTU frame as delimited by t3.5 silence; nullopt = no reply (bad CRC,
  /// other address, broadcast, too short).
  std::optional<Bytes> handle_rtu_frame(std::span<const std::uint8_t> frame);
  /// One MBAP frame (header + PDU); nullopt = drop.
  std::optional<Bytes> handle_tcp_frame(std::span<const std::uint8_t> frame);

 private:
  DeviceProfile profile_;
  // register tables live in profile_ (mutable state: writes change them)
};

std::uint16_t crc16_modbus(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace hilbench::emu
