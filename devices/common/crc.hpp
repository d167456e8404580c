#pragma once
// Check codes of serial device protocols, shared by every emulated device kind (shared CRC
// tables are fine; the emulators' protocol codecs stay independent of the harness's).
#include <cstdint>
#include <span>

namespace hilbench::emu {

/// CRC-16/MODBUS (reflected polynomial 0xA001, init 0xFFFF); sent low byte first.
std::uint16_t crc16_modbus(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace hilbench::emu
