// modbus::Client against a scripted Modbus server thread on a real loopback socket.
// The server frames its answers by hand (only the CRC comes from the codec, whose known
// vectors test_modbus_codec checks), so client and server do not share framing bugs.
// RTU framing is transport-agnostic: RTU frames over a TCP socket test the RTU client logic.
// Scripted rather than a real device: malformed answers (wrong ids, echoes, lengths, CRCs)
// on demand are the point, and no real peer produces them; tests/test_cross_pymodbus.py
// checks the client against an independent implementation instead.
#define BOOST_TEST_MODULE test_modbus_client
#include <boost/test/unit_test.hpp>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/transport/tcp.hpp"
#include "loopback_socket.hpp"

using namespace std::chrono_literals;
namespace modbus = hilbench::modbus;
using hilbench::Bytes;
using hilbench::Exchange;
using modbus::Framing;

namespace {

constexpr std::uint8_t unit_id = 0x11;

// ---- the scripted server ------------------------------------------------------------------

struct ReceivedRequest {
  Bytes frame;
  std::int64_t received_ns = 0;  // when the whole request had arrived
};

/// One step of the script: what to send back for one request (empty: stay silent).
struct Step {
  std::function<Bytes(const Bytes& request)> answer;
  bool close_after = false;
};

std::uint16_t big_endian_u16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes.at(at) << 8) | bytes.at(at + 1));
}

Bytes concat(Bytes first, const Bytes& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

// Reads one request frame; empty if the client closed the connection first.
Bytes receive_request(int fd, Framing framing) {
  if (framing == Framing::tcp) {
    Bytes header = hilbench::test::receive_exact(fd, 7);
    if (header.size() < 7) return {};
    return concat(header, hilbench::test::receive_exact(fd, big_endian_u16(header, 4) - 1U));
  }
  Bytes head = hilbench::test::receive_exact(fd, 2);
  if (head.size() < 2) return {};
  switch (head[1]) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x08:
      return concat(head, hilbench::test::receive_exact(fd, 6));  // two 16-bit fields + CRC
    case 0x0F:
    case 0x10: {
      head = concat(head, hilbench::test::receive_exact(fd, 5));  // address, quantity, byte count
      return concat(head, hilbench::test::receive_exact(fd, head.at(6) + 2U));
    }
    case 0x2B:
      return concat(head, hilbench::test::receive_exact(fd, 5));  // MEI, code, object id, CRC
    default:
      throw std::runtime_error("scripted RTU server: unexpected function in request");
  }
}

