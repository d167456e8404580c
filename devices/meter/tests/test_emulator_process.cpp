// End-to-end tests of the built hilbench-emulator executable: the ready line, Modbus TCP on
// a real socket (several clients, garbage clients), exit on stdin EOF and SIGTERM, profile
// errors, --dump-profile, defect flags, and Modbus RTU on a pty (--serial-fd) with t3.5
// framing and paced replies. No sleeps: every wait is a poll() bounded by a deadline.
#define BOOST_TEST_MODULE emulator_process
#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emulator_process.hpp"

namespace {

using namespace emulator_test;

// A profile file for one test, removed afterwards.
class TempProfile {
 public:
  explicit TempProfile(const std::string& text) {
    char name[] = "/tmp/hilbench-profile-XXXXXX.toml";
    const int fd = ::mkstemps(name, 5);
    if (fd < 0) throw_errno("mkstemps");
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempProfile() { ::unlink(path_.c_str()); }
  TempProfile(const TempProfile&) = delete;
  TempProfile& operator=(const TempProfile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream stream(path);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

}  // namespace

BOOST_AUTO_TEST_CASE(tcp_round_trip_then_exit_on_stdin_eof) {
  EmulatorProcess emulator({"--profile", em1_path, "--no-serial", "--tcp-port", "0"});
  const auto ready = emulator.ready();
  BOOST_TEST(ready["event"] == "ready");
  BOOST_TEST(ready["pid"] == emulator.pid());
  BOOST_TEST(ready["name"] == "em1");
  BOOST_TEST(ready["tcp"]["host"] == "127.0.0.1");
  const int port = ready["tcp"]["port"];
  BOOST_TEST(port > 0);
  BOOST_TEST(ready["serial"].is_null());
  BOOST_TEST(ready["defects"] == nlohmann::json::array());

  UniqueFd client = connect_tcp(port);
  // FC3, holding registers 0..2 of EM-1: ct_ratio 1, demand_period 15, tariff 1.
  BOOST_TEST(tcp_transaction(client.get(), 0x1234, Bytes{3, 0, 0, 0, 3}) ==
                 (Bytes{3, 6, 0, 1, 0, 15, 0, 1}),
             boost::test_tools::per_element());
  client.reset();

  emulator.close_stdin();
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
  BOOST_TEST(emulator.read_stdout_to_eof(milliseconds{1'000}).empty());  // exactly one stdout line
}

BOOST_AUTO_TEST_CASE(garbage_clients_are_dropped_while_others_continue) {
  EmulatorProcess emulator({"--profile", em1_path, "--no-serial"});
  const int port = emulator.ready()["tcp"]["port"];
  UniqueFd good = connect_tcp(port);
  UniqueFd second = connect_tcp(port);
  BOOST_TEST(tcp_transaction(good.get(), 1, Bytes{4, 0, 4, 0, 1}) == (Bytes{4, 2, 0x13, 0x88}),
             boost::test_tools::per_element());

  {
    UniqueFd bad_protocol = connect_tcp(port);
    send_all(bad_protocol.get(), Bytes{0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1});
    BOOST_TEST(closed_by_peer(bad_protocol.get(), reply_budget));
  }
  {
    UniqueFd too_long = connect_tcp(port);
    send_all(too_long.get(), Bytes{0, 1, 0, 0, 0x01, 0x2C, 1, 3});  // length 300
    BOOST_TEST(closed_by_peer(too_long.get(), reply_budget));
  }
  {
    UniqueFd truncated = connect_tcp(port);
    send_all(truncated.get(), Bytes{0, 1, 0, 0, 0, 6, 1, 3});  // 4 PDU bytes never come
    // Meanwhile the other clients are served (interleaved, one I/O thread).
    BOOST_TEST(tcp_transaction(second.get(), 2, Bytes{3, 0, 1, 0, 1}) == (Bytes{3, 2, 0, 15}),
               boost::test_tools::per_element());
    BOOST_TEST(closed_by_peer(truncated.get(), reply_budget));
  }
  {
    UniqueFd noise = connect_tcp(port);
    Bytes random_bytes(600);
    for (std::size_t index = 0; index < random_bytes.size(); ++index)
      random_bytes[index] = static_cast<std::uint8_t>(index * 37 + 11);
    send_all(noise.get(), random_bytes);
    BOOST_TEST(closed_by_peer(noise.get(), reply_budget));
  }
  // Pipelined requests on one connection are all answered, in order.
  Bytes pipelined = mbap(10, 1, Bytes{3, 0, 0, 0, 1});
  const Bytes another = mbap(11, 0xFF, Bytes{1, 0, 0, 0, 2});
  pipelined.insert(pipelined.end(), another.begin(), another.end());
  send_all(good.get(), pipelined);
  auto replies = read_exact(good.get(), 11 + 10, reply_budget);
  BOOST_REQUIRE(replies.has_value());
  BOOST_TEST(
      *replies == (Bytes{0, 10, 0, 0, 0, 5, 1, 3, 2, 0, 1, 0, 11, 0, 0, 0, 4, 0xFF, 1, 1, 1}),
      boost::test_tools::per_element());
  BOOST_TEST(tcp_transaction(second.get(), 3, Bytes{0x2B, 0x0E, 4, 0}).size() > 9u);

  emulator.send_signal(SIGTERM);
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
}

BOOST_AUTO_TEST_CASE(defect_flags_are_applied_and_reported) {
  EmulatorProcess emulator({"--profile", em1_path, "--no-serial", "--defect", "tcp_register_skew",
                            "--defect", "illegal_function_silent"});
  const auto ready = emulator.ready();
  BOOST_TEST(ready["defects"] ==
             nlohmann::json::array({"illegal_function_silent", "tcp_register_skew"}));
  UniqueFd client = connect_tcp(ready["tcp"]["port"]);
  BOOST_TEST(tcp_transaction(client.get(), 1, Bytes{4, 0, 100, 0, 1}) == (Bytes{4, 2, 0, 1}),
             boost::test_tools::per_element());  // event count 0 + 1
  emulator.send_signal(SIGINT);
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
}

BOOST_AUTO_TEST_CASE(invalid_profile_exits_2_naming_file_and_key) {
  std::string text = read_text(em1_path);
  const auto at = text.find("type = \"u32\"");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 12, "type = \"u33\"");
  TempProfile profile(text);
  EmulatorProcess emulator({"--profile", profile.path(), "--no-serial"}, true);
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 2);
  const std::string message = emulator.read_stderr_to_eof(milliseconds{1'000});
  BOOST_TEST_MESSAGE("stderr: " << message);
  BOOST_TEST(message.find(profile.path()) != std::string::npos, message);
  BOOST_TEST(message.find("registers[5].type") != std::string::npos, message);
  BOOST_TEST(message.find("expected one of") != std::string::npos, message);
  BOOST_TEST(emulator.read_stdout_to_eof(milliseconds{1'000}).empty());
}

BOOST_AUTO_TEST_CASE(bad_command_lines_exit_2) {
  for (const auto& arguments : std::vector<std::vector<std::string>>{
           {"--profile", em1_path, "--defect", "no_such_defect"},
           {"--profile", em1_path, "--tcp-port", "70000"},
           {"--profile", em1_path, "--no-tcp", "--tcp-port", "5020"},
           {"--profile", em1_path, "--tcp-host", "not-an-address", "--no-serial"},
           {"--no-serial"},
       }) {
    EmulatorProcess emulator(arguments, true);
    BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 2);
    BOOST_TEST(!emulator.read_stderr_to_eof(milliseconds{1'000}).empty());
  }
}

BOOST_AUTO_TEST_CASE(dump_profile_prints_the_parsed_profile) {
  EmulatorProcess emulator({"--profile", em1_path, "--dump-profile"});
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
  const auto dump = nlohmann::json::parse(emulator.read_stdout_to_eof(milliseconds{1'000}));
  BOOST_TEST(dump["device"]["name"] == "em1");
  BOOST_TEST(dump["identity"]["revision"] == "1.4.2");
  BOOST_TEST(dump["registers"].size() == 56u);
  BOOST_TEST(dump["defects"]["bad_crc_answered"] == false);
}

BOOST_AUTO_TEST_CASE(list_defects_prints_every_kinds_knobs) {
  EmulatorProcess emulator({"--list-defects"});
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
  const auto listed = nlohmann::json::parse(emulator.read_stdout_to_eof(milliseconds{1'000}));
  const auto& meter = listed["kinds"]["meter"];
  BOOST_REQUIRE(meter.is_array());
  BOOST_TEST(meter.size() == 35u);  // devices/meter/defects.hpp
  BOOST_TEST(meter[0]["name"] == "illegal_address_returns_data");
  for (const auto& knob : meter) {
    BOOST_TEST(!knob["description"].get<std::string>().empty());
    BOOST_TEST(!knob["breaks"].get<std::string>().empty());
  }
}

BOOST_AUTO_TEST_CASE(unknown_kind_names_device_kind) {
  std::string text = read_text(em1_path);
  const auto at = text.find("kind = \"meter\"");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 14, "kind = \"kettle\"");
  TempProfile profile(text);
  EmulatorProcess emulator({"--profile", profile.path(), "--dump-profile"}, true);
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 2);
  const std::string message = emulator.read_stderr_to_eof(milliseconds{1'000});
  BOOST_TEST(message.find(profile.path() + ": device.kind: expected one of \"meter\"") !=
                 std::string::npos,
             message);
}

// 7E1 describes a real device (the dump shows it) but cannot be presented on a self-owned
// pty-backed port (--serial, the path without a presenter): exit 3 at start-up, unless the
// serial side is not served.
BOOST_AUTO_TEST_CASE(unpresentable_serial_settings_exit_3) {
  std::string text = read_text(em1_path);
  using Edit = std::pair<std::string, std::string>;
  for (const auto& [from, to] :
       {Edit{"data_bits = 8", "data_bits = 7"}, Edit{"parity = \"even\"", "parity = \"even\""}}) {
    const auto at = text.find(from);
    BOOST_REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  }
  TempProfile profile(text);
  {
    EmulatorProcess dump({"--profile", profile.path(), "--dump-profile"});
    BOOST_TEST(dump.wait_exit(milliseconds{5'000}) == 0);
    const auto json = nlohmann::json::parse(dump.read_stdout_to_eof(milliseconds{1'000}));
    BOOST_TEST(json["serial"]["data_bits"] == 7);
    BOOST_TEST(json["serial"]["parity"] == "even");
  }
  {
    EmulatorProcess emulator({"--profile", profile.path(), "--no-tcp"}, true);
    BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 3);
    const std::string message = emulator.read_stderr_to_eof(milliseconds{1'000});
    BOOST_TEST(message.find("cannot present this profile") != std::string::npos, message);
    BOOST_TEST(message.find("7 data bits, parity even") != std::string::npos, message);
    BOOST_TEST(emulator.read_stdout_to_eof(milliseconds{1'000}).empty());
  }
  EmulatorProcess tcp_only({"--profile", profile.path(), "--no-serial"});
  BOOST_TEST(tcp_only.ready()["tcp"].is_object());
  tcp_only.send_signal(SIGTERM);
  BOOST_TEST(tcp_only.wait_exit(milliseconds{5'000}) == 0);
}

// RTU through a pty the test owns: the emulator serves its master (--serial-fd), the test
// talks on the slave like a serial master would. EM-1 as an 8N1 device at 19200 baud (the
// shipped profile is 8E1; a bare pty carries no parity, so the test uses an 8N1 variant).
BOOST_AUTO_TEST_CASE(rtu_on_a_pty_frames_by_silence_paces_replies_and_shares_state) {
  std::string text = read_text(em1_path);
  const auto parity_at = text.find("parity = \"even\"");
  BOOST_REQUIRE(parity_at != std::string::npos);
  text.replace(parity_at, 15, "parity = \"none\"");
  TempProfile em1_8n1(text);
  int master_fd = -1;
  int slave_fd = -1;
  termios raw{};
  ::cfmakeraw(&raw);
  if (::openpty(&master_fd, &slave_fd, nullptr, &raw, nullptr) != 0) throw_errno("openpty");
  UniqueFd master(master_fd);
  UniqueFd slave(slave_fd);
  ::fcntl(slave.get(), F_SETFD, FD_CLOEXEC);  // only the master goes to the emulator

  EmulatorProcess emulator(
      {"--profile", em1_8n1.path(), "--serial-fd", std::to_string(master.get())});
  const auto ready = emulator.ready();
  master.reset();
  BOOST_TEST(ready["serial"]["baud"] == 19200);
  BOOST_TEST(ready["serial"]["parity"] == "none");
  BOOST_TEST(ready["serial"]["fd"] == master_fd);

  // A write over TCP is visible over RTU.
  UniqueFd client = connect_tcp(ready["tcp"]["port"]);
  BOOST_TEST(tcp_transaction(client.get(), 1, Bytes{6, 0, 3, 0, 7}) == (Bytes{6, 0, 3, 0, 7}),
             boost::test_tools::per_element());

  const Bytes request = with_crc({1, 3, 0, 0, 0, 10});
  const Bytes expected = with_crc({1,    3,    20,   0,    1,    0,    15,   0, 1, 0, 7, 0x03,
                                   0xE8, 0x01, 0x35, 0x29, 0x05, 0xBA, 0xBE, 0, 1, 0, 4});
  // Wire time at 520.8 us per character: the 8-byte request written at once still occupies
  // the line for 7 more characters after its first, t3.5 (1.82 ms) of silence ends it, then
  // the reply follows. Reply byte i can never arrive before 7 + t3.5 + (i + 1) characters
  // (deadline-paced output is late, never early), and the first byte arrives long before
  // the whole reply would have been on the wire (the reply is released over time, not at
  // once at the end). The latter needs the test itself to wake up in time, so one witness
  // out of three tries suffices.
  using std::chrono::nanoseconds;
  const nanoseconds character{520'833};
  const nanoseconds frame_silence =
      nanoseconds{1'822'915} + character * static_cast<std::int64_t>(request.size() - 1);
  const auto whole_reply = frame_silence + character * static_cast<std::int64_t>(expected.size());
  bool released_over_time = false;
  for (int attempt = 0; attempt < 3 && !released_over_time; ++attempt) {
    const auto started = Clock::now();
    BOOST_REQUIRE_EQUAL(::write(slave.get(), request.data(), request.size()),
                        static_cast<ssize_t>(request.size()));
    Bytes reply;
    std::vector<Clock::time_point> arrival;  // when each reply byte was read
    while (reply.size() < expected.size()) {
      BOOST_REQUIRE_MESSAGE(wait_readable(slave.get(), started + reply_budget),
                            "RTU reply incomplete");
      std::uint8_t chunk[64];
      const ssize_t count = ::read(slave.get(), chunk, sizeof chunk);
      BOOST_REQUIRE(count > 0);
      reply.insert(reply.end(), chunk, chunk + count);
      arrival.insert(arrival.end(), static_cast<std::size_t>(count), Clock::now());
    }
    BOOST_TEST(reply == expected, boost::test_tools::per_element());
    for (std::size_t index = 0; index < arrival.size(); ++index) {
      const auto earliest = frame_silence + character * static_cast<std::int64_t>(index + 1);
      BOOST_TEST_CONTEXT("reply byte " << index) {
        BOOST_TEST((arrival[index] - started >= earliest));
      }
    }
    released_over_time = arrival.front() - started < whole_reply;
    BOOST_TEST_MESSAGE(
        "RTU FC3x10: first byte after "
        << std::chrono::duration_cast<std::chrono::microseconds>(arrival.front() - started).count()
        << " us, last after "
        << std::chrono::duration_cast<std::chrono::microseconds>(arrival.back() - started).count()
        << " us (wire time " << whole_reply.count() / 1000 << " us)");
  }
  BOOST_TEST(released_over_time, "the reply came in one burst at the end in every try");

  // Silence: a bad CRC, another unit, and two frames without t3.5 between them (they merge
  // into one frame whose CRC is wrong). Then a good frame is still answered.
  Bytes corrupted = with_crc({1, 3, 0, 0, 0, 1});
  corrupted[2] ^= 0x40;
  Bytes merged = with_crc({1, 3, 0, 1, 0, 1});
  const Bytes second_frame = with_crc({1, 3, 0, 2, 0, 1});
  merged.insert(merged.end(), second_frame.begin(), second_frame.end());
  for (const Bytes& silent : {corrupted, with_crc({5, 3, 0, 0, 0, 1}), merged}) {
    BOOST_REQUIRE_EQUAL(::write(slave.get(), silent.data(), silent.size()),
                        static_cast<ssize_t>(silent.size()));
    BOOST_TEST(!wait_readable(slave.get(), Clock::now() + milliseconds{100}), "unexpected reply");
  }
  const Bytes broadcast = with_crc({0, 6, 0, 4, 0x12, 0x34});
  BOOST_REQUIRE_EQUAL(::write(slave.get(), broadcast.data(), broadcast.size()),
                      static_cast<ssize_t>(broadcast.size()));
  BOOST_TEST(!wait_readable(slave.get(), Clock::now() + milliseconds{100}), "broadcast answered");
  // The broadcast write shows over TCP (polled: the RTU side acts after its t3.5 timer).
  Bytes holding_4;
  for (std::uint16_t transaction = 2; transaction < 200 && holding_4 != Bytes{3, 2, 0x12, 0x34};
       ++transaction)
    holding_4 = tcp_transaction(client.get(), transaction, Bytes{3, 0, 4, 0, 1});
  BOOST_TEST(holding_4 == (Bytes{3, 2, 0x12, 0x34}), boost::test_tools::per_element());

  const Bytes exception_request = with_crc({1, 3, 0, 50, 0, 1});
  BOOST_REQUIRE_EQUAL(::write(slave.get(), exception_request.data(), exception_request.size()),
                      static_cast<ssize_t>(exception_request.size()));
  auto exception = read_exact(slave.get(), 5, reply_budget);
  BOOST_REQUIRE(exception.has_value());
  BOOST_TEST(*exception == with_crc({1, 0x83, 2}), boost::test_tools::per_element());

  emulator.close_stdin();
  BOOST_TEST(emulator.wait_exit(milliseconds{5'000}) == 0);
}
