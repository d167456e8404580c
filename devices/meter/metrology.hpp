#pragma once
// The meter's measurement model (sans-io): what it measures at its terminals, the energy it
// integrates, its pulse output, its clock and its event log. The profile's `[meter]` table
// (optional; without it, or without a `terminals` wire, the registers keep their static
// profile values, as a bench pointing at a third-party device expects):
//
//   [meter]
//   constant_imp_per_kwh = 1000      pulse output constant (imp/kWh), > 0
//   nominal_voltage_v = 230          Un (volts)
//   base_current_a = 5               Ib (amps): load points are fractions of it
//   max_current_a = 60               Imax (amps)
//   accuracy_class = 1.0             percent: what the meter claims (suites check against it)
//   starting_current_a = 0.02        below it nothing registers (amps, per phase)
//   creep_w = 0.0                    watts per phase registered with voltage and no current
//   noise_percent = 0.02             sigma of the gaussian noise on instantaneous readings
//   noise_seed = 1                   its seed (explicit: runs repeat)
//   nonlinearity_percent = 0.05      gain error added at Imax, growing as (I / Imax)^2
//   clock_drift_ppm = 1.5            the clock's rate error (+ = fast)
//   voltage, current, active_power, reactive_power, power_factor = ["<register>", ...]
//                                    one register name per phase (L1 first), any subset
//   frequency = "<register>"
//   active_import, active_export, reactive_import, reactive_export = "<register>" (energy,
//                                    in the register's unit: "kWh"/"Wh", "kvarh"/"varh")
//   clock = "<register>"             u32 seconds since 1970 UTC, writable (sets the clock)
//   clock_ms = "<register>"          u16 milliseconds of the current second
//   event_log_entries = 8            the event log's size (0..30, default 0: none); the
//                                    profile then declares input registers named
//                                    event_count (u16) and, for n = 1..entries (1 = oldest),
//                                    event_<n>_sequence (u16), event_<n>_code (u16),
//                                    event_<n>_time (u32, seconds since 1970 by its clock)
//   [meter.events]  "<code>" = "description"   (codes below)
//   [[meter.errors]] current_min_a, current_max_a (amps), pf_min, pf_max (|PF|),
//                    gain_percent, offset_w (per phase): the first row matching a load point
//
// Model: a three-phase meter whose terminals the wired source drives symmetrically. Per
// phase: true P = V I cos(phi), Q = V I sin(phi) (phi: current against voltage, + = current
// leading... taken as given, Q = V I sin(phi)); measured = true x (1 + (gain + nl (I/Imax)^2
// [+ 3 % under out_of_class_at_low_current below 0.1 Ib]) / 100) + offset, + noise on the
// instantaneous readings only (energy integrates the noiseless value, so runs repeat).
// Below the starting current: current 0, power = creep_w (50 W: creeps_at_no_load). Energy
// integrates measured power over steady-clock time exactly, piecewise between the source's
// state changes (its since_ns). Energy registers are non-volatile (kept across power cuts)
// unless loses_energy_on_power_cut.
// Pulses: floor(active import Wh since start x constant / 1000), a running count.
// Event codes: 1 power down, 2 power up, 3 clock set (the log keeps the newest `entries`).
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/defects.hpp"
#include "common/profile_reader.hpp"

