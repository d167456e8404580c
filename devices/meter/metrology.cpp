#include "meter/metrology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hilbench::emu::meter {

namespace {
constexpr double ns_per_hour = 3600e9;
constexpr double ns_per_second = 1e9;
constexpr double excessive_drift_ppm = 10000.0;  // 1 %: 864 s/day
constexpr double low_current_fraction = 0.1;     // out_of_class_at_low_current: below 0.1 Ib
constexpr double low_current_gain_percent = 3.0;
constexpr double defect_creep_w = 50.0;  // creeps_at_no_load: per phase
constexpr unsigned phase_count = 3;

constexpr std::array phase_quantities{"voltage", "current", "active_power", "reactive_power",
                                      "power_factor"};
constexpr std::array single_quantities{"frequency",       "active_import",   "active_export",
                                       "reactive_import", "reactive_export", "clock",
                                       "clock_ms"};
}  // namespace

Terminals terminals_from_world(const nlohmann::json& document) {
  Terminals t;
  auto number = [&](const char* key) {
    const auto found = document.find(key);
    return found != document.end() && found->is_number() ? found->get<double>() : 0.0;
  };
  const auto on = document.find("output_on");
  t.output_on = on != document.end() && on->is_boolean() && on->get<bool>();
  t.voltage_v = number("voltage_v");
  t.current_a = number("current_a");
  t.phase_deg = number("phase_deg");
  t.frequency_hz = number("frequency_hz");
  const auto since = document.find("since_ns");
  t.since_ns =
      since != document.end() && since->is_number_integer() ? since->get<std::int64_t>() : 0;
  return t;
}

Metrology::Metrology(MeterSpec spec, MetrologyKnobs knobs, Energy initial, double clock_start_s,
                     std::int64_t now_ns)
    : spec_(std::move(spec)),
      knobs_(knobs),
      initial_(initial),
      energy_(initial),
      noise_(spec_.noise_seed),
      integrated_to_ns_(now_ns),
      clock_base_s_(clock_start_s),
      clock_base_ns_(now_ns) {}

double Metrology::drift_ppm() const noexcept {
  return knobs_.clock_drift_excessive ? excessive_drift_ppm : spec_.clock_drift_ppm;
}

double Metrology::gain_percent(double current_a, double power_factor) const {
  double gain = 0.0;
  const double pf = std::fabs(power_factor);
  for (const ErrorRow& row : spec_.errors) {
    if (current_a >= row.current_min_a && current_a < row.current_max_a && pf >= row.pf_min &&
        pf <= row.pf_max) {
      gain = row.gain_percent;
      break;
    }
  }
  const double fraction = spec_.max_current_a > 0 ? current_a / spec_.max_current_a : 0.0;
  gain += spec_.nonlinearity_percent * fraction * fraction;
  if (knobs_.out_of_class_at_low_current && current_a < low_current_fraction * spec_.base_current_a)
    gain += low_current_gain_percent;
  return gain;
}

PhaseReading Metrology::phase(const Terminals& terminals, bool noisy) {
  PhaseReading reading;
  if (!terminals.output_on) return reading;
  reading.voltage_v = terminals.voltage_v;
  const double current = terminals.current_a;
  const double phi = terminals.phase_deg * std::numbers::pi / 180.0;
  const double true_pf = std::cos(phi);
  double offset = 0.0;
  for (const ErrorRow& row : spec_.errors) {
    if (current >= row.current_min_a && current < row.current_max_a &&
        std::fabs(true_pf) >= row.pf_min && std::fabs(true_pf) <= row.pf_max) {
      offset = row.offset_w;
      break;
    }
  }
  if (current < spec_.starting_current_a) {
    // Below the starting current nothing registers, except the meter's creep.
    reading.current_a = 0.0;
    const double creep_w = knobs_.creeps_at_no_load ? defect_creep_w : spec_.creep_w;
    reading.active_w = reading.voltage_v > 0 ? creep_w : 0.0;
    reading.reactive_var = 0.0;
  } else {
    const double gain = 1.0 + gain_percent(current, true_pf) / 100.0;
    reading.current_a = current;
    reading.active_w = reading.voltage_v * current * true_pf * gain + offset;
    reading.reactive_var = reading.voltage_v * current * std::sin(phi) * gain;
  }
  if (noisy && spec_.noise_percent > 0) {
    std::normal_distribution<double> unit(0.0, spec_.noise_percent / 100.0);
    reading.voltage_v *= 1.0 + unit(noise_);
    reading.current_a *= 1.0 + unit(noise_);
    reading.active_w *= 1.0 + unit(noise_);
    reading.reactive_var *= 1.0 + unit(noise_);
  }
  const double apparent = std::hypot(reading.active_w, reading.reactive_var);
  reading.power_factor = apparent > 0 ? reading.active_w / apparent : 1.0;
  return reading;
}

Reading Metrology::measure(const Terminals& terminals) {
  Reading reading;
  for (unsigned index = 0; index < phase_count; ++index)
    reading.phases.push_back(phase(terminals, true));
  reading.frequency_hz =
      terminals.output_on && terminals.voltage_v > 0 ? terminals.frequency_hz : 0.0;
  return reading;
}