class ScriptedServer {
 public:
  ScriptedServer(Framing framing, std::vector<Step> script)
      : done_(std::async(std::launch::async,
                         [this, framing, script = std::move(script)] { serve(framing, script); })) {
  }
  ~ScriptedServer() {
    if (done_.valid()) done_.wait();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::uint16_t port() const noexcept { return listener_.port(); }

  /// Waits for the server to finish (the client must be gone) and returns what it saw.
  const std::vector<ReceivedRequest>& requests() {
    if (done_.valid()) done_.get();
    return requests_;
  }
  /// Monotonic ns when each answer (one per request, 0 for silence) had been sent.
  const std::vector<std::int64_t>& answers_sent_ns() {
    requests();
    return answers_sent_ns_;
  }

 private:
  void serve(Framing framing, const std::vector<Step>& script) {
    const hilbench::UniqueFd connection = listener_.accept();
    for (const Step& step : script) {
      Bytes request = receive_request(connection.get(), framing);
      if (request.empty()) return;
      requests_.push_back({request, hilbench::monotonic_ns()});
      const Bytes answer = step.answer(request);
      if (!answer.empty()) hilbench::test::send_all(connection.get(), answer);
      answers_sent_ns_.push_back(answer.empty() ? 0 : hilbench::monotonic_ns());
      if (step.close_after) return;
    }
    // Script done: keep the connection until the client closes it.
    while (!receive_request(connection.get(), framing).empty()) {
    }
  }

  hilbench::test::LoopbackListener listener_;  // bound before the thread starts
  std::vector<ReceivedRequest> requests_;
  std::vector<std::int64_t> answers_sent_ns_;
  std::future<void> done_;
};

// ---- answers ------------------------------------------------------------------------------

Bytes mbap_frame(std::uint16_t transaction_id, std::uint16_t protocol_id, std::uint8_t unit,
                 const Bytes& pdu) {
  const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
  Bytes frame{static_cast<std::uint8_t>(transaction_id >> 8),
              static_cast<std::uint8_t>(transaction_id),
              static_cast<std::uint8_t>(protocol_id >> 8),
              static_cast<std::uint8_t>(protocol_id),
              static_cast<std::uint8_t>(length >> 8),
              static_cast<std::uint8_t>(length),
              unit};
  return concat(frame, pdu);
}

Bytes rtu_frame(std::uint8_t unit, const Bytes& pdu) {
  Bytes frame = concat(Bytes{unit}, pdu);
  const std::uint16_t crc = modbus::crc16(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

/// TCP: answers `pdu` with the request's transaction id and unit.
Step tcp_answer(Bytes pdu) {
  return {[pdu](const Bytes& request) {
    return mbap_frame(big_endian_u16(request, 0), 0, request.at(6), pdu);
  }};
}

/// TCP: answers with a transaction id `offset` away from the request's.
Step tcp_answer_with_id_offset(int offset, Bytes pdu) {
  return {[offset, pdu](const Bytes& request) {
    return mbap_frame(static_cast<std::uint16_t>(big_endian_u16(request, 0) + offset), 0,
                      request.at(6), pdu);
  }};
}

Step rtu_answer(std::uint8_t unit, Bytes pdu) {
  return {[unit, pdu](const Bytes&) { return rtu_frame(unit, pdu); }};
}

Step raw_answer(Bytes bytes) {
  return {[bytes](const Bytes&) { return bytes; }};
}

Step echo_request() {
  return {[](const Bytes& request) { return request; }};
}

Step silence() {
  return {[](const Bytes&) { return Bytes{}; }};
}

// ---- the client side ----------------------------------------------------------------------

modbus::ClientOptions options_for(Framing framing) {
  modbus::ClientOptions options;
  options.framing = framing;
  options.unit = unit_id;
  options.timeout = 1s;
  options.rtu_silence = 5ms;
  return options;
}

/// A scripted server and a client connected to it, recording every exchange.
struct Bench {
  explicit Bench(Framing framing, std::vector<Step> script)
      : Bench(std::move(script), options_for(framing)) {}
  Bench(std::vector<Step> script, modbus::ClientOptions options)
      : server(options.framing, std::move(script)) {
    hilbench::TcpSettings settings;
    settings.host = "127.0.0.1";
    settings.port = server.port();
    client.emplace(std::make_shared<hilbench::TcpTransport>(settings), options);
    client->set_exchange_sink([this](const Exchange& exchange) { exchanges.push_back(exchange); });
  }

  /// Closes the client and returns the requests the server received.
  const std::vector<ReceivedRequest>& finish() {
    client.reset();
    return server.requests();
  }

  ScriptedServer server;  // declared first: destroyed after the client has hung up
  std::optional<modbus::Client> client;
  std::vector<Exchange> exchanges;
};

Bytes pdu_of_tcp_request(const ReceivedRequest& request) {
  return Bytes(request.frame.begin() + 7, request.frame.end());
}

bool contains(const std::string& text, const std::string& part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) BOOST_TEST_MESSAGE("'" << text << "' lacks '" << part << "'");
  return found;
}

auto mentions(std::string part) {
  return [part = std::move(part)](const std::exception& error) {
    return contains(error.what(), part);
  };
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

// ---- Modbus TCP -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(tcp)

BOOST_AUTO_TEST_CASE(reads_holding_registers_and_records_the_exchange) {
  Bench bench(Framing::tcp, {tcp_answer({0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64})});
  const auto values = bench.client->read_holding_registers(0x006B, 3);
  BOOST_TEST(values == (std::vector<std::uint16_t>{0x022B, 0x0000, 0x0064}),
             boost::test_tools::per_element());
  const auto& requests = bench.finish();

  BOOST_REQUIRE_EQUAL(requests.size(), 1U);
  const Bytes expected_request{0x00,    0x01, 0x00, 0x00, 0x00, 0x06,
                               unit_id, 0x03, 0x00, 0x6B, 0x00, 0x03};
  BOOST_TEST(requests[0].frame == expected_request, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  const Exchange& exchange = bench.exchanges[0];
  BOOST_TEST(exchange.outcome == "ok");
  BOOST_TEST(exchange.error.empty());
  BOOST_TEST(exchange.protocol == "modbus");
  BOOST_TEST(exchange.transport == "tcp:127.0.0.1:" + std::to_string(bench.server.port()));
  BOOST_TEST(exchange.fields.dump() == R"({"framing":"tcp","function":3,"unit":17})");
  BOOST_TEST(exchange.operation == "read_holding_registers(107, 3)");
  BOOST_TEST(exchange.request == expected_request, boost::test_tools::per_element());
  BOOST_TEST(exchange.response.size() == 15U);
  BOOST_TEST(exchange.request_ns > 0);
  BOOST_TEST(exchange.response_ns >= exchange.request_ns);
}

BOOST_AUTO_TEST_CASE(reads_input_registers_coils_and_discrete_inputs) {
  Bench bench(Framing::tcp,
              {
                  tcp_answer({0x04, 0x02, 0x00, 0x0A}), tcp_answer({0x01, 0x02, 0xCD, 0x01}),
                  tcp_answer({0x02, 0x01, 0xFD}),  // padding bits above input 3 set
              });
  BOOST_TEST(bench.client->read_input_registers(8, 1) == (std::vector<std::uint16_t>{10}),
             boost::test_tools::per_element());
  const std::vector<bool> coils = bench.client->read_coils(19, 10);
  BOOST_TEST(
      coils == (std::vector<bool>{true, false, true, true, false, false, true, true, true, false}),
      boost::test_tools::per_element());
  BOOST_TEST(bench.client->read_discrete_inputs(196, 3) == (std::vector<bool>{true, false, true}),
             boost::test_tools::per_element());
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 3U);
  BOOST_TEST(pdu_of_tcp_request(requests[0]) == (Bytes{0x04, 0x00, 0x08, 0x00, 0x01}),
             boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[1]) == (Bytes{0x01, 0x00, 0x13, 0x00, 0x0A}),
             boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[2]) == (Bytes{0x02, 0x00, 0xC4, 0x00, 0x03}),
             boost::test_tools::per_element());
  // Transaction ids count up from 1.
  BOOST_TEST(big_endian_u16(requests[2].frame, 0) == 3U);
}

BOOST_AUTO_TEST_CASE(writes_are_checked_against_their_echo) {
  Bench bench(Framing::tcp, {echo_request(), echo_request(), echo_request(),
                             tcp_answer({0x0F, 0x00, 0x13, 0x00, 0x0A}),
                             tcp_answer({0x10, 0x00, 0x01, 0x00, 0x02})});
  bench.client->write_single_coil(172, true);
  bench.client->write_single_coil(172, false);
  bench.client->write_single_register(1, 3);
  bench.client->write_multiple_coils(
      19, {true, false, true, true, false, false, true, true, true, false});
  bench.client->write_multiple_registers(1, {0x000A, 0x0102});
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 5U);
  BOOST_TEST(pdu_of_tcp_request(requests[0]) == (Bytes{0x05, 0x00, 0xAC, 0xFF, 0x00}),
             boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[1]) == (Bytes{0x05, 0x00, 0xAC, 0x00, 0x00}),
             boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[2]) == (Bytes{0x06, 0x00, 0x01, 0x00, 0x03}),
             boost::test_tools::per_element());
  BOOST_TEST(
      pdu_of_tcp_request(requests[3]) == (Bytes{0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01}),
      boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[4]) ==
                 (Bytes{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}),
             boost::test_tools::per_element());
  BOOST_TEST(bench.exchanges.size() == 5U);
  for (const Exchange& exchange : bench.exchanges) BOOST_TEST(exchange.outcome == "ok");
}

