// SCPI / IEEE 488.2 codec: response framing, numbers, strings, blocks, error entries, *IDN?.
// Expected values are written out by hand from IEEE 488.2-1992 section 8 and SCPI-99.
#define BOOST_TEST_MODULE test_scpi_codec
#include <boost/test/unit_test.hpp>
#include <string>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"

namespace scpi = hilbench::scpi;
using hilbench::Bytes;
using hilbench::ProtocolError;

namespace {
Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }
std::optional<std::size_t> end_of(const std::string& text, const std::string& terminator = "\n") {
  return scpi::find_response_end(bytes_of(text), terminator);
}
}  // namespace

BOOST_AUTO_TEST_CASE(program_messages_get_the_terminator) {
  BOOST_TEST(scpi::encode_message("*IDN?", "\n") == bytes_of("*IDN?\n"));
  BOOST_TEST(scpi::encode_message("VOLT 5", "\r\n") == bytes_of("VOLT 5\r\n"));
  BOOST_CHECK_THROW(scpi::encode_message("A\nB", "\n"), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(response_ends_at_the_terminator) {
  BOOST_TEST(!end_of("+1.0E+00").has_value());
  BOOST_TEST(end_of("+1.0E+00\n").value() == 9u);
  BOOST_TEST(end_of("1;2\n").value() == 4u);
  BOOST_TEST(end_of("1\r\n", "\r\n").value() == 3u);
  BOOST_TEST(!end_of("1\r", "\r\n").has_value());
}

BOOST_AUTO_TEST_CASE(definite_block_may_carry_the_terminator) {
  // #15 + 5 data bytes, two of them LF: the message ends only after the block.
  const std::string message = "#15a\nb\nc\n";
  BOOST_TEST(end_of(message).value() == message.size());
  BOOST_TEST(!end_of("#15a\nb").has_value());
  BOOST_TEST(!end_of("#2").has_value());
  // a block after a comma is a block too
  BOOST_TEST(end_of("1,#13\n\n\n\n").value() == 9u);
  // '#' inside other data is just a character
  BOOST_TEST(end_of("\"a#b\"\n").value() == 6u);
  BOOST_CHECK_THROW(end_of("#x12\n"), ProtocolError);
  BOOST_CHECK_THROW(end_of("#2a9xx\n"), ProtocolError);
}

BOOST_AUTO_TEST_CASE(indefinite_block_runs_to_the_terminator) {
  BOOST_TEST(end_of("#0abc\n").value() == 6u);
  BOOST_TEST(scpi::parse_block(bytes_of("#0abc")) == bytes_of("abc"));
}

BOOST_AUTO_TEST_CASE(blocks_parse_and_check_their_length) {
  BOOST_TEST(scpi::parse_block(bytes_of("#15a\nb\nc")) == bytes_of("a\nb\nc"));
  BOOST_TEST(scpi::parse_block(bytes_of("#2100123456789")) == bytes_of("0123456789"));
  BOOST_CHECK_THROW(scpi::parse_block(bytes_of("#15abc")), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_block(bytes_of("15abc")), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_block(bytes_of("#3")), ProtocolError);
}

BOOST_AUTO_TEST_CASE(terminator_is_stripped_with_a_stray_cr) {
  BOOST_TEST(scpi::strip_terminator(bytes_of("1\n"), "\n") == "1");
  BOOST_TEST(scpi::strip_terminator(bytes_of("1\r\n"), "\n") == "1");
  BOOST_TEST(scpi::strip_terminator(bytes_of("1\r\n"), "\r\n") == "1");
}

BOOST_AUTO_TEST_CASE(numbers_nr1_nr2_nr3) {
  BOOST_TEST(scpi::parse_nr1("+17") == 17);
  BOOST_TEST(scpi::parse_nr1(" -113 ") == -113);
  BOOST_CHECK_THROW(scpi::parse_nr1("1.0"), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_nr1(""), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_nr1("99999999999999999999"), ProtocolError);
  BOOST_TEST(scpi::parse_number("+1.00000000E+01") == 10.0);
  BOOST_TEST(scpi::parse_number("-2.5") == -2.5);
  BOOST_TEST(scpi::parse_number("42") == 42.0);
  BOOST_TEST(scpi::parse_number(".5") == 0.5);
  BOOST_TEST(scpi::parse_number("9.9E37") == 9.9e37);  // SCPI overflow stays a number
  BOOST_TEST(scpi::parse_number("1e-3") == 1e-3);
  for (const char* bad : {"", "+", "1e", "1.0V", "nan", "inf", "0x10", "1,2", "E5"})
    BOOST_CHECK_THROW(scpi::parse_number(bad), ProtocolError);
}

BOOST_AUTO_TEST_CASE(strings_with_doubled_quotes) {
  BOOST_TEST(scpi::parse_string("\"VOLT:DC\"") == "VOLT:DC");
  BOOST_TEST(scpi::parse_string("\"say \"\"hi\"\"\"") == "say \"hi\"");
  BOOST_TEST(scpi::parse_string("'single'") == "single");
  BOOST_TEST(scpi::parse_string("\"\"") == "");
  BOOST_CHECK_THROW(scpi::parse_string("unquoted"), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_string("\"a\"b\""), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_string("\"open"), ProtocolError);
}

BOOST_AUTO_TEST_CASE(elements_split_outside_strings_and_blocks) {
  const auto parts = scpi::split_elements("1, \"a,b\" ,#13,,,,2");
  BOOST_TEST(parts.size() == 4u);
  BOOST_TEST(parts[0] == "1");
  BOOST_TEST(parts[1] == "\"a,b\"");
  BOOST_TEST(parts[2] == "#13,,,");
  BOOST_TEST(parts[3] == "2");
}

BOOST_AUTO_TEST_CASE(error_queue_entries) {
  BOOST_TEST((scpi::parse_error_entry("-113,\"Undefined header\"") ==
              scpi::ErrorEntry{-113, "Undefined header"}));
  BOOST_TEST((scpi::parse_error_entry("+0,\"No error\"") == scpi::ErrorEntry{0, "No error"}));
  BOOST_TEST((scpi::parse_error_entry("-222,\"Data out of range;VOLT 500\"") ==
              scpi::ErrorEntry{-222, "Data out of range;VOLT 500"}));
  BOOST_CHECK_THROW(scpi::parse_error_entry("0 No error"), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_error_entry("x,\"No error\""), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_error_entry("0,No error"), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_error_entry("99999,\"big\""), ProtocolError);
}

BOOST_AUTO_TEST_CASE(error_codes_map_to_esr_bits) {
  BOOST_TEST(scpi::esr::bit_for_error(-113) == scpi::esr::command_error);
  BOOST_TEST(scpi::esr::bit_for_error(-222) == scpi::esr::execution_error);
  BOOST_TEST(scpi::esr::bit_for_error(-350) == scpi::esr::device_dependent_error);
  BOOST_TEST(scpi::esr::bit_for_error(-410) == scpi::esr::query_error);
  BOOST_TEST(scpi::esr::bit_for_error(0) == 0);
}

BOOST_AUTO_TEST_CASE(identity_has_four_fields) {
  const auto identity = scpi::parse_identity("hilbench,DMM-6,DMM6-0001,2.1.0");
  BOOST_TEST(identity.manufacturer == "hilbench");
  BOOST_TEST(identity.model == "DMM-6");
  BOOST_TEST(identity.serial_number == "DMM6-0001");
  BOOST_TEST(identity.firmware == "2.1.0");
  BOOST_TEST(scpi::parse_identity("A, B ,0,0").model == "B");
  BOOST_CHECK_THROW(scpi::parse_identity("A,B,C"), ProtocolError);
  BOOST_CHECK_THROW(scpi::parse_identity("A,B,C,D,E"), ProtocolError);
}
