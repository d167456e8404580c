// The emulated DMM: profile schema and its SCPI command set, sans-io (the process over TCP is
// tested from Python: tests/test_scpi_instruments.py).
#define BOOST_TEST_MODULE test_dmm
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>

#include "dmm/instrument.hpp"
#include "dmm/profile.hpp"

using namespace hilbench::emu;

namespace {
const char* const base = R"(
schema = 1
[device]
kind = "dmm"
name = "d"
[identity]
manufacturer = "ACME"
model = "D-1"
serial_number = "S1"
firmware = "1.0"
[reading]
dc_voltage_v = 10.0
dc_current_a = 0.5
noise_v = 0.001
)";

dmm::Profile profile(const std::string& extra = "") {
  return dmm::read_profile(parse_profile_document(std::string(base) + extra, "t.toml"), "t.toml");
}
double number(scpi::Engine& engine, const std::string& query) {
  return std::stod(engine.handle(query).value());
}
}  // namespace

BOOST_AUTO_TEST_CASE(profile_is_strict_and_dumps_every_default) {
  const auto json = dmm::profile_to_json(profile());
  BOOST_TEST(json["identity"]["firmware"] == "1.0");
  BOOST_TEST(json["reading"]["noise_a"] == 0.0);
  BOOST_TEST(json["scpi"]["error_queue_size"] == 10);
  BOOST_TEST(json["defects"]["reading_offset"] == false);
  BOOST_CHECK_THROW(profile("bogus = 1\n"), ProfileError);
  BOOST_CHECK_THROW(profile("[defects]\nno_such_knob = true\n"), ProfileError);
  BOOST_CHECK_THROW(dmm::read_profile(parse_profile_document(
                                          "schema = 1\n[device]\nkind = \"dmm\"\nname = \"d\"\n"
                                          "[identity]\nmanufacturer = \"A,B\"\nmodel = \"m\"\n"
                                          "serial_number = \"s\"\nfirmware = \"f\"\n",
                                          "t.toml"),
                                      "t.toml"),
                    ProfileError);
}

BOOST_AUTO_TEST_CASE(readings_are_the_declared_value_plus_noise) {
  dmm::Instrument dmm(profile());
  const double v = number(dmm.engine(), "MEAS:VOLT:DC?");
  BOOST_TEST(std::abs(v - 10.0) < 0.01);
  BOOST_TEST(v != 10.0);                                  // noise is on
  BOOST_TEST(number(dmm.engine(), "MEAS:CURR?") == 0.5);  // no current noise declared
  BOOST_TEST(dmm.engine().handle("CONF?").value() == "\"CURR:DC\"");
  dmm.engine().handle("CONF:VOLT:DC");
  BOOST_TEST(std::abs(number(dmm.engine(), "READ?") - 10.0) < 0.01);
  // reproducible: the same seed gives the same series
  dmm::Instrument twin(profile());
  BOOST_TEST(number(twin.engine(), "MEAS:VOLT:DC?") == v);
}

BOOST_AUTO_TEST_CASE(defects_change_what_they_say) {
  auto p = profile("[defects]\nreading_offset = true\nidn_wrong_firmware = true\n");
  dmm::Instrument dmm(p);
  BOOST_TEST(number(dmm.engine(), "MEAS:CURR:DC?") == 0.5 * 1.005);
  BOOST_TEST(dmm.engine().handle("*IDN?").value() == "ACME,D-1,S1,1.0-rc1");
}
