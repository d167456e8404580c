#pragma once
// The transmitter's sans-io server engines (their own codecs, independent of the harness's
// clients on purpose) over one process model. Nothing here does I/O or reads a clock: every
// call takes `now`, so tests drive time explicitly. Not thread-safe (one I/O thread).
//
// Model (the IEC 60770 / IEC 62828 performance quantities as an error model):
// - the process input u (profile [process] value; settable at run time) reaches the sensor
//   after the dead time; the measured value follows it as a first-order lag with the time
//   constant (exact exponential between input changes). At power-up the measured value
//   starts at the range's lower value, so the first reading is a step response.
// - indicated value = lagged value + nonlinearity * 4x(1 - x) (x: the lagged value as a
//   fraction of the span) + hysteresis / 2 when the last input change was upward, - /2
//   when downward (+ at power-up).
// - loop current = 4 + 16 * (indicated - lower) / span mA, clamped to [saturation_low_ma,
//   saturation_high_ma] (NAMUR NE 43 measurement band); on a sensor fault it is
//   failure_low_ma or failure_high_ma by the profile's failure direction, and the process
//   value reads NaN. Knobs: ne43_wrong_failure_band (failure signalled 0.1 mA inside the
//   measurement band), status_not_flagged (status says OK while failing), lag_too_slow (50x
//   the time constant); static-performance knobs add to the indicated value: zero_offset
//   (+0.9 % of span), bowed_output (+0.3 % of span x 4x(1 - x)), hysteresis_excessive
//   (+-0.225 % of span by direction), not_repeatable (an offset in +-0.08 % of span drawn
//   anew at every input change from a fixed-seed stream, drawn whether or not the knob is on
//   so switching it does not shift the sequence).
//
// Modbus RTU (unit = profile [interface] unit; 32-bit values high word first):
//   input registers (FC04)   0-1 process value f32 (range unit; NaN while failing)
//                            2-3 loop current f32 (mA)
//                            4   status u16: bit 0 sensor failure, bit 1 failure signalled
//                                high (with bit 0), bit 2 output saturated; 0 = OK
//   holding registers (FC03, FC06, FC16)
//                            0-1 simulated process input f32 (written as one FC16 of 2)
//                            2   simulated sensor fault u16 (0 | 1)
//   Exceptions: 01 other function codes; 02 addresses outside the map (or cutting the f32
//   pair); 03 quantity 0 or > 125, a fault value other than 0/1, FC16 byte count mismatch.
//   Bad CRC, another unit or broadcast: no reply.
//
// Line-based ASCII (each request one line ending in LF, a CR before it dropped; each reply
// one line ending in CR LF; commands upper case):
//   ID?               ID <manufacturer>,<model>,<serial_number>,<firmware>
//   PV?               PV <value> <unit>            (%.6g; "NAN" while failing)
//   MA?               MA <milliamps>               (%.4f)
//   ST?               ST OK | ST FAIL LOW | ST FAIL HIGH
//   SIM PV <value>    OK     sets the process input (in the range unit)
//   SIM FAULT ON|OFF  OK     sets the sensor fault
//   errors: ERR 1 unknown command, ERR 2 bad argument, ERR 3 line too long (> 128 bytes)
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "transmitter/profile.hpp"

namespace hilbench::emu::transmitter {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

/// What the transmitter outputs at one moment.
struct Output {
  double process_value = 0.0;  ///< in the range unit; NaN while the sensor fails
  double loop_current_ma = 0.0;
  bool failure = false;       ///< what the status reports (status_not_flagged: false)
  bool failure_high = false;  ///< with `failure`: signalled upscale
  bool saturated = false;     ///< the loop current is clamped at a band end
};

class Model {
 public:
  Model(const Profile& profile, Clock::time_point power_up);
  const Profile& profile() const noexcept { return profile_; }
  /// Changes the process input (in the range unit) from `now` on.
  void set_input(double value, Clock::time_point now);
  void set_sensor_fault(bool fault) noexcept { sensor_fault_ = fault; }
  /// The control channel switched knobs at `now`: the lag has followed its input up to now
  /// under the old ones; the new ones apply from here.
  void set_defects(const DefectSet& defects, Clock::time_point now);
  Output output(Clock::time_point now);

 private:
  struct Change {
    Clock::time_point effective;  ///< when the sensor sees it (after the dead time)
    double value;
  };
  void advance(Clock::time_point now);

  Profile profile_;
  Clock::duration dead_time_;
  double time_constant_s_;
  double lagged_;
  double input_;  ///< the input the lag currently follows
  double last_set_;
  Clock::time_point at_;
  std::deque<Change> pending_;
  bool sensor_fault_;
  bool rising_ = true;
  std::mt19937_64 setting_draws_{60770};  ///< not_repeatable: fixed seed, replayable
  double setting_offset_ = 0.0;           ///< fraction of span, in [-1, 1)
};

class ModbusRtuEngine {
 public:
  explicit ModbusRtuEngine(Model& model)
      : model_(model),
        simulated_input_(static_cast<float>(model.profile().process_value)),
        simulated_fault_(model.profile().sensor_fault) {}
  /// One RTU frame (address, PDU, CRC) -> the reply frame, or nullopt (no reply).
  std::optional<Bytes> handle_frame(std::span<const std::uint8_t> frame, Clock::time_point now);

 private:
  Model& model_;
  float simulated_input_;
  bool simulated_fault_;
};

class AsciiEngine {
 public:
  static constexpr std::size_t max_line = 128;
  explicit AsciiEngine(Model& model) : model_(model) {}
  /// One request line (without its LF; a trailing CR is dropped) -> the reply line with CR LF.
  std::string handle_line(std::string line, Clock::time_point now);

 private:
  Model& model_;
};

}  // namespace hilbench::emu::transmitter
