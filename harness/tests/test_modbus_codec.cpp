// The sans-io Modbus codec: CRC vectors, RTU and MBAP framing, RTU response lengths.
#define BOOST_TEST_MODULE test_modbus_codec
#include <boost/test/unit_test.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"

namespace modbus = hilbench::modbus;
using hilbench::Bytes;
using hilbench::ProtocolError;

namespace {

Bytes ascii(const std::string& text) { return Bytes(text.begin(), text.end()); }

// A predicate for BOOST_CHECK_EXCEPTION: the message names what is wrong.
auto mentions(std::string part) {
  return [part = std::move(part)](const std::exception& error) {
    const bool found = std::string(error.what()).find(part) != std::string::npos;
    if (!found) BOOST_TEST_MESSAGE("message '" << error.what() << "' lacks '" << part << "'");
    return found;
  };
}

Bytes with_crc(Bytes frame) {
  const std::uint16_t crc = modbus::crc16(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

// A Read Device Identification RTU response carrying `objects` (id, value).
Bytes device_identification_rtu(const std::vector<std::pair<std::uint8_t, std::string>>& objects) {
  Bytes frame{0x01, 0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, static_cast<std::uint8_t>(objects.size())};
  for (const auto& [id, value] : objects) {
    frame.push_back(id);
    frame.push_back(static_cast<std::uint8_t>(value.size()));
    frame.insert(frame.end(), value.begin(), value.end());
  }
  return with_crc(frame);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crc)

BOOST_AUTO_TEST_CASE(known_vectors) {
  BOOST_TEST(modbus::crc16(Bytes{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}) == 0xCDC5);  // sent C5 CD
  BOOST_TEST(modbus::crc16(Bytes{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03}) == 0x8776);  // spec example
  BOOST_TEST(modbus::crc16(ascii("123456789")) == 0x4B37);  // CRC-16/MODBUS check value
  BOOST_TEST(modbus::crc16(Bytes{}) == 0xFFFF);             // the initial value
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtu)

BOOST_AUTO_TEST_CASE(encode_appends_crc_low_byte_first) {
  const Bytes adu = modbus::encode_rtu(0x01, {0x03, {0x00, 0x00, 0x00, 0x0A}});
  BOOST_TEST(adu == (Bytes{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(round_trips) {
  const std::vector<modbus::Pdu> pdus{
      {0x03, {0x00, 0x6B, 0x00, 0x03}},
      {0x83, {0x02}},
      {0x10, {0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}},
      {0x11, {}},
      {0x03, Bytes(252, 0xA5)},  // the largest PDU: 253 bytes
  };
  for (const std::uint8_t unit : {0x00, 0x01, 0xF7, 0xFF}) {
    for (const modbus::Pdu& pdu : pdus) {
      const auto [decoded_unit, decoded] = modbus::decode_rtu(modbus::encode_rtu(unit, pdu));
      BOOST_TEST(decoded_unit == unit);
      BOOST_TEST(decoded.function == pdu.function);
      BOOST_TEST(decoded.data == pdu.data, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_frames_are_rejected_with_a_reason) {
  BOOST_CHECK_EXCEPTION(modbus::decode_rtu(Bytes{}), ProtocolError,
                        mentions("shorter than the minimum 4"));
  BOOST_CHECK_EXCEPTION(modbus::decode_rtu(Bytes{0x01, 0x03, 0xC5}), ProtocolError,
                        mentions("3 bytes"));
  BOOST_CHECK_EXCEPTION(modbus::decode_rtu(with_crc(Bytes(255, 0x01))), ProtocolError,
                        mentions("257 bytes exceeds the maximum 256"));

  Bytes corrupted = modbus::encode_rtu(0x01, {0x03, {0x02, 0x12, 0x34}});
  corrupted[3] ^= 0x01;
  BOOST_CHECK_EXCEPTION(modbus::decode_rtu(corrupted), ProtocolError, mentions("CRC mismatch"));

  Bytes high_byte_first{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xCD, 0xC5};
  BOOST_CHECK_EXCEPTION(modbus::decode_rtu(high_byte_first), ProtocolError,
                        mentions("frame carries 0xC5CD, computed 0xCDC5"));
}

BOOST_AUTO_TEST_CASE(expected_response_lengths) {
  using Head = Bytes;
  BOOST_TEST(!modbus::expected_rtu_response_length(Head{}).has_value());
  BOOST_TEST(!modbus::expected_rtu_response_length(Head{0x01}).has_value());
  BOOST_TEST(
      !modbus::expected_rtu_response_length(Head{0x01, 0x03}).has_value());  // needs byte count
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x03, 0x14}).value() == 25U);
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x01, 0x02}).value() == 7U);
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x02, 0x00}).value() == 5U);
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x04, 0xFA}).value() == 255U);
  for (const std::uint8_t fixed : {0x05, 0x06, 0x0F, 0x10}) {
    BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, fixed}).value() == 8U);
  }
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x83}).value() == 5U);  // exception
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0xAB}).value() == 5U);
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x16}).value() == 10U);
  BOOST_TEST(modbus::expected_rtu_response_length(Head{0x01, 0x18, 0x00, 0x06}).value() == 12U);

  // Unknown lengths: the client must read until t3.5 silence instead.
  BOOST_TEST(!modbus::expected_rtu_response_length(Head{0x01, 0x08, 0x00, 0x00}).has_value());
  BOOST_TEST(!modbus::rtu_response_length_computable(Head{0x01, 0x08}));
  BOOST_TEST(!modbus::rtu_response_length_computable(Head{0x01, 0x2B, 0x0D}));  // CANopen MEI
  BOOST_TEST(modbus::rtu_response_length_computable(Head{0x01, 0x2B}));
  BOOST_TEST(modbus::rtu_response_length_computable(Head{0x01, 0x2B, 0x0E}));
  BOOST_TEST(modbus::rtu_response_length_computable(Head{0x01, 0x03}));
  BOOST_TEST(modbus::rtu_response_length_computable(Head{0x01, 0x90}));
}

