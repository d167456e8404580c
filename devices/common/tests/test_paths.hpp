#pragma once
// Where the devices tests find the programs and profiles they use (HILBENCH_EMULATOR_PATH
// and HILBENCH_SOURCE_DIR are defined by cmake/HilbenchTesting.cmake).
#include <filesystem>
#include <string>

namespace emulator_test {

inline const std::string emulator_path = HILBENCH_EMULATOR_PATH;
// Built next to hilbench-emulator.
inline const std::string present_port_path =
    (std::filesystem::path(emulator_path).parent_path() / "hilbench-present-port").string();
inline const std::string em1_path = HILBENCH_SOURCE_DIR "/devices/profiles/em1-meter.toml";

}  // namespace emulator_test