void Metrology::integrate(const Terminals& terminals, std::int64_t from_ns, std::int64_t to_ns) {
  if (!powered_ || to_ns <= from_ns) return;
  const PhaseReading one = phase(terminals, false);
  const double hours = static_cast<double>(to_ns - from_ns) / ns_per_hour;
  const double active_wh = phase_count * one.active_w * hours;
  const double reactive_varh = phase_count * one.reactive_var * hours;
  if (active_wh >= 0) {
    // register_disagrees_with_test_output: the register, not the test output, is off.
    energy_.active_import_wh += knobs_.register_slow ? active_wh * 0.995 : active_wh;
    import_since_start_wh_ += active_wh;
  } else {
    energy_.active_export_wh -= active_wh;
  }
  if (reactive_varh >= 0)
    energy_.reactive_import_varh += reactive_varh;
  else
    energy_.reactive_export_varh -= reactive_varh;
}

void Metrology::advance(const Terminals& terminals, std::int64_t now_ns) {
  if (!terminals.same_state(integrated_)) {
    // The new state took effect at its since_ns: the old one ran until then.
    const std::int64_t switch_ns = std::clamp(terminals.since_ns, integrated_to_ns_, now_ns);
    integrate(integrated_, integrated_to_ns_, switch_ns);
    integrated_to_ns_ = std::max(integrated_to_ns_, switch_ns);
    integrated_ = terminals;
  }
  integrate(integrated_, integrated_to_ns_, now_ns);
  integrated_to_ns_ = std::max(integrated_to_ns_, now_ns);
}

void Metrology::power_lost(std::int64_t now_ns) {
  advance(integrated_, now_ns);
  powered_ = false;
  log_event(event_code::power_down, now_ns);
  if (knobs_.loses_energy_on_power_cut) energy_ = initial_;
}

void Metrology::power_up(std::int64_t now_ns) {
  powered_ = true;
  integrated_to_ns_ = now_ns;
  log_event(event_code::power_up, now_ns);
}

std::int64_t Metrology::pulses() const noexcept {
  return static_cast<std::int64_t>(
      std::floor(import_since_start_wh_ * spec_.constant_imp_per_kwh / 1000.0));
}

double Metrology::pulses_exact() const noexcept {
  return import_since_start_wh_ * spec_.constant_imp_per_kwh / 1000.0;
}

double Metrology::pulse_rate_hz() {
  if (!powered_) return 0.0;
  const double watts = phase_count * phase(integrated_, false).active_w;
  return watts > 0 ? watts / 3600.0 * spec_.constant_imp_per_kwh / 1000.0 : 0.0;
}

double Metrology::clock_s(std::int64_t now_ns) const noexcept {
  const double elapsed = static_cast<double>(now_ns - clock_base_ns_) / ns_per_second;
  return clock_base_s_ + elapsed * (1.0 + drift_ppm() * 1e-6);
}

void Metrology::set_knobs(MetrologyKnobs knobs, std::int64_t now_ns) {
  clock_base_s_ = clock_s(now_ns);
  clock_base_ns_ = now_ns;
  knobs_ = knobs;
}

void Metrology::set_clock(double seconds, std::int64_t now_ns) {
  clock_base_s_ = seconds;
  clock_base_ns_ = now_ns;
  log_event(event_code::clock_set, now_ns);
}

void Metrology::log_event(int code, std::int64_t now_ns) {
  events_.push_back(Event{next_sequence_++, static_cast<std::uint16_t>(code),
                          static_cast<std::uint32_t>(std::max(0.0, clock_s(now_ns)))});
  while (events_.size() > spec_.event_log_entries) events_.pop_front();
}

// ---- profile ------------------------------------------------------------------------------