BOOST_AUTO_TEST_CASE(device_identification_length_walks_the_object_headers) {
  const Bytes frame = device_identification_rtu({{0x00, "ACME"}, {0x01, "EM-1"}, {0x02, "v1.2"}});
  // Until the last object header is in, the length is unknown; from then on it is exact.
  const std::size_t last_header_end = 8 + 6 + 6 + 2;
  for (std::size_t size = 0; size < frame.size(); ++size) {
    const auto expected = modbus::expected_rtu_response_length(std::span(frame).first(size));
    if (size < last_header_end) {
      BOOST_TEST(!expected.has_value(), "head of " << size << " bytes");
    } else {
      BOOST_TEST(expected.value() == frame.size(), "head of " << size << " bytes");
    }
  }
  const Bytes empty = device_identification_rtu({});
  BOOST_TEST(modbus::expected_rtu_response_length(empty).value() == empty.size());
}

BOOST_AUTO_TEST_CASE(device_identification_length_stops_at_an_oversized_announcement) {
  // Two objects announcing 200 bytes each can never fit a 256-byte ADU: the length is
  // reported as soon as it is known to be too long, without the rest of the frame.
  Bytes head{0x01, 0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x02, 0x00, 200};
  head.resize(head.size() + 200, 'x');
  head.insert(head.end(), {0x01, 200});
  BOOST_TEST(modbus::expected_rtu_response_length(head).value() > 256U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tcp)

BOOST_AUTO_TEST_CASE(encode_writes_the_mbap_header) {
  const Bytes adu = modbus::encode_tcp(0x1234, 0x11, {0x03, {0x00, 0x6B, 0x00, 0x03}});
  BOOST_TEST(adu == (Bytes{0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(round_trips) {
  for (const std::uint16_t transaction_id : {0x0000, 0x0001, 0x8000, 0xFFFF}) {
    const modbus::Pdu pdu{0x04, {0x02, 0xBE, 0xEF}};
    const modbus::TcpAdu decoded =
        modbus::decode_tcp(modbus::encode_tcp(transaction_id, 0xFF, pdu));
    BOOST_TEST(decoded.transaction_id == transaction_id);
    BOOST_TEST(decoded.unit == 0xFF);
    BOOST_TEST(decoded.pdu.function == pdu.function);
    BOOST_TEST(decoded.pdu.data == pdu.data, boost::test_tools::per_element());
  }
  const Bytes largest = modbus::encode_tcp(7, 1, {0x03, Bytes(252, 0x5A)});
  BOOST_TEST(largest.size() == 260U);
  BOOST_TEST(modbus::decode_tcp(largest).pdu.data.size() == 252U);
}

BOOST_AUTO_TEST_CASE(malformed_frames_are_rejected_with_a_reason) {
  const Bytes good = modbus::encode_tcp(1, 1, {0x03, {0x02, 0x00, 0x01}});

  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(std::span(good).first(7)), ProtocolError,
                        mentions("7 bytes is shorter than the minimum 8"));
  Bytes bad_protocol = good;
  bad_protocol[3] = 0x01;
  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(bad_protocol), ProtocolError,
                        mentions("protocol id is 1"));
  Bytes length_too_small = good;
  length_too_small[5] = 0x04;
  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(length_too_small), ProtocolError,
                        mentions("length field says 4 bytes follow, frame has 5"));
  Bytes length_too_large = good;
  length_too_large[4] = 0x01;
  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(length_too_large), ProtocolError, mentions("says 261"));
  Bytes truncated = good;
  truncated.pop_back();
  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(truncated), ProtocolError, mentions("frame has 4"));
  const Bytes oversized = modbus::encode_tcp(1, 1, {0x03, Bytes(253, 0)});  // 261 bytes
  BOOST_CHECK_EXCEPTION(modbus::decode_tcp(oversized), ProtocolError,
                        mentions("261 bytes exceeds the maximum 260"));
}

