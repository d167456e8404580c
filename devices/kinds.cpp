// The registry of emulated device kinds: one line per kind (see common/device_kind.hpp).
#include <array>

#include "common/device_kind.hpp"
#include "dmm/kind.hpp"
#include "meter/kind.hpp"
#include "psu/kind.hpp"
#include "source/kind.hpp"
#include "transmitter/kind.hpp"

namespace hilbench::emu {

std::span<const DeviceKind* const> registered_kinds() {
  static constexpr std::array<const DeviceKind*, 5> kinds{
      &meter::kind, &dmm::kind, &source::kind, &psu::kind, &transmitter::kind,
  };
  return kinds;
}

const DeviceKind* find_kind(std::string_view name) {
  for (const DeviceKind* kind : registered_kinds())
    if (kind->name == name) return kind;
  return nullptr;
}

}  // namespace hilbench::emu
