// The emulator's Modbus server engine, sans-io: every function code, every exception, the
// RTU and MBAP framing rules, FC43 splitting, and each defect knob flipping exactly its
// behaviour.
#define BOOST_TEST_MODULE modbus_server
#include <array>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <string>

#include "common/tests/test_paths.hpp"
#include "meter/modbus_server.hpp"
#include "meter/profile.hpp"
#include "modbus_frames.hpp"

using namespace hilbench::emu;
using namespace hilbench::emu::meter;
using emulator_test::em1_path;
using emulator_test::mbap;
using emulator_test::with_crc;

namespace {

// EM-1 map (devices/profiles/em1-meter.toml):
//   input   0..4 u16 (2301, 2298, 2304, 5012, 5000), 10..11 u32 12345678
//   holding 0..4 u16 writable (1, 15, 1, 0, 1000), 5..6 u32 20261125, 7..9 u16 read-only
//   coils 0 (on), 1 (off) writable; discrete inputs 0, 1 (off)
ModbusServer em1(const std::vector<DefectId>& defects = {}) {
  DeviceProfile profile = load_profile(em1_path);
  for (DefectId defect : defects) profile.defects.set(defect);
  return ModbusServer(std::move(profile));
}

// Extra shapes the EM-1 map lacks: signed and float values, a writable u32, a read-only coil.
const std::string shapes_profile = R"(
schema = 1
[device]
kind = "meter"
name = "shapes"
unit = 9
[identity]
vendor = "v"
product_code = "p"
revision = "9"
[limits]
max_read_registers = 10
max_read_bits = 16
[[registers]]
table = "holding"
address = 0
name = "counter"
type = "u32"
value = 65535
writable = true
[[registers]]
table = "input"
address = 0
name = "offset"
type = "i16"
value = -1
[[registers]]
table = "input"
address = 1
name = "delta"
type = "i32"
value = -1
[[registers]]
table = "input"
address = 3
name = "ratio"
type = "f32"
value = 1.5
[[registers]]
table = "input"
address = 5
name = "wrap"
type = "u32"
value = 4294967295
[[coils]]
address = 0
name = "locked"
value = false
[[coils]]
address = 1
name = "free"
value = false
writable = true
[[discrete_inputs]]
address = 0
name = "d0"
value = true
)";

ModbusServer shapes(const std::vector<DefectId>& defects = {}) {
  DeviceProfile profile = parse_profile(shapes_profile, "shapes.toml");
  for (DefectId defect : defects) profile.defects.set(defect);
  return ModbusServer(std::move(profile));
}

Bytes ask(ModbusServer& server, const Bytes& pdu, Interface via = Interface::rtu) {
  auto reply = server.handle_pdu(pdu, via);
  BOOST_REQUIRE_MESSAGE(reply.has_value(), "no reply");
  return *reply;
}

void expect_exception(ModbusServer& server, const Bytes& pdu, std::uint8_t code) {
  BOOST_TEST_CONTEXT("request function " << int(pdu.empty() ? 0 : pdu[0])) {
    const Bytes reply = ask(server, pdu);
    BOOST_TEST(reply == (Bytes{static_cast<std::uint8_t>(pdu[0] | 0x80), code}),
               boost::test_tools::per_element());
  }
}

