#pragma once
#include "common/device_kind.hpp"

namespace hilbench::emu::transmitter {

/// The transmitter kind (`[device] kind = "transmitter"`): 4-20 mA class pressure or
/// temperature transmitter, Modbus RTU or line-based ASCII on one serial port.
extern const DeviceKind kind;

}  // namespace hilbench::emu::transmitter
