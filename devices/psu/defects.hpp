#pragma once
// The power supply's defect knobs: THE one list (see dmm/defects.hpp for how it is used).
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::psu {

inline constexpr std::array<DefectInfo, 3> defect_table{{
    {"error_queue_fills_silently",
     "errors are queued but never flagged in *ESR? (the CME/EXE/DDE/QYE bits stay 0)",
     "IEEE 488.2 11.5.1: an error sets its class bit in the Standard Event Status Register"},
    {"idn_wrong_firmware", "*IDN? reports a firmware level other than the declared one",
     "IEEE 488.2 4.1.3.6 identity as declared: *IDN? reports the profile's manufacturer, "
     "model, serial number and firmware"},
    {"ignores_output_off", "OUTP OFF is acknowledged (OUTP? reads 0) but the output stays live",
     "power control: output off removes the voltage from the load"},
}};

consteval DefectId psu_defect(std::string_view name) { return defect_id(defect_table, name); }

}  // namespace hilbench::emu::psu
