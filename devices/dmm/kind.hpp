#pragma once
// The dmm kind's registration (`[device] kind = "dmm"`): an emulated reference DMM speaking
// SCPI over raw TCP.
#include "common/device_kind.hpp"

namespace hilbench::emu::dmm {

extern const DeviceKind kind;

}  // namespace hilbench::emu::dmm
