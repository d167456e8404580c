#pragma once
// The emulated reference source: its SCPI command set on the common engine.
//   [SOURce]:VOLTage[:LEVel] <volts> | MIN | MAX | DEF      and ...?  (NR3, volts)
//   [SOURce]:CURRent[:LEVel] <amps> | MIN | MAX | DEF       and ...?  (NR3, amps)
//   [SOURce]:PHASe[:ADJust] <degrees, -360..360>            and ...?  (NR3, degrees: the
//                                                           angle of current against voltage)
//   OUTPut[:STATe] ON|OFF|1|0                               and ...?  (1 | 0)
//   SENSe:PULSe:COUNt?      pulses counted on its pulse input since the last reset (NR1)
//   SENSe:PULSe:RESet       counting starts from zero; the reference energy too
//   SENSe:ENERgy?           reference energy it applied since the last reset (NR3, Wh:
//                           3 x V x I x cos(phase) integrated over steady-clock time)
// Settings beyond the profile's [limits] are refused with -222. *RST: 0 V, 0 A, 0 deg, off.
// At start-up: the profile's [power_on] state.
// It drives the three phases of the meter terminals wired to it symmetrically (same V, I,
// phase on L1, L2, L3, at the profile's [output] frequency).
// World (common/world.hpp): publishes {"output_on", "voltage_v", "current_a", "phase_deg",
// "frequency_hz", "since_ns"} (since_ns: steady-clock time this state took effect, so a
// meter integrates energy exactly however late it looks). Its pulse input is wired with
// `--wire pulse_input=<meter>` and reads the meter's "pulses" (a running count); without the
// wire the count stays 0.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/scpi_engine.hpp"
#include "common/world.hpp"
#include "source/profile.hpp"

namespace hilbench::emu::source {

struct Setpoint {
  double voltage_v = 0.0;
  double current_a = 0.0;
  double phase_deg = 0.0;
  bool output_on = false;
  bool operator==(const Setpoint&) const = default;
};

class Instrument {
 public:
  explicit Instrument(const Profile& profile);
  scpi::Engine& engine() noexcept { return engine_; }
  const Setpoint& applied() const noexcept { return applied_; }

  /// The source's world document (see above). Notes when the applied state changed.
  nlohmann::json world_state();
  /// Connects the pulse input to the meter wired as "pulse_input".
  void attach_world(const world::WorldOptions& world);
  /// Watts on all three phases now (0 when the output is off).
  double active_power_w() const noexcept;

 private:
  std::int64_t pulses_now() const;
  double reference_energy_wh(std::int64_t now_ns) const;
  void account_energy(std::int64_t now_ns);

  Profile profile_;
  scpi::Engine engine_;
  Setpoint applied_;
  Setpoint published_{};
  std::int64_t since_ns_ = 0;
  // The reference energy: Wh accumulated up to accounted_ns_, since the last reset.
  double energy_wh_ = 0.0;
  std::int64_t accounted_ns_ = 0;
  world::WorldOptions world_;
  std::string pulse_input_;
  std::int64_t pulse_base_ = 0;
};

}  // namespace hilbench::emu::source
