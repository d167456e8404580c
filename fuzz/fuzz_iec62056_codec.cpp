// The IEC 62056-21 mode C codec (sans-io): identification, block framing and splitting, data
// lines with several values, error answers, on the raw input and on the framed block's data.
// Input: the bytes a device sent.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"

namespace iec = hilbench::iec62056;

namespace {
template <class Call>
void attempt(Call&& call) {
  try {
    call();
  } catch (const hilbench::ProtocolError&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto end = iec::find_line_end(bytes)) {
    if (*end < 2 || *end > bytes.size()) __builtin_trap();
    attempt([&] { iec::parse_identification(bytes.first(*end)); });
  }
  attempt([&] { iec::parse_identification(bytes); });
  attempt([&] {
    if (const auto end = iec::find_block_end(bytes)) {
      if (*end < 3 || *end > bytes.size()) __builtin_trap();
      const iec::Block block = iec::parse_block(bytes.first(*end));
      (void)block.bcc_ok();
      iec::error_answer_code(block.data);
      attempt([&] { iec::parse_data_block(block.data); });
    }
  });
  attempt([&] { iec::parse_block(bytes); });
  attempt([&] { iec::parse_data_block(text); });
  iec::error_answer_code(text);
  return 0;
}
