// iec62056::Client against a scripted mode C device on a transport that is also a serial
// line: the device answers each message the client writes, and its bytes arrive intact only
// when the client's line settings agree with the device's (else bit-inverted, like the
// presenter's UART model), so a baud switch at the wrong moment shows. The device's frames
// are built by hand here (the BCC by a local XOR), not by the codec. The emulated meter
// (devices/meter/iec62056_server) and the iec62056-21 package from PyPI
// (tests/test_cross_iec62056.py) check the client against independent implementations.
#define BOOST_TEST_MODULE test_iec62056_client
#include <boost/test/unit_test.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"
#include "hilbench/transport/serial_line.hpp"

namespace iec = hilbench::iec62056;
using hilbench::Bytes;
using hilbench::Exchange;

namespace {

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

Bytes block(std::uint8_t start, const std::string& inside) {
  Bytes out{start};
  std::uint8_t check = 0;
  for (char c : inside) {
    out.push_back(static_cast<std::uint8_t>(c));
    check ^= static_cast<std::uint8_t>(c);
  }
  out.push_back(0x03);
  out.push_back(static_cast<std::uint8_t>(check ^ 0x03));
  return out;
}

/// What the scripted device sends for one message, and at which baud rate it sends it.
struct Reply {
  Bytes bytes;
  int baud = 300;
};
using Device = std::function<Reply(const Bytes& message)>;

class ScriptedLine final : public hilbench::Transport, public hilbench::SerialLine {
 public:
  explicit ScriptedLine(std::vector<Device> script) : script_(std::move(script)) {}
  std::string name() const override { return "scripted:iec"; }
  SerialLine* serial_line() noexcept override { return this; }
  hilbench::LineSettings line_settings() const override { return settings_; }
  void reconfigure(const hilbench::LineSettings& settings) override {
    settings_ = settings;
    events.push_back("reconfigure " + std::to_string(settings.baud));
  }
  std::vector<std::string> events;
  std::vector<Bytes> written;

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, hilbench::Deadline) override {
    if (pending_.empty()) return 0;  // silence: a timeout at once
    std::size_t n = 0;
    while (n < buf.size() && !pending_.empty()) {
      auto [byte, baud] = pending_.front();
      pending_.pop_front();
      buf[n++] = baud == settings_.baud ? byte : static_cast<std::uint8_t>(~byte & 0x7F);
    }
    return n;
  }
  std::size_t do_write(std::span<const std::uint8_t> bytes, hilbench::Deadline) override {
    Bytes message(bytes.begin(), bytes.end());
    written.push_back(message);
    events.push_back("write at " + std::to_string(settings_.baud));
    if (next_ < script_.size()) {
      const Reply reply = script_[next_++](message);
      for (std::uint8_t byte : reply.bytes) pending_.push_back({byte, reply.baud});
    }
    return bytes.size();
  }
  void do_discard_input() override {}

 private:
  std::vector<Device> script_;
  std::size_t next_ = 0;
  std::deque<std::pair<std::uint8_t, int>> pending_;
  hilbench::LineSettings settings_ = iec::sign_on_settings();
};

Device answer(std::string text, int baud = 300) {
  return [text, baud](const Bytes&) { return Reply{Bytes(text.begin(), text.end()), baud}; };
}
Device answer(Bytes bytes, int baud) {
  return [bytes, baud](const Bytes&) { return Reply{bytes, baud}; };
}
Device silent() {
  return [](const Bytes&) { return Reply{}; };
}

const std::string readout_data = "0.9.1(12:00:00)\r\n1.8.0(012345.678*kWh)\r\n!\r\n";

struct Bench {
  explicit Bench(std::vector<Device> script, iec::ClientOptions options = fast())
      : line(std::make_shared<ScriptedLine>(std::move(script))), client(line, options) {
    client.set_exchange_sink([this](const Exchange& exchange) { exchanges.push_back(exchange); });
  }
  static iec::ClientOptions fast() {
    iec::ClientOptions options;
    options.max_baud = 9600;
    options.reaction_time_max = std::chrono::milliseconds(200);
    options.inter_character_max = std::chrono::milliseconds(200);
    options.resync_quiet = std::chrono::milliseconds(10);
    return options;
  }
  std::shared_ptr<ScriptedLine> line;
  iec::Client client;
  std::vector<Exchange> exchanges;
};

