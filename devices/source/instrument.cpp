#include "source/instrument.hpp"

namespace hilbench::emu::source {

namespace {
scpi::EngineOptions options_for(const Profile& profile) {
  scpi::EngineOptions options = scpi::engine_options(profile.common);
  options.esr_ignores_errors = profile.defects.has(source_defect("error_queue_fills_silently"));
  if (profile.defects.has(source_defect("idn_wrong_firmware"))) options.firmware += "-rc1";
  return options;
}
}  // namespace

Instrument::Instrument(const Profile& profile) : profile_(profile), engine_(options_for(profile)) {
  const Limits limits = profile.limits;
  const bool phase_ignored = profile.defects.has(source_defect("phase_ignored"));
  engine_.on_reset([this] { applied_ = Setpoint{}; });
  engine_.add("[SOURce]:VOLTage[:LEVel]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    applied_.voltage_v = call.number(0, 0.0, limits.max_voltage_v, 0.0, "V");
    return std::string();
  });
  engine_.add("[SOURce]:VOLTage[:LEVel]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.voltage_v);
  });
  engine_.add("[SOURce]:CURRent[:LEVel]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    applied_.current_a = call.number(0, 0.0, limits.max_current_a, 0.0, "A");
    return std::string();
  });
  engine_.add("[SOURce]:CURRent[:LEVel]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.current_a);
  });
  engine_.add("[SOURce]:PHASe[:ADJust]", [this, phase_ignored](const scpi::Call& call) {
    call.expect(1, 1);
    const double phase = call.number(0, -360.0, 360.0, 0.0, "DEG");
    if (!phase_ignored) applied_.phase_deg = phase;
    return std::string();
  });
  engine_.add("[SOURce]:PHASe[:ADJust]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.phase_deg);
  });
  engine_.add("OUTPut[:STATe]", [this](const scpi::Call& call) {
    call.expect(1, 1);
    applied_.output_on = call.boolean(0);
    return std::string();
  });
  engine_.add("OUTPut[:STATe]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return std::string(applied_.output_on ? "1" : "0");
  });
}

}  // namespace hilbench::emu::source
