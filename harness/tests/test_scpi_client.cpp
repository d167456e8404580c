// scpi::Client against a scripted SCPI peer thread on a real loopback socket. The peer reads
// LF-terminated program messages and answers from a script, so malformed answers, errors
// that never leave the queue and silent queries are available on demand; the emulated
// instruments (devices/dmm, source, psu) and PyVISA (tests/test_cross_pyvisa.py) check the
// client against independent implementations.
#define BOOST_TEST_MODULE test_scpi_client
#include <boost/test/unit_test.hpp>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"
#include "hilbench/transport/tcp.hpp"
#include "loopback_socket.hpp"

using namespace std::chrono_literals;
namespace scpi = hilbench::scpi;
using hilbench::Bytes;
using hilbench::Exchange;

namespace {

/// Answers one received program message (without terminator): the bytes to send back
/// ("" = stay silent).
using Answer = std::function<std::string(const std::string& message)>;

// Reads one LF-terminated message; nullopt when the client closed the connection.
std::optional<std::string> receive_line(int fd) {
  std::string line;
  while (true) {
    const Bytes byte = hilbench::test::receive_exact(fd, 1);
    if (byte.empty()) return std::nullopt;
    if (byte[0] == '\n') return line;
    line += static_cast<char>(byte[0]);
  }
}

class ScriptedPeer {
 public:
  explicit ScriptedPeer(std::vector<Answer> script)
      : done_(std::async(std::launch::async,
                         [this, script = std::move(script)] { serve(script); })) {}
  ~ScriptedPeer() {
    if (done_.valid()) done_.wait();
  }
  std::uint16_t port() const noexcept { return listener_.port(); }
  const std::vector<std::string>& received() {
    if (done_.valid()) done_.get();
    return received_;
  }

 private:
  void serve(const std::vector<Answer>& script) {
    const hilbench::UniqueFd connection = listener_.accept();
    for (const Answer& answer : script) {
      const auto message = receive_line(connection.get());
      if (!message) return;
      received_.push_back(*message);
      const std::string reply = answer(*message);
      // A '\0' in a reply splits it: the rest follows after a pause, as a slow device's
      // late bytes would (the only timing in this peer; see late_tail_is_dropped).
      const std::size_t pause = reply.find('\0');
      hilbench::test::send_all(connection.get(), reply.substr(0, pause));
      if (pause != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        hilbench::test::send_all(connection.get(), reply.substr(pause + 1));
      }
    }
    while (receive_line(connection.get())) {
    }
  }

  hilbench::test::LoopbackListener listener_;
  std::vector<std::string> received_;
  std::future<void> done_;
};

Answer reply(std::string text) {
  return [text](const std::string&) { return text; };
}
Answer no_error() { return reply("+0,\"No error\"\n"); }
Answer silent() { return reply(""); }

struct Bench {
  explicit Bench(std::vector<Answer> script, scpi::ClientOptions options = fast())
      : peer(std::move(script)) {
    hilbench::TcpSettings settings;
    settings.host = "127.0.0.1";
    settings.port = peer.port();
    client.emplace(std::make_shared<hilbench::TcpTransport>(settings), options);
    client->set_exchange_sink([this](const Exchange& exchange) { exchanges.push_back(exchange); });
  }
  static scpi::ClientOptions fast() {
    scpi::ClientOptions options;
    options.timeout = 300ms;
    options.max_error_queue = 4;
    return options;
  }
  const std::vector<std::string>& finish() {
    client.reset();
    return peer.received();
  }
  ScriptedPeer peer;
  std::optional<scpi::Client> client;
  std::vector<Exchange> exchanges;
};

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

}  // namespace

