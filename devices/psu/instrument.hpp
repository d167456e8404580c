#pragma once
// The emulated power supply: its SCPI command set on the common engine.
//   [SOURce]:VOLTage[:LEVel][:IMMediate] <volts> | MIN | MAX | DEF   and ...?  (set point)
//   [SOURce]:CURRent[:LEVel][:IMMediate] <amps> | ...                and ...?  (current limit)
//   OUTPut[:STATe] ON|OFF|1|0                                        and ...?  (1 | 0)
//   MEASure[:SCALar]:VOLTage[:DC]?   volts at the output terminals (NR3)
//   MEASure[:SCALar]:CURRent[:DC]?   amps into the load (NR3)
// The output drives the profile's resistive load: constant voltage (I = V / R) until the
// current limit is reached, then constant current (V = I_limit * R). Output off: 0 V, 0 A.
// Settings beyond [limits] are refused with -222. *RST: 0 V, current limit = the profile's
// max_current_a, output off. At start-up: the profile's [power_on] voltage and output.
// World (common/world.hpp): publishes {"output_on", "voltage_v", "current_a"} at the
// terminals after every message (what powers the DUTs wired with powered_by).
#include <nlohmann/json.hpp>

#include "common/scpi_engine.hpp"
#include "psu/profile.hpp"

namespace hilbench::emu::psu {

class Instrument {
 public:
  explicit Instrument(const Profile& profile);
  scpi::Engine& engine() noexcept { return engine_; }
  double output_voltage() const noexcept;  ///< volts at the terminals now
  double output_current() const noexcept;  ///< amps into the load now
  /// The supply's world document: {"output_on", "voltage_v", "current_a"} at the terminals.
  nlohmann::json world_state() const;

 private:
  void reset() noexcept;
  Profile profile_;
  scpi::Engine engine_;
  double voltage_v_ = 0.0;
  double current_limit_a_ = 0.0;
  bool output_reported_ = false;  ///< what OUTP? says
  bool output_live_ = false;      ///< what the terminals do (differs only under a defect)
};

}  // namespace hilbench::emu::psu
