// The emulated reference source: profile schema and its SCPI command set, sans-io.
#define BOOST_TEST_MODULE test_source
#include <boost/test/unit_test.hpp>
#include <string>

#include "source/instrument.hpp"
#include "source/profile.hpp"

using namespace hilbench::emu;

namespace {
source::Profile profile(const std::string& extra = "") {
  const std::string text = R"(
schema = 1
[device]
kind = "source"
name = "s"
[identity]
manufacturer = "ACME"
model = "S-1"
serial_number = "S1"
firmware = "1.0"
[limits]
max_voltage_v = 300
max_current_a = 100
)" + extra;
  return source::read_profile(parse_profile_document(text, "t.toml"), "t.toml");
}
}  // namespace

BOOST_AUTO_TEST_CASE(applies_voltage_current_phase_and_output) {
  source::Instrument rs(profile());
  auto& engine = rs.engine();
  BOOST_TEST(!engine.handle("SOUR:VOLT 230;CURR 5;PHAS 60;:OUTP ON").has_value());
  BOOST_TEST(engine.handle("SYST:ERR?").value() == "+0,\"No error\"");
  BOOST_TEST(rs.applied().voltage_v == 230.0);
  BOOST_TEST(rs.applied().current_a == 5.0);
  BOOST_TEST(rs.applied().phase_deg == 60.0);
  BOOST_TEST(rs.applied().output_on);
  BOOST_TEST(engine.handle("VOLT?;CURR?;PHAS?;:OUTP?").value() ==
             "+2.300000000E+02;+5.000000000E+00;+6.000000000E+01;1");
  engine.handle("*RST");
  BOOST_TEST(engine.handle("OUTP?").value() == "0");
  BOOST_TEST(rs.applied().voltage_v == 0.0);
}

BOOST_AUTO_TEST_CASE(limits_are_enforced) {
  source::Instrument rs(profile());
  rs.engine().handle("SOUR:VOLT 301");
  BOOST_TEST(rs.engine().handle("SYST:ERR?").value().starts_with("-222"));
  rs.engine().handle("SOUR:PHAS 400");
  BOOST_TEST(rs.engine().handle("SYST:ERR?").value().starts_with("-222"));
}

BOOST_AUTO_TEST_CASE(defect_phase_ignored) {
  source::Instrument rs(profile("[defects]\nphase_ignored = true\n"));
  rs.engine().handle("SOUR:PHAS 90");
  BOOST_TEST(rs.engine().handle("SYST:ERR?").value() == "+0,\"No error\"");
  BOOST_TEST(rs.engine().handle("SOUR:PHAS?").value() == "+0.000000000E+00");
}
