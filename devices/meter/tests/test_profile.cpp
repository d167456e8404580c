// Device profile parsing: the shipped EM-1 profile, and every class of bad input naming the
// file, the key path and what was expected.
#define BOOST_TEST_MODULE profile
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <string>

#include "common/tests/test_paths.hpp"
#include "meter/profile.hpp"

using namespace hilbench::emu;
using namespace hilbench::emu::meter;
using emulator_test::em1_path;

// Readable values in failure messages (found by Boost.Test through ADL).
namespace hilbench::emu {
std::ostream& boost_test_print_type(std::ostream& out, Parity parity) {
  return out << to_string(parity);
}
}  // namespace hilbench::emu
namespace hilbench::emu::meter {
std::ostream& boost_test_print_type(std::ostream& out, RegisterTable table) {
  return out << to_string(table);
}
std::ostream& boost_test_print_type(std::ostream& out, ValueType type) {
  return out << to_string(type);
}
}  // namespace hilbench::emu::meter

namespace {

// A small valid profile; each bad-input case edits one part of it.
const std::string minimal_profile = R"(
schema = 1
[device]
kind = "meter"
name = "m"
unit = 7
[identity]
vendor = "v"
product_code = "p"
revision = "2.0.9"
[serial]
baud = 9600
data_bits = 8
parity = "even"
stop_bits = 1
[[registers]]
table = "holding"
address = 0
name = "h0"
type = "u16"
value = 1
[[registers]]
table = "holding"
address = 1
name = "h1"
type = "u32"
value = 70000
writable = true
[[coils]]
address = 0
name = "c0"
value = true
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "test bug: '" << from << "' not in the profile");
  return text.replace(at, from.size(), to);
}

