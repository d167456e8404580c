// The emulated transmitter: profile schema, process model (lag, dead time, hysteresis,
// non-linearity, NAMUR NE 43 loop current), its Modbus RTU and ASCII engines, its knobs.
// Time is driven explicitly: no sleeps, no clocks.
#define BOOST_TEST_MODULE test_transmitter
#include <bit>
#include <boost/test/tools/floating_point_comparison.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "common/crc.hpp"
#include "transmitter/profile.hpp"
#include "transmitter/server.hpp"

using namespace hilbench::emu;
using namespace hilbench::emu::transmitter;
namespace tt = boost::test_tools;

namespace {

const std::string base = R"(
schema = 1
[device]
kind = "transmitter"
name = "t"
[identity]
manufacturer = "ACME"
model = "T-1"
serial_number = "S1"
firmware = "1.0"
[range]
lower = 0
upper = 100
unit = "degC"
[loop]
saturation_low_ma = 3.8
saturation_high_ma = 20.5
failure_low_ma = 3.5
failure_high_ma = 21.5
[serial]
baud = 19200
)";

Profile profile(const std::string& extra = "") {
  const std::string text = base + extra;
  return read_profile(parse_profile_document(text, "t.toml"), "t.toml");
}

std::string problem(const std::string& text) {
  try {
    read_profile(parse_profile_document(text, "t.toml"), "t.toml");
  } catch (const ProfileError& error) {
    return error.what();
  }
  return "";
}

const Clock::time_point t0{};
Clock::time_point at(double seconds) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

Bytes rtu(std::initializer_list<std::uint8_t> body) {
  Bytes frame(body);
  const std::uint16_t crc = crc16_modbus(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

float f32_at(const Bytes& reply, std::size_t offset) {
  const std::uint32_t bits = static_cast<std::uint32_t>(reply[offset]) << 24 |
                             static_cast<std::uint32_t>(reply[offset + 1]) << 16 |
                             static_cast<std::uint32_t>(reply[offset + 2]) << 8 | reply[offset + 3];
  return std::bit_cast<float>(bits);
}

}  // namespace

// ---- profile ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(defaults_apply_and_dump_names_every_table) {
  const Profile p = profile();
  BOOST_TEST(p.process_value == 0.0);  // defaults to the lower range value
  BOOST_TEST(p.unit == 1u);
  BOOST_TEST((p.protocol == Protocol::modbus_rtu));
  BOOST_TEST((p.loop.failure == FailureDirection::low));
  const auto dump = profile_to_json(p);
  BOOST_TEST(dump["device"]["kind"] == "transmitter");
  BOOST_TEST(dump["serial"]["baud"] == 19200);
  BOOST_TEST(dump["interface"]["protocol"] == "modbus-rtu");
  BOOST_TEST(!dump.contains("registers"));  // read as a non-meter profile in Python
  BOOST_TEST(dump["modbus"]["registers"].size() == 5u);
  BOOST_TEST(dump["defects"].size() == defect_table.size());
}

BOOST_AUTO_TEST_CASE(bad_profiles_name_the_key) {
  BOOST_TEST(problem(base + "[process]\nvalu = 3\n").find("process.valu: unknown key") !=
             std::string::npos);
  std::string inverted = base;
  inverted.replace(inverted.find("upper = 100"), 11, "upper = -1");
  BOOST_TEST(problem(inverted).find("range.upper: expected a number > lower") != std::string::npos);
  std::string bad_failure = base;
  bad_failure.replace(bad_failure.find("failure_low_ma = 3.5"), 20, "failure_low_ma = 3.9");
  BOOST_TEST(problem(bad_failure).find("loop.failure_low_ma") != std::string::npos);
  BOOST_TEST(problem(base + "[interface]\nprotocol = \"hart\"\n").find("interface.protocol") !=
             std::string::npos);
  BOOST_TEST(problem(base + "[response]\ntime_constant_s = -1\n")
                 .find("response.time_constant_s: expected a number >= 0") != std::string::npos);
  std::string no_loop = base.substr(0, base.find("[loop]")) + "[serial]\n";
  BOOST_TEST(problem(no_loop).find("loop: missing") != std::string::npos);
}

