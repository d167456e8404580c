#pragma once
// The emulated reference source: its SCPI command set on the common engine.
//   [SOURce]:VOLTage[:LEVel] <volts> | MIN | MAX | DEF      and ...?  (NR3, volts)
//   [SOURce]:CURRent[:LEVel] <amps> | MIN | MAX | DEF       and ...?  (NR3, amps)
//   [SOURce]:PHASe[:ADJust] <degrees, -360..360>            and ...?  (NR3, degrees: the
//                                                           angle of current against voltage)
//   OUTPut[:STATe] ON|OFF|1|0                               and ...?  (1 | 0)
// Settings beyond the profile's [limits] are refused with -222. *RST: 0 V, 0 A, 0 deg, off.
#include "common/scpi_engine.hpp"
#include "source/profile.hpp"

namespace hilbench::emu::source {

struct Setpoint {
  double voltage_v = 0.0;
  double current_a = 0.0;
  double phase_deg = 0.0;
  bool output_on = false;
};

class Instrument {
 public:
  explicit Instrument(const Profile& profile);
  scpi::Engine& engine() noexcept { return engine_; }
  const Setpoint& applied() const noexcept { return applied_; }

 private:
  Profile profile_;
  scpi::Engine engine_;
  Setpoint applied_;
};

}  // namespace hilbench::emu::source