// Parses `text` as "bad.toml" and checks the error names the file, the key and the problem.
void expect_error(const std::string& text, const std::string& key, const std::string& expected) {
  BOOST_TEST_CONTEXT("key " << key) {
    try {
      parse_profile(text, "profiles/bad.toml");
      BOOST_ERROR("no error for a bad profile (expected one at " << key << ")");
    } catch (const ProfileError& error) {
      const std::string message = error.what();
      BOOST_TEST_MESSAGE("message: " << message);
      BOOST_TEST(error.file() == "profiles/bad.toml");
      BOOST_TEST(error.key() == key);
      BOOST_TEST(message.find("profiles/bad.toml: ") == 0u);
      BOOST_TEST(message.find(key) != std::string::npos, message);
      BOOST_TEST(message.find(expected) != std::string::npos,
                 "'" << message << "' lacks '" << expected << "'");
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(em1_profile_parses_completely) {
  const DeviceProfile profile = load_profile(em1_path);
  BOOST_TEST(profile.source == em1_path);
  BOOST_TEST(profile.schema == 1);
  BOOST_TEST(profile.kind == "meter");
  BOOST_TEST(profile.name == "em1");
  BOOST_TEST(profile.unit == 1);
  BOOST_TEST(profile.identity.vendor == "hilbench");
  BOOST_TEST(profile.identity.product_code == "HB-EM1");
  BOOST_TEST(profile.identity.revision == "1.4.2");
  BOOST_TEST(profile.identity.model == "EM-1 three-phase meter");
  BOOST_TEST(profile.identity.serial_number == "EM1-2026-000123");
  BOOST_REQUIRE(profile.serial.has_value());
  BOOST_TEST(profile.serial->baud == 19200u);
  BOOST_TEST(profile.serial->data_bits == 8u);
  BOOST_TEST(profile.serial->parity == Parity::even);
  BOOST_TEST(profile.serial->stop_bits == 1u);
  BOOST_TEST(profile.serial->bits_per_character() == 11u);
  BOOST_TEST(profile.limits.max_read_registers == 125u);
  BOOST_TEST(profile.limits.max_read_bits == 2000u);
  BOOST_TEST(profile.registers.size() == 56u);
  BOOST_TEST(profile.coils.size() == 2u);
  BOOST_TEST(profile.discrete_inputs.size() == 8u);
  BOOST_TEST(active_defect_names(defect_table, profile.defects).empty());

  const RegisterSpec& voltage = profile.registers[0];
  BOOST_TEST(voltage.name == "voltage_l1");
  BOOST_TEST(voltage.table == RegisterTable::input);
  BOOST_TEST(voltage.initial_words == std::vector<std::uint16_t>{2301});
  BOOST_TEST(voltage.unit == "V");
  BOOST_TEST(!voltage.writable);
  const RegisterSpec& energy = profile.registers[5];
  BOOST_TEST(energy.name == "active_energy_import");
  BOOST_TEST(energy.type == ValueType::u32);
  BOOST_TEST(energy.initial_words == (std::vector<std::uint16_t>{0x00BC, 0x614E}));  // 12345678
  const RegisterSpec& ct_ratio = profile.registers[6];
  BOOST_TEST(ct_ratio.writable);
  BOOST_TEST(profile.coils[0].name == "relay_closed");
  BOOST_TEST(profile.coils[0].value);
  BOOST_TEST(profile.coils[0].writable);
}

BOOST_AUTO_TEST_CASE(defaults_of_optional_keys) {
  const DeviceProfile profile = parse_profile(minimal_profile, "mini.toml");
  BOOST_TEST(profile.description.empty());
  BOOST_TEST(profile.identity.vendor_url.empty());
  BOOST_TEST(profile.identity.serial_number.empty());
  BOOST_TEST(profile.limits.max_read_registers == 125u);
  BOOST_TEST(profile.registers[0].scale == 1.0);
  BOOST_TEST(profile.registers[0].unit == "1");  // dimensionless
  BOOST_TEST(!profile.registers[0].writable);
  BOOST_TEST(!profile.coils[0].writable);
  BOOST_TEST(profile.serial->bits_per_character() == 11u);  // 8E1
  BOOST_TEST(profile.registers[1].initial_words == (std::vector<std::uint16_t>{1, 4464}));
}

BOOST_AUTO_TEST_CASE(timing_table) {
  const DeviceProfile defaults = parse_profile(minimal_profile, "mini.toml");
  BOOST_TEST(defaults.timing.response_delay.count() == 0);
  BOOST_TEST(defaults.timing.max_response_time.count() == 100);
  BOOST_TEST(defaults.timing.clock_drift_limit_s_per_day == 0.0);
  const DeviceProfile declared =
      parse_profile(minimal_profile +
                        "[timing]\nresponse_delay_us = 2000\nmax_response_time_ms = 50\n"
                        "clock_drift_limit_s_per_day = 0.5\n",
                    "timing.toml");
  BOOST_TEST(declared.timing.response_delay.count() == 2000);
  BOOST_TEST(declared.timing.max_response_time.count() == 50);
  BOOST_TEST(declared.timing.clock_drift_limit_s_per_day == 0.5);
  BOOST_TEST(profile_to_json(declared)["timing"]["response_delay_us"] == 2000);
  expect_error(minimal_profile + "[timing]\nresponse_delay_us = -1\n", "timing.response_delay_us",
               "");
  expect_error(minimal_profile + "[timing]\nslack = 1\n", "timing.slack", "unknown key");
}

BOOST_AUTO_TEST_CASE(profile_without_serial_has_no_rtu_side) {
  auto text =
      replace(minimal_profile,
              "[serial]\nbaud = 9600\ndata_bits = 8\nparity = \"even\"\nstop_bits = 1\n", "");
  BOOST_TEST(!parse_profile(text, "tcp-only.toml").serial.has_value());
}

// The schema describes real devices; what a pty-backed port can present is checked apart.
BOOST_AUTO_TEST_CASE(serial_settings_describe_real_devices_with_defaults) {
  const auto empty_serial =
      parse_profile(replace(minimal_profile,
                            "baud = 9600\ndata_bits = 8\nparity = \"even\"\nstop_bits = 1\n", ""),
                    "defaults.toml");
  BOOST_REQUIRE(empty_serial.serial.has_value());
  BOOST_TEST(empty_serial.serial->baud == 9600u);
  BOOST_TEST(empty_serial.serial->data_bits == 8u);
  BOOST_TEST(empty_serial.serial->parity == Parity::none);
  BOOST_TEST(empty_serial.serial->stop_bits == 1u);
  BOOST_TEST(!pty_presentation_problem(*empty_serial.serial).has_value());

  const auto seven_mark =
      parse_profile(replace(replace(minimal_profile, "data_bits = 8", "data_bits = 7"),
                            "parity = \"even\"", "parity = \"mark\""),
                    "7m1.toml");
  BOOST_TEST(seven_mark.serial->data_bits == 7u);
  BOOST_TEST(seven_mark.serial->parity == Parity::mark);
  BOOST_TEST(seven_mark.serial->bits_per_character() == 10u);
  const auto problem = pty_presentation_problem(*seven_mark.serial);
  BOOST_REQUIRE(problem.has_value());
  BOOST_TEST(problem->find("7 data bits, parity mark") != std::string::npos, *problem);
  const auto even = parse_profile(minimal_profile, "8e1.toml");
  BOOST_TEST(pty_presentation_problem(*even.serial).has_value());  // a pty forces no parity
}

BOOST_AUTO_TEST_CASE(value_encodings) {
  auto with_register = [](const std::string& type, const std::string& value,
                          const std::string& scale) {
    return minimal_profile +
           "[[registers]]\ntable = \"input\"\naddress = 100\nname = \"x\"\ntype = \"" + type +
           "\"\nvalue = " + value + "\nscale = " + scale + "\n";
  };
  auto words = [&](const std::string& type, const std::string& value, const std::string& scale) {
    return parse_profile(with_register(type, value, scale), "v.toml")
        .registers.back()
        .initial_words;
  };
  BOOST_TEST(words("i16", "-1", "1") == std::vector<std::uint16_t>{0xFFFF});
  BOOST_TEST(words("i16", "-3276.8", "10") == std::vector<std::uint16_t>{0x8000});
  BOOST_TEST(words("u16", "5.012", "1000") == std::vector<std::uint16_t>{5012});
  BOOST_TEST(words("i32", "-2", "1") == (std::vector<std::uint16_t>{0xFFFF, 0xFFFE}));
  BOOST_TEST(words("u32", "4294967295", "1") == (std::vector<std::uint16_t>{0xFFFF, 0xFFFF}));
  BOOST_TEST(words("f32", "1.5", "1") == (std::vector<std::uint16_t>{0x3FC0, 0x0000}));
  BOOST_TEST(words("f32", "-2.0", "1") == (std::vector<std::uint16_t>{0xC000, 0x0000}));
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected) {
  expect_error("colour = \"red\"\n" + minimal_profile, "colour", "unknown key");
  expect_error(replace(minimal_profile, "unit = 7\n", "unit = 7\nslave = 3\n"), "device.slave",
               "unknown key");
  expect_error(replace(minimal_profile, "revision = \"2.0.9\"\n",
                       "revision = \"2.0.9\"\nfirmware = \"x\"\n"),
               "identity.firmware", "unknown key");
  expect_error(replace(minimal_profile, "stop_bits = 1\n", "stop_bits = 1\nflow = \"rts\"\n"),
               "serial.flow", "unknown key");
  expect_error(replace(minimal_profile, "value = 70000\n", "value = 70000\nendian = \"little\"\n"),
               "registers[1].endian", "unknown key");
  // Discrete inputs are read-only: `writable` is not one of their keys.
  expect_error(
      minimal_profile +
          "[[discrete_inputs]]\naddress = 0\nname = \"d\"\nvalue = true\nwritable = true\n",
      "discrete_inputs[0].writable", "unknown key");
  expect_error(minimal_profile + "[limits]\nmax_write_registers = 5\n",
               "limits.max_write_registers", "unknown key");
}

BOOST_AUTO_TEST_CASE(wrong_types_are_rejected) {
  expect_error(replace(minimal_profile, "type = \"u32\"", "type = 32"), "registers[1].type",
               "expected one of \"u16\", \"i16\", \"u32\", \"i32\", \"f32\", got integer 32");
  expect_error(replace(minimal_profile, "type = \"u32\"", "type = \"u64\""), "registers[1].type",
               "got string \"u64\"");
  expect_error(replace(minimal_profile, "unit = 7", "unit = \"7\""), "device.unit",
               "expected an integer in 1..247, got string \"7\"");
  expect_error(replace(minimal_profile, "address = 1\n", "address = 1.0\n"), "registers[1].address",
               "expected an integer in 0..65535, got float 1.0");
  expect_error(replace(minimal_profile, "value = true", "value = 1"), "coils[0].value",
               "expected a boolean, got integer 1");
  expect_error(replace(minimal_profile, "writable = true", "writable = \"yes\""),
               "registers[1].writable", "expected a boolean");
  expect_error(replace(minimal_profile, "value = 70000", "value = \"70000\""), "registers[1].value",
               "expected a number");
  expect_error(replace(minimal_profile, "vendor = \"v\"", "vendor = 5"), "identity.vendor",
               "expected a string");
  expect_error(replace(minimal_profile, "parity = \"even\"", "parity = \"pair\""), "serial.parity",
               "expected one of \"none\", \"odd\", \"even\", \"mark\", \"space\"");
  expect_error(replace(minimal_profile, "table = \"holding\"", "table = \"coil\""),
               "registers[0].table", "expected one of \"input\", \"holding\"");
  expect_error(replace(minimal_profile, "[device]", "device = 5\n[devicex]"), "device",
               "expected a table");
  expect_error("coils = 3\n" + replace(minimal_profile,
                                       "[[coils]]\naddress = 0\nname = \"c0\"\nvalue = true\n", ""),
               "coils", "expected an array of tables");
}

BOOST_AUTO_TEST_CASE(missing_and_out_of_range_values_are_rejected) {
  expect_error(replace(minimal_profile, "schema = 1", "schema = 2"), "schema",
               "expected the integer 1, got integer 2");
  expect_error(replace(minimal_profile, "schema = 1", ""), "schema", "missing");
  expect_error(replace(minimal_profile, "name = \"m\"\n", ""), "device.name",
               "missing; expected a string");
  expect_error(replace(minimal_profile, "value = 70000\n", ""), "registers[1].value",
               "missing; expected a number");
  expect_error(replace(minimal_profile, "unit = 7", "unit = 0"), "device.unit", "1..247");
  expect_error(replace(minimal_profile, "unit = 7", "unit = 248"), "device.unit", "1..247");
  expect_error(replace(minimal_profile, "data_bits = 8", "data_bits = 4"), "serial.data_bits",
               "expected an integer in 5..8");
  expect_error(replace(minimal_profile, "data_bits = 8", "data_bits = 9"), "serial.data_bits",
               "expected an integer in 5..8");
  expect_error(replace(minimal_profile, "stop_bits = 1", "stop_bits = 3"), "serial.stop_bits",
               "1..2");
  expect_error(replace(minimal_profile, "baud = 9600", "baud = 0"), "serial.baud", "50..4000000");
  expect_error(replace(minimal_profile, "address = 1\n", "address = 65536\n"),
               "registers[1].address", "0..65535");
  expect_error(replace(minimal_profile, "address = 1\n", "address = 65535\n"),
               "registers[1].address", "runs past address 65535");
  expect_error(minimal_profile + "[limits]\nmax_read_registers = 126\n",
               "limits.max_read_registers", "1..125");
  expect_error(replace(minimal_profile, "value = 1\n", "value = 1\nscale = 0\n"),
               "registers[0].scale", "expected a number > 0");
  expect_error(replace(minimal_profile, "revision = \"2.0.9\"", "revision = \"\""),
               "identity.revision", "non-empty");
  expect_error(replace(minimal_profile, "revision = \"2.0.9\"",
                       "revision = \"" + std::string(245, 'r') + "\""),
               "identity.revision", "at most 244 bytes");
}

BOOST_AUTO_TEST_CASE(values_that_do_not_fit_their_type_are_rejected) {
  expect_error(replace(minimal_profile, "value = 1\n", "value = 65536\n"), "registers[0].value",
               "does not fit type u16 (0..65535)");
  expect_error(replace(minimal_profile, "value = 1\n", "value = -1\n"), "registers[0].value",
               "does not fit type u16");
  expect_error(replace(minimal_profile, "value = 1\n", "value = 6553.6\nscale = 10\n"),
               "registers[0].value", "does not fit type u16");
  expect_error(
      replace(minimal_profile, "type = \"u16\"\nvalue = 1\n", "type = \"i16\"\nvalue = -40000\n"),
      "registers[0].value", "does not fit type i16 (-32768..32767)");
  expect_error(replace(minimal_profile, "value = 70000", "value = 4294967296"),
               "registers[1].value", "does not fit type u32");
  expect_error(
      replace(minimal_profile, "type = \"u32\"\nvalue = 70000", "type = \"f32\"\nvalue = 1e39"),
      "registers[1].value", "does not fit type f32");
  expect_error(replace(minimal_profile, "value = 70000", "value = inf"), "registers[1].value",
               "finite");
}

BOOST_AUTO_TEST_CASE(duplicate_and_overlapping_addresses_are_rejected) {
  // h1 is a u32 at 1..2: a register at 2 overlaps its low word.
  expect_error(minimal_profile +
                   "[[registers]]\ntable = \"holding\"\naddress = 2\nname = \"x\"\ntype = "
                   "\"u16\"\nvalue = 0\n",
               "registers[2].address", "overlaps registers[1]");
  expect_error(minimal_profile +
                   "[[registers]]\ntable = \"holding\"\naddress = 0\nname = \"x\"\ntype = "
                   "\"u16\"\nvalue = 0\n",
               "registers[2].address", "overlaps registers[0]");
  // A u32 starting just before another register overlaps it too.
  auto text = replace(minimal_profile, "address = 0\nname = \"h0\"", "address = 10\nname = \"h0\"");
  expect_error(text +
                   "[[registers]]\ntable = \"holding\"\naddress = 9\nname = \"x\"\ntype = "
                   "\"i32\"\nvalue = 0\n",
               "registers[2].address", "holding register \"x\" at 9..10 overlaps registers[0]");
  // The same address in the other table is fine.
  BOOST_CHECK_NO_THROW(parse_profile(minimal_profile +
                                         "[[registers]]\ntable = \"input\"\naddress = 0\nname = "
                                         "\"x\"\ntype = \"u32\"\nvalue = 0\n",
                                     "ok.toml"));
  expect_error(minimal_profile + "[[coils]]\naddress = 0\nname = \"c1\"\nvalue = false\n",
               "coils[1].address", "address 0 already used by coils[0]");
  expect_error(minimal_profile + "[[coils]]\naddress = 1\nname = \"h0\"\nvalue = false\n",
               "coils[1].name", "duplicate name \"h0\" (already used by registers[0])");
}

BOOST_AUTO_TEST_CASE(defects_table_is_checked) {
  const auto profile = parse_profile(
      minimal_profile + "[defects]\nbad_crc_answered = true\ntcp_register_skew = false\n",
      "d.toml");
  BOOST_TEST(profile.defects.has(meter_defect("bad_crc_answered")));
  BOOST_TEST(!profile.defects.has(meter_defect("tcp_register_skew")));
  BOOST_TEST(active_defect_names(defect_table, profile.defects) ==
             std::vector<std::string>{"bad_crc_answered"});
  expect_error(minimal_profile + "[defects]\ncrc_ignored = true\n", "defects.crc_ignored",
               "unknown key; allowed keys: illegal_address_returns_data");
  expect_error(minimal_profile + "[defects]\nbad_crc_answered = 1\n", "defects.bad_crc_answered",
               "expected a boolean");
}

BOOST_AUTO_TEST_CASE(defect_table_names_are_unique_and_described) {
  std::set<std::string_view> names;
  for (std::size_t index = 0; index < defect_table.size(); ++index) {
    const DefectInfo& info = defect_table[index];
    BOOST_TEST(names.insert(info.name).second, info.name);
    BOOST_TEST(!info.description.empty());
    BOOST_TEST(!info.breaks.empty());
    BOOST_TEST((find_defect(defect_table, info.name) == DefectId{index}));
  }
  BOOST_TEST(!find_defect(defect_table, "no_such_defect").has_value());
}

BOOST_AUTO_TEST_CASE(toml_syntax_errors_and_missing_files_name_the_file) {
  try {
    parse_profile("schema = 1\n[device\n", "broken.toml");
    BOOST_ERROR("no error for broken TOML");
  } catch (const ProfileError& error) {
    const std::string message = error.what();
    BOOST_TEST(message.find("broken.toml: invalid TOML") == 0u, message);
    BOOST_TEST(message.find("line 2") != std::string::npos, message);
  }
  // Duplicate keys are a TOML error already.
  BOOST_CHECK_THROW(parse_profile(minimal_profile + "schema = 1\n", "dup.toml"), ProfileError);
  try {
    load_profile("/nonexistent/dir/none.toml");
    BOOST_ERROR("no error for a missing file");
  } catch (const ProfileError& error) {
    BOOST_TEST(std::string(error.what()).find("/nonexistent/dir/none.toml: cannot open") == 0u);
  }
}

BOOST_AUTO_TEST_CASE(oversized_profiles_are_refused_before_parsing) {
  // A valid profile padded past the bound with a comment: refused for its size, as text and
  // as a file (which is not read whole).
  const std::string huge = minimal_profile + "# " + std::string(max_profile_bytes, 'x') + "\n";
  try {
    parse_profile(huge, "huge.toml");
    BOOST_ERROR("no error for an oversized profile");
  } catch (const ProfileError& error) {
    BOOST_TEST(std::string(error.what()).find("huge.toml: larger than 1048576 bytes") == 0u,
               error.what());
  }
  const auto file = std::filesystem::temp_directory_path() / "hilbench-huge-profile.toml";
  {
    std::ofstream out(file, std::ios::binary);
    out << huge;
  }
  BOOST_CHECK_THROW(load_profile(file), ProfileError);
  std::filesystem::remove(file);
  BOOST_CHECK_NO_THROW(parse_profile(minimal_profile, "minimal.toml"));
}

BOOST_AUTO_TEST_CASE(json_dump_mirrors_the_profile) {
  const auto json = profile_to_json(load_profile(em1_path));
  BOOST_TEST(json["device"]["name"] == "em1");
  BOOST_TEST(json["serial"]["parity"] == "even");
  BOOST_TEST(json["registers"].size() == 56u);
  BOOST_TEST(json["registers"][0]["value"] == 230.1);
  BOOST_TEST(json["registers"][0]["raw"] == 2301);
  BOOST_TEST(json["registers"][5]["words"] == nlohmann::json::array({0x00BC, 0x614E}));
  BOOST_TEST(json["coils"][0]["writable"] == true);
  BOOST_TEST(!json["discrete_inputs"][0].contains("writable"));
  BOOST_TEST(json["defects"].size() == defect_table.size());
  BOOST_TEST(json["defects"]["bad_crc_answered"] == false);
  const auto tcp_only = profile_to_json(parse_profile(
      replace(minimal_profile,
              "[serial]\nbaud = 9600\ndata_bits = 8\nparity = \"even\"\nstop_bits = 1\n", ""),
      "t.toml"));
  BOOST_TEST(tcp_only["serial"].is_null());
}