BOOST_AUTO_TEST_CASE(exception_response_is_a_modbus_exception) {
  Bench bench(Framing::tcp,
              {tcp_answer({0x83, 0x02}), tcp_answer({0x83, 0x02}), tcp_answer({0x90, 0x04})});
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(9000, 2), modbus::ModbusException,
                        [](const modbus::ModbusException& error) {
                          return error.function() == 0x03 && error.code() == 0x02 &&
                                 error.protocol() == "modbus" &&
                                 error.operation() == "read_holding_registers(9000, 2)" &&
                                 contains(error.what(), "exception 02 ILLEGAL DATA ADDRESS");
                        });
  // transact() hands the exception response back instead of throwing.
  const modbus::Pdu raw = bench.client->transact({0x03, {0x23, 0x28, 0x00, 0x02}});
  BOOST_TEST(raw.function == 0x83);
  BOOST_TEST(raw.data == (Bytes{0x02}), boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(bench.client->write_multiple_registers(0, {1}), modbus::ModbusException,
                        [](const modbus::ModbusException& error) {
                          return error.function() == 0x10 && error.code() == 0x04 &&
                                 contains(error.what(), "exception 04 SERVER DEVICE FAILURE");
                        });
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 3U);
  BOOST_TEST(bench.exchanges[0].outcome == "device_error");
  BOOST_TEST(contains(bench.exchanges[0].error, "exception 02 ILLEGAL DATA ADDRESS"));
  BOOST_TEST(bench.exchanges[0].response.size() == 9U);
  BOOST_TEST(bench.exchanges[0].fields.value("exception_code", 0) == 2);
  BOOST_TEST(bench.exchanges[1].outcome == "device_error");
  BOOST_TEST(bench.exchanges[1].error.empty());  // transact() did not fail
  BOOST_TEST(bench.exchanges[1].fields.value("exception_code", 0) == 2);
  BOOST_TEST(bench.exchanges[2].outcome == "device_error");
  BOOST_TEST(bench.exchanges[2].fields.value("exception_code", 0) == 4);
}

