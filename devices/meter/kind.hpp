#pragma once
// The meter kind's registration (`[device] kind = "meter"`): an emulated Modbus smart meter
// (e.g. the EM-1) serving Modbus TCP and Modbus RTU from one register state.
#include "common/device_kind.hpp"

namespace hilbench::emu::meter {

extern const DeviceKind kind;

}  // namespace hilbench::emu::meter
