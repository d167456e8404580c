// The SCPI codec (sans-io): where a response message ends (terminators, definite and
// indefinite blocks), splitting response data elements, and every parse_* function.
// Input: [selector] then the response bytes. selector bit 0: terminator "\r\n" (else "\n").
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"

namespace scpi = hilbench::scpi;

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
  if (size < 1) return 0;
  const std::string_view terminator = (data[0] & 1) ? "\r\n" : "\n";
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());

  attempt([&] {
    if (const auto end = scpi::find_response_end(bytes, terminator)) {
      if (*end == 0 || *end > bytes.size()) __builtin_trap();
      const std::string message = scpi::strip_terminator(bytes.first(*end), terminator);
      for (const std::string& element : scpi::split_elements(message)) {
        attempt([&] { scpi::parse_number(element); });
        attempt([&] { scpi::parse_nr1(element); });
        attempt([&] { scpi::parse_string(element); });
        attempt([&] {
          scpi::parse_block(
              std::span(reinterpret_cast<const std::uint8_t*>(element.data()), element.size()));
        });
      }
      attempt([&] { scpi::parse_error_entry(message); });
      attempt([&] { scpi::parse_identity(message); });
    }
  });
  // The parsers on the raw text too (they must not rely on find_response_end having run).
  attempt([&] { scpi::split_elements(text); });
  attempt([&] { scpi::parse_number(text); });
  attempt([&] { scpi::parse_nr1(text); });
  attempt([&] { scpi::parse_string(text); });
  attempt([&] { scpi::parse_block(bytes); });
  attempt([&] { scpi::parse_error_entry(text); });
  attempt([&] { scpi::parse_identity(text); });
  return 0;
}
