// The SCPI instrument kinds' profile readers (devices/dmm, devices/source, devices/psu over
// devices/common/scpi_instrument's shared tables, devices/common/profile_reader.cpp and
// toml++), from text: every problem must be a ProfileError naming file and key, and a
// profile that parses must dump to JSON.
//
// Input: [kind] then the TOML text; kind % 3 picks dmm, source or psu.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/profile_reader.hpp"
#include "dmm/profile.hpp"
#include "psu/profile.hpp"
#include "source/profile.hpp"

namespace emu = hilbench::emu;

namespace {
template <typename Read, typename Dump>
void parse_and_dump(std::string_view text, Read read, Dump dump) {
  const toml::table document = emu::parse_profile_document(text, "fuzz.toml");
  (void)dump(read(document, "fuzz.toml")).dump();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 3) {
      case 0:
        parse_and_dump(text, emu::dmm::read_profile, emu::dmm::profile_to_json);
        break;
      case 1:
        parse_and_dump(text, emu::source::read_profile, emu::source::profile_to_json);
        break;
      default:
        parse_and_dump(text, emu::psu::read_profile, emu::psu::profile_to_json);
        break;
    }
  } catch (const emu::ProfileError&) {
  }
  return 0;
}