// "/ISk": lower-case third letter, 20 ms reaction time: keeps the test quick.
const std::string identification = "/ISk5EM1\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(readout_switches_baud_after_the_ack) {
  Bench bench({answer(identification), answer(block(0x02, readout_data), 9600)});
  const iec::Readout readout = bench.client.readout();
  BOOST_TEST(readout.baud == 9600);
  BOOST_TEST(readout.identification.manufacturer == "ISk");
  BOOST_TEST(readout.find("1.8.0")->value == "012345.678");
  BOOST_TEST(readout.find("1.8.0")->unit == "kWh");
  // The ACK was written at 300 baud, then the line switched, and back after the readout.
  const std::vector<std::string> expected{"write at 300", "write at 300", "reconfigure 9600",
                                          "reconfigure 300"};
  BOOST_TEST(bench.line->events == expected, boost::test_tools::per_element());
  BOOST_TEST(text_of(bench.line->written[0]) == "/?!\r\n");
  BOOST_TEST(bench.line->written[1] == (Bytes{0x06, '0', '5', '0', '\r', '\n'}));
  BOOST_TEST_REQUIRE(bench.exchanges.size() == 1u);
  const Exchange& exchange = bench.exchanges[0];
  BOOST_TEST(exchange.protocol == "iec62056-21");
  BOOST_TEST(exchange.outcome == "ok");
  BOOST_TEST(exchange.fields["mode"] == "readout");
  BOOST_TEST(exchange.fields["bcc_ok"] == true);
  BOOST_TEST(exchange.fields["baud_switch"]["to"] == 9600);
  BOOST_TEST(exchange.fields["identification"]["manufacturer"] == "ISk");
  BOOST_TEST(exchange.fields["data_sets"] == 2);
}

BOOST_AUTO_TEST_CASE(baud_is_capped_by_the_client) {
  iec::ClientOptions options = Bench::fast();
  options.max_baud = 2400;
  Bench bench({answer(identification), answer(block(0x02, readout_data), 2400)}, options);
  BOOST_TEST(bench.client.readout().baud == 2400);
  BOOST_TEST(bench.line->written[1][2] == '3');
}

BOOST_AUTO_TEST_CASE(bcc_mismatch_is_a_protocol_error) {
  Bytes broken = block(0x02, readout_data);
  broken.back() ^= 0x01;
  Bench bench({answer(identification), answer(broken, 9600)});
  BOOST_CHECK_THROW(bench.client.readout(), hilbench::ProtocolError);
  BOOST_TEST(bench.exchanges.at(0).outcome == "protocol_error");
  BOOST_TEST(bench.exchanges.at(0).fields["bcc_ok"] == false);
}

