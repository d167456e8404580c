// The meter's IEC 62056-21 mode C engine, sans-io: sign-on, identification, the ACK and its
// baud switch, the readout and its BCC, programming mode, and each iec_* defect knob flipping
// exactly its behaviour. Frames are written out by hand (the harness's codec is not used).
#define BOOST_TEST_MODULE iec62056_server
#include <boost/test/unit_test.hpp>
#include <string>

#include "common/tests/test_paths.hpp"
#include "meter/iec62056_server.hpp"
#include "meter/profile.hpp"

using namespace hilbench::emu;
using namespace hilbench::emu::meter;
using emulator_test::em1_path;
using Bytes = std::vector<std::uint8_t>;

namespace {

Iec62056Server em1(std::vector<DefectId> defects = {}) {
  DeviceProfile profile = load_profile(em1_path);
  for (DefectId defect : defects) profile.defects.set(defect);
  BOOST_TEST_REQUIRE(profile.iec62056.has_value());
  return Iec62056Server(
      *profile.iec62056, profile.defects,
      [](const std::string& name) -> std::optional<double> {
        if (name == "active_energy_import") return 12345.678;
        return 1.0;
      },
      profile.identity.serial_number);
}

Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }
std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

Bytes command(const std::string& inside) {  // SOH inside ETX BCC; inside may hold STX
  Bytes out{0x01};
  std::uint8_t check = 0;
  for (char c : inside) {
    out.push_back(static_cast<std::uint8_t>(c));
    check ^= static_cast<std::uint8_t>(c);
  }
  out.push_back(0x03);
  out.push_back(static_cast<std::uint8_t>(check ^ 0x03));
  return out;
}

bool bcc_ok(const Bytes& message) {
  std::uint8_t check = 0;
  for (std::size_t i = 1; i + 1 < message.size(); ++i) check ^= message[i];
  return check == message.back();
}

const Bytes ack_readout{0x06, '0', '5', '0', '\r', '\n'};
const Bytes ack_programming{0x06, '0', '5', '1', '\r', '\n'};

}  // namespace

BOOST_AUTO_TEST_CASE(sign_on_identification_and_readout_at_9600) {
  Iec62056Server server = em1();
  auto actions = server.on_bytes(bytes_of("/?!\r\n"));
  BOOST_TEST_REQUIRE(actions.size() == 1u);
  BOOST_TEST(text_of(actions[0].reply) == "/HBL5EM1\r\n");
  BOOST_TEST(!actions[0].switch_now.has_value());
  actions = server.on_bytes(ack_readout);
  BOOST_TEST_REQUIRE(actions.size() == 1u);
  BOOST_TEST(actions[0].switch_now.value() == 9600u);
  BOOST_TEST(actions[0].switch_after.value() == 300u);
  const Bytes& readout = actions[0].reply;
  BOOST_TEST(readout.front() == 0x02);
  BOOST_TEST(readout[readout.size() - 2] == 0x03);
  BOOST_TEST(bcc_ok(readout));
  BOOST_TEST(text_of(readout).find("1.8.0(12345.678*kWh)\r\n") != std::string::npos);
  BOOST_TEST(text_of(readout).find("C.1.0(EM1-2026-000123)\r\n") != std::string::npos);
  BOOST_TEST(text_of(readout).find("!\r\n\x03") != std::string::npos);
  BOOST_TEST(server.idle());
  BOOST_TEST(server.baud() == 300u);
}

BOOST_AUTO_TEST_CASE(addresses_and_garbage) {
  Iec62056Server server = em1();
  BOOST_TEST(server.on_bytes(bytes_of("/?OTHER!\r\n")).at(0).reply.empty());
  BOOST_TEST(!server.on_bytes(bytes_of("xx/?EM12026000123!\r\n")).at(0).reply.empty());
  // An ACK asking for more than the device announced is ignored.
  BOOST_TEST(server.on_bytes(Bytes{0x06, '0', '6', '0', '\r', '\n'}).at(0).reply.empty());
  BOOST_TEST(server.idle());
}

