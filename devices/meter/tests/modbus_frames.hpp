#pragma once
// Modbus request frames as a master sends them, for the emulator's tests: an RTU frame with
// its CRC, a TCP frame with its MBAP header. The CRC is the emulator's own crc16_modbus.
#include <cstdint>

#include "meter/modbus_server.hpp"

namespace emulator_test {

using hilbench::emu::meter::Bytes;

// The RTU frame: `frame` followed by its CRC-16/MODBUS, low byte first.
inline Bytes with_crc(Bytes frame) {
  const std::uint16_t crc = hilbench::emu::crc16_modbus(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

// The TCP frame: MBAP header (transaction, protocol, length, unit), then the PDU.
inline Bytes mbap(std::uint16_t transaction, std::uint8_t unit, const Bytes& pdu,
                  std::uint16_t protocol = 0) {
  const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
  Bytes frame{static_cast<std::uint8_t>(transaction >> 8),
              static_cast<std::uint8_t>(transaction & 0xFF),
              static_cast<std::uint8_t>(protocol >> 8),
              static_cast<std::uint8_t>(protocol & 0xFF),
              static_cast<std::uint8_t>(length >> 8),
              static_cast<std::uint8_t>(length & 0xFF),
              unit};
  frame.insert(frame.end(), pdu.begin(), pdu.end());
  return frame;
}

}  // namespace emulator_test
