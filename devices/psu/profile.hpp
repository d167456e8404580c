#pragma once
// The psu kind's profile schema (`[device] kind = "psu"`), the only parser of it (the Python
// package reads `hilbench-emulator --dump-profile`).
//
// Schema 1, by example in devices/profiles/psu2-power-supply.toml:
//   schema = 1
//   [device]    kind = "psu", name, description ("")
//   [identity]  manufacturer, model, serial_number, firmware   (*IDN? fields, required)
//   [scpi]      error_queue_size (1..100, default 10)           optional table
//   [serial]    baud, data_bits, parity, stop_bits (common/serial_line.hpp): an RS-232
//               port served with SCPI; optional (absent = none)
//   [limits]    max_voltage_v (volts, > 0), max_current_a (amps, > 0)   required: settings
//               beyond them are refused with -222 "Data out of range"
//   [load]      resistance_ohm (ohms, > 0, default 1000): the resistive load on the output
//   [power_on]  voltage_v (volts, 0..max_voltage_v, default 0), output (bool, default false):
//               the state the supply starts in, before any command (*RST still gives 0 V, off)
//   [defects]   knob names of psu/defects.hpp, booleans (default false)
#include <toml++/toml.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/defects.hpp"
#include "common/scpi_instrument.hpp"
#include "psu/defects.hpp"

namespace hilbench::emu::psu {

struct Limits {
  double max_voltage_v = 0.0;  ///< volts
  double max_current_a = 0.0;  ///< amps
};

struct Profile {
  scpi::CommonProfile common;
  Limits limits;
  double load_resistance_ohm = 1000.0;  ///< ohms, the resistive load on the output
  double power_on_voltage_v = 0.0;      ///< volts set at start-up
  bool power_on_output = false;         ///< output on at start-up
  DefectSet defects;
};

Profile read_profile(const toml::table& document, const std::string& file);
nlohmann::ordered_json profile_to_json(const Profile& profile);

}  // namespace hilbench::emu::psu