BOOST_AUTO_TEST_CASE(malformed_exception_responses_are_protocol_errors) {
  Bench bench(Framing::tcp,
              {tcp_answer({0x84, 0x02}), tcp_answer({0x83, 0x02, 0x00}), tcp_answer({0x83, 0x00})});
  BOOST_CHECK_EXCEPTION(
      bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
      mentions("exception response function 0x84 does not answer request function 0x03"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("malformed exception response: data 02 00"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("malformed exception response: data 00"));
  bench.finish();
  for (const Exchange& exchange : bench.exchanges) BOOST_TEST(exchange.outcome == "protocol_error");
}

BOOST_AUTO_TEST_CASE(an_answer_to_another_transaction_is_a_protocol_error) {
  Bench bench(Framing::tcp, {tcp_answer_with_id_offset(+5, {0x03, 0x02, 0x00, 0x01}),
                             tcp_answer({0x03, 0x02, 0x00, 0x02})});
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("transaction id 6 does not match the request's 1"));
  // The stream stays in step: the next transaction succeeds.
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{2}),
             boost::test_tools::per_element());
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 2U);
  BOOST_TEST(bench.exchanges[0].outcome == "protocol_error");
  BOOST_TEST(contains(bench.exchanges[0].error, "transaction id 6"));
  BOOST_TEST(bench.exchanges[0].response.size() == 11U);
  BOOST_TEST(bench.exchanges[1].outcome == "ok");
}

BOOST_AUTO_TEST_CASE(bad_protocol_id_and_foreign_unit_are_protocol_errors) {
  Bench bench(
      Framing::tcp,
      {
          {[](const Bytes& request) {
            return mbap_frame(big_endian_u16(request, 0), 1, unit_id, {0x03, 0x02, 0x00, 0x01});
          }},
          {[](const Bytes& request) {
            return mbap_frame(big_endian_u16(request, 0), 0, 0x12, {0x03, 0x02, 0x00, 0x01});
          }},
      });
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("MBAP protocol id is 1, Modbus requires 0"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("response from unit 18 to a request for unit 17"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 2U);
  for (const Exchange& exchange : bench.exchanges) BOOST_TEST(exchange.outcome == "protocol_error");
}

BOOST_AUTO_TEST_CASE(responses_that_do_not_fit_the_request_are_protocol_errors) {
  Bench bench(Framing::tcp,
              {
                  tcp_answer({0x04, 0x02, 0x00, 0x01}),              // other function
                  tcp_answer({0x03, 0x04, 0x00, 0x01, 0x00, 0x02}),  // count 2 for 1 register
                  tcp_answer({0x03, 0x02, 0x00}),                    // byte count 2, 1 byte
                  tcp_answer({0x01, 0x00}),                          // byte count 0 for 1 coil
                  tcp_answer({0x06, 0x00, 0x01, 0x00, 0x04}),        // echoes another value
                  tcp_answer({0x10, 0x00, 0x01, 0x00, 0x03}),        // echoes another quantity
                  tcp_answer({0x05, 0x00, 0x01, 0xFF}),              // echo too short
              });
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("response function 0x04 does not answer request function 0x03"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("byte count 4 where 2 was expected"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("byte count 2 but 1 data bytes follow"));
  BOOST_CHECK_EXCEPTION(bench.client->read_coils(0, 1), hilbench::ProtocolError,
                        mentions("byte count 0 where 1 was expected"));
  BOOST_CHECK_EXCEPTION(
      bench.client->write_single_register(1, 3), hilbench::ProtocolError,
      mentions("does not echo address and value: sent 00 01 00 03, got 00 01 00 04"));
  BOOST_CHECK_EXCEPTION(bench.client->write_multiple_registers(1, {1, 2}), hilbench::ProtocolError,
                        mentions("does not echo address and quantity"));
  BOOST_CHECK_EXCEPTION(bench.client->write_single_coil(1, true), hilbench::ProtocolError,
                        mentions("sent 00 01 FF 00, got 00 01 FF"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 7U);
  for (const Exchange& exchange : bench.exchanges) {
    BOOST_TEST(exchange.outcome == "protocol_error");
    BOOST_TEST(contains(exchange.error, exchange.operation));
  }
}

BOOST_AUTO_TEST_CASE(truncated_frame_times_out_with_what_arrived_recorded) {
  modbus::ClientOptions options = options_for(Framing::tcp);
  options.timeout = 200ms;
  Bench bench({{[](const Bytes& request) {
                 // The header promises 8 more bytes; only 3 come.
                 Bytes frame = mbap_frame(big_endian_u16(request, 0), 0, unit_id,
                                          {0x03, 0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03});
                 frame.resize(7 + 3);
                 return frame;
               }},
               tcp_answer({0x03, 0x02, 0x00, 0x09})},
              options);
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 3), hilbench::DeviceTimeout,
                        [](const hilbench::DeviceTimeout& error) {
                          return error.operation() == "read_holding_registers(0, 3)" &&
                                 error.deadline() == std::chrono::nanoseconds(200ms) &&
                                 contains(error.what(),
                                          "read_exact(8): no answer: 3 of 8 bytes received");
                        });
  BOOST_TEST(milliseconds_since(started) >= 200.0);
  // The next transaction is not confused by the remains of the broken one.
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{9}),
             boost::test_tools::per_element());
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 2U);
  BOOST_TEST(bench.exchanges[0].outcome == "timeout");
  BOOST_TEST(bench.exchanges[0].response.size() == 7U);  // the complete header piece
  BOOST_TEST(bench.exchanges[0].response_ns == 0);
  BOOST_TEST(bench.exchanges[1].outcome == "ok");
}