BOOST_AUTO_TEST_CASE(encode_refuses_what_the_length_field_cannot_carry) {
  BOOST_CHECK_THROW(modbus::encode_tcp(1, 1, {0x10, Bytes(65534, 0)}), std::invalid_argument);
  BOOST_TEST(modbus::encode_tcp(1, 1, {0x10, Bytes(65533, 0)}).size() == 65533U + 8U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(exception_names) {
  BOOST_TEST(modbus::exception_name(0x01) == "ILLEGAL FUNCTION");
  BOOST_TEST(modbus::exception_name(0x02) == "ILLEGAL DATA ADDRESS");
  BOOST_TEST(modbus::exception_name(0x03) == "ILLEGAL DATA VALUE");
  BOOST_TEST(modbus::exception_name(0x04) == "SERVER DEVICE FAILURE");
  BOOST_TEST(modbus::exception_name(0x06) == "SERVER DEVICE BUSY");
  BOOST_TEST(modbus::exception_name(0x0B) == "GATEWAY TARGET DEVICE FAILED TO RESPOND");
  BOOST_TEST(modbus::exception_name(0x07) == "UNKNOWN");
  BOOST_TEST(modbus::exception_name(0x00) == "UNKNOWN");
}

BOOST_AUTO_TEST_CASE(random_bytes_never_escape_as_anything_but_protocol_errors) {
  // Decoders face whatever a device sends: any input either decodes or is a ProtocolError.
  std::mt19937 random(20260101);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> size(0, 300);
  for (int round = 0; round < 20000; ++round) {
    Bytes input(size(random));
    for (auto& value : input) value = static_cast<std::uint8_t>(byte(random));
    if (round % 2 == 0 && input.size() >= 2) input[1] = 0x2B;  // exercise the object walk
    if (round % 4 == 0 && input.size() >= 3) input[2] = 0x0E;
    try {
      (void)modbus::decode_rtu(input);
    } catch (const ProtocolError&) {
    }
    try {
      (void)modbus::decode_tcp(input);
    } catch (const ProtocolError&) {
    }
    for (std::size_t head = 0; head <= input.size(); head += 7) {
      (void)modbus::expected_rtu_response_length(std::span(input).first(head));
      (void)modbus::rtu_response_length_computable(std::span(input).first(head));
    }
  }
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(rtu_frame_silence_follows_the_line_settings) {
  hilbench::LineSettings slow;  // 9600 8N2: 11 bits
  slow.baud = 9600;
  slow.stop_bits = 2;
  BOOST_TEST(hilbench::character_time(slow).count() == 11LL * 1'000'000'000 / 9600);
  BOOST_TEST(hilbench::modbus::rtu_frame_silence(slow).count() ==
             hilbench::character_time(slow).count() * 7 / 2);
  hilbench::LineSettings fast;
  fast.baud = 38400;
  BOOST_TEST((hilbench::modbus::rtu_frame_silence(fast) == std::chrono::microseconds(1750)));
  hilbench::LineSettings limit;  // t3.5 still computed at 19200
  limit.baud = 19200;
  BOOST_TEST(hilbench::modbus::rtu_frame_silence(limit).count() ==
             10LL * 1'000'000'000 / 19200 * 7 / 2);
}
