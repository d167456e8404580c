#pragma once
// placeholder: the emulator helper defines DeviceProfile here
namespace hilbench::emu { struct DeviceProfile {}; }