MeterSpec read_meter_spec(TableReader& top) {
  MeterSpec spec;
  const toml::table* table = top.optional_table("meter");
  if (!table) return spec;
  spec.declared = true;
  TableReader r(top.file(), *table, "meter");
  auto positive = [&](std::string_view key, double fallback) {
    const double value = r.optional_number(key, fallback);
    if (!(value > 0)) r.fail(key, table->get(key), fmt::format("expected a number > 0"));
    return value;
  };
  auto non_negative = [&](std::string_view key, double fallback) {
    const double value = r.optional_number(key, fallback);
    if (value < 0) r.fail(key, table->get(key), fmt::format("expected a number >= 0"));
    return value;
  };
  spec.constant_imp_per_kwh = positive("constant_imp_per_kwh", 1000.0);
  spec.nominal_voltage_v = positive("nominal_voltage_v", 230.0);
  spec.base_current_a = positive("base_current_a", 5.0);
  spec.max_current_a = positive("max_current_a", 60.0);
  spec.accuracy_class = positive("accuracy_class", 1.0);
  spec.starting_current_a = non_negative("starting_current_a", 0.0);
  spec.creep_w = non_negative("creep_w", 0.0);
  spec.noise_percent = non_negative("noise_percent", 0.0);
  spec.noise_seed = static_cast<std::uint64_t>(
      r.optional_integer("noise_seed", 0, std::numeric_limits<std::int64_t>::max(), 1));
  spec.nonlinearity_percent = r.optional_number("nonlinearity_percent", 0.0);
  spec.clock_drift_ppm = r.optional_number("clock_drift_ppm", 0.0);
  for (const char* quantity : phase_quantities) {
    const toml::node* node = r.find(quantity);
    if (!node) continue;
    const toml::array* array = node->as_array();
    if (!array || array->empty() || array->size() > phase_count)
      r.fail(quantity, node, "expected an array of 1..3 register names (L1 first)");
    std::vector<std::string> names;
    for (const toml::node& element : *array) {
      const auto name = element.value_exact<std::string>();
      if (!name) r.fail(quantity, &element, "expected register names (strings)");
      names.push_back(*name);
    }
    spec.phases[quantity] = std::move(names);
  }
  for (const char* quantity : single_quantities) {
    const std::string name = r.optional_string(quantity);
    if (!name.empty()) spec.single[quantity] = name;
  }
  spec.event_log_entries = static_cast<unsigned>(r.optional_integer("event_log_entries", 0, 30, 0));
  if (const toml::node* node = r.find("events")) {
    const toml::table* events = node->as_table();
    if (!events) r.fail("events", node, "expected a table \"code\" = \"description\"");
    for (const auto& [key, value] : *events) {
      int code = 0;
      try {
        code = std::stoi(std::string{key.str()});
      } catch (const std::exception&) {
        r.fail_at(fmt::format("meter.events.{}", key.str()), &value, "expected a number as key");
      }
      const auto text = value.value_exact<std::string>();
      if (!text) r.fail_at(fmt::format("meter.events.{}", key.str()), &value, "expected a string");
      spec.events[code] = *text;
    }
  }
  const auto rows = r.optional_array_of_tables("errors");
  for (std::size_t index = 0; index < rows.size(); ++index) {
    TableReader e(top.file(), *rows[index], fmt::format("meter.errors[{}]", index));
    ErrorRow row;
    row.current_min_a = e.optional_number("current_min_a", 0.0);
    row.current_max_a = e.optional_number("current_max_a", 1e9);
    row.pf_min = e.optional_number("pf_min", 0.0);
    row.pf_max = e.optional_number("pf_max", 1.0);
    row.gain_percent = e.optional_number("gain_percent", 0.0);
    row.offset_w = e.optional_number("offset_w", 0.0);
    if (row.current_max_a <= row.current_min_a)
      e.fail("current_max_a", rows[index]->get("current_max_a"),
             "expected more than current_min_a");
    if (row.pf_min < 0 || row.pf_max > 1 || row.pf_min > row.pf_max)
      e.fail("pf_min", rows[index]->get("pf_min"), "expected 0 <= pf_min <= pf_max <= 1");
    e.finish("current_min_a, current_max_a, pf_min, pf_max, gain_percent, offset_w");
    spec.errors.push_back(row);
  }
  r.finish(
      "constant_imp_per_kwh, nominal_voltage_v, base_current_a, max_current_a, accuracy_class, "
      "starting_current_a, creep_w, noise_percent, noise_seed, nonlinearity_percent, "
      "clock_drift_ppm, voltage, current, active_power, reactive_power, power_factor, frequency, "
      "active_import, active_export, reactive_import, reactive_export, clock, clock_ms, "
      "event_log_entries, events, errors");
  return spec;
}

nlohmann::ordered_json meter_spec_to_json(const MeterSpec& spec) {
  using json = nlohmann::ordered_json;
  if (!spec.declared) return nullptr;
  json registers = json::object();
  for (const auto& [quantity, names] : spec.phases) registers[quantity] = names;
  for (const auto& [quantity, name] : spec.single) registers[quantity] = name;
  json events = json::object();
  for (const auto& [code, text] : spec.events) events[std::to_string(code)] = text;
  json errors = json::array();
  for (const ErrorRow& row : spec.errors)
    errors.push_back({{"current_min_a", row.current_min_a},
                      {"current_max_a", row.current_max_a},
                      {"pf_min", row.pf_min},
                      {"pf_max", row.pf_max},
                      {"gain_percent", row.gain_percent},
                      {"offset_w", row.offset_w}});
  return {{"constant_imp_per_kwh", spec.constant_imp_per_kwh},
          {"nominal_voltage_v", spec.nominal_voltage_v},
          {"base_current_a", spec.base_current_a},
          {"max_current_a", spec.max_current_a},
          {"accuracy_class", spec.accuracy_class},
          {"starting_current_a", spec.starting_current_a},
          {"creep_w", spec.creep_w},
          {"noise_percent", spec.noise_percent},
          {"noise_seed", spec.noise_seed},
          {"nonlinearity_percent", spec.nonlinearity_percent},
          {"clock_drift_ppm", spec.clock_drift_ppm},
          {"registers", registers},
          {"event_log_entries", spec.event_log_entries},
          {"events", events},
          {"errors", errors}};
}

}  // namespace hilbench::emu::meter
