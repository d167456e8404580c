// The emulated power supply: profile schema, its SCPI command set and its load model.
#define BOOST_TEST_MODULE test_psu
#include <boost/test/unit_test.hpp>
#include <string>

#include "psu/instrument.hpp"
#include "psu/profile.hpp"

using namespace hilbench::emu;

namespace {
psu::Profile profile(const std::string& extra = "") {
  const std::string text = R"(
schema = 1
[device]
kind = "psu"
name = "p"
[identity]
manufacturer = "ACME"
model = "P-1"
serial_number = "S1"
firmware = "1.0"
[limits]
max_voltage_v = 60
max_current_a = 5
[load]
resistance_ohm = 10
)" + extra;
  return psu::read_profile(parse_profile_document(text, "t.toml"), "t.toml");
}
}  // namespace

BOOST_AUTO_TEST_CASE(constant_voltage_then_constant_current) {
  psu::Instrument supply(profile());
  auto& engine = supply.engine();
  engine.handle("VOLT 12;CURR 2");
  BOOST_TEST(supply.output_voltage() == 0.0);  // output still off
  engine.handle("OUTP ON");
  BOOST_TEST(supply.output_voltage() == 12.0);
  BOOST_TEST(supply.output_current() == 1.2);
  engine.handle("CURR 0.5");  // 12 V into 10 ohm wants 1.2 A: current-limited
  BOOST_TEST(supply.output_current() == 0.5);
  BOOST_TEST(supply.output_voltage() == 5.0);
  BOOST_TEST(engine.handle("MEAS:VOLT?;:MEAS:CURR?").value() ==
             "+5.000000000E+00;+5.000000000E-01");
  engine.handle("OUTP OFF");
  BOOST_TEST(supply.output_voltage() == 0.0);
  BOOST_TEST(engine.handle("SYST:ERR?").value() == "+0,\"No error\"");
  engine.handle("VOLT 61");
  BOOST_TEST(engine.handle("SYST:ERR?").value().starts_with("-222"));
}

BOOST_AUTO_TEST_CASE(defect_ignores_output_off) {
  psu::Instrument supply(profile("[defects]\nignores_output_off = true\n"));
  supply.engine().handle("VOLT 12;:OUTP ON;OUTP OFF");
  BOOST_TEST(supply.engine().handle("OUTP?").value() == "0");
  BOOST_TEST(supply.output_voltage() == 12.0);
}

BOOST_AUTO_TEST_CASE(profile_needs_limits) {
  BOOST_CHECK_THROW(psu::read_profile(parse_profile_document(
                                          "schema = 1\n[device]\nkind = \"psu\"\nname = \"p\"\n"
                                          "[identity]\nmanufacturer = \"A\"\nmodel = \"m\"\n"
                                          "serial_number = \"s\"\nfirmware = \"f\"\n",
                                          "t.toml"),
                                      "t.toml"),
                    ProfileError);
}
