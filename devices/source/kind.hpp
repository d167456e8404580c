#pragma once
// The source kind's registration (`[device] kind = "source"`): an emulated reference source
// speaking SCPI over raw TCP.
#include "common/device_kind.hpp"

namespace hilbench::emu::source {

extern const DeviceKind kind;

}  // namespace hilbench::emu::source