// ---- model --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(step_response_is_dead_time_then_first_order_lag) {
  Model model(profile("[process]\nvalue = 50\n[response]\ndead_time_s = 0.1\n"
                      "time_constant_s = 0.5\n"),
              t0);
  BOOST_TEST(model.output(at(0.05)).process_value == 0.0);  // still inside the dead time
  BOOST_TEST(model.output(at(0.1)).process_value == 0.0);
  // one time constant after the dead time: 63.2 % of the step
  BOOST_TEST(model.output(at(0.6)).process_value == 50.0 * (1 - std::exp(-1.0)),
             tt::tolerance(1e-9));
  BOOST_TEST(model.output(at(20.0)).process_value == 50.0, tt::tolerance(1e-6));
  BOOST_TEST(model.output(at(20.0)).loop_current_ma == 12.0, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(lag_too_slow_multiplies_the_time_constant) {
  Model model(profile("[process]\nvalue = 50\n[response]\ntime_constant_s = 0.5\n"
                      "[defects]\nlag_too_slow = true\n"),
              t0);
  BOOST_TEST(model.output(at(0.5)).process_value == 50.0 * (1 - std::exp(-1.0 / 50)),
             tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(hysteresis_and_nonlinearity_shape_the_indicated_value) {
  Model model(profile("[process]\nvalue = 50\n[response]\nhysteresis = 0.2\n"
                      "nonlinearity = 0.1\n"),
              t0);
  BOOST_TEST(model.output(at(1)).process_value == 50.0 + 0.1 + 0.1, tt::tolerance(1e-9));
  model.set_input(100, at(1));
  model.set_input(50, at(2));  // approached from above now
  BOOST_TEST(model.output(at(3)).process_value == 50.0 + 0.1 - 0.1, tt::tolerance(1e-9));
  BOOST_TEST(model.output(at(3)).loop_current_ma == 12.0, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(accuracy_declarations_are_read_strictly_and_dumped) {
  const Profile p = profile("[accuracy]\nmeasured_error_percent = 0.5\nhysteresis_percent = 0.3\n");
  BOOST_TEST(*p.accuracy.measured_error_percent == 0.5);
  BOOST_TEST(!p.accuracy.nonlinearity_percent.has_value());  // not declared
  const auto dump = profile_to_json(p);
  BOOST_TEST(dump["accuracy"]["hysteresis_percent"] == 0.3);
  BOOST_TEST(dump["accuracy"]["nonlinearity_percent"].is_null());
  BOOST_TEST(problem(base + "[accuracy]\nhysteresis_percent = -1\n")
                 .find("accuracy.hysteresis_percent: expected a number >= 0") != std::string::npos);
  BOOST_TEST(
      problem(base + "[accuracy]\nlinearity = 1\n").find("accuracy.linearity: unknown key") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(static_performance_knobs_shift_the_indicated_value_as_documented) {
  // Span 100: 0.9 % offset, 0.3 % bow at mid-range, 0.45 % more hysteresis (+-0.225).
  auto settled = [](const std::string& knob, double value, double from) {
    Model model(profile("[process]\nvalue = " + std::to_string(from) + "\n[defects]\n" + knob +
                        " = true\n"),
                t0);
    model.set_input(value, at(1));
    return model.output(at(2)).process_value;
  };
  BOOST_TEST(settled("zero_offset", 50, 0) == 50.9, tt::tolerance(1e-9));
  BOOST_TEST(settled("bowed_output", 50, 0) == 50.3, tt::tolerance(1e-9));
  BOOST_TEST(settled("bowed_output", 100, 0) == 100.0, tt::tolerance(1e-9));  // none at the ends
  BOOST_TEST(settled("hysteresis_excessive", 50, 0) == 50.225, tt::tolerance(1e-9));
  BOOST_TEST(settled("hysteresis_excessive", 50, 100) == 49.775, tt::tolerance(1e-9));
  // not_repeatable: each setting lands elsewhere within +-0.08, the same way every run.
  auto landings = [] {
    Model model(profile("[defects]\nnot_repeatable = true\n"), t0);
    std::vector<double> out;
    for (int i = 0; i < 6; ++i) {
      model.set_input(i % 2 == 0 ? 50 : 0, at(i));
      if (i % 2 == 0) out.push_back(model.output(at(i + 0.9)).process_value - 50.0);
    }
    return out;
  };
  const std::vector<double> first = landings();
  BOOST_TEST(first == landings());
  for (double offset : first) BOOST_TEST(std::abs(offset) < 0.08);
  BOOST_TEST(first[0] != first[1]);
}

BOOST_AUTO_TEST_CASE(loop_current_saturates_at_the_ne43_band_ends) {
  Model model(profile("[process]\nvalue = 200\n"), t0);
  Output out = model.output(at(1));
  BOOST_TEST(out.loop_current_ma == 20.5);
  BOOST_TEST(out.saturated);
  BOOST_TEST(!out.failure);
  model.set_input(-50, at(1));
  out = model.output(at(2));
  BOOST_TEST(out.loop_current_ma == 3.8);
  BOOST_TEST(out.saturated);
}

BOOST_AUTO_TEST_CASE(sensor_fault_drives_the_failure_current_of_the_profile_direction) {
  Model low(profile("[process]\nsensor_fault = true\n"), t0);
  Output out = low.output(at(1));
  BOOST_TEST(out.loop_current_ma == 3.5);
  BOOST_TEST(out.failure);
  BOOST_TEST(!out.failure_high);
  BOOST_TEST(std::isnan(out.process_value));
  std::string high_text = base;
  high_text.replace(high_text.find("[serial]"), 8, "failure = \"high\"\n[serial]");
  Model high(read_profile(parse_profile_document(high_text, "t.toml"), "t.toml"), t0);
  high.set_sensor_fault(true);
  out = high.output(at(1));
  BOOST_TEST(out.loop_current_ma == 21.5);
  BOOST_TEST(out.failure_high);
  high.set_sensor_fault(false);
  BOOST_TEST(!high.output(at(1)).failure);
}

BOOST_AUTO_TEST_CASE(failure_knobs_break_exactly_their_claim) {
  Model wrong_band(profile("[process]\nsensor_fault = true\n[defects]\n"
                           "ne43_wrong_failure_band = true\n"),
                   t0);
  Output out = wrong_band.output(at(1));
  BOOST_TEST(out.loop_current_ma == 3.9, tt::tolerance(1e-9));  // inside 3.8..20.5
  BOOST_TEST(out.failure);                                      // the status is right
  Model unflagged(profile("[process]\nsensor_fault = true\n[defects]\n"
                          "status_not_flagged = true\n"),
                  t0);
  out = unflagged.output(at(1));
  BOOST_TEST(out.loop_current_ma == 3.5);  // the current is right
  BOOST_TEST(!out.failure);
}

// ---- Modbus RTU ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(modbus_reads_process_value_current_and_status) {
  Model model(profile("[process]\nvalue = 25\n"), t0);
  ModbusRtuEngine engine(model);
  const auto reply = engine.handle_frame(rtu({1, 0x04, 0, 0, 0, 5}), at(1));
  BOOST_REQUIRE(reply);
  BOOST_TEST(reply->size() == 3u + 10u + 2u);
  BOOST_TEST((*reply)[2] == 10);
  BOOST_TEST(f32_at(*reply, 3) == 25.0f, tt::tolerance(1e-5f));
  BOOST_TEST(f32_at(*reply, 7) == 8.0f, tt::tolerance(1e-5f));
  BOOST_TEST((*reply)[11] == 0);
  BOOST_TEST((*reply)[12] == 0);
  const Bytes body(reply->begin(), reply->end() - 2);
  const std::uint16_t crc = crc16_modbus(body);
  BOOST_TEST((*reply)[reply->size() - 2] == (crc & 0xFF));
}

BOOST_AUTO_TEST_CASE(modbus_status_word_flags_failure_and_direction) {
  Model model(profile("[process]\nsensor_fault = true\n"), t0);
  ModbusRtuEngine engine(model);
  auto reply = engine.handle_frame(rtu({1, 0x04, 0, 4, 0, 1}), at(1));
  BOOST_REQUIRE(reply);
  BOOST_TEST((*reply)[4] == 1);  // failure, signalled low
}

BOOST_AUTO_TEST_CASE(modbus_errors_and_silences) {
  Model model(profile(), t0);
  ModbusRtuEngine engine(model);
  auto exception_of = [&](std::initializer_list<std::uint8_t> body) -> int {
    const auto reply = engine.handle_frame(rtu(body), at(1));
    if (!reply || reply->size() != 5 || !((*reply)[1] & 0x80)) return -1;
    return (*reply)[2];
  };
  BOOST_TEST(exception_of({1, 0x01, 0, 0, 0, 1}) == 1);
  BOOST_TEST(exception_of({1, 0x04, 0, 0, 0, 6}) == 2);  // beyond the map
  BOOST_TEST(exception_of({1, 0x04, 0, 1, 0, 2}) == 2);  // cuts the process value pair
  BOOST_TEST(exception_of({1, 0x04, 0, 0, 0, 0}) == 3);
  BOOST_TEST(exception_of({1, 0x06, 0, 2, 0, 2}) == 3);  // fault is 0 or 1
  Bytes bad_crc = rtu({1, 0x04, 0, 0, 0, 2});
  bad_crc.back() ^= 0xFF;
  BOOST_TEST(!engine.handle_frame(bad_crc, at(1)));
  BOOST_TEST(!engine.handle_frame(rtu({2, 0x04, 0, 0, 0, 2}), at(1)));  // another unit
  BOOST_TEST(!engine.handle_frame(rtu({0, 0x06, 0, 2, 0, 1}), at(1)));  // broadcast
}

BOOST_AUTO_TEST_CASE(modbus_writes_set_the_simulated_input_and_fault) {
  Model model(profile(), t0);
  ModbusRtuEngine engine(model);
  const auto bits = std::bit_cast<std::uint32_t>(75.0f);
  const auto reply = engine.handle_frame(
      rtu({1, 0x10, 0, 0, 0, 2, 4, static_cast<std::uint8_t>(bits >> 24),
           static_cast<std::uint8_t>(bits >> 16), static_cast<std::uint8_t>(bits >> 8),
           static_cast<std::uint8_t>(bits)}),
      at(1));
  BOOST_REQUIRE(reply);
  BOOST_TEST(reply->size() == 8u);
  BOOST_TEST(model.output(at(2)).process_value == 75.0, tt::tolerance(1e-6));
  const auto read_back = engine.handle_frame(rtu({1, 0x03, 0, 0, 0, 3}), at(2));
  BOOST_REQUIRE(read_back);
  BOOST_TEST(f32_at(*read_back, 3) == 75.0f);
  BOOST_TEST(engine.handle_frame(rtu({1, 0x06, 0, 2, 0, 1}), at(2)).has_value());
  BOOST_TEST(model.output(at(2)).failure);
}

// ---- ASCII --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ascii_commands_answer_one_line_each) {
  Model model(profile("[process]\nvalue = 25\n"), t0);
  AsciiEngine engine(model);
  BOOST_TEST(engine.handle_line("ID?\r", at(1)) == "ID ACME,T-1,S1,1.0\r\n");
  BOOST_TEST(engine.handle_line("PV?", at(1)) == "PV 25 degC\r\n");
  BOOST_TEST(engine.handle_line("MA?", at(1)) == "MA 8.0000\r\n");
  BOOST_TEST(engine.handle_line("ST?", at(1)) == "ST OK\r\n");
  BOOST_TEST(engine.handle_line("SIM PV 50", at(1)) == "OK\r\n");
  BOOST_TEST(engine.handle_line("MA?", at(2)) == "MA 12.0000\r\n");
  BOOST_TEST(engine.handle_line("SIM FAULT ON", at(2)) == "OK\r\n");
  BOOST_TEST(engine.handle_line("ST?", at(2)) == "ST FAIL LOW\r\n");
  BOOST_TEST(engine.handle_line("PV?", at(2)) == "PV NAN degC\r\n");
  BOOST_TEST(engine.handle_line("MA?", at(2)) == "MA 3.5000\r\n");
  BOOST_TEST(engine.handle_line("XX?", at(2)) == "ERR 1\r\n");
  BOOST_TEST(engine.handle_line("SIM PV abc", at(2)) == "ERR 2\r\n");
  BOOST_TEST(engine.handle_line("SIM FAULT MAYBE", at(2)) == "ERR 2\r\n");
  BOOST_TEST(engine.handle_line(std::string(200, 'A'), at(2)) == "ERR 3\r\n");
}