BOOST_AUTO_TEST_CASE(query_then_error_drain_is_one_exchange) {
  Bench bench({reply("+1.000000E+01\n"), no_error()});
  BOOST_TEST(bench.client->query_number("MEAS:VOLT:DC?") == 10.0);
  const auto& received = bench.finish();
  BOOST_TEST(received == (std::vector<std::string>{"MEAS:VOLT:DC?", "SYST:ERR?"}));
  BOOST_REQUIRE(bench.exchanges.size() == 1u);
  const Exchange& exchange = bench.exchanges[0];
  BOOST_TEST(exchange.protocol == "scpi");
  BOOST_TEST(exchange.operation == "query(MEAS:VOLT:DC?)");
  BOOST_TEST(exchange.outcome == "ok");
  BOOST_TEST(text_of(exchange.request) == "MEAS:VOLT:DC?\nSYST:ERR?\n");
  BOOST_TEST(text_of(exchange.response) == "+1.000000E+01\n+0,\"No error\"\n");
  BOOST_TEST(exchange.fields["command"] == "MEAS:VOLT:DC?");
  BOOST_TEST(exchange.fields["query"] == true);
  BOOST_TEST(exchange.fields["response"] == "+1.000000E+01");
  BOOST_TEST(exchange.fields["error_queue"].empty());
  BOOST_TEST(exchange.fields["error_queries"] == 1);
  BOOST_TEST(exchange.request_ns > 0);
  BOOST_TEST(exchange.response_ns >= exchange.request_ns);
}

BOOST_AUTO_TEST_CASE(command_errors_become_scpi_error_with_every_entry) {
  Bench bench({silent(), reply("-113,\"Undefined header\"\n"),
               reply("-222,\"Data out of range\"\n"), no_error()});
  try {
    bench.client->command("BOGUS 1");
    BOOST_FAIL("no ScpiError");
  } catch (const scpi::ScpiError& error) {
    BOOST_TEST(error.protocol() == "scpi");
    BOOST_TEST(error.code() == -113);
    BOOST_TEST(error.message() == "Undefined header");
    BOOST_TEST(error.entries().size() == 2u);
    BOOST_TEST(error.entries()[1].code == -222);
    BOOST_TEST(std::string(error.what()).find("command(BOGUS 1)") != std::string::npos);
  }
  bench.finish();
  BOOST_REQUIRE(bench.exchanges.size() == 1u);
  const Exchange& exchange = bench.exchanges[0];
  BOOST_TEST(exchange.outcome == "device_error");
  BOOST_TEST(exchange.fields["error_queries"] == 3);
  BOOST_TEST(exchange.fields["error_queue"].size() == 2u);
  BOOST_TEST(exchange.fields["error_queue"][0]["code"] == -113);
  BOOST_TEST(exchange.fields["error_queue"][0]["message"] == "Undefined header");
  BOOST_TEST(exchange.response_ns == 0);  // a command has no response of its own
}

BOOST_AUTO_TEST_CASE(a_queue_that_never_empties_is_a_protocol_error) {
  std::vector<Answer> script{silent()};
  for (int i = 0; i < 5; ++i) script.push_back(reply("-350,\"Queue overflow\"\n"));
  Bench bench(script);
  BOOST_CHECK_THROW(bench.client->command("*CLS"), hilbench::ProtocolError);
  bench.finish();
  BOOST_REQUIRE(bench.exchanges.size() == 1u);
  BOOST_TEST(bench.exchanges[0].outcome == "protocol_error");
  BOOST_TEST(bench.exchanges[0].fields["error_queries"] == 5);  // max 4 entries + 1
}

BOOST_AUTO_TEST_CASE(an_unanswered_query_with_a_queued_error_is_a_scpi_error) {
  Bench bench({silent(), reply("-113,\"Undefined header\"\n"), no_error()});
  BOOST_CHECK_EXCEPTION(bench.client->query("BOGUS?"), scpi::ScpiError,
                        [](const scpi::ScpiError& e) { return e.code() == -113; });
  bench.finish();
  BOOST_TEST(bench.exchanges.at(0).outcome == "device_error");
}

BOOST_AUTO_TEST_CASE(an_unanswered_query_without_error_is_a_timeout) {
  Bench bench({silent(), no_error()});
  BOOST_CHECK_THROW(bench.client->query("MEAS?"), hilbench::DeviceTimeout);
  bench.finish();
  BOOST_TEST(bench.exchanges.at(0).outcome == "timeout");
}