BOOST_AUTO_TEST_CASE(device_that_stays_at_300_is_caught) {
  // The device ignores the switch: its readout at 300 reaches a line at 9600 garbled.
  Bench bench({answer(identification), answer(block(0x02, readout_data), 300)});
  BOOST_CHECK_THROW(bench.client.readout(), hilbench::ProtocolError);
  BOOST_TEST(bench.exchanges.at(0).error.find("switch baud") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(error_answer_is_an_iec62056_error) {
  Bench bench({answer(identification), answer(block(0x02, "(ER07)"), 9600)});
  try {
    bench.client.readout();
    BOOST_FAIL("expected Iec62056Error");
  } catch (const iec::Iec62056Error& error) {
    BOOST_TEST(error.code() == 7);
    BOOST_TEST(error.protocol() == "iec62056-21");
    BOOST_TEST(error.text() == "ER07");
  }
  BOOST_TEST(bench.exchanges.at(0).outcome == "device_error");
}

BOOST_AUTO_TEST_CASE(silence_and_mode_b_devices) {
  Bench quiet({silent()});
  BOOST_CHECK_THROW(quiet.client.identify(), hilbench::DeviceTimeout);
  BOOST_TEST(quiet.exchanges.at(0).outcome == "timeout");
  Bench mode_b({answer("/HBLEEM1\r\n")});
  BOOST_CHECK_THROW(mode_b.client.identify(), hilbench::ProtocolError);
}

BOOST_AUTO_TEST_CASE(programming_session) {
  Bench bench({answer(identification),
               answer(block(0x01, "P0\x02(EM1-0001)"), 9600),  // password request
               answer(Bytes{0x06}, 9600),                      // P1 accepted
               answer(block(0x02, "0.9.1(12:00:00)"), 9600),   // R1
               answer(Bytes{0x06}, 9600),                      // W1 accepted
               answer(block(0x02, "(ER02)"), 9600),            // W1 refused
               silent()});                                     // B0
  BOOST_TEST(bench.client.open_programming("secret") == "EM1-0001");
  BOOST_TEST(bench.client.programming());
  BOOST_TEST(bench.client.read_register("0.9.1").values.at(0).value == "12:00:00");
  bench.client.write_register("0.9.1", "13:00:00");
  BOOST_CHECK_THROW(bench.client.write_register("1.8.0", "0"), iec::Iec62056Error);
  BOOST_TEST(bench.client.programming());  // a refused command keeps the session
  bench.client.end_programming();
  BOOST_TEST(!bench.client.programming());
  BOOST_TEST(bench.line->line_settings().baud == 300);
  // The password is sent, but journaled as '*'.
  const std::string p1 = text_of(bench.line->written.at(2));
  BOOST_TEST(p1.find("(secret)") != std::string::npos);
  const std::string journaled = text_of(bench.exchanges.at(0).request);
  BOOST_TEST(journaled.find("secret") == std::string::npos);
  BOOST_TEST(journaled.find("(******)") != std::string::npos);
  BOOST_TEST(bench.exchanges.at(0).fields["mode"] == "programming");
  BOOST_TEST(bench.exchanges.at(1).fields["command"] == "R1");
  BOOST_TEST(text_of(bench.line->written.at(5)).find("W1") != std::string::npos);
  BOOST_TEST(bench.line->written.at(6).at(1) == 'B');
}

BOOST_AUTO_TEST_CASE(wrong_password_is_refused) {
  Bench bench({answer(identification), answer(block(0x01, "P0\x02(EM1-0001)"), 9600),
               answer(Bytes{0x15}, 9600)});
  try {
    bench.client.open_programming("wrong");
    BOOST_FAIL("expected Iec62056Error");
  } catch (const iec::Iec62056Error& error) {
    BOOST_TEST(error.code() == iec::Iec62056Error::nak_code);
  }
  BOOST_TEST(!bench.client.programming());
  BOOST_TEST(bench.line->line_settings().baud == 300);
  BOOST_CHECK_THROW(bench.client.read_register("0.9.1"), hilbench::ConfigError);
}

BOOST_AUTO_TEST_CASE(without_a_serial_line_the_session_stays_at_300) {
  // A transport that is no serial line (an optical head behind a TCP bridge): Z = '0'.
  class Plain final : public hilbench::Transport {
   public:
    std::string name() const override { return "plain"; }
    std::vector<Bytes> written;

   protected:
    std::size_t do_read(std::span<std::uint8_t> buf, hilbench::Deadline) override {
      if (pending.empty()) return 0;
      const std::size_t n = std::min(buf.size(), pending.size());
      std::copy_n(pending.begin(), n, buf.begin());
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
      return n;
    }
    std::size_t do_write(std::span<const std::uint8_t> bytes, hilbench::Deadline) override {
      written.emplace_back(bytes.begin(), bytes.end());
      const Bytes reply = written.size() == 1 ? Bytes(identification.begin(), identification.end())
                                              : block(0x02, readout_data);
      pending.insert(pending.end(), reply.begin(), reply.end());
      return bytes.size();
    }
    void do_discard_input() override {}

   private:
    Bytes pending;
  };
  auto plain = std::make_shared<Plain>();
  iec::Client client(plain, Bench::fast());
  BOOST_TEST(client.readout().baud == 300);
  BOOST_TEST(plain->written.at(1)[2] == '0');
}
