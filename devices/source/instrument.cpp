#include "source/instrument.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hilbench::emu::source {

namespace {
scpi::EngineOptions options_for(const Profile& profile) {
  scpi::EngineOptions options = scpi::engine_options(profile.common);
  options.esr_ignores_errors = profile.defects.has(source_defect("error_queue_fills_silently"));
  if (profile.defects.has(source_defect("idn_wrong_firmware"))) options.firmware += "-rc1";
  return options;
}
constexpr double ns_per_hour = 3600e9;
}  // namespace

Instrument::Instrument(const Profile& profile) : profile_(profile), engine_(options_for(profile)) {
  const Limits limits = profile.limits;
  const bool phase_ignored = profile.defects.has(source_defect("phase_ignored"));
  applied_ = Setpoint{profile.power_on.voltage_v, profile.power_on.current_a,
                      profile.power_on.phase_deg, profile.power_on.output};
  since_ns_ = accounted_ns_ = world::steady_now_ns();
  engine_.on_reset([this] {
    account_energy(world::steady_now_ns());
    applied_ = Setpoint{};
  });
  engine_.add("[SOURce]:VOLTage[:LEVel]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    const double volts = call.number(0, 0.0, limits.max_voltage_v, 0.0, "V");
    account_energy(world::steady_now_ns());
    applied_.voltage_v = volts;
    return std::string();
  });
  engine_.add("[SOURce]:VOLTage[:LEVel]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.voltage_v);
  });
  engine_.add("[SOURce]:CURRent[:LEVel]", [this, limits](const scpi::Call& call) {
    call.expect(1, 1);
    const double amps = call.number(0, 0.0, limits.max_current_a, 0.0, "A");
    account_energy(world::steady_now_ns());
    applied_.current_a = amps;
    return std::string();
  });
  engine_.add("[SOURce]:CURRent[:LEVel]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.current_a);
  });
  engine_.add("[SOURce]:PHASe[:ADJust]", [this, phase_ignored](const scpi::Call& call) {
    call.expect(1, 1);
    const double phase = call.number(0, -360.0, 360.0, 0.0, "DEG");
    account_energy(world::steady_now_ns());
    if (!phase_ignored) applied_.phase_deg = phase;
    return std::string();
  });
  engine_.add("[SOURce]:PHASe[:ADJust]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(applied_.phase_deg);
  });
  engine_.add("OUTPut[:STATe]", [this](const scpi::Call& call) {
    call.expect(1, 1);
    const bool on = call.boolean(0);
    account_energy(world::steady_now_ns());
    applied_.output_on = on;
    return std::string();
  });
  engine_.add("OUTPut[:STATe]?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return std::string(applied_.output_on ? "1" : "0");
  });
  engine_.add("SENSe:PULSe:COUNt?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    const std::int64_t pulses = pulses_now();
    // A meter whose count went down restarted its counter: count from its new zero.
    return std::to_string(pulses >= pulse_base_ ? pulses - pulse_base_ : pulses);
  });
  engine_.add("SENSe:PULSe:RESet", [this](const scpi::Call& call) {
    call.expect(0, 0);
    pulse_base_ = pulses_now();
    energy_wh_ = 0.0;
    accounted_ns_ = world::steady_now_ns();
    return std::string();
  });
  engine_.add("SENSe:ENERgy?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(reference_energy_wh(world::steady_now_ns()));
  });
}

double Instrument::active_power_w() const noexcept {
  if (!applied_.output_on) return 0.0;
  return 3.0 * applied_.voltage_v * applied_.current_a *
         std::cos(applied_.phase_deg * std::numbers::pi / 180.0);
}

void Instrument::account_energy(std::int64_t now_ns) {
  energy_wh_ = reference_energy_wh(now_ns);
  accounted_ns_ = now_ns;
}

double Instrument::reference_energy_wh(std::int64_t now_ns) const {
  return energy_wh_ + active_power_w() * static_cast<double>(now_ns - accounted_ns_) / ns_per_hour;
}

nlohmann::json Instrument::world_state() {
  if (applied_ != published_) {
    published_ = applied_;
    since_ns_ = world::steady_now_ns();
  }
  return {{"output_on", applied_.output_on},       {"voltage_v", applied_.voltage_v},
          {"current_a", applied_.current_a},       {"phase_deg", applied_.phase_deg},
          {"frequency_hz", profile_.frequency_hz}, {"since_ns", since_ns_}};
}

void Instrument::attach_world(const world::WorldOptions& world) {
  world_ = world;
  pulse_input_ = world.wire("pulse_input").value_or("");
  pulse_base_ = pulses_now();
}

std::int64_t Instrument::pulses_now() const {
  if (pulse_input_.empty()) return 0;
  const auto document = world::read_published(world_.dir, pulse_input_);
  if (!document) return 0;
  // The meter publishes its count at an instant and the rate since: extrapolate to now.
  const double count = document->value("pulse_count", -1.0);
  const double rate = document->value("pulse_rate_hz", 0.0);
  const std::int64_t at = document->value("pulses_at_ns", std::int64_t{0});
  if (count >= 0.0) {
    const double elapsed = static_cast<double>(world::steady_now_ns() - at) / 1e9;
    return static_cast<std::int64_t>(std::floor(count + rate * std::max(0.0, elapsed)));
  }
  const auto found = document->find("pulses");
  return found != document->end() && found->is_number_integer() ? found->get<std::int64_t>() : 0;
}

}  // namespace hilbench::emu::source
