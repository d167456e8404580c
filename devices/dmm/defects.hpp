#pragma once
// The DMM's defect knobs: THE one list. Profile parsing ([defects]), --defect,
// --list-defects and the Python package (hilbench.profile.known_defects) derive from it.
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::dmm {

inline constexpr std::array<DefectInfo, 3> defect_table{{
    {"error_queue_fills_silently",
     "errors are queued but never flagged in *ESR? (the CME/EXE/DDE/QYE bits stay 0)",
     "IEEE 488.2 11.5.1: an error sets its class bit in the Standard Event Status Register"},
    {"idn_wrong_firmware", "*IDN? reports a firmware level other than the declared one",
     "IEEE 488.2 4.1.3.6 identity as declared: *IDN? reports the profile's manufacturer, "
     "model, serial number and firmware"},
    {"reading_offset",
     "DC readings are 0.5 % high (a calibration gone wrong), far outside the declared noise",
     "reference accuracy: a reference DMM reads the declared value within its declared noise"},
}};

consteval DefectId dmm_defect(std::string_view name) { return defect_id(defect_table, name); }

}  // namespace hilbench::emu::dmm
