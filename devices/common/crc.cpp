#include "common/crc.hpp"

#include <array>

namespace hilbench::emu {

namespace {

// The CRC-16/MODBUS table (reflected polynomial 0xA001), built once at compile time.
constexpr std::array<std::uint16_t, 256> make_crc16_modbus_table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    std::uint16_t crc = static_cast<std::uint16_t>(byte);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1);
    table[byte] = crc;
  }
  return table;
}
constexpr auto crc16_modbus_table = make_crc16_modbus_table();

}  // namespace

std::uint16_t crc16_modbus(std::span<const std::uint8_t> bytes) noexcept {
  std::uint16_t crc = 0xFFFF;
  for (std::uint8_t byte : bytes)
    crc = static_cast<std::uint16_t>((crc >> 8) ^ crc16_modbus_table[(crc ^ byte) & 0xFF]);
  return crc;
}

}  // namespace hilbench::emu
