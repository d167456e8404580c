// The USBTMC decoders of what a device sends: the Bulk-IN DEV_DEP_MSG_IN header and the
// GET_CAPABILITIES reply. Input: the device's bytes as they arrive. A DecodeError is the
// only allowed failure; a decoded header must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <span>

#include "hilbench/protocol/usbtmc.hpp"

namespace usbtmc = hilbench::usbtmc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    const usbtmc::InHeader header = usbtmc::decode_in_header(bytes);
    if (header.msg_id != usbtmc::msg::dev_dep_msg_in || header.tag != bytes[1]) __builtin_trap();
    if (static_cast<std::uint8_t>(~header.tag) != bytes[2]) __builtin_trap();
  } catch (const usbtmc::DecodeError&) {
  }
  try {
    const usbtmc::Capabilities caps = usbtmc::decode_capabilities(bytes);
    if (size < 24 || caps.status != bytes[0]) __builtin_trap();
  } catch (const usbtmc::DecodeError&) {
  }
  return 0;
}
