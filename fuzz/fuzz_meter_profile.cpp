// The emulator's meter profile reader (devices/meter/profile.cpp over
// devices/common/profile_reader.cpp and toml++), from text: every problem must be a
// ProfileError naming file and key, and a profile that parses must dump to JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/profile_reader.hpp"
#include "meter/profile.hpp"

namespace meter = hilbench::emu::meter;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const meter::DeviceProfile profile = meter::parse_profile(text, "fuzz.toml");
    (void)meter::profile_to_json(profile).dump();
  } catch (const hilbench::emu::ProfileError&) {
  }
  return 0;
}
