// The emulators' SCPI engine, sans-io: headers, paths, parameters, the error queue, status.
#define BOOST_TEST_MODULE test_scpi_engine
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

#include "common/scpi_engine.hpp"

using namespace hilbench::emu::scpi;

namespace {

Engine make_engine(std::size_t queue = 10, bool esr_ignores_errors = false) {
  EngineOptions options{"ACME", "X-1", "SN1", "1.0", queue, esr_ignores_errors};
  Engine engine(options);
  auto level = std::make_shared<double>(0.0);
  engine.add("[SOURce]:VOLTage[:LEVel]", [level](const Call& call) {
    call.expect(1, 1);
    *level = call.number(0, 0.0, 10.0, 1.0, "V");
    return std::string();
  });
  engine.add("[SOURce]:VOLTage[:LEVel]?", [level](const Call& call) {
    call.expect(0, 0);
    return format_nr3(*level);
  });
  engine.add("MEASure:VOLTage[:DC]?", [](const Call&) { return std::string("+1.0E+00"); });
  engine.add("MEASure:CURRent[:DC]?", [](const Call&) { return std::string("+2.0E+00"); });
  return engine;
}

std::string reply(Engine& engine, const std::string& message) {
  return engine.handle(message).value_or("<none>");
}

}  // namespace

BOOST_AUTO_TEST_CASE(identity_and_common_commands) {
  Engine engine = make_engine();
  BOOST_TEST(reply(engine, "*IDN?") == "ACME,X-1,SN1,1.0");
  BOOST_TEST(reply(engine, "*OPC?") == "1");
  BOOST_TEST(reply(engine, "*ESR?") == "0");
  BOOST_TEST(!engine.handle("*OPC").has_value());
  BOOST_TEST(reply(engine, "*ESR?") == "1");
  BOOST_TEST(reply(engine, "*ESR?") == "0");  // reading clears it
  BOOST_TEST(reply(engine, "SYST:VERS?") == "1999.0");
}

BOOST_AUTO_TEST_CASE(short_and_long_forms_any_case_optional_nodes) {
  Engine engine = make_engine();
  BOOST_TEST(!engine.handle("SOUR:VOLT 2.5").has_value());
  BOOST_TEST(reply(engine, "source:voltage:level?") == "+2.500000000E+00");
  BOOST_TEST(!engine.handle("VOLT 3").has_value());
  BOOST_TEST(reply(engine, "VOLT?") == "+3.000000000E+00");
  BOOST_TEST(!engine.handle(":SOURce:VOLTage:LEVel 4 V").has_value());
  BOOST_TEST(reply(engine, "VOLT?") == "+4.000000000E+00");
  BOOST_TEST(!engine.handle("VOLT 500 mV").has_value());
  BOOST_TEST(reply(engine, "VOLT?") == "+5.000000000E-01");
  BOOST_TEST(!engine.handle("VOLT MAX").has_value());
  BOOST_TEST(reply(engine, "VOLT?") == "+1.000000000E+01");
  BOOST_TEST(reply(engine, "SYST:ERR?") == "+0,\"No error\"");
  // neither short nor long form: undefined
  BOOST_TEST(!engine.handle("SOURC:VOLT 1").has_value());
  BOOST_TEST(reply(engine, "SYST:ERR?") == "-113,\"Undefined header;SOURC:VOLT\"");
}

BOOST_AUTO_TEST_CASE(queries_in_one_message_and_the_path_rule) {
  Engine engine = make_engine();
  BOOST_TEST(reply(engine, "MEAS:VOLT?;CURR?") == "+1.0E+00;+2.0E+00");  // CURR under MEAS:
  BOOST_TEST(reply(engine, "MEAS:VOLT:DC?;:MEAS:CURR:DC?;*OPC?") == "+1.0E+00;+2.0E+00;1");
  BOOST_TEST(reply(engine, "SYST:ERR?") == "+0,\"No error\"");
}

BOOST_AUTO_TEST_CASE(parameter_errors_have_standard_codes) {
  Engine engine = make_engine();
  engine.handle("VOLT");
  engine.handle("VOLT 1,2");
  engine.handle("VOLT abc");
  engine.handle("VOLT 11");
  engine.handle("VOLT 1 A");
  engine.handle("VOLT? 1");
  BOOST_TEST(reply(engine, "SYST:ERR:COUN?") == "6");
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-109,\"Missing parameter"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-108,\"Parameter not allowed"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-104,\"Data type error"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-222,\"Data out of range"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-104,\"Data type error"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-108,\"Parameter not allowed"));
  BOOST_TEST(reply(engine, "SYST:ERR?") == "+0,\"No error\"");
}

BOOST_AUTO_TEST_CASE(errors_set_esr_bits_and_stb_eav) {
  Engine engine = make_engine();
  engine.handle("BOGUS");
  engine.handle("VOLT 99");
  BOOST_TEST(reply(engine, "*STB?") == "4");  // EAV: the queue holds entries
  BOOST_TEST(reply(engine, "*ESR?") == std::to_string(32 | 16));
  engine.handle("*ESE 32");
  engine.handle("BOGUS");
  BOOST_TEST(reply(engine, "*STB?") == std::to_string(4 | 32));
  engine.handle("*CLS");
  BOOST_TEST(reply(engine, "*STB?") == "0");
  BOOST_TEST(reply(engine, "SYST:ERR?") == "+0,\"No error\"");
}

BOOST_AUTO_TEST_CASE(a_command_error_stops_the_rest_of_the_message) {
  Engine engine = make_engine();
  BOOST_TEST(reply(engine, "BOGUS;*OPC?") == "<none>");
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-113"));
}

BOOST_AUTO_TEST_CASE(queue_overflow_replaces_the_newest_entry) {
  Engine engine = make_engine(3);
  for (int i = 0; i < 5; ++i) engine.handle("BOGUS");
  BOOST_TEST(engine.queued_errors() == 3u);
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-113"));
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-113"));
  BOOST_TEST(reply(engine, "SYST:ERR?") == "-350,\"Queue overflow\"");
  BOOST_TEST(reply(engine, "SYST:ERR?") == "+0,\"No error\"");
}

BOOST_AUTO_TEST_CASE(defect_esr_ignores_errors) {
  Engine engine = make_engine(10, true);
  engine.handle("BOGUS");
  BOOST_TEST(reply(engine, "*ESR?") == "0");
  BOOST_TEST(reply(engine, "SYST:ERR?").starts_with("-113"));
}