BOOST_AUTO_TEST_CASE(programming_mode) {
  Iec62056Server server = em1();
  server.on_bytes(bytes_of("/?!\r\n"));
  auto actions = server.on_bytes(ack_programming);
  BOOST_TEST(actions.at(0).switch_now.value() == 9600u);
  BOOST_TEST(text_of(actions.at(0).reply).find("P0\x02(EM1-2026-000123)") != std::string::npos);
  BOOST_TEST(bcc_ok(actions.at(0).reply));
  // Before P1: R1 is refused.
  BOOST_TEST(text_of(server
                         .on_bytes(command("R1\x02"
                                           "0.9.1()"))
                         .at(0)
                         .reply)
                 .find("(ER04)") != std::string::npos);
  // A bad BCC: NAK.
  Bytes broken = command("P1\x02(58204719)");
  broken.back() ^= 0x01;
  BOOST_TEST(server.on_bytes(broken).at(0).reply == Bytes{0x15});
  BOOST_TEST(server.on_bytes(command("P1\x02(58204719)")).at(0).reply == Bytes{0x06});
  const std::string r1 = text_of(server
                                     .on_bytes(command("R1\x02"
                                                       "1.8.0()"))
                                     .at(0)
                                     .reply);
  BOOST_TEST(r1.find("1.8.0(12345.678*kWh)") != std::string::npos);
  BOOST_TEST(text_of(server
                         .on_bytes(command("R1\x02"
                                           "9.9.9()"))
                         .at(0)
                         .reply)
                 .find("(ER01)") != std::string::npos);
  BOOST_TEST(server
                 .on_bytes(command("W1\x02"
                                   "0.9.1(01:02:03)"))
                 .at(0)
                 .reply == Bytes{0x06});
  const std::string time = text_of(server
                                       .on_bytes(command("R1\x02"
                                                         "0.9.1()"))
                                       .at(0)
                                       .reply);
  BOOST_TEST(time.find("0.9.1(01:02:0") != std::string::npos);  // a second may have passed
  BOOST_TEST(server
                 .on_bytes(command("W1\x02"
                                   "0.9.2(26-12-31)"))
                 .at(0)
                 .reply == Bytes{0x06});
  BOOST_TEST(text_of(server
                         .on_bytes(command("W1\x02"
                                           "0.9.2(26-13-31)"))
                         .at(0)
                         .reply)
                 .find("(ER03)") != std::string::npos);
  BOOST_TEST(text_of(server
                         .on_bytes(command("W1\x02"
                                           "1.8.0(0)"))
                         .at(0)
                         .reply)
                 .find("(ER02)") != std::string::npos);
  actions = server.on_bytes(command("B0"));
  BOOST_TEST(actions.at(0).reply.empty());
  BOOST_TEST(actions.at(0).switch_now.value() == 300u);
  BOOST_TEST(server.idle());
}

BOOST_AUTO_TEST_CASE(wrong_password_and_inactivity) {
  Iec62056Server server = em1();
  server.on_bytes(bytes_of("/?!\r\n"));
  server.on_bytes(ack_programming);
  auto actions = server.on_bytes(command("P1\x02(wrong)"));
  BOOST_TEST(actions.at(0).reply == Bytes{0x15});
  BOOST_TEST(actions.at(0).switch_after.value() == 300u);
  BOOST_TEST(server.idle());
  server.on_bytes(bytes_of("/?!\r\n"));
  server.on_bytes(ack_programming);
  BOOST_TEST(server.on_inactivity().value() == 300u);
  BOOST_TEST(server.idle());
}

BOOST_AUTO_TEST_CASE(each_knob_breaks_its_claim_only) {
  {
    Iec62056Server server = em1({meter_defect("iec_identification_wrong_baud_character")});
    BOOST_TEST(text_of(server.on_bytes(bytes_of("/?!\r\n")).at(0).reply) == "/HBL6EM1\r\n");
    const auto actions = server.on_bytes(ack_readout);  // 9600 still accepted
    BOOST_TEST(actions.at(0).switch_now.value() == 9600u);
  }
  {
    Iec62056Server server = em1({meter_defect("iec_bcc_error")});
    server.on_bytes(bytes_of("/?!\r\n"));
    const auto actions = server.on_bytes(ack_readout);
    BOOST_TEST(!bcc_ok(actions.at(0).reply));
    BOOST_TEST(actions.at(0).switch_now.value() == 9600u);
  }
  {
    Iec62056Server server = em1({meter_defect("iec_ignores_baud_switch")});
    server.on_bytes(bytes_of("/?!\r\n"));
    const auto actions = server.on_bytes(ack_readout);
    BOOST_TEST(!actions.at(0).switch_now.has_value());
    BOOST_TEST(bcc_ok(actions.at(0).reply));
  }
  {
    BOOST_TEST(em1({}).reaction_time().count() == 200);  // upper-case third letter: 200 ms
    BOOST_TEST(em1({meter_defect("iec_reaction_too_fast")}).reaction_time().count() == 5);
  }
  {
    Iec62056Server server = em1({meter_defect("iec_password_not_checked")});
    server.on_bytes(bytes_of("/?!\r\n"));
    server.on_bytes(ack_programming);
    BOOST_TEST(server.on_bytes(command("P1\x02(wrong)")).at(0).reply == Bytes{0x06});
  }
  {
    // The universal default opens it; any other wrong password is still refused.
    Iec62056Server server = em1({meter_defect("universal_password")});
    server.on_bytes(bytes_of("/?!\r\n"));
    server.on_bytes(ack_programming);
    BOOST_TEST(server.on_bytes(command("P1\x02(00000001)")).at(0).reply == Bytes{0x15});
    server.on_bytes(bytes_of("/?!\r\n"));
    server.on_bytes(ack_programming);
    BOOST_TEST(server.on_bytes(command("P1\x02(00000000)")).at(0).reply == Bytes{0x06});
  }
  {
    Iec62056Server server = em1();  // without the knob the universal default is refused
    server.on_bytes(bytes_of("/?!\r\n"));
    server.on_bytes(ack_programming);
    BOOST_TEST(server.on_bytes(command("P1\x02(00000000)")).at(0).reply == Bytes{0x15});
  }
}