Bytes read_request(std::uint8_t function, std::uint16_t address, std::uint16_t quantity) {
  return Bytes{function, static_cast<std::uint8_t>(address >> 8),
               static_cast<std::uint8_t>(address & 0xFF), static_cast<std::uint8_t>(quantity >> 8),
               static_cast<std::uint8_t>(quantity & 0xFF)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reads)

BOOST_AUTO_TEST_CASE(fc1_read_coils) {
  auto server = em1();
  BOOST_TEST(ask(server, read_request(1, 0, 2)) == (Bytes{1, 1, 0b01}),
             boost::test_tools::per_element());
  expect_exception(server, read_request(1, 0, 3), 2);  // coil 2 unmapped
  expect_exception(server, read_request(1, 0, 0), 3);
  expect_exception(server, read_request(1, 0, 2001), 3);  // checked before the address
  expect_exception(server, Bytes{1, 0, 0, 0}, 3);         // truncated PDU
}

BOOST_AUTO_TEST_CASE(fc2_read_discrete_inputs) {
  auto server = shapes();
  BOOST_TEST(ask(server, read_request(2, 0, 1)) == (Bytes{2, 1, 1}),
             boost::test_tools::per_element());
  expect_exception(server, read_request(2, 1, 1), 2);
  expect_exception(server, read_request(2, 0, 17), 3);  // limits.max_read_bits = 16
  auto meter = em1();
  BOOST_TEST(ask(meter, read_request(2, 0, 2)) == (Bytes{2, 1, 0}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bits_pack_lsb_first_over_several_bytes) {
  DeviceProfile profile = parse_profile(shapes_profile, "shapes.toml");
  profile.coils.clear();
  for (std::uint16_t address = 0; address < 10; ++address)
    profile.coils.push_back(
        BitSpec{address, "c" + std::to_string(address), address % 3 == 0, true});
  ModbusServer server(std::move(profile));
  // coils 0, 3, 6, 9 on -> 0b01001001, 0b10
  BOOST_TEST(ask(server, read_request(1, 0, 10)) == (Bytes{1, 2, 0x49, 0x02}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fc3_read_holding_registers) {
  auto server = em1();
  BOOST_TEST(ask(server, read_request(3, 0, 10)) ==
                 (Bytes{3,    20,   0,    1,    0,    15,   0,    1, 0, 0, 0x03,
                        0xE8, 0x01, 0x35, 0x29, 0x05, 0xBA, 0xBE, 0, 1, 0, 4}),
             boost::test_tools::per_element());
  expect_exception(server, read_request(3, 0, 11), 2);  // 10 is unmapped
  expect_exception(server, read_request(3, 5, 1), 2);   // high half of the u32
  expect_exception(server, read_request(3, 6, 2), 2);   // low half of the u32 + next
  expect_exception(server, read_request(3, 4, 2), 2);   // ends inside the u32
  BOOST_TEST(ask(server, read_request(3, 5, 2)).size() == 6u);
  expect_exception(server, read_request(3, 100, 1), 2);
  expect_exception(server, read_request(3, 0xFFFF, 2), 2);  // runs past the address space
  expect_exception(server, read_request(3, 0, 0), 3);
  expect_exception(server, read_request(3, 0, 126), 3);  // before the address check
  expect_exception(server, Bytes{3, 0, 0, 0, 1, 0}, 3);  // PDU too long
}

BOOST_AUTO_TEST_CASE(fc3_quantity_limit_comes_from_the_profile) {
  auto server = shapes();  // limits.max_read_registers = 10
  expect_exception(server, read_request(3, 0, 11), 3);
  expect_exception(server, read_request(3, 0, 10), 2);  // in range, but unmapped
}

BOOST_AUTO_TEST_CASE(fc4_read_input_registers) {
  auto server = em1();
  BOOST_TEST(ask(server, read_request(4, 0, 5)) ==
                 (Bytes{4, 10, 0x08, 0xFD, 0x08, 0xFA, 0x09, 0x00, 0x13, 0x94, 0x13, 0x88}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(4, 10, 2)) == (Bytes{4, 4, 0x00, 0xBC, 0x61, 0x4E}),
             boost::test_tools::per_element());
  expect_exception(server, read_request(4, 4, 7), 2);   // 5..9 unmapped
  expect_exception(server, read_request(4, 11, 1), 2);  // half a u32
  expect_exception(server, read_request(4, 0, 126), 3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(writes)

BOOST_AUTO_TEST_CASE(fc5_write_single_coil) {
  auto server = em1();
  const Bytes off{5, 0, 0, 0x00, 0x00};
  BOOST_TEST(ask(server, off) == off, boost::test_tools::per_element());  // echo
  BOOST_TEST(server.coil(0).value() == false);
  const Bytes on{5, 0, 1, 0xFF, 0x00};
  BOOST_TEST(ask(server, on) == on, boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(1, 0, 2)) == (Bytes{1, 1, 0b10}),
             boost::test_tools::per_element());
  expect_exception(server, Bytes{5, 0, 0, 0x12, 0x34}, 3);
  expect_exception(server, Bytes{5, 0, 9, 0x12, 0x34}, 3);  // value checked before address
  expect_exception(server, Bytes{5, 0, 9, 0xFF, 0x00}, 2);
  auto shaped = shapes();
  expect_exception(shaped, Bytes{5, 0, 0, 0xFF, 0x00}, 2);  // read-only coil
  BOOST_TEST(shaped.coil(0).value() == false);
}

BOOST_AUTO_TEST_CASE(fc6_write_single_register) {
  auto server = em1();
  const Bytes write{6, 0, 1, 0, 30};
  BOOST_TEST(ask(server, write) == write, boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(3, 1, 1)) == (Bytes{3, 2, 0, 30}),
             boost::test_tools::per_element());
  expect_exception(server, Bytes{6, 0, 7, 0, 1}, 2);    // config_checksum is read-only
  expect_exception(server, Bytes{6, 0, 5, 0, 1}, 2);    // read-only u32
  expect_exception(server, Bytes{6, 0, 100, 0, 1}, 2);  // unmapped
  expect_exception(server, Bytes{6, 0, 1, 0}, 3);       // truncated
  BOOST_TEST(server.register_word(RegisterTable::holding, 7).value() == 47806);
  auto shaped = shapes();
  expect_exception(shaped, Bytes{6, 0, 0, 0, 1}, 2);  // one half of a writable u32 would tear it
}

BOOST_AUTO_TEST_CASE(fc15_write_multiple_coils) {
  auto server = em1();
  BOOST_TEST(ask(server, Bytes{15, 0, 0, 0, 2, 1, 0b10}) == (Bytes{15, 0, 0, 0, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(server.coil(0).value() == false);
  BOOST_TEST(server.coil(1).value() == true);
  expect_exception(server, Bytes{15, 0, 0, 0, 0, 0}, 3);        // quantity 0
  expect_exception(server, Bytes{15, 0, 0, 0, 2, 2, 0, 0}, 3);  // byte count != ceil(2/8)
  expect_exception(server, Bytes{15, 0, 0, 0, 2, 1}, 3);        // data missing
  expect_exception(server, Bytes{15, 0, 0, 0, 2, 1, 0, 0}, 3);  // trailing byte
  Bytes too_many{15, 0, 0, 0x07, 0xB1, 247};                    // 1969 coils
  too_many.resize(6 + 247, 0);
  expect_exception(server, too_many, 3);
  expect_exception(server, Bytes{15, 0, 0, 0, 3, 1, 0b111}, 2);  // coil 2 unmapped
  BOOST_TEST(server.coil(0).value() == false);                   // a rejected write changes nothing
  auto shaped = shapes();
  expect_exception(shaped, Bytes{15, 0, 0, 0, 2, 1, 0b11}, 2);  // coil 0 read-only
  BOOST_TEST(shaped.coil(1).value() == false);
}

BOOST_AUTO_TEST_CASE(fc16_write_multiple_registers) {
  auto server = em1();
  BOOST_TEST(ask(server, Bytes{16, 0, 1, 0, 2, 4, 0, 60, 0, 2}) == (Bytes{16, 0, 1, 0, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(3, 0, 3)) == (Bytes{3, 6, 0, 1, 0, 60, 0, 2}),
             boost::test_tools::per_element());
  expect_exception(server, Bytes{16, 0, 1, 0, 2, 3, 0, 60, 0}, 3);  // byte count != 2 * quantity
  expect_exception(server, Bytes{16, 0, 1, 0, 2, 4, 0, 60}, 3);     // data missing
  expect_exception(server, Bytes{16, 0, 1, 0, 0, 0}, 3);            // quantity 0
  Bytes too_many{16, 0, 0, 0, 124, 248};
  too_many.resize(6 + 248, 0);
  expect_exception(server, too_many, 3);
  expect_exception(server, Bytes{16, 0, 5, 0, 2, 4, 0, 1, 0, 2}, 2);         // read-only u32
  expect_exception(server, Bytes{16, 0, 3, 0, 3, 6, 0, 7, 0, 7, 0, 7}, 2);   // ends inside it
  BOOST_TEST(server.register_word(RegisterTable::holding, 3).value() == 0);  // nothing written
  BOOST_TEST(server.register_word(RegisterTable::holding, 4).value() == 1000);
  expect_exception(server, Bytes{16, 0, 50, 0, 1, 2, 0, 1}, 2);  // unmapped
  auto shaped = shapes();
  BOOST_TEST(ask(shaped, Bytes{16, 0, 0, 0, 2, 4, 0x12, 0x34, 0x56, 0x78}).size() == 5u);
  BOOST_TEST(ask(shaped, read_request(3, 0, 2)) == (Bytes{3, 4, 0x12, 0x34, 0x56, 0x78}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(unsupported_functions_get_exception_01) {
  auto server = em1();
  for (std::uint8_t function : {0x07, 0x08, 0x0B, 0x11, 0x14, 0x16, 0x17, 0x18, 0x2A, 0x41, 0x7F})
    expect_exception(server, Bytes{function, 0, 0, 0, 1}, 1);
  expect_exception(server, Bytes{0x2B, 0x0D, 0, 0}, 1);  // MEI type other than 14
  BOOST_TEST(!server.handle_pdu(Bytes{}, Interface::rtu).has_value());
}

BOOST_AUTO_TEST_SUITE(device_identification)

struct IdentificationAnswer {
  std::uint8_t read_code, conformity, more_follows, next_object;
  std::vector<std::pair<std::uint8_t, std::string>> objects;
};

IdentificationAnswer decode(const Bytes& reply) {
  BOOST_REQUIRE_GE(reply.size(), 7u);
  BOOST_REQUIRE_EQUAL(reply[0], 0x2B);
  BOOST_REQUIRE_EQUAL(reply[1], 0x0E);
  IdentificationAnswer answer{reply[2], reply[3], reply[4], reply[5], {}};
  std::size_t at = 7;
  for (unsigned index = 0; index < reply[6]; ++index) {
    BOOST_REQUIRE_LE(at + 2, reply.size());
    const std::size_t length = reply[at + 1];
    BOOST_REQUIRE_LE(at + 2 + length, reply.size());
    answer.objects.emplace_back(
        reply[at], std::string(reply.begin() + at + 2, reply.begin() + at + 2 + length));
    at += 2 + length;
  }
  BOOST_TEST(at == reply.size());
  return answer;
}

std::vector<std::uint8_t> ids(const IdentificationAnswer& answer) {
  std::vector<std::uint8_t> list;
  for (const auto& object : answer.objects) list.push_back(object.first);
  return list;
}

BOOST_AUTO_TEST_CASE(categories_and_individual_access) {
  auto server = em1();
  const auto basic = decode(ask(server, Bytes{0x2B, 0x0E, 1, 0}));
  BOOST_TEST(basic.conformity == 0x83);
  BOOST_TEST(basic.more_follows == 0);
  BOOST_TEST(basic.next_object == 0);
  BOOST_TEST(ids(basic) == (std::vector<std::uint8_t>{0, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST(basic.objects[0].second == "hilbench");
  BOOST_TEST(basic.objects[1].second == "HB-EM1");
  BOOST_TEST(basic.objects[2].second == "1.4.2");
  BOOST_TEST(ids(decode(ask(server, Bytes{0x2B, 0x0E, 2, 0}))) ==
                 (std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  const auto extended = decode(ask(server, Bytes{0x2B, 0x0E, 3, 0}));
  BOOST_TEST(ids(extended) == (std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5, 0x80}),
             boost::test_tools::per_element());
  BOOST_TEST(extended.objects.back().second == "EM1-2026-000123");
  // A stream may start further on; an unknown start object restarts at object 0.
  BOOST_TEST(
      ids(decode(ask(server, Bytes{0x2B, 0x0E, 3, 4}))) == (std::vector<std::uint8_t>{4, 5, 0x80}),
      boost::test_tools::per_element());
  BOOST_TEST(
      ids(decode(ask(server, Bytes{0x2B, 0x0E, 1, 5}))) == (std::vector<std::uint8_t>{0, 1, 2}),
      boost::test_tools::per_element());
  const auto single = decode(ask(server, Bytes{0x2B, 0x0E, 4, 0x80}));
  BOOST_TEST(single.read_code == 4);
  BOOST_TEST(ids(single) == std::vector<std::uint8_t>{0x80}, boost::test_tools::per_element());
  expect_exception(server, Bytes{0x2B, 0x0E, 4, 0x06}, 2);  // no user application name
  expect_exception(server, Bytes{0x2B, 0x0E, 4, 0x81}, 2);
  expect_exception(server, Bytes{0x2B, 0x0E, 0, 0}, 3);
  expect_exception(server, Bytes{0x2B, 0x0E, 5, 0}, 3);
  expect_exception(server, Bytes{0x2B, 0x0E, 1}, 3);
}

BOOST_AUTO_TEST_CASE(optional_objects_are_absent_when_not_declared) {
  auto server = shapes();
  BOOST_TEST(
      ids(decode(ask(server, Bytes{0x2B, 0x0E, 3, 0}))) == (std::vector<std::uint8_t>{0, 1, 2}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(long_answers_are_split_with_more_follows) {
  DeviceProfile profile = load_profile(em1_path);
  profile.identity.vendor = std::string(100, 'v');
  profile.identity.product_code = std::string(100, 'p');
  profile.identity.revision = std::string(90, 'r');
  profile.identity.vendor_url = std::string(244, 'u');  // a whole response on its own
  profile.identity.product_name = std::string(60, 'n');
  profile.identity.model = std::string(60, 'm');
  profile.identity.serial_number = std::string(60, 's');
  ModbusServer server(profile);

  std::vector<std::vector<std::uint8_t>> batches;
  std::map<std::uint8_t, std::string> collected;
  std::uint8_t next = 0;
  for (int round = 0; round < 10; ++round) {
    const Bytes reply = ask(server, Bytes{0x2B, 0x0E, 3, next});
    BOOST_TEST(reply.size() <= max_pdu_size);
    const auto answer = decode(reply);
    BOOST_REQUIRE(!answer.objects.empty());
    batches.push_back(ids(answer));
    for (const auto& [id, value] : answer.objects) collected[id] = value;
    if (answer.more_follows == 0) {
      BOOST_TEST(answer.next_object == 0);
      break;
    }
    BOOST_TEST(answer.more_follows == 0xFF);
    BOOST_TEST(answer.next_object ==
               answer.objects.back().first + (answer.objects.back().first == 5 ? 0x7B : 1));
    next = answer.next_object;
  }
  // 7 + (102 + 102) fits, + 92 does not; 92 alone, + 246 does not; 246; then 62 * 3.
  BOOST_TEST(batches.size() == 4u);
  BOOST_TEST(batches[0] == (std::vector<std::uint8_t>{0, 1}), boost::test_tools::per_element());
  BOOST_TEST(batches[1] == (std::vector<std::uint8_t>{2}), boost::test_tools::per_element());
  BOOST_TEST(batches[2] == (std::vector<std::uint8_t>{3}), boost::test_tools::per_element());
  BOOST_TEST(batches[3] == (std::vector<std::uint8_t>{4, 5, 0x80}),
             boost::test_tools::per_element());
  BOOST_TEST(collected.size() == 7u);
  BOOST_TEST(collected[0x03] == profile.identity.vendor_url);
  BOOST_TEST(collected[0x80] == profile.identity.serial_number);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtu)

BOOST_AUTO_TEST_CASE(crc_matches_the_spec_example) {
  // Modbus over Serial Line, classic example: 01 03 00 00 00 0A -> CRC bytes C5 CD.
  const Bytes frame{1, 3, 0, 0, 0, 0x0A};
  BOOST_TEST(crc16_modbus(frame) == 0xCDC5);
}

BOOST_AUTO_TEST_CASE(answers_its_own_address_with_a_crc) {
  auto server = em1();
  auto reply = server.handle_rtu_frame(with_crc({1, 3, 0, 1, 0, 1}));
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(*reply == with_crc({1, 3, 2, 0, 15}), boost::test_tools::per_element());
  auto exception = server.handle_rtu_frame(with_crc({1, 3, 0, 50, 0, 1}));
  BOOST_REQUIRE(exception.has_value());
  BOOST_TEST(*exception == with_crc({1, 0x83, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(silence_rules) {
  auto server = em1();
  Bytes corrupted = with_crc({1, 3, 0, 1, 0, 1});
  corrupted.back() ^= 0x01;
  BOOST_TEST(!server.handle_rtu_frame(corrupted).has_value());
  BOOST_TEST(!server.handle_rtu_frame(with_crc({2, 3, 0, 1, 0, 1})).has_value());  // other unit
  BOOST_TEST(!server.handle_rtu_frame(with_crc({247, 3, 0, 1, 0, 1})).has_value());
  BOOST_TEST(!server.handle_rtu_frame(Bytes{1, 3, 0}).has_value());  // too short
  BOOST_TEST(!server.handle_rtu_frame(Bytes{}).has_value());
  BOOST_TEST(!server.handle_rtu_frame(with_crc({1})).has_value());                 // 3 bytes
  BOOST_TEST(!server.handle_rtu_frame(with_crc({0, 3, 0, 1, 0, 1})).has_value());  // broadcast read
}

BOOST_AUTO_TEST_CASE(broadcast_writes_execute_without_a_reply) {
  auto server = em1();
  BOOST_TEST(!server.handle_rtu_frame(with_crc({0, 6, 0, 2, 0, 3})).has_value());
  BOOST_TEST(server.register_word(RegisterTable::holding, 2).value() == 3);
  BOOST_TEST(!server.handle_rtu_frame(with_crc({0, 5, 0, 1, 0xFF, 0})).has_value());
  BOOST_TEST(server.coil(1).value() == true);
  BOOST_TEST(!server.handle_rtu_frame(with_crc({0, 16, 0, 3, 0, 1, 2, 0, 9})).has_value());
  BOOST_TEST(server.register_word(RegisterTable::holding, 3).value() == 9);
  BOOST_TEST(!server.handle_rtu_frame(with_crc({0, 15, 0, 0, 0, 1, 1, 0})).has_value());
  BOOST_TEST(server.coil(0).value() == false);
}

BOOST_AUTO_TEST_CASE(timing_follows_the_serial_settings) {
  using namespace std::chrono;
  const auto t19200 = rtu_timing(SerialSettings{19200, 8, Parity::none, 1});
  BOOST_TEST(t19200.character_time.count() == 520833);  // 10 bits
  BOOST_TEST(t19200.frame_silence.count() == 1822915);
  const auto t9600e = rtu_timing(SerialSettings{9600, 8, Parity::even, 1});
  BOOST_TEST(t9600e.character_time.count() == 1145833);  // 11 bits
  BOOST_TEST(t9600e.frame_silence.count() == 4010415);
  const auto fast = rtu_timing(SerialSettings{115200, 8, Parity::none, 1});
  BOOST_TEST(fast.frame_silence == nanoseconds{microseconds{1750}});
  BOOST_TEST(fast.character_gap == nanoseconds{microseconds{750}});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tcp)

BOOST_AUTO_TEST_CASE(mbap_reply_echoes_transaction_and_unit) {
  auto server = em1();
  auto reply = server.handle_tcp_frame(mbap(0xBEEF, 1, read_request(3, 0, 2)));
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(*reply == (Bytes{0xBE, 0xEF, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 15}),
             boost::test_tools::per_element());
  auto any_unit = server.handle_tcp_frame(mbap(7, 0xFF, read_request(3, 0, 1)));
  BOOST_REQUIRE(any_unit.has_value());
  BOOST_TEST((*any_unit)[6] == 0xFF);
  auto exception = server.handle_tcp_frame(mbap(8, 1, Bytes{0x08, 0, 0, 0, 0}));
  BOOST_REQUIRE(exception.has_value());
  BOOST_TEST(*exception == (Bytes{0, 8, 0, 0, 0, 3, 1, 0x88, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mbap_frames_that_are_dropped) {
  auto server = em1();
  BOOST_TEST(
      !server.handle_tcp_frame(mbap(1, 2, read_request(3, 0, 1))).has_value());  // other unit
  BOOST_TEST(!server.handle_tcp_frame(mbap(1, 0, read_request(3, 0, 1))).has_value());  // unit 0
  BOOST_TEST(
      !server.handle_tcp_frame(mbap(1, 1, read_request(3, 0, 1), 1)).has_value());  // protocol 1
  Bytes wrong_length = mbap(1, 1, read_request(3, 0, 1));
  wrong_length[5] += 1;
  BOOST_TEST(!server.handle_tcp_frame(wrong_length).has_value());
  BOOST_TEST(!server.handle_tcp_frame(Bytes{0, 1, 0, 0, 0, 1, 1}).has_value());  // no PDU
}

BOOST_AUTO_TEST_CASE(stream_decoder_reassembles_frames) {
  MbapStreamDecoder decoder;
  const Bytes first = mbap(1, 1, read_request(3, 0, 1));
  const Bytes second = mbap(2, 1, read_request(4, 0, 1));
  for (std::size_t index = 0; index + 1 < first.size(); ++index) {
    decoder.append(std::span(first).subspan(index, 1));
    BOOST_TEST((decoder.next().status == MbapStreamDecoder::Status::incomplete));
    BOOST_TEST(decoder.has_partial_frame());
  }
  Bytes rest{first.back()};
  rest.insert(rest.end(), second.begin(), second.end());
  decoder.append(rest);
  auto one = decoder.next();
  BOOST_REQUIRE((one.status == MbapStreamDecoder::Status::frame));
  BOOST_TEST(one.frame == first, boost::test_tools::per_element());
  auto two = decoder.next();
  BOOST_REQUIRE((two.status == MbapStreamDecoder::Status::frame));
  BOOST_TEST(two.frame == second, boost::test_tools::per_element());
  BOOST_TEST((decoder.next().status == MbapStreamDecoder::Status::incomplete));
  BOOST_TEST(!decoder.has_partial_frame());
}

BOOST_AUTO_TEST_CASE(stream_decoder_rejects_bad_headers_early) {
  {
    MbapStreamDecoder decoder;
    decoder.append(Bytes{0, 1, 0, 5});  // protocol id 5, nothing else needed to know
    auto result = decoder.next();
    BOOST_TEST((result.status == MbapStreamDecoder::Status::malformed));
    BOOST_TEST(result.problem.find("protocol id 5") != std::string::npos);
  }
  {
    MbapStreamDecoder decoder;
    decoder.append(Bytes{0, 1, 0, 0, 0x00, 0xFF});  // length 255 > 254
    BOOST_TEST((decoder.next().status == MbapStreamDecoder::Status::malformed));
  }
  {
    MbapStreamDecoder decoder;
    decoder.append(Bytes{0, 1, 0, 0, 0x00, 0x01});  // unit id only, no function code
    BOOST_TEST((decoder.next().status == MbapStreamDecoder::Status::malformed));
  }
  {
    MbapStreamDecoder decoder;  // the largest legal frame passes
    Bytes pdu{0x10};
    pdu.resize(253, 0);
    decoder.append(mbap(1, 1, pdu));
    BOOST_TEST((decoder.next().status == MbapStreamDecoder::Status::frame));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(tcp_and_rtu_share_one_register_state) {
  auto server = em1();
  BOOST_REQUIRE(server.handle_tcp_frame(mbap(1, 1, Bytes{6, 0, 3, 0, 2})).has_value());
  auto reply = server.handle_rtu_frame(with_crc({1, 3, 0, 3, 0, 1}));
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(*reply == with_crc({1, 3, 2, 0, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE(defects)

// Requests that each probe one behaviour a defect may change; a defect must change the
// answer to its own probe and to no other.
struct Probe {
  std::string name;
  Bytes frame;
  bool tcp;
  Bytes followup = {};    ///< an RTU frame sent next (state probes: does a write stick?)
  std::size_t times = 1;  ///< `frame` is sent this many times (bursts)
};

std::vector<Probe> probes() {
  return {
      {"unmapped read", with_crc({1, 3, 0, 20, 0, 1}), false},
      {"unsupported function", with_crc({1, 8, 0, 0, 0, 0}), false},
      {"quantity 126", with_crc({1, 3, 0, 0, 0, 126}), false},
      {"bad crc", Bytes{1, 3, 0, 0, 0, 1, 0x12, 0x34}, false},
      {"device id", with_crc({1, 0x2B, 0x0E, 1, 0}), false},
      {"tcp input registers", mbap(1, 1, read_request(4, 0, 5)), true},
      {"rtu input registers", with_crc({1, 4, 0, 0, 0, 5}), false},
      {"tcp event log", mbap(1, 1, read_request(4, 100, 3)), true},
      {"rtu event log", with_crc({1, 4, 0, 100, 0, 3}), false},
      {"tcp holding registers", mbap(1, 1, read_request(3, 0, 5)), true},
      {"valid write", with_crc({1, 6, 0, 1, 0, 9}), false},
      {"read-only write", with_crc({1, 6, 0, 7, 0, 9}), false},
      {"other unit", with_crc({2, 3, 0, 0, 0, 1}), false},
      {"range crossing the end", with_crc({1, 3, 0, 9, 0, 2}), false},
      {"quantity 0", with_crc({1, 3, 0, 0, 0, 0}), false},
      {"byte count mismatch", with_crc({1, 0x10, 0, 1, 0, 1, 4, 0, 15, 0, 0}), false},
      {"8 bits", with_crc({1, 2, 0, 0, 0, 8}), false},
      {"fc16 stored", with_crc({1, 0x10, 0, 1, 0, 1, 2, 0, 9}), false,
       with_crc({1, 3, 0, 1, 0, 1})},
      {"holding u32", with_crc({1, 3, 0, 5, 0, 2}), false},
      {"transaction id 0x8001", mbap(0x8001, 1, read_request(3, 0, 1)), true},
      {"unit 0xFF", mbap(1, 0xFF, read_request(3, 0, 1)), true},
      {"broadcast", with_crc({0, 6, 0, 1, 0, 9}), false},
      {"bad crc write", Bytes{1, 6, 0, 1, 0, 9, 0x12, 0x34}, false, with_crc({1, 3, 0, 1, 0, 1})},
      {"noise burst", Bytes{0x55, 0xAA, 0x01, 0x99, 0x12}, false, with_crc({1, 3, 0, 0, 0, 1}), 3},
  };
}

std::map<std::string, std::optional<Bytes>> answers(const std::vector<DefectId>& defects) {
  std::map<std::string, std::optional<Bytes>> result;
  for (const Probe& probe : probes()) {
    auto server = em1(defects);  // fresh state for every probe
    for (std::size_t i = 0; i < probe.times; ++i)
      result[probe.name] =
          probe.tcp ? server.handle_tcp_frame(probe.frame) : server.handle_rtu_frame(probe.frame);
    if (!probe.followup.empty()) {
      auto after = server.handle_rtu_frame(probe.followup);
      Bytes both = result[probe.name].value_or(Bytes{});
      both.push_back(0xEE);  // separator
      if (after) both.insert(both.end(), after->begin(), after->end());
      result[probe.name] = both;
    }
  }
  return result;
}

BOOST_AUTO_TEST_CASE(each_defect_changes_exactly_its_behaviour) {
  const auto baseline = answers({});
  using Names = std::set<std::string>;
  const std::map<DefectId, Names> expected_change{
      // The older, broader knobs also break the narrower probes of their own claim.
      {meter_defect("illegal_address_returns_data"), {"unmapped read", "range crossing the end"}},
      {meter_defect("illegal_function_silent"), {"unsupported function"}},
      {meter_defect("illegal_value_accepted"), {"quantity 126", "quantity 0"}},
      {meter_defect("bad_crc_answered"), {"bad crc", "bad crc write"}},
      {meter_defect("device_id_wrong_revision"), {"device id"}},
      // The data-model knobs leave the world's free_running registers alone (the Meter
      // driver reads them for metrology and the clock): the event log carries them.
      {meter_defect("tcp_register_skew"), {"tcp event log"}},
      {meter_defect("range_crossing_answered"), {"range crossing the end"}},
      {meter_defect("quantity_zero_accepted"), {"quantity 0"}},
      {meter_defect("byte_count_mismatch_accepted"), {"byte count mismatch"}},
      {meter_defect("bit_byte_count_off_by_one"), {"8 bits"}},
      {meter_defect("write_multiple_registers_not_stored"), {"fc16 stored"}},
      {meter_defect("word_order_swapped"), {"holding u32"}},
      {meter_defect("live_value_out_of_band"), {"rtu event log", "tcp event log"}},
      {meter_defect("mbap_transaction_id_top_bit_cleared"), {"transaction id 0x8001"}},
      {meter_defect("mbap_unit_id_not_echoed"), {"unit 0xFF"}},
      {meter_defect("rtu_other_unit_answered"), {"other unit"}},
      {meter_defect("rtu_broadcast_answered"), {"broadcast"}},
      // The optical port's knobs change no Modbus answer (test_iec62056_server has theirs).
      {meter_defect("iec_identification_wrong_baud_character"), {}},
      {meter_defect("iec_bcc_error"), {}},
      {meter_defect("iec_ignores_baud_switch"), {}},
      {meter_defect("iec_password_not_checked"), {}},
      {meter_defect("bad_crc_executed"), {"bad crc write"}},
      {meter_defect("stops_answering_after_noise"), {"noise burst"}},
      // Needs the TCP endpoint's word (a client left mid-frame): its own test below.
      {meter_defect("tcp_wedged_by_partial_frame"), {}},
      // The measurement model's knobs act in meter/metrology.cpp, not in the engine.
      {meter_defect("out_of_class_at_low_current"), {}},
      {meter_defect("loses_energy_on_power_cut"), {}},
      {meter_defect("clock_drift_excessive"), {}},
      {meter_defect("creeps_at_no_load"), {}},
      {meter_defect("register_disagrees_with_test_output"), {}},
      {meter_defect("clock_set_slips_an_hour"), {}},
      // Timing knobs act in the endpoints (when bytes go out), not in the engine's answers:
      // tests/test_timing.py shows each one caught on the wire.
      {meter_defect("rtu_reply_gap"), {}},
      {meter_defect("rtu_reply_without_silence"), {}},
      {meter_defect("slow_response"), {}},
      {meter_defect("iec_reaction_too_fast"), {}},
      // The optical port's P1 (test_iec62056_server has its test).
      {meter_defect("universal_password"), {}},
  };
  BOOST_TEST(expected_change.size() == defect_table.size());
  for (const auto& [defect, probe_names] : expected_change) {
    BOOST_TEST_CONTEXT("defect " << defect_table[defect.index].name) {
      const auto with_defect = answers({defect});
      std::set<std::string> changed;
      for (const auto& [name, answer] : baseline)
        if (with_defect.at(name) != answer) changed.insert(name);
      BOOST_TEST(changed == probe_names, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(illegal_address_returns_data) {
  auto server = em1({meter_defect("illegal_address_returns_data")});
  BOOST_TEST(ask(server, read_request(3, 20, 2)) == (Bytes{3, 4, 0, 0, 0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(4, 4, 2)) == (Bytes{4, 4, 0x13, 0x88, 0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(4, 11, 1)) == (Bytes{4, 2, 0x61, 0x4E}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(1, 0, 3)) == (Bytes{1, 1, 0b001}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, Bytes{6, 0, 50, 0, 1}) == (Bytes{6, 0, 50, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(
      !server.register_word(RegisterTable::holding, 50).has_value());  // acknowledged, not stored
  expect_exception(server, Bytes{6, 0, 7, 0, 1}, 2);                   // read-only stays protected
  expect_exception(server, read_request(3, 0, 126), 3);                // quantity rules unchanged
}

BOOST_AUTO_TEST_CASE(illegal_function_silent) {
  auto server = em1({meter_defect("illegal_function_silent")});
  BOOST_TEST(!server.handle_pdu(Bytes{8, 0, 0, 0, 0}, Interface::rtu).has_value());
  BOOST_TEST(!server.handle_pdu(Bytes{0x2B, 0x0D, 0, 0}, Interface::rtu).has_value());
  BOOST_TEST(!server.handle_tcp_frame(mbap(1, 1, Bytes{0x11})).has_value());
  expect_exception(server, read_request(3, 20, 1), 2);
}

BOOST_AUTO_TEST_CASE(illegal_value_accepted) {
  auto server = em1({meter_defect("illegal_value_accepted")});
  const Bytes reply = ask(server, read_request(3, 0, 126));
  BOOST_TEST(reply.size() == 2u + 252u);
  BOOST_TEST(reply[1] == 252);
  BOOST_TEST(reply[3] == 1);       // holding 0 = 1
  BOOST_TEST(reply[2 + 20] == 0);  // unmapped 10 reads 0
  BOOST_TEST(ask(server, read_request(3, 0, 0)) == (Bytes{3, 0}), boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(3, 0, 1000)).size() == 2u + 254u);  // one byte count
  BOOST_TEST(ask(server, read_request(1, 0, 2001)).size() == 2u + 251u);
  BOOST_TEST(ask(server, Bytes{5, 0, 1, 0x12, 0x34}) == (Bytes{5, 0, 1, 0x12, 0x34}),
             boost::test_tools::per_element());
  BOOST_TEST(server.coil(1).value() == true);
  expect_exception(server, read_request(3, 20, 1), 2);  // address rules unchanged in range
}

BOOST_AUTO_TEST_CASE(bad_crc_answered) {
  auto server = em1({meter_defect("bad_crc_answered")});
  auto reply = server.handle_rtu_frame(Bytes{1, 3, 0, 1, 0, 1, 0, 0});
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(*reply == with_crc({1, 3, 2, 0, 15}),
             boost::test_tools::per_element());  // its own CRC is right
  BOOST_TEST(
      !server.handle_rtu_frame(Bytes{2, 3, 0, 1, 0, 1, 0, 0}).has_value());  // still addressed
}

BOOST_AUTO_TEST_CASE(device_id_wrong_revision) {
  auto server = em1({meter_defect("device_id_wrong_revision")});
  const Bytes reply = ask(server, Bytes{0x2B, 0x0E, 4, 2});
  const std::string revision(reply.begin() + 9, reply.end());
  BOOST_TEST(revision == "1.4.3");
  DeviceProfile profile = load_profile(em1_path);
  profile.identity.revision = "2.0.9-rc";
  profile.defects.set(meter_defect("device_id_wrong_revision"));
  ModbusServer rc(profile);
  const Bytes rc_reply = ask(rc, Bytes{0x2B, 0x0E, 4, 2});
  BOOST_TEST(std::string(rc_reply.begin() + 9, rc_reply.end()) == "2.0.0-rc");
}

BOOST_AUTO_TEST_CASE(tcp_register_skew) {
  auto server = em1({meter_defect("tcp_register_skew")});
  // event_1_time (u32 0, not free_running) is skewed; the world's energy counter is not.
  auto tcp = server.handle_tcp_frame(mbap(1, 1, read_request(4, 103, 2)));
  BOOST_REQUIRE(tcp.has_value());
  BOOST_TEST(Bytes(tcp->begin() + 9, tcp->end()) == (Bytes{0, 0, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(4, 103, 2), Interface::rtu) == (Bytes{4, 4, 0, 0, 0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(server, read_request(4, 10, 2), Interface::tcp) ==
                 ask(server, read_request(4, 10, 2), Interface::rtu),
             boost::test_tools::per_element());
  auto shaped = shapes({meter_defect("tcp_register_skew")});
  // i16 -1 -> 0; i32 -1 -> 0; f32 1.5 -> 2.5; u32 max wraps to 0.
  BOOST_TEST(ask(shaped, read_request(4, 0, 7), Interface::tcp) ==
                 (Bytes{4, 14, 0, 0, 0, 0, 0, 0, 0x40, 0x20, 0, 0, 0, 0, 0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(ask(shaped, read_request(3, 0, 2), Interface::tcp) == (Bytes{3, 4, 0, 0, 0xFF, 0xFF}),
             boost::test_tools::per_element());  // holding registers untouched
}

BOOST_AUTO_TEST_CASE(narrow_knobs_of_the_deeper_suite) {
  {
    auto server = em1({meter_defect("range_crossing_answered")});
    BOOST_TEST(ask(server, read_request(3, 9, 2)) == (Bytes{3, 4, 0, 4, 0, 0}),
               boost::test_tools::per_element());
    expect_exception(server, read_request(3, 10, 1), 2);  // an unmapped start still gets 02
    expect_exception(server, read_request(4, 11, 2), 2);  // so does half a u32
  }
  {
    auto server = em1({meter_defect("quantity_zero_accepted")});
    BOOST_TEST(ask(server, read_request(1, 0, 0)) == (Bytes{1, 0}),
               boost::test_tools::per_element());
    BOOST_TEST(ask(server, Bytes{0x10, 0, 0, 0, 0, 0}) == (Bytes{0x10, 0, 0, 0, 0}),
               boost::test_tools::per_element());
    expect_exception(server, read_request(3, 0, 126), 3);  // the upper limit still holds
  }
  {
    auto server = em1({meter_defect("byte_count_mismatch_accepted")});
    BOOST_TEST(ask(server, Bytes{0x0F, 0, 1, 0, 1, 2, 1, 0}) == (Bytes{0x0F, 0, 1, 0, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(server.coil(1).value() == true);
    expect_exception(server, Bytes{0x10, 0, 1, 0, 2, 2, 0, 9}, 3);  // too little data: 03
  }
  {
    auto server = em1({meter_defect("bit_byte_count_off_by_one")});
    BOOST_TEST(ask(server, read_request(2, 0, 8)).size() == 2u + 2u);
    BOOST_TEST(ask(server, read_request(2, 0, 7)).size() == 2u + 1u);
  }
  {
    auto server = em1({meter_defect("write_multiple_registers_not_stored")});
    BOOST_TEST(ask(server, Bytes{0x10, 0, 1, 0, 1, 2, 0, 9}) == (Bytes{0x10, 0, 1, 0, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(server.register_word(RegisterTable::holding, 1).value() == 15);
    BOOST_TEST(ask(server, Bytes{6, 0, 1, 0, 9}).size() == 5u);  // FC06 still stores
    BOOST_TEST(server.register_word(RegisterTable::holding, 1).value() == 9);
  }
  {
    auto server = em1({meter_defect("word_order_swapped")});
    // firmware_build 20261125 = 0x0135 2905 served low word first, on both interfaces.
    BOOST_TEST(ask(server, read_request(3, 5, 2)) == (Bytes{3, 4, 0x29, 0x05, 0x01, 0x35}),
               boost::test_tools::per_element());
  }
  {
    auto server = em1({meter_defect("live_value_out_of_band")});
    BOOST_TEST(ask(server, read_request(4, 100, 1)) == (Bytes{4, 2, 0xFF, 0xFF}),
               boost::test_tools::per_element());  // event count band 0..8 holds 0: 0xFFFF
    BOOST_TEST(ask(server, read_request(4, 0, 1)) == (Bytes{4, 2, 0x08, 0xFD}),
               boost::test_tools::per_element());  // the world's voltage (free_running) untouched
    BOOST_TEST(ask(server, read_request(3, 1, 1)) == (Bytes{3, 2, 0, 15}),
               boost::test_tools::per_element());  // static values untouched
  }
  {
    auto server = em1({meter_defect("mbap_transaction_id_top_bit_cleared")});
    auto reply = server.handle_tcp_frame(mbap(0xFFFF, 1, read_request(3, 0, 1)));
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST((*reply)[0] == 0x7F);
    BOOST_TEST((*reply)[1] == 0xFF);
    BOOST_TEST((*server.handle_tcp_frame(mbap(0x1234, 1, read_request(3, 0, 1))))[0] == 0x12);
  }
  {
    auto server = em1({meter_defect("mbap_unit_id_not_echoed")});
    BOOST_TEST((*server.handle_tcp_frame(mbap(1, 0xFF, read_request(3, 0, 1))))[6] == 1);
  }
  {
    auto server = em1({meter_defect("rtu_other_unit_answered")});
    auto reply = server.handle_rtu_frame(with_crc({9, 3, 0, 0, 0, 1}));
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(*reply == with_crc({1, 3, 2, 0, 1}), boost::test_tools::per_element());
  }
  {
    auto server = em1({meter_defect("rtu_broadcast_answered")});
    auto reply = server.handle_rtu_frame(with_crc({0, 6, 0, 1, 0, 9}));
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(*reply == with_crc({1, 6, 0, 1, 0, 9}), boost::test_tools::per_element());
    BOOST_TEST(server.register_word(RegisterTable::holding, 1).value() == 9);  // executed once
  }
}

BOOST_AUTO_TEST_CASE(word_order_and_bands_come_from_the_profile) {
  const DeviceProfile profile = parse_profile(R"(schema = 1
[device]
kind = "meter"
name = "w"
unit = 1
[identity]
vendor = "v"
product_code = "p"
revision = "1"
[[registers]]
table = "input"
address = 0
name = "energy"
type = "u32"
word_order = "little"
value = 65536
min = 0
max = 100000
)",
                                              "w.toml");
  BOOST_TEST(profile.registers[0].initial_words == (std::vector<std::uint16_t>{0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(profile.registers[0].band_max.value() == 100000.0);
  const auto dump = profile_to_json(profile);
  BOOST_TEST(dump["registers"][0]["word_order"] == "little");
  BOOST_TEST(dump["registers"][0]["band"]["min"] == 0.0);
  BOOST_TEST(dump["registers"][0]["raw"] == 65536);
}

BOOST_AUTO_TEST_SUITE_END()

// Arbitrary bytes never crash the engine, and every answer stays a well-formed PDU.
BOOST_AUTO_TEST_CASE(arbitrary_requests_are_answered_or_ignored_safely) {
  std::uint32_t state = 0x12345678;
  auto next_random = [&state] {  // xorshift: deterministic, so a failure reproduces
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  const std::vector<std::vector<DefectId>> defect_sets{
      {},
      {meter_defect("illegal_address_returns_data"), meter_defect("illegal_value_accepted"),
       meter_defect("tcp_register_skew"), meter_defect("bad_crc_answered"),
       meter_defect("device_id_wrong_revision"), meter_defect("illegal_function_silent")}};
  const std::array<std::uint8_t, 10> functions{1, 2, 3, 4, 5, 6, 15, 16, 0x2B, 0x11};
  for (const auto& defects : defect_sets) {
    auto server = em1(defects);
    for (int round = 0; round < 20000; ++round) {
      Bytes pdu(1 + next_random() % 12);
      for (auto& byte : pdu) byte = static_cast<std::uint8_t>(next_random());
      pdu[0] = functions[next_random() % functions.size()];
      if (pdu[0] == 0x2B && pdu.size() > 1 && next_random() % 2) pdu[1] = 0x0E;
      if (pdu.size() >= 6 && (pdu[0] == 15 || pdu[0] == 16) &&
          next_random() % 2) {  // consistent byte count
        pdu[5] = static_cast<std::uint8_t>(pdu.size() - 6);
      }
      const auto via = next_random() % 2 ? Interface::tcp : Interface::rtu;
      if (auto reply = server.handle_pdu(pdu, via)) {
        BOOST_REQUIRE(!reply->empty());
        BOOST_REQUIRE_LE(reply->size(), 2u + 255u);  // a one-byte byte count bounds every answer
        BOOST_REQUIRE((*reply)[0] == pdu[0] || (*reply)[0] == (pdu[0] | 0x80));
      }
      Bytes rtu_frame{1};
      rtu_frame.insert(rtu_frame.end(), pdu.begin(), pdu.end());
      server.handle_rtu_frame(with_crc(rtu_frame));
      server.handle_tcp_frame(mbap(1, 1, pdu));
      server.handle_tcp_frame(pdu);
    }
  }
}

BOOST_AUTO_TEST_CASE(tcp_wedged_by_partial_frame) {
  const Bytes request = mbap(1, 1, read_request(3, 0, 1));
  auto healthy = em1();
  healthy.tcp_client_left_mid_frame();
  BOOST_TEST(healthy.handle_tcp_frame(request).has_value());
  auto defective = em1({meter_defect("tcp_wedged_by_partial_frame")});
  BOOST_TEST(defective.handle_tcp_frame(request).has_value());
  defective.tcp_client_left_mid_frame();
  BOOST_TEST(!defective.handle_tcp_frame(request).has_value());
}

BOOST_AUTO_TEST_CASE(stops_answering_after_noise_needs_three_in_a_row) {
  const Bytes noise{0x55, 0xAA, 0x01, 0x99, 0x12};
  const Bytes read = with_crc({1, 3, 0, 0, 0, 1});
  auto server = em1({meter_defect("stops_answering_after_noise")});
  for (int round = 0; round < 3; ++round) {  // two bad frames, then a good one: no harm
    server.handle_rtu_frame(noise);
    server.handle_rtu_frame(Bytes{1, 3});
    BOOST_TEST(server.handle_rtu_frame(read).has_value());
  }
  for (int i = 0; i < 3; ++i) server.handle_rtu_frame(noise);
  BOOST_TEST(!server.handle_rtu_frame(read).has_value());
}

BOOST_AUTO_TEST_CASE(bad_crc_executed_acts_silently) {
  auto server = em1({meter_defect("bad_crc_executed")});
  Bytes write = with_crc({1, 6, 0, 1, 0, 9});
  write.back() ^= 0xFF;
  BOOST_TEST(!server.handle_rtu_frame(write).has_value());
  BOOST_TEST(server.register_word(RegisterTable::holding, 1).value() == 9);
}
