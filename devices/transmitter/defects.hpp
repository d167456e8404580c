#pragma once
// The transmitter's defect knobs: THE one list. Profile parsing ([defects]), --defect,
// --list-defects and the Python package (hilbench.profile.known_defects) derive from it;
// the engines name a knob with transmitter_defect("name"), checked at compile time.
// Behaviour in detail: transmitter/server.hpp.
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::transmitter {

inline constexpr std::array<DefectInfo, 7> defect_table{{
    {"ne43_wrong_failure_band",
     "a sensor failure is signalled 0.1 mA inside the measurement band (e.g. 3.9 mA for a "
     "downscale failure) instead of in the failure band",
     "NAMUR NE 43: a failure is signalled at <= 3.6 mA or >= 21.0 mA, outside the measurement "
     "band"},
    {"status_not_flagged",
     "while the sensor fails the status (Modbus status word, ASCII ST?) still says OK; the "
     "loop current does signal the failure",
     "NAMUR NE 43: the status a transmitter reports agrees with the band its loop current "
     "signals"},
    {"lag_too_slow", "the first-order lag runs with 50 times the profile's time constant",
     "IEC 60770 / IEC 62828 step response: the output settles within dead time + 5 time "
     "constants of the profile"},
    {"zero_offset", "every reading is 0.9 % of span high (a zero error)",
     "IEC 60770 / IEC 62828 measured error: every reading of the up-and-down traverses lies "
     "within the declared measured error of the ideal transfer line"},
    {"bowed_output", "an extra bow of 0.3 % of span at mid-range, none at the range ends",
     "IEC 60770 / IEC 62828 non-linearity: the mean curve lies within the declared "
     "non-linearity of the terminal line"},
    {"hysteresis_excessive", "0.45 % of span more hysteresis between rising and falling",
     "IEC 60770 / IEC 62828 hysteresis: mean upscale and downscale readings differ by no more "
     "than the declared hysteresis"},
    {"not_repeatable",
     "each new input setting lands up to +-0.08 % of span off (a seeded draw per setting)",
     "IEC 60770 / IEC 62828 non-repeatability: readings at one point from one direction agree "
     "within the declared non-repeatability"},
}};

/// The knob called `name`; an unknown name does not compile.
consteval DefectId transmitter_defect(std::string_view name) {
  return defect_id(defect_table, name);
}

}  // namespace hilbench::emu::transmitter