BOOST_AUTO_TEST_CASE(implausible_mbap_length_fails_without_waiting) {
  Bench bench(Framing::tcp, {raw_answer({0x00, 0x01, 0x00, 0x00, 0x00, 0x00, unit_id}),
                             raw_answer({0x00, 0x02, 0x00, 0x00, 0x01, 0x2C, unit_id, 0x03})});
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("MBAP length field 0 is outside 2..254"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("MBAP length field 300 is outside 2..254"));
  BOOST_TEST(milliseconds_since(started) < 500.0);  // well inside the 1 s timeout
  bench.finish();
}

BOOST_AUTO_TEST_CASE(silence_times_out_and_the_late_answer_is_skipped_once) {
  modbus::ClientOptions options = options_for(Framing::tcp);
  options.timeout = 200ms;
  Bench bench({silence(),
               {[](const Bytes& request) {
                 // The late answer to request 1 arrives just before the answer to request 2.
                 const auto id = big_endian_u16(request, 0);
                 return concat(mbap_frame(static_cast<std::uint16_t>(id - 1), 0, unit_id,
                                          {0x03, 0x02, 0x00, 0x01}),
                               mbap_frame(id, 0, unit_id, {0x03, 0x02, 0x00, 0x02}));
               }},
               tcp_answer_with_id_offset(-2, {0x03, 0x02, 0x00, 0x01})},  // request 1's id again
              options);
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::DeviceTimeout,
                        mentions("read_exact(7): no answer: 0 of 7 bytes received"));
  const double elapsed_ms = milliseconds_since(started);
  BOOST_TEST(elapsed_ms >= 200.0);
  BOOST_TEST(elapsed_ms < 400.0);
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{2}),
             boost::test_tools::per_element());
  // A late answer is skipped only once: the same id again is a protocol error.
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("transaction id 1 does not match the request's 3"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 3U);
  BOOST_TEST(bench.exchanges[0].outcome == "timeout");
  BOOST_TEST(bench.exchanges[0].response.empty());
  BOOST_TEST(bench.exchanges[1].outcome == "ok");
  BOOST_TEST(big_endian_u16(bench.exchanges[1].response, 0) == 2U);  // only its own answer
  BOOST_TEST(bench.exchanges[2].outcome == "protocol_error");
}

