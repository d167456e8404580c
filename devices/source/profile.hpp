#pragma once
// The source kind's profile schema (`[device] kind = "source"`), the only parser of it (the Python
// package reads `hilbench-emulator --dump-profile`).
//
// Schema 1, by example in devices/profiles/rs3-reference-source.toml:
//   schema = 1
//   [device]    kind = "source", name, description ("")
//   [identity]  manufacturer, model, serial_number, firmware   (*IDN? fields, required)
//   [scpi]      error_queue_size (1..100, default 10)           optional table
//   [serial]    baud, data_bits, parity, stop_bits (common/serial_line.hpp): an RS-232
//               port served with SCPI; optional (absent = none)
//   [limits]    max_voltage_v (volts, > 0), max_current_a (amps, > 0)   required: settings
//               beyond them are refused with -222 "Data out of range"
//   [output]    frequency_hz (hertz, 40..70, default 50): the frequency of what it applies
//   [power_on]  voltage_v, current_a (within [limits], default 0), phase_deg (-360..360,
//               default 0), output (bool, default false): the state it starts in, before
//               any command (*RST still gives 0 V, 0 A, 0 deg, off)
//   [defects]   knob names of source/defects.hpp, booleans (default false)
#include <toml++/toml.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/defects.hpp"
#include "common/scpi_instrument.hpp"
#include "source/defects.hpp"

namespace hilbench::emu::source {

struct Limits {
  double max_voltage_v = 0.0;  ///< volts
  double max_current_a = 0.0;  ///< amps
};

struct PowerOn {
  double voltage_v = 0.0;  ///< volts
  double current_a = 0.0;  ///< amps
  double phase_deg = 0.0;  ///< degrees, current against voltage
  bool output = false;
};

struct Profile {
  scpi::CommonProfile common;
  Limits limits;
  double frequency_hz = 50.0;  ///< hertz
  PowerOn power_on;

  DefectSet defects;
};

Profile read_profile(const toml::table& document, const std::string& file);
nlohmann::ordered_json profile_to_json(const Profile& profile);

}  // namespace hilbench::emu::source
