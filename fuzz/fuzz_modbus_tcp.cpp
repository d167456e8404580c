// Modbus TCP (MBAP) response decoding: decode_tcp (protocol id, length field, unit, PDU).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"

namespace modbus = hilbench::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto adu = modbus::decode_tcp(std::span<const std::uint8_t>(data, size));
    // A frame that decodes re-encodes to itself.
    const auto again = modbus::encode_tcp(adu.transaction_id, adu.unit, adu.pdu);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) __builtin_trap();
  } catch (const hilbench::ProtocolError&) {
  }
  return 0;
}