namespace hilbench::emu::meter {

struct ErrorRow {
  double current_min_a = 0.0, current_max_a = 0.0;
  double pf_min = 0.0, pf_max = 1.0;
  double gain_percent = 0.0;
  double offset_w = 0.0;
};

struct MeterSpec {
  bool declared = false;
  double constant_imp_per_kwh = 1000.0;
  double nominal_voltage_v = 230.0;
  double base_current_a = 5.0;
  double max_current_a = 60.0;
  double accuracy_class = 1.0;
  double starting_current_a = 0.02;
  double creep_w = 0.0;
  double noise_percent = 0.0;
  std::uint64_t noise_seed = 1;
  double nonlinearity_percent = 0.0;
  double clock_drift_ppm = 0.0;
  std::map<std::string, std::vector<std::string>> phases;  ///< quantity -> register per phase
  std::map<std::string, std::string> single;               ///< frequency, energies, clock, clock_ms
  unsigned event_log_entries = 0;
  std::map<int, std::string> events;
  std::vector<ErrorRow> errors;
};

namespace event_code {
inline constexpr int power_down = 1;
inline constexpr int power_up = 2;
inline constexpr int clock_set = 3;
}  // namespace event_code

/// What the wired source applies (its world document); all phases alike.
struct Terminals {
  bool output_on = false;
  double voltage_v = 0.0, current_a = 0.0, phase_deg = 0.0, frequency_hz = 0.0;
  std::int64_t since_ns = 0;
  bool same_state(const Terminals& other) const noexcept {
    return output_on == other.output_on && voltage_v == other.voltage_v &&
           current_a == other.current_a && phase_deg == other.phase_deg &&
           frequency_hz == other.frequency_hz;
  }
};
Terminals terminals_from_world(const nlohmann::json& document);

struct PhaseReading {
  double voltage_v = 0, current_a = 0, active_w = 0, reactive_var = 0, power_factor = 1;
};
struct Reading {
  std::vector<PhaseReading> phases;  ///< L1..L3
  double frequency_hz = 0;
};

struct Energy {
  double active_import_wh = 0, active_export_wh = 0;
  double reactive_import_varh = 0, reactive_export_varh = 0;
};

struct Event {
  std::uint16_t sequence = 0;
  std::uint16_t code = 0;
  std::uint32_t timestamp_s = 0;
};

struct MetrologyKnobs {
  bool out_of_class_at_low_current = false;  ///< +3 % gain below 10 % of Ib
  bool loses_energy_on_power_cut = false;
  bool clock_drift_excessive = false;  ///< drift 1 % (864 s/day) instead of the profile's
  bool creeps_at_no_load = false;      ///< 50 W per phase below the starting current
  bool register_slow = false;          ///< the active-import register gets 99.5 % of the energy
};

class Metrology {
 public:
  /// `initial` is the energy the registers declare; `clock_start_s` the clock's value at
  /// `now_ns` (steady ns).
  Metrology(MeterSpec spec, MetrologyKnobs knobs, Energy initial, double clock_start_s,
            std::int64_t now_ns);

  /// Instantaneous values at these terminals (noise drawn from the seeded generator).
  Reading measure(const Terminals& terminals);
  /// Integrates energy up to `now_ns` with what the terminals held (state changes at their
  /// since_ns); `powered` false: nothing registers.
  void advance(const Terminals& terminals, std::int64_t now_ns);
  /// Power cut at `now_ns` (energy integrated up to it; logs power down).
  void power_lost(std::int64_t now_ns);
  /// Booted at `now_ns` (logs power up; energy restarts from here).
  void power_up(std::int64_t now_ns);
  /// At start-up: off (nothing registers, nothing logged) until power_up().
  void start_unpowered() noexcept { powered_ = false; }

  const Energy& energy() const noexcept { return energy_; }
  std::int64_t pulses() const noexcept;
  /// Pulses emitted since start up to the last advance(), with the fraction of the next.
  double pulses_exact() const noexcept;
  /// Pulses per second at the state integrated now (0 when unpowered or not importing).
  double pulse_rate_hz();
  /// Steady ns up to which energy is integrated.
  std::int64_t integrated_to_ns() const noexcept { return integrated_to_ns_; }
  /// The clock (seconds since 1970 UTC, fractional) at `now_ns`, drift applied.
  double clock_s(std::int64_t now_ns) const noexcept;
  void set_clock(double seconds, std::int64_t now_ns);
  /// The control channel switched knobs at `now_ns`: the clock keeps its reading and drifts at
  /// the new rate from here; the error model applies from the next integration step.
  void set_knobs(MetrologyKnobs knobs, std::int64_t now_ns);
  const std::deque<Event>& events() const noexcept { return events_; }
  const MeterSpec& spec() const noexcept { return spec_; }

 private:
  PhaseReading phase(const Terminals& terminals, bool noisy);
  double gain_percent(double current_a, double power_factor) const;
  void integrate(const Terminals& terminals, std::int64_t from_ns, std::int64_t to_ns);
  void log_event(int code, std::int64_t now_ns);
  double drift_ppm() const noexcept;

  MeterSpec spec_;
  MetrologyKnobs knobs_;
  Energy initial_;
  Energy energy_;
  double import_since_start_wh_ = 0.0;
  std::mt19937_64 noise_;
  Terminals integrated_;  ///< the state energy is being integrated with
  std::int64_t integrated_to_ns_ = 0;
  bool powered_ = true;
  // Clock: clock(t) = base_s + (t - base_ns) * (1 + drift).
  double clock_base_s_ = 0.0;
  std::int64_t clock_base_ns_ = 0;
  std::deque<Event> events_;
  std::uint16_t next_sequence_ = 1;
};

/// Reads the optional [meter] table through the profile's top-level reader. Register names
/// are checked by the caller (they must exist in the register map).
MeterSpec read_meter_spec(TableReader& top);
nlohmann::ordered_json meter_spec_to_json(const MeterSpec& spec);

}  // namespace hilbench::emu::meter
