// The registry of emulated device kinds: one line per kind (see common/device_kind.hpp).
#include <array>

#include "common/device_kind.hpp"
#include "meter/kind.hpp"

namespace hilbench::emu {

std::span<const DeviceKind* const> registered_kinds() {
  static constexpr std::array<const DeviceKind*, 1> kinds{
      &meter::kind,
  };
  return kinds;
}

const DeviceKind* find_kind(std::string_view name) {
  for (const DeviceKind* kind : registered_kinds())
    if (kind->name == name) return kind;
  return nullptr;
}

}  // namespace hilbench::emu
