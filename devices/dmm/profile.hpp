#pragma once
// The DMM kind's profile schema (devices/profiles/*.toml with `[device] kind = "dmm"`), the
// only parser of it (the Python package reads `hilbench-emulator --dump-profile`).
//
// Schema 1, by example in devices/profiles/dmm6-reference.toml:
//   schema = 1
//   [device]    kind = "dmm", name, description ("")
//   [identity]  manufacturer, model, serial_number, firmware   (*IDN? fields, required)
//   [scpi]      error_queue_size (1..100, default 10)           optional table
//   [serial]    baud, data_bits, parity, stop_bits (common/serial_line.hpp): an RS-232
//               port served with SCPI; optional (absent = none)
//   [reading]   dc_voltage_v (volts, default 0), dc_current_a (amps, 0): the value the
//               terminals see; noise_v (volts, >= 0, default 0), noise_a (amps, >= 0, 0):
//               standard deviation of the Gaussian noise on each reading; seed (>= 0, 1)
//   [defects]   knob names of dmm/defects.hpp, booleans (default false)
#include <toml++/toml.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/defects.hpp"
#include "common/scpi_instrument.hpp"
#include "dmm/defects.hpp"

namespace hilbench::emu::dmm {

struct Reading {
  double dc_voltage_v = 0.0;  ///< volts at the terminals
  double dc_current_a = 0.0;  ///< amps through the current input
  double noise_v = 0.0;       ///< volts, standard deviation per reading
  double noise_a = 0.0;       ///< amps, standard deviation per reading
  std::uint64_t seed = 1;     ///< of the noise generator (runs are reproducible)
};

struct Profile {
  scpi::CommonProfile common;
  Reading reading;
  DefectSet defects;
};

Profile read_profile(const toml::table& document, const std::string& file);
nlohmann::ordered_json profile_to_json(const Profile& profile);

}  // namespace hilbench::emu::dmm