BOOST_AUTO_TEST_CASE(common_commands) {
  Bench bench({reply("hilbench,DMM-6,DMM6-0001,2.1.0\n"), no_error(), silent(), no_error(),
               silent(), no_error(), reply("1\n"), no_error(), reply("+32\n"), no_error(),
               reply("4\n"), no_error()});
  const scpi::Identity identity = bench.client->identify();
  BOOST_TEST(identity.manufacturer == "hilbench");
  BOOST_TEST(identity.firmware == "2.1.0");
  bench.client->reset();
  bench.client->clear_status();
  BOOST_TEST(bench.client->operation_complete());
  BOOST_TEST(bench.client->event_status_register() == scpi::esr::command_error);
  BOOST_TEST(bench.client->status_byte() == scpi::stb::error_available);
  const auto& received = bench.finish();
  BOOST_TEST(received == (std::vector<std::string>{"*IDN?", "SYST:ERR?", "*RST", "SYST:ERR?",
                                                   "*CLS", "SYST:ERR?", "*OPC?", "SYST:ERR?",
                                                   "*ESR?", "SYST:ERR?", "*STB?", "SYST:ERR?"}));
  BOOST_TEST(bench.exchanges.size() == 6u);
}

BOOST_AUTO_TEST_CASE(explicit_error_drain_returns_entries_as_data) {
  Bench bench({reply("-222,\"Data out of range\"\n"), no_error()});
  const auto entries = bench.client->errors();
  BOOST_TEST(entries.size() == 1u);
  BOOST_TEST(entries[0].code == -222);
  bench.finish();
  BOOST_TEST(bench.exchanges.at(0).outcome == "ok");
  BOOST_TEST(bench.exchanges.at(0).operation == "errors()");
  BOOST_TEST(bench.exchanges.at(0).fields["error_queue"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(definite_block_with_terminators_inside) {
  Bench bench({reply("#210ab\ncd\nefgh\n"), no_error()});
  BOOST_TEST(text_of(bench.client->query_block("CURV?")) == "ab\ncd\nefgh");
  bench.finish();
}

BOOST_AUTO_TEST_CASE(response_split_over_many_packets) {
  Bench bench({[](const std::string&) { return std::string("+2.5"); }, no_error()});
  // The first answer lacks its terminator: the client waits, then times out (no LF came).
  BOOST_CHECK_THROW(bench.client->query_number("READ?"), hilbench::DeviceTimeout);
  bench.finish();
  BOOST_TEST(text_of(bench.exchanges.at(0).response).starts_with("+2.5"));
}

BOOST_AUTO_TEST_CASE(garbage_answers_are_protocol_errors) {
  Bench bench(
      {reply("volts!\n"), no_error(), reply("1,2,3\n"), no_error(), silent(), reply("no error\n")});
  BOOST_CHECK_THROW(bench.client->query_number("READ?"), hilbench::ProtocolError);
  BOOST_CHECK_THROW(bench.client->identify(), hilbench::ProtocolError);
  BOOST_CHECK_THROW(bench.client->command("*RST"), hilbench::ProtocolError);
  bench.finish();
  BOOST_TEST(bench.exchanges.at(2).outcome == "protocol_error");
}

BOOST_AUTO_TEST_CASE(error_checking_can_be_switched_off) {
  scpi::ClientOptions options = Bench::fast();
  options.check_errors = false;
  Bench bench({reply("1\n")}, options);
  BOOST_TEST(bench.client->query("*OPC?") == "1");
  BOOST_TEST(bench.finish() == (std::vector<std::string>{"*OPC?"}));
}

BOOST_AUTO_TEST_CASE(late_tail_after_a_failure_is_dropped_before_the_next_query) {
  // MEAS? goes unanswered; the drain's SYST:ERR? gets MEAS?'s late answer first (unparseable
  // as an error entry: the timeout stands), and its own answer 30 ms later. Without
  // resynchronisation that answer would be taken for *OPC?'s.
  scpi::ClientOptions options = Bench::fast();
  options.timeout = 1s;
  options.resync_quiet = 300ms;
  Bench bench({silent(), reply(std::string("+5.0\n") + '\0' + "+0,\"No error\"\n"), reply("1\n"),
               no_error()},
              options);
  BOOST_CHECK_THROW(bench.client->query("MEAS?"), hilbench::DeviceTimeout);
  BOOST_TEST(bench.client->query("*OPC?") == "1");
  bench.finish();
  BOOST_REQUIRE(bench.exchanges.size() == 2u);
  BOOST_TEST(bench.exchanges[0].outcome == "timeout");
  BOOST_TEST(bench.exchanges[1].outcome == "ok");
  // "+0,"No error"\n" in hex
  BOOST_TEST(bench.exchanges[1].fields["discarded_hex"] == "2b302c224e6f206572726f72220a");
}
