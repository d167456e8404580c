// Modbus RTU response decoding: decode_rtu (length, CRC) and the length a response head
// announces (expected_rtu_response_length, rtu_response_length_computable), on every prefix
// a client would ask about while the answer arrives.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"

namespace modbus = hilbench::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> frame(data, size);
  for (std::size_t prefix = 2; prefix <= size && prefix <= 300; ++prefix) {
    const auto head = frame.first(prefix);
    const auto expected = modbus::expected_rtu_response_length(head);
    const bool computable = modbus::rtu_response_length_computable(head);
    // A head whose length is announced is one whose length is computable.
    if (expected && !computable) __builtin_trap();
    if (expected) break;
  }
  try {
    const auto [unit, pdu] = modbus::decode_rtu(frame);
    // A frame that decodes re-encodes to itself (CRC and all).
    const auto again = modbus::encode_rtu(unit, pdu);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) __builtin_trap();
  } catch (const hilbench::ProtocolError&) {
  }
  return 0;
}
