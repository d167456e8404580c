#pragma once
// The psu kind's registration (`[device] kind = "psu"`): an emulated power supply speaking SCPI
// over raw TCP.
#include "common/device_kind.hpp"

namespace hilbench::emu::psu {

extern const DeviceKind kind;

}  // namespace hilbench::emu::psu
