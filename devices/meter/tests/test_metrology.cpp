// The meter's measurement model (meter/metrology.hpp), sans-io: error model, starting
// current, exact piecewise energy integration, pulses, clock drift, event log, knobs.
#define BOOST_TEST_MODULE test_metrology
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "meter/metrology.hpp"

using namespace hilbench::emu::meter;
namespace tt = boost::test_tools;

namespace {
constexpr std::int64_t second = 1'000'000'000;
constexpr std::int64_t hour = 3600 * second;

MeterSpec spec() {
  MeterSpec s;
  s.declared = true;
  s.constant_imp_per_kwh = 1000;
  s.base_current_a = 5;
  s.max_current_a = 60;
  s.starting_current_a = 0.02;
  s.event_log_entries = 2;
  return s;
}
Terminals load(double amps, double phase_deg = 0, std::int64_t since = 0) {
  return {true, 230.0, amps, phase_deg, 50.0, since};
}
}  // namespace

BOOST_AUTO_TEST_CASE(ideal_meter_measures_what_is_applied) {
  Metrology meter(spec(), {}, {}, 0.0, 0);
  const Reading r = meter.measure(load(10.0, 60.0));
  BOOST_TEST(r.phases.size() == 3u);
  BOOST_TEST(r.phases[0].active_w == 1150.0, tt::tolerance(1e-9));
  BOOST_TEST(r.phases[0].reactive_var == 230.0 * 10.0 * std::sin(M_PI / 3), tt::tolerance(1e-9));
  BOOST_TEST(r.phases[0].power_factor == 0.5, tt::tolerance(1e-9));
  BOOST_TEST(r.frequency_hz == 50.0);
  BOOST_TEST(meter.measure(load(0.01)).phases[0].active_w == 0.0);  // below starting current
}

BOOST_AUTO_TEST_CASE(energy_integrates_piecewise_at_the_source_change_time) {
  Metrology meter(spec(), {}, {}, 0.0, 0);
  meter.advance(load(10.0, 0.0, 0), 0);
  // The source switched to 20 A at 1 h; the meter looks only at 3 h.
  meter.advance(load(20.0, 0.0, hour), 3 * hour);
  const double expected = 3 * 230.0 * (10.0 * 1 + 20.0 * 2);  // Wh
  BOOST_TEST(meter.energy().active_import_wh == expected, tt::tolerance(1e-9));
  BOOST_TEST(meter.pulses() == static_cast<std::int64_t>(std::floor(expected)));
}

BOOST_AUTO_TEST_CASE(export_and_reactive_registers) {
  Metrology meter(spec(), {}, {}, 0.0, 0);
  meter.advance(load(10.0, 180.0, 0), 0);
  meter.advance(load(10.0, 180.0, 0), hour);
  BOOST_TEST(meter.energy().active_export_wh == 3 * 2300.0, tt::tolerance(1e-6));
  BOOST_TEST(meter.energy().active_import_wh == 0.0);
}

BOOST_AUTO_TEST_CASE(power_cut_stops_registration_and_logs) {
  Metrology meter(spec(), {}, {}, 0.0, 0);
  meter.advance(load(10.0), 0);
  meter.power_lost(hour);
  meter.advance(load(10.0), 2 * hour);  // off: nothing registers
  meter.power_up(2 * hour);
  meter.advance(load(10.0), 3 * hour);
  BOOST_TEST(meter.energy().active_import_wh == 2 * 6900.0, tt::tolerance(1e-9));
  BOOST_TEST(meter.events().size() == 2u);  // capacity 2: power down, power up
  BOOST_TEST(meter.events().back().code == event_code::power_up);
}

BOOST_AUTO_TEST_CASE(knobs) {
  MetrologyKnobs knobs;
  knobs.out_of_class_at_low_current = true;
  knobs.loses_energy_on_power_cut = true;
  knobs.clock_drift_excessive = true;
  knobs.creeps_at_no_load = true;
  Metrology meter(spec(), knobs, {100.0, 0, 0, 0}, 1000.0, 0);
  BOOST_TEST(meter.measure(load(0.0)).phases[0].active_w == 50.0, tt::tolerance(1e-9));
  BOOST_TEST(meter.measure(load(0.25)).phases[0].active_w == 230 * 0.25 * 1.03,
             tt::tolerance(1e-9));
  BOOST_TEST(meter.measure(load(5.0)).phases[0].active_w == 1150.0, tt::tolerance(1e-9));
  meter.advance(load(5.0), hour);
  meter.power_lost(hour);
  BOOST_TEST(meter.energy().active_import_wh == 100.0);
  BOOST_TEST(meter.clock_s(100 * second) == 1000.0 + 101.0, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(a_slow_register_lags_the_test_output_only) {
  MetrologyKnobs knobs;
  knobs.register_slow = true;
  Metrology meter(spec(), knobs, {}, 0.0, 0);
  meter.advance(load(10.0), 0);
  meter.advance(load(10.0), hour);
  BOOST_TEST(meter.energy().active_import_wh == 6900.0 * 0.995, tt::tolerance(1e-9));
  BOOST_TEST(meter.pulses() == 6900);  // 1000 imp/kWh: the test output counts all of it
  BOOST_TEST(meter.measure(load(10.0)).phases[0].active_w == 2300.0, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(knobs_switched_while_running_keep_the_clock_and_the_energy) {
  MeterSpec s = spec();
  s.clock_drift_ppm = 0.0;
  Metrology meter(s, {}, {}, 1000.0, 0);
  meter.advance(load(10.0), 0);
  meter.advance(load(10.0), hour);
  MetrologyKnobs knobs;
  knobs.clock_drift_excessive = true;
  knobs.register_slow = true;
  meter.set_knobs(knobs, hour);
  BOOST_TEST(meter.clock_s(hour) == 1000.0 + 3600.0, tt::tolerance(1e-9));  // no jump
  BOOST_TEST(meter.clock_s(2 * hour) == 1000.0 + 3600.0 + 3600.0 * 1.01, tt::tolerance(1e-9));
  meter.advance(load(10.0), 2 * hour);
  BOOST_TEST(meter.energy().active_import_wh == 6900.0 + 6900.0 * 0.995, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(clock_drifts_by_its_ppm_and_can_be_set) {
  MeterSpec s = spec();
  s.clock_drift_ppm = 10.0;
  Metrology meter(s, {}, {}, 1000.0, 0);
  BOOST_TEST(meter.clock_s(86400 * second) == 1000.0 + 86400.0 * (1 + 10e-6), tt::tolerance(1e-12));
  meter.set_clock(5000.0, 10 * second);
  BOOST_TEST(meter.clock_s(10 * second) == 5000.0);
  BOOST_TEST(meter.events().back().code == event_code::clock_set);
  BOOST_TEST(meter.events().back().timestamp_s == 5000u);
}