BOOST_AUTO_TEST_CASE(peer_closing_mid_transaction_is_a_transport_error) {
  Bench bench(Framing::tcp, {{[](const Bytes&) { return Bytes{}; }, /*close_after=*/true}});
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ConnectionClosed,
                        [](const hilbench::ConnectionClosed& error) {
                          return error.operation() == "read_holding_registers(0, 1)" &&
                                 contains(error.what(), "peer closed the connection");
                        });
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  BOOST_TEST(bench.exchanges[0].outcome == "transport_error");
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused_before_anything_is_sent) {
  Bench bench(Framing::tcp, {tcp_answer({0x03, 0x02, 0x00, 0x07})});
  auto& client = *bench.client;
  BOOST_CHECK_EXCEPTION(client.read_holding_registers(0, 0), hilbench::ConfigError,
                        mentions("quantity 0 is outside 1..125"));
  BOOST_CHECK_EXCEPTION(client.read_holding_registers(0, 126), hilbench::ConfigError,
                        [](const hilbench::ConfigError& error) {
                          return error.operation() == "read_holding_registers(0, 126)" &&
                                 contains(error.what(), "quantity 126 is outside 1..125");
                        });
  BOOST_CHECK_EXCEPTION(client.read_input_registers(65535, 2), hilbench::ConfigError,
                        mentions("addresses 65535..65536 run past the last address 65535"));
  BOOST_CHECK_EXCEPTION(client.read_coils(0, 2001), hilbench::ConfigError,
                        mentions("outside 1..2000"));
  BOOST_CHECK_EXCEPTION(client.read_discrete_inputs(0, 0), hilbench::ConfigError,
                        mentions("outside 1..2000"));
  BOOST_CHECK_EXCEPTION(client.write_multiple_coils(0, {}), hilbench::ConfigError,
                        mentions("outside 1..1968"));
  BOOST_CHECK_EXCEPTION(client.write_multiple_coils(0, std::vector<bool>(1969)),
                        hilbench::ConfigError, mentions("outside 1..1968"));
  BOOST_CHECK_EXCEPTION(client.write_multiple_registers(0, std::vector<std::uint16_t>(124)),
                        hilbench::ConfigError, mentions("outside 1..123"));
  BOOST_CHECK_EXCEPTION(client.write_multiple_registers(65500, std::vector<std::uint16_t>(100)),
                        hilbench::ConfigError, mentions("run past"));
  // The limits themselves are fine; only the one valid request reaches the server.
  BOOST_TEST(client.read_holding_registers(65535, 1) == (std::vector<std::uint16_t>{7}),
             boost::test_tools::per_element());
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 1U);
  BOOST_TEST(big_endian_u16(requests[0].frame, 0) == 1U);
  BOOST_TEST(bench.exchanges.size() == 1U);
}

BOOST_AUTO_TEST_CASE(device_identification_follows_more_follows) {
  Bench bench(
      Framing::tcp,
      {tcp_answer({0x2B, 0x0E, 0x01, 0x81, 0xFF, 0x02, 0x02, 0x00, 0x04, 'A', 'C', 'M', 'E', 0x01,
                   0x04, 'E', 'M', '-', '1'}),
       tcp_answer({0x2B, 0x0E, 0x01, 0x81, 0x00, 0x00, 0x01, 0x02, 0x04, 'v', '1', '.', '2'})});
  const modbus::DeviceIdentification identity = bench.client->read_device_identification();
  BOOST_TEST(identity.conformity_level == 0x81);
  BOOST_REQUIRE_EQUAL(identity.objects.size(), 3U);
  BOOST_TEST(identity.objects.at(0x00) == "ACME");
  BOOST_TEST(identity.objects.at(0x01) == "EM-1");
  BOOST_TEST(identity.objects.at(0x02) == "v1.2");
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 2U);
  BOOST_TEST(pdu_of_tcp_request(requests[0]) == (Bytes{0x2B, 0x0E, 0x01, 0x00}),
             boost::test_tools::per_element());
  BOOST_TEST(pdu_of_tcp_request(requests[1]) == (Bytes{0x2B, 0x0E, 0x01, 0x02}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 2U);
  BOOST_TEST(bench.exchanges[1].operation == "read_device_identification(basic, object 0x02)");
}

