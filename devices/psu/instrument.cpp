#include "psu/instrument.hpp"

#include <algorithm>

namespace hilbench::emu::psu {

namespace {
scpi::EngineOptions options_for(const Profile& profile) {
  scpi::EngineOptions options = scpi::engine_options(profile.common);
  options.esr_ignores_errors = profile.defects.has(psu_defect("error_queue_fills_silently"));
  if (profile.defects.has(psu_defect("idn_wrong_firmware"))) options.firmware += "-rc1";
  return options;
}
}  // namespace

Instrument::Instrument(const Profile& profile) : profile_(profile), engine_(options_for(profile)) {
  reset();
  voltage_v_ = profile.power_on_voltage_v;
  output_reported_ = output_live_ = profile.power_on_output;
  const Limits limits = profile.limits;
  const bool ignores_off = profile.defects.has(psu_defect("ignores_output_off"));
  engine_.on_reset([this] { reset(); });
  engine_.add("[SOURce]:VOLTage[:LEVel][:IMMediate]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    voltage_v_ = call.number(0, 0.0, limits.max_voltage_v, 0.0, "V");
    return std::string();
  });
  engine_.add("[SOURce]:VOLTage[:LEVel][:IMMediate]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(voltage_v_);
  });
  engine_.add("[SOURce]:CURRent[:LEVel][:IMMediate]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    current_limit_a_ = call.number(0, 0.0, limits.max_current_a, limits.max_current_a, "A");
    return std::string();
  });
  engine_.add("[SOURce]:CURRent[:LEVel][:IMMediate]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(current_limit_a_);
  });
  engine_.add("OUTPut[:STATe]", [this, ignores_off](const scpi::Call& call) {
    call.expect(1, 1);
    output_reported_ = call.boolean(0);
    if (output_reported_ || !ignores_off) output_live_ = output_reported_;
    return std::string();
  });
  engine_.add("OUTPut[:STATe]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return std::string(output_reported_ ? "1" : "0");
  });
  engine_.add("MEASure[:SCALar]:VOLTage[:DC]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(output_voltage());
  });
  engine_.add("MEASure[:SCALar]:CURRent[:DC]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(output_current());
  });
}

void Instrument::reset() noexcept {
  voltage_v_ = 0.0;
  current_limit_a_ = profile_.limits.max_current_a;
  output_reported_ = false;
  output_live_ = false;
}

double Instrument::output_voltage() const noexcept {
  if (!output_live_) return 0.0;
  const double r = profile_.load_resistance_ohm;
  return std::min(voltage_v_, current_limit_a_ * r);  // constant current beyond the limit
}

nlohmann::json Instrument::world_state() const {
  return {{"output_on", output_live_},
          {"voltage_v", output_voltage()},
          {"current_a", output_current()}};
}

double Instrument::output_current() const noexcept {
  return output_live_ ? output_voltage() / profile_.load_resistance_ohm : 0.0;
}

}  // namespace hilbench::emu::psu
