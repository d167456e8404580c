// IEC 62056-21 mode C codec: messages, the baud table, identification, blocks, BCC, data
// lines, error answers. Expected bytes are written out by hand from the mode C table in
// ../shared/reference/metrology-crypto.md §5.3.
#define BOOST_TEST_MODULE test_iec62056_codec
#include <boost/test/unit_test.hpp>
#include <string>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"

namespace iec = hilbench::iec62056;
using hilbench::Bytes;
using hilbench::ProtocolError;

namespace {
Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }
/// STX data ETX BCC, the BCC computed by hand-rolled XOR here (not by the codec).
Bytes data_block(const std::string& data) {
  Bytes out{0x02};
  std::uint8_t check = 0;
  for (char c : data) {
    out.push_back(static_cast<std::uint8_t>(c));
    check ^= static_cast<std::uint8_t>(c);
  }
  out.push_back(0x03);
  check ^= 0x03;
  out.push_back(check);
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(request_and_ack_bytes) {
  BOOST_TEST(iec::encode_request("") == (Bytes{0x2F, 0x3F, 0x21, 0x0D, 0x0A}));
  BOOST_TEST(iec::encode_request("12345") == bytes_of("/?12345!\r\n"));
  BOOST_CHECK_THROW(iec::encode_request("a!b"), hilbench::ConfigError);
  BOOST_CHECK_THROW(iec::encode_request(std::string(33, '1')), hilbench::ConfigError);
  // j62056's readout ACK: 06 30 Z 30 0D 0A; V first, then Z, then Y (OmniCore swaps them).
  BOOST_TEST(iec::encode_ack('5', '0') == (Bytes{0x06, 0x30, 0x35, 0x30, 0x0D, 0x0A}));
  BOOST_TEST(iec::encode_ack('5', '1') == (Bytes{0x06, 0x30, 0x35, 0x31, 0x0D, 0x0A}));
  BOOST_CHECK_THROW(iec::encode_ack('A', '0'), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(mode_c_baud_table) {
  // '0' 300 ... '6' 19200; the j62056 defect ('1'..'4' -> 9600) must not be here.
  const int expected[] = {300, 600, 1200, 2400, 4800, 9600, 19200};
  for (int i = 0; i < 7; ++i) {
    BOOST_TEST(iec::mode_c_baud(static_cast<char>('0' + i)).value() == expected[i]);
    BOOST_TEST(iec::mode_c_character(expected[i]).value() == static_cast<char>('0' + i));
  }
  BOOST_TEST(!iec::mode_c_baud('7').has_value());
  BOOST_TEST(!iec::mode_c_baud('A').has_value());  // mode B character: not mode C
  BOOST_TEST(!iec::mode_c_character(115200).has_value());
}

BOOST_AUTO_TEST_CASE(identification_fields_and_reaction_time) {
  const auto id = iec::parse_identification(bytes_of("/HBL5EM1\r\n"));
  BOOST_TEST(id.manufacturer == "HBL");
  BOOST_TEST(id.baud_character == '5');
  BOOST_TEST(id.max_baud == 9600);
  BOOST_TEST(id.identifier == "EM1");
  BOOST_TEST(!id.reaction_20ms);
  BOOST_TEST(id.reaction_time_min().count() == 200'000'000);
  const auto fast = iec::parse_identification(bytes_of("/ISk5MT174-0001\r\n"));
  BOOST_TEST(fast.reaction_20ms);
  BOOST_TEST(fast.reaction_time_min().count() == 20'000'000);
  BOOST_TEST(fast.identifier == "MT174-0001");
  BOOST_CHECK_THROW(iec::parse_identification(bytes_of("HBL5EM1\r\n")), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_identification(bytes_of("/HB15EM1\r\n")), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_identification(bytes_of("/HBLEEM1\r\n")), ProtocolError);  // mode B
  BOOST_CHECK_THROW(iec::parse_identification(bytes_of("/HBL\r\n")), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_identification(bytes_of("/HBL5" + std::string(17, 'x') + "\r\n")),
                    ProtocolError);
  BOOST_TEST(iec::find_line_end(bytes_of("/HBL5EM1\r")).has_value() == false);
  BOOST_TEST(iec::find_line_end(bytes_of("/HBL5EM1\r\n")).value() == 10u);
}

BOOST_AUTO_TEST_CASE(bcc_is_xor_after_stx_through_etx) {
  // STX "1.8.0(1*kWh)" CRLF "!" CRLF ETX: BCC excludes STX, includes ETX.
  const Bytes message = data_block("1.8.0(1*kWh)\r\n!\r\n");
  const auto block = iec::parse_block(message);
  BOOST_TEST(block.bcc_ok());
  BOOST_TEST(block.data == "1.8.0(1*kWh)\r\n!\r\n");
  Bytes broken = message;
  broken.back() ^= 0x01;
  BOOST_TEST(!iec::parse_block(broken).bcc_ok());
  BOOST_TEST(iec::bcc(Bytes{0x41, 0x42, 0x03}) == (0x41 ^ 0x42 ^ 0x03));
}

BOOST_AUTO_TEST_CASE(block_framing) {
  const Bytes message = data_block("X");
  BOOST_TEST(!iec::find_block_end(Bytes(message.begin(), message.end() - 1)).has_value());
  BOOST_TEST(iec::find_block_end(message).value() == message.size());
  BOOST_CHECK_THROW(iec::find_block_end(bytes_of("x")), ProtocolError);
  Bytes extra = message;
  extra.push_back('z');
  BOOST_CHECK_THROW(iec::parse_block(extra), ProtocolError);
  // A command block from the device: SOH P0 STX (data) ETX BCC.
  const Bytes p0 = iec::encode_command("P0", "(12345678)");
  BOOST_TEST(p0.front() == 0x01);
  const auto block = iec::parse_block(p0);
  BOOST_TEST(block.command == "P0");
  BOOST_TEST(block.data == "(12345678)");
  BOOST_TEST(block.bcc_ok());
  const Bytes b0 = iec::encode_command("B0", std::nullopt);
  BOOST_TEST(b0 == (Bytes{0x01, 'B', '0', 0x03, static_cast<std::uint8_t>('B' ^ '0' ^ 0x03)}));
  BOOST_CHECK_THROW(iec::encode_command("XX", std::nullopt), hilbench::ConfigError);
  BOOST_CHECK_THROW(iec::encode_command("W1", std::string("a\x02") + "b"), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(data_lines_with_several_values) {
  const auto sets = iec::parse_data_block(
      "0.9.1(12:34:56)\r\n1.8.0(012345.678*kWh)\r\n1.6.0(0012.3*kW)(26-12-02 10:15)\r\n"
      "C.1.0(EM1)2.8.0(0.000*kWh)\r\n!\r\n");
  BOOST_TEST_REQUIRE(sets.size() == 5u);
  BOOST_TEST(sets[0].address == "0.9.1");
  BOOST_TEST(sets[0].values[0].value == "12:34:56");
  BOOST_TEST(sets[0].values[0].unit == "");
  BOOST_TEST(sets[1].values[0].value == "012345.678");
  BOOST_TEST(sets[1].values[0].unit == "kWh");
  BOOST_TEST(sets[2].values.size() == 2u);
  BOOST_TEST(sets[2].values[1].value == "26-12-02 10:15");
  BOOST_TEST(sets[3].address == "C.1.0");
  BOOST_TEST(sets[4].address == "2.8.0");  // a second data set on the same line
  BOOST_CHECK_THROW(iec::parse_data_block("1.8.0(1*kWh\r\n"), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_data_block("1.8.0(1)junk\r\n"), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_data_block("!\r\n1.8.0(1)\r\n"), ProtocolError);
  BOOST_CHECK_THROW(iec::parse_data_block("1.8.0(a(b)\r\n"), ProtocolError);
}

BOOST_AUTO_TEST_CASE(error_answers) {
  BOOST_TEST(iec::error_answer_code("(ER05)").value() == 5);
  BOOST_TEST(iec::error_answer_code("(ER12)\r\n").value() == 12);
  BOOST_TEST(iec::error_answer_code("(ERxy)").value() == -1);
  BOOST_TEST(!iec::error_answer_code("1.8.0(ER05)").has_value());
  BOOST_TEST(!iec::error_answer_code("(1.0)").has_value());
}