BOOST_AUTO_TEST_CASE(malformed_device_identification_is_a_protocol_error) {
  Bench bench(
      Framing::tcp,
      {
          tcp_answer(
              {0x2B, 0x0E, 0x02, 0x02, 0x00, 0x00, 0x01, 0x00, 0x09, 'A', 'C'}),  // value cut short
          tcp_answer(
              {0x2B, 0x0E, 0x02, 0x02, 0x00, 0x00, 0x02, 0x00, 0x01, 'A'}),  // object 2 missing
          tcp_answer({0x2B, 0x0E, 0x02, 0x02, 0x00, 0x00, 0x00, 0x55}),      // trailing byte
          tcp_answer({0x2B, 0x0E, 0x02, 0x02, 0x55, 0x00, 0x00}),            // bad "more follows"
          tcp_answer({0x2B, 0x0E, 0x01, 0x02, 0x00, 0x00, 0x00}),            // wrong code echo
          tcp_answer({0x2B, 0x0D, 0x02, 0x02, 0x00, 0x00, 0x00}),            // wrong MEI type
          tcp_answer({0x2B, 0x0E, 0x02}),                                    // header cut short
          tcp_answer({0x2B, 0x0E, 0x02, 0x02, 0xFF, 0x00, 0x00}),  // next object 0 again: a loop
      });
  auto& client = *bench.client;
  const auto regular = modbus::DeviceIdCategory::regular;
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("object 0x00 announces 9 bytes, only 2 follow"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("object 2 of 2: header missing"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("1 bytes follow the 0 announced objects"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("'more follows' is 0x55"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("read device id code 01 does not echo 02"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("MEI type 0x0D does not echo 0x0E"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("the header alone needs 6"));
  BOOST_CHECK_EXCEPTION(client.read_device_identification(regular), hilbench::ProtocolError,
                        mentions("next object 0x00, which was already requested"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 8U);
  for (std::size_t index = 0; index < 7; ++index)
    BOOST_TEST(bench.exchanges[index].outcome == "protocol_error");
  BOOST_TEST(bench.exchanges[7].outcome ==
             "ok");  // well-formed answer; the loop is the client's finding
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Modbus RTU (frames carried over a loopback TCP socket) ------------------------------------

BOOST_AUTO_TEST_SUITE(rtu)

BOOST_AUTO_TEST_CASE(reads_registers_by_exact_length_without_waiting_for_silence) {
  modbus::ClientOptions options = options_for(Framing::rtu);
  options.rtu_silence = 300ms;  // long enough that any wait for it would show
  Bench bench({rtu_answer(unit_id, {0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64})}, options);
  const auto started = std::chrono::steady_clock::now();
  BOOST_TEST(bench.client->read_holding_registers(0x006B, 3) ==
                 (std::vector<std::uint16_t>{0x022B, 0, 0x64}),
             boost::test_tools::per_element());
  BOOST_TEST(milliseconds_since(started) < 300.0);
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 1U);
  const Bytes expected_request{unit_id, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87};  // spec example
  BOOST_TEST(requests[0].frame == expected_request, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  BOOST_TEST(bench.exchanges[0].fields.value("framing", "") == "rtu");
  BOOST_TEST(bench.exchanges[0].outcome == "ok");
  BOOST_TEST(bench.exchanges[0].response ==
                 rtu_frame(unit_id, {0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(waits_t35_after_the_last_frame_before_the_next_request) {
  modbus::ClientOptions options = options_for(Framing::rtu);
  options.rtu_silence = 150ms;
  Bench bench({rtu_answer(unit_id, {0x06, 0x00, 0x01, 0x00, 0x03}),
               rtu_answer(unit_id, {0x06, 0x00, 0x01, 0x00, 0x04})},
              options);
  bench.client->write_single_register(1, 3);
  bench.client->write_single_register(1, 4);
  const auto& requests = bench.finish();
  const auto& answers_sent_ns = bench.server.answers_sent_ns();
  BOOST_REQUIRE_EQUAL(requests.size(), 2U);
  const double gap_ms = static_cast<double>(requests[1].received_ns - answers_sent_ns[0]) / 1e6;
  BOOST_TEST(gap_ms >= 150.0);
}

BOOST_AUTO_TEST_CASE(stale_bytes_before_a_request_are_discarded) {
  Bench bench(
      Framing::rtu,
      {{[](const Bytes&) {
         return concat(rtu_frame(unit_id, {0x03, 0x02, 0x00, 0x01}), Bytes{0xDE, 0xAD, 0xBE});
       }},
       rtu_answer(unit_id, {0x03, 0x02, 0x00, 0x02})});
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{1}),
             boost::test_tools::per_element());
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{2}),
             boost::test_tools::per_element());
  bench.finish();
}

BOOST_AUTO_TEST_CASE(bad_crc_and_foreign_address_are_protocol_errors) {
  Bytes corrupted = rtu_frame(unit_id, {0x03, 0x02, 0x00, 0x01});
  corrupted[4] ^= 0x10;
  Bench bench(Framing::rtu, {raw_answer(corrupted), rtu_answer(0x12, {0x03, 0x02, 0x00, 0x01}),
                             rtu_answer(unit_id, {0x04, 0x02, 0x00, 0x01})});
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        [](const hilbench::ProtocolError& error) {
                          return error.operation() == "read_holding_registers(0, 1)" &&
                                 contains(error.what(), "CRC mismatch");
                        });
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("response from unit 18 to a request for unit 17"));
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
                        mentions("response function 0x04 does not answer request function 0x03"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 3U);
  BOOST_TEST(bench.exchanges[0].response == corrupted, boost::test_tools::per_element());
  for (const Exchange& exchange : bench.exchanges) BOOST_TEST(exchange.outcome == "protocol_error");
}

BOOST_AUTO_TEST_CASE(exception_response_is_a_modbus_exception) {
  Bench bench(Framing::rtu, {rtu_answer(unit_id, {0x81, 0x01})});
  BOOST_CHECK_EXCEPTION(bench.client->read_coils(0, 8), modbus::ModbusException,
                        [](const modbus::ModbusException& error) {
                          return error.function() == 0x01 && error.code() == 0x01 &&
                                 contains(error.what(), "exception 01 ILLEGAL FUNCTION");
                        });
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  BOOST_TEST(bench.exchanges[0].outcome == "device_error");
  BOOST_TEST(bench.exchanges[0].fields.value("exception_code", 0) == 1);
  BOOST_TEST(bench.exchanges[0].response.size() == 5U);
}

BOOST_AUTO_TEST_CASE(unknown_function_lengths_are_read_until_silence) {
  // 0x08 Diagnostics echoes its request; its length is not computable from the head.
  Bench bench(Framing::rtu, {echo_request()});
  const modbus::Pdu answer = bench.client->transact({0x08, {0x00, 0x00, 0x12, 0x34}});
  BOOST_TEST(answer.function == 0x08);
  BOOST_TEST(answer.data == (Bytes{0x00, 0x00, 0x12, 0x34}), boost::test_tools::per_element());
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  BOOST_TEST(bench.exchanges[0].outcome == "ok");
  BOOST_TEST(bench.exchanges[0].operation == "transact(function 0x08, 4 data bytes)");
}

BOOST_AUTO_TEST_CASE(device_identification_over_rtu) {
  Bench bench(Framing::rtu,
              {rtu_answer(unit_id, {0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x03, 0x00, 0x04, 'A', 'C',
                                    'M',  'E',  0x01, 0x04, 'E',  'M',  '-',  '1',  0x02, 0x00})});
  const auto identity = bench.client->read_device_identification(modbus::DeviceIdCategory::basic);
  BOOST_TEST(identity.conformity_level == 0x01);
  BOOST_TEST(identity.objects.at(0x00) == "ACME");
  BOOST_TEST(identity.objects.at(0x01) == "EM-1");
  BOOST_TEST(identity.objects.at(0x02).empty());
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 1U);
  BOOST_TEST(requests[0].frame == rtu_frame(unit_id, {0x2B, 0x0E, 0x01, 0x00}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(broadcast_writes_await_no_answer) {
  modbus::ClientOptions options = options_for(Framing::rtu);
  options.unit = 0;
  options.timeout = 2s;
  Bench bench({silence(), rtu_answer(unit_id, {0x03, 0x02, 0x00, 0x07})}, options);
  const auto started = std::chrono::steady_clock::now();
  bench.client->write_single_register(1, 7);
  BOOST_TEST(milliseconds_since(started) < 1000.0);  // returned without waiting for an answer
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 1), hilbench::ConfigError,
                        mentions("unit 0 is the RTU broadcast address"));
  bench.client->set_unit(unit_id);
  BOOST_TEST(bench.client->read_holding_registers(0, 1) == (std::vector<std::uint16_t>{7}),
             boost::test_tools::per_element());
  const auto& requests = bench.finish();
  BOOST_REQUIRE_EQUAL(requests.size(), 2U);
  BOOST_TEST(requests[0].frame == rtu_frame(0x00, {0x06, 0x00, 0x01, 0x00, 0x07}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 2U);
  BOOST_TEST(bench.exchanges[0].outcome == "ok");
  BOOST_TEST(bench.exchanges[0].response.empty());
}

BOOST_AUTO_TEST_CASE(oversized_announcement_fails_without_waiting) {
  Bench bench(Framing::rtu, {raw_answer({unit_id, 0x03, 0xFF})});  // 3 + 255 + 2 = 260 > 256
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(
      bench.client->read_holding_registers(0, 1), hilbench::ProtocolError,
      mentions("response announces 260 bytes, more than the 256-byte RTU maximum"));
  BOOST_TEST(milliseconds_since(started) < 500.0);
  bench.finish();
}

BOOST_AUTO_TEST_CASE(truncated_answer_times_out) {
  modbus::ClientOptions options = options_for(Framing::rtu);
  options.timeout = 200ms;
  Bench bench({raw_answer({unit_id, 0x03, 0x04, 0x00})}, options);
  BOOST_CHECK_EXCEPTION(bench.client->read_holding_registers(0, 2), hilbench::DeviceTimeout,
                        mentions("read_exact(6): no answer: 1 of 6 bytes received"));
  bench.finish();
  BOOST_REQUIRE_EQUAL(bench.exchanges.size(), 1U);
  BOOST_TEST(bench.exchanges[0].outcome == "timeout");
  BOOST_TEST(bench.exchanges[0].response == (Bytes{unit_id, 0x03, 0x04}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
