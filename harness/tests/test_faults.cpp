// FaultPlan parsing and FaultyTransport, one test per fault kind, over real loopback TCP
// (the peer is a socket of this test; the wire is what the wrapped TcpTransport's chunk sink
// sees). Time figures are checked as lower bounds (a delay cannot be shorter than planned)
// with generous upper bounds, and on the recorded draws: functional checks, not benchmarks.
#define BOOST_TEST_MODULE test_faults
#include <poll.h>
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/faults/faulty_transport.hpp"
#include "hilbench/recorder.hpp"
#include "hilbench/transport/tcp.hpp"
#include "loopback_socket.hpp"

using namespace std::chrono_literals;
using hilbench::Bytes;
using hilbench::Chunk;
using hilbench::Deadline;
using hilbench::Direction;
using hilbench::Recorder;
using hilbench::faults::AppliedFault;
using hilbench::faults::FaultKind;
using hilbench::faults::FaultPlan;
using hilbench::faults::FaultyTransport;
using hilbench::faults::parse_fault_plan;
using json = nlohmann::json;

namespace {

FaultPlan plan_of(json faults, std::uint64_t seed = 7) {
  return parse_fault_plan(json{{"seed", seed}, {"faults", std::move(faults)}});
}

Bytes pattern(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 37 + 11);
  return out;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// A FaultyTransport over a real loopback TCP connection; `peer` is the device side.
struct Link {
  hilbench::test::LoopbackListener listener;
  std::shared_ptr<hilbench::TcpTransport> tcp;
  hilbench::UniqueFd peer;
  Recorder<Chunk> wire;
  Recorder<AppliedFault> applied;
  std::shared_ptr<FaultyTransport> faulty;

  explicit Link(FaultPlan plan) {
    hilbench::TcpSettings settings;
    settings.host = "127.0.0.1";
    settings.port = listener.port();
    settings.connect_timeout = 2s;
    tcp = std::make_shared<hilbench::TcpTransport>(settings);
    peer = listener.accept();
    tcp->set_chunk_sink(wire.sink());
    faulty = std::make_shared<FaultyTransport>(tcp, std::move(plan), applied.sink());
  }

  // Everything the peer has received until the line was quiet for 100 ms.
  Bytes device_received() {
    Bytes out;
    for (;;) {
      pollfd descriptor{peer.get(), POLLIN, 0};
      if (::poll(&descriptor, 1, 100) <= 0) return out;
      std::uint8_t buf[4096];
      const ssize_t n = ::recv(peer.get(), buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.insert(out.end(), buf, buf + n);
    }
  }

  // What the host reads through the faults until `count` bytes or the deadline.
  Bytes host_reads(std::size_t count, std::chrono::milliseconds budget = 2000ms) {
    Bytes out;
    const Deadline deadline = Deadline::after(budget);
    std::uint8_t buf[4096];
    while (out.size() < count) {
      const std::size_t n = faulty->read_some(std::span(buf, sizeof buf), deadline);
      if (n == 0) break;
      out.insert(out.end(), buf, buf + n);
    }
    return out;
  }

  Bytes wire_tx() {
    Bytes out;
    for (const Chunk& c : wire.drain())
      if (c.direction == Direction::tx) out.insert(out.end(), c.bytes.begin(), c.bytes.end());
    return out;
  }
};

std::vector<AppliedFault> of_kind(const std::vector<AppliedFault>& all, FaultKind kind) {
  std::vector<AppliedFault> out;
  for (const auto& a : all)
    if (a.kind == kind) out.push_back(a);
  return out;
}

bool has(const std::exception& error, const std::string& part) {
  const bool found = std::string(error.what()).find(part) != std::string::npos;
  if (!found) BOOST_TEST_MESSAGE("message '" << error.what() << "' lacks '" << part << "'");
  return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan)

BOOST_AUTO_TEST_CASE(round_trips_through_json) {
  const json doc = {{"seed", 42},
                    {"name", "mixed"},
                    {"faults",
                     {{{"kind", "latency"},
                       {"direction", "to_host"},
                       {"latency_ms", 50},
                       {"jitter_ms", 10},
                       {"start_s", 0.5},
                       {"duration_s", 2}},
                      {{"kind", "bit_flip"}, {"bit_error_rate", 1e-3}, {"every", 3}},
                      {{"kind", "slicer"}, {"average_size", 4}, {"size_variation", 1}},
                      {{"kind", "truncate"}, {"keep_bytes", 3}, {"probability", 0.5}}}}};
  const FaultPlan plan = parse_fault_plan(doc);
  BOOST_TEST(plan.seed == 42u);
  BOOST_TEST(plan.faults.size() == 4u);
  BOOST_TEST(plan.faults[0].latency.count() == 50'000'000);
  BOOST_TEST(plan.faults[0].schedule.start.count() == 500'000'000);
  BOOST_TEST(plan.faults[1].schedule.every == 3u);
  BOOST_TEST(*plan.faults[3].keep == 3u);
  const json canonical = hilbench::faults::to_json(plan);
  BOOST_TEST(hilbench::faults::to_json(parse_fault_plan(canonical)) == canonical);
}

BOOST_AUTO_TEST_CASE(errors_name_the_source_and_key) {
  const auto fails_with = [](const json& doc, const std::string& part) {
    try {
      parse_fault_plan(doc, "plan.toml");
    } catch (const hilbench::ConfigError& error) {
      return has(error, part) && has(error, "plan.toml");
    }
    return false;
  };
  BOOST_TEST(fails_with({{"faults", json::array()}}, "seed: missing"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", json::array()}, {"sed", 2}}, "sed: not a key"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", {{{"kind", "laggy"}}}}}, "faults[0].kind"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", {{{"kind", "bit_flip"}, {"bit_error_rate", 2}}}}},
                        "faults[0].bit_error_rate: 2 is out of range"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", {{{"kind", "down"}, {"latency_ms", 5}}}}},
                        "faults[0].latency_ms: not a key of a down fault"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", {{{"kind", "latency"}}}}},
                        "faults[0].latency_ms: missing"));
  BOOST_TEST(fails_with({{"seed", -1}, {"faults", json::array()}}, "seed"));
  BOOST_TEST(fails_with({{"seed", 1}, {"faults", {{{"kind", "gap"}, {"gap_ms", "5"}}}}},
                        "faults[0].gap_ms: must be a number"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(faulty_transport)

BOOST_AUTO_TEST_CASE(same_seed_same_faulted_stream) {
  const json faults = {{{"kind", "bit_flip"}, {"bit_error_rate", 0.01}},
                       {{"kind", "byte_drop"}, {"rate", 0.02}},
                       {{"kind", "byte_duplicate"}, {"rate", 0.02}},
                       {{"kind", "noise_burst"}, {"length", 4}, {"every", 5}}};
  const auto run = [&](std::uint64_t seed) {
    Link link(plan_of(faults, seed));
    for (int i = 0; i < 20; ++i) link.faulty->write(pattern(64), Deadline::after(1s));
    return link.device_received();
  };
  const Bytes first = run(1234);
  const Bytes second = run(1234);
  const Bytes other = run(1235);
  BOOST_TEST(first.size() > 0u);
  BOOST_TEST(first == second);
  BOOST_TEST(first != other);
  Bytes plain;
  for (int i = 0; i < 20; ++i) {
    const Bytes p = pattern(64);
    plain.insert(plain.end(), p.begin(), p.end());
  }
  BOOST_TEST(first != plain);
}

BOOST_AUTO_TEST_CASE(no_plan_passes_bytes_unchanged) {
  Link link(plan_of(json::array()));
  link.faulty->write(pattern(300), Deadline::after(1s));
  BOOST_TEST(link.device_received() == pattern(300));
  hilbench::test::send_all(link.peer.get(), pattern(200));
  BOOST_TEST(link.host_reads(200) == pattern(200));
  BOOST_TEST(link.applied.drain().empty());
  BOOST_TEST(link.faulty->name() ==
             "faults(tcp:127.0.0.1:" + std::to_string(link.listener.port()) + ")");
}

BOOST_AUTO_TEST_CASE(latency_with_jitter_towards_the_host) {
  Link link(plan_of(
      {{{"kind", "latency"}, {"direction", "to_host"}, {"latency_ms", 50}, {"jitter_ms", 10}}}));
  std::vector<double> measured;
  for (int i = 0; i < 12; ++i) {
    const auto start = std::chrono::steady_clock::now();
    hilbench::test::send_all(link.peer.get(), pattern(8));
    BOOST_TEST(link.host_reads(8) == pattern(8));
    measured.push_back(ms_since(start));
  }
  const auto applied = of_kind(link.applied.drain(), FaultKind::latency);
  BOOST_TEST_REQUIRE(applied.size() == 12u);
  std::vector<double> planned;
  for (const auto& a : applied) planned.push_back(a.change["delay_ns"].get<double>() / 1e6);
  const double mean = std::accumulate(planned.begin(), planned.end(), 0.0) / planned.size();
  const auto [lo, hi] = std::minmax_element(planned.begin(), planned.end());
  BOOST_TEST(*lo >= 40.0);
  BOOST_TEST(*hi <= 60.0);
  BOOST_TEST(*hi - *lo > 2.0);  // jitter actually varies
  BOOST_TEST(mean > 43.0);
  BOOST_TEST(mean < 57.0);
  for (std::size_t i = 0; i < measured.size(); ++i) {
    BOOST_TEST(measured[i] >= planned[i] - 1.0);
    BOOST_TEST(measured[i] < planned[i] + 500.0);
  }
}

BOOST_AUTO_TEST_CASE(latency_towards_the_device) {
  Link link(plan_of({{{"kind", "latency"}, {"direction", "to_device"}, {"latency_ms", 40}}}));
  auto start = std::chrono::steady_clock::now();
  link.faulty->write(pattern(10), Deadline::after(1s));
  BOOST_TEST(ms_since(start) >= 39.0);
  BOOST_TEST(link.device_received() == pattern(10));
  BOOST_TEST(link.applied.drain().size() == 1u);
}

BOOST_AUTO_TEST_CASE(bytes_in_flight_past_the_write_deadline_go_out_during_the_next_read) {
  Link link(plan_of({{{"kind", "latency"}, {"direction", "to_device"}, {"latency_ms", 400}}}));
  // A deadline far shorter than the latency: the write returns by its deadline (not after
  // the 400 ms), the bytes stay in flight and go out during the next read.
  const auto start = std::chrono::steady_clock::now();
  link.faulty->write(pattern(5), Deadline::after(10ms));
  BOOST_TEST(ms_since(start) < 300.0);
  BOOST_TEST(link.faulty->held_bytes() == 5u);
  BOOST_TEST(link.host_reads(1, 600ms).empty());
  BOOST_TEST(link.faulty->held_bytes() == 0u);
  BOOST_TEST(link.device_received() == pattern(5));
}

BOOST_AUTO_TEST_CASE(down_for_a_window_then_up) {
  Link link(plan_of({{{"kind", "down"}, {"duration_s", 0.1}}}));
  link.faulty->write(pattern(10), Deadline::after(1s));
  hilbench::test::send_all(link.peer.get(), pattern(6));
  BOOST_TEST(link.host_reads(6, 50ms).empty());
  BOOST_TEST(link.device_received().empty());            // waits 100 ms of quiet: past the window
  link.faulty->write(pattern(10), Deadline::after(1s));  // the window is over
  BOOST_TEST(link.device_received() == pattern(10));
  const auto applied = of_kind(link.applied.drain(), FaultKind::down);
  BOOST_TEST(applied.size() == 2u);
}

BOOST_AUTO_TEST_CASE(bandwidth_limits_the_rate) {
  Link link(plan_of({{{"kind", "bandwidth"}, {"rate_bytes_per_s", 10000}}}));
  const auto start = std::chrono::steady_clock::now();
  hilbench::test::send_all(link.peer.get(), pattern(1000));
  BOOST_TEST(link.host_reads(1000) == pattern(1000));
  const double took = ms_since(start);
  BOOST_TEST(took >= 99.0);  // 1000 bytes at 10 kB/s: the last byte is due 99.9 ms later
  BOOST_TEST(took < 1000.0);
}

BOOST_AUTO_TEST_CASE(slow_close_delays_the_close) {
  Link link(plan_of({{{"kind", "slow_close"}, {"delay_ms", 60}}}));
  const auto start = std::chrono::steady_clock::now();
  link.faulty.reset();
  BOOST_TEST(ms_since(start) >= 59.0);
  BOOST_TEST(of_kind(link.applied.drain(), FaultKind::slow_close).size() == 1u);
}

BOOST_AUTO_TEST_CASE(timeout_stops_data_and_keeps_or_closes_the_connection) {
  {
    Link link(plan_of({{{"kind", "timeout"}}}));  // 0: the connection stays
    link.faulty->write(pattern(4), Deadline::after(1s));
    hilbench::test::send_all(link.peer.get(), pattern(4));
    BOOST_TEST(link.host_reads(4, 80ms).empty());
    BOOST_TEST(link.device_received().empty());
    BOOST_TEST(!link.faulty->connection_lost());
  }
  Link link(plan_of({{{"kind", "timeout"}, {"timeout_ms", 50}}}));
  const auto start = std::chrono::steady_clock::now();
  try {
    link.host_reads(1, 1000ms);
    BOOST_FAIL("no ConnectionClosed");
  } catch (const hilbench::ConnectionClosed& error) {
    BOOST_TEST(has(error, "fault 0: timeout"));
    BOOST_TEST(has(error, "faults(tcp:"));
  }
  BOOST_TEST(ms_since(start) >= 49.0);
  BOOST_TEST(ms_since(start) < 900.0);
  BOOST_TEST(link.faulty->connection_lost());
}

BOOST_AUTO_TEST_CASE(reset_peer_after_its_timeout) {
  Link link(plan_of({{{"kind", "reset_peer"}, {"timeout_ms", 30}}}));
  link.faulty->write(pattern(4), Deadline::after(1s));  // before the reset: passes
  BOOST_TEST(link.device_received() == pattern(4));     // 100 ms quiet: past the reset time
  BOOST_CHECK_THROW(link.faulty->write(pattern(4), Deadline::after(1s)),
                    hilbench::ConnectionClosed);
  BOOST_TEST(link.faulty->connection_lost());
  BOOST_TEST(of_kind(link.applied.drain(), FaultKind::reset_peer).size() == 1u);
}

BOOST_AUTO_TEST_CASE(slicer_splits_into_small_delayed_pieces) {
  Link link(plan_of(
      {{{"kind", "slicer"}, {"average_size", 10}, {"size_variation", 3}, {"delay_us", 2000}}}));
  link.faulty->write(pattern(100), Deadline::after(1s));
  std::vector<Chunk> chunks = link.wire.drain();
  Bytes joined;
  for (const Chunk& c : chunks) {
    BOOST_TEST(c.bytes.size() <= 13u);
    joined.insert(joined.end(), c.bytes.begin(), c.bytes.end());
  }
  BOOST_TEST(joined == pattern(100));
  BOOST_TEST(chunks.size() >= 8u);
  for (std::size_t i = 1; i < chunks.size(); ++i)
    BOOST_TEST(chunks[i].monotonic_ns - chunks[i - 1].monotonic_ns >= 1'900'000);
  BOOST_TEST(link.device_received() == pattern(100));
}

BOOST_AUTO_TEST_CASE(limit_data_closes_after_the_limit) {
  Link link(plan_of({{{"kind", "limit_data"}, {"direction", "to_device"}, {"bytes", 10}}}));
  link.faulty->write(pattern(8), Deadline::after(1s));
  link.faulty->write(pattern(8), Deadline::after(1s));  // 2 pass, 6 are cut
  Bytes expected = pattern(8);
  expected.push_back(pattern(8)[0]);
  expected.push_back(pattern(8)[1]);
  BOOST_TEST(link.device_received() == expected);
  BOOST_CHECK_THROW(link.faulty->write(pattern(1), Deadline::after(1s)),
                    hilbench::ConnectionClosed);
  const auto applied = of_kind(link.applied.drain(), FaultKind::limit_data);
  BOOST_TEST_REQUIRE(applied.size() == 1u);
  BOOST_TEST(applied[0].offset == 10u);
  BOOST_TEST(applied[0].change["dropped"] == 6);
}

BOOST_AUTO_TEST_CASE(bit_flips_at_the_bit_error_rate) {
  Link link(plan_of({{{"kind", "bit_flip"}, {"bit_error_rate", 0.01}}}));
  const Bytes sent = pattern(10000);
  link.faulty->write(sent, Deadline::after(2s));
  const Bytes got = link.device_received();
  BOOST_TEST_REQUIRE(got.size() == sent.size());
  std::size_t flipped_bits = 0;
  for (std::size_t i = 0; i < sent.size(); ++i)
    flipped_bits += static_cast<std::size_t>(__builtin_popcount(sent[i] ^ got[i]));
  BOOST_TEST(flipped_bits > 600u);  // 80000 bits x 0.01 = 800 expected
  BOOST_TEST(flipped_bits < 1000u);
  // Every change is in the record, at its offset.
  for (const AppliedFault& a : link.applied.drain()) {
    BOOST_TEST((a.direction == Direction::tx));
    BOOST_TEST(got[a.offset] == a.change["after"].get<int>());
    BOOST_TEST(sent[a.offset] == a.change["before"].get<int>());
  }
}

BOOST_AUTO_TEST_CASE(byte_drop_and_duplication_rates) {
  {
    Link link(plan_of({{{"kind", "byte_drop"}, {"rate", 0.1}}}));
    link.faulty->write(pattern(2000), Deadline::after(1s));
    const Bytes got = link.device_received();
    const auto applied = link.applied.drain();
    BOOST_TEST(got.size() == 2000u - applied.size());
    BOOST_TEST(applied.size() > 140u);  // 200 expected
    BOOST_TEST(applied.size() < 260u);
  }
  Link link(plan_of({{{"kind", "byte_duplicate"}, {"rate", 0.1}, {"direction", "to_host"}}}));
  hilbench::test::send_all(link.peer.get(), pattern(2000));
  const Bytes got = link.host_reads(4000, 300ms);
  const auto applied = link.applied.drain();
  BOOST_TEST(got.size() == 2000u + applied.size());
  BOOST_TEST(applied.size() > 140u);
  BOOST_TEST(applied.size() < 260u);
}

BOOST_AUTO_TEST_CASE(noise_burst_inserts_recorded_bytes) {
  Link link(plan_of({{{"kind", "noise_burst"}, {"length", 6}, {"length_variation", 2}}}));
  link.faulty->write(pattern(20), Deadline::after(1s));
  const Bytes got = link.device_received();
  const auto applied = link.applied.drain();
  BOOST_TEST_REQUIRE(applied.size() == 1u);
  const std::string noise = applied[0].change["inserted_hex"];
  BOOST_TEST(noise.size() / 2 >= 4u);
  BOOST_TEST(noise.size() / 2 <= 8u);
  BOOST_TEST(got.size() == 20u + noise.size() / 2);
  Bytes expected = pattern(20);
  Bytes inserted;
  for (std::size_t i = 0; i < noise.size(); i += 2)
    inserted.push_back(static_cast<std::uint8_t>(std::stoi(noise.substr(i, 2), nullptr, 16)));
  expected.insert(expected.begin() + static_cast<std::ptrdiff_t>(applied[0].offset),
                  inserted.begin(), inserted.end());
  BOOST_TEST(got == expected);
}

BOOST_AUTO_TEST_CASE(truncate_every_second_frame) {
  Link link(plan_of({{{"kind", "truncate"}, {"keep_bytes", 3}, {"every", 2}}}));
  for (int i = 0; i < 4; ++i) link.faulty->write(pattern(8), Deadline::after(1s));
  BOOST_TEST(link.device_received().size() == 8u + 3u + 8u + 3u);
  BOOST_TEST(link.applied.drain().size() == 2u);
}

BOOST_AUTO_TEST_CASE(gap_inside_a_frame) {
  Link link(plan_of({{{"kind", "gap"}, {"gap_ms", 30}}}));
  link.faulty->write(pattern(16), Deadline::after(1s));
  const std::vector<Chunk> chunks = link.wire.drain();
  BOOST_TEST_REQUIRE(chunks.size() == 2u);
  BOOST_TEST(chunks[1].monotonic_ns - chunks[0].monotonic_ns >= 29'000'000);
  const auto applied = link.applied.drain();
  BOOST_TEST_REQUIRE(applied.size() == 1u);
  BOOST_TEST(chunks[0].bytes.size() == applied[0].offset);
  BOOST_TEST(link.device_received() == pattern(16));
}

BOOST_AUTO_TEST_CASE(schedule_window_every_and_probability) {
  // Truncate to 0 bytes (= drop the chunk) on every 3rd chunk, from the start.
  Link link(plan_of({{{"kind", "truncate"}, {"keep_bytes", 0}, {"every", 3}},
                     {{"kind", "truncate"}, {"keep_bytes", 1}, {"start_s", 3600}}}));
  for (int i = 0; i < 9; ++i) link.faulty->write(pattern(4), Deadline::after(1s));
  BOOST_TEST(link.device_received().size() == 6u * 4u);
  // probability: roughly half of 200 chunks.
  Link half(plan_of({{{"kind", "truncate"}, {"keep_bytes", 0}, {"probability", 0.5}}}, 99));
  for (int i = 0; i < 200; ++i) half.faulty->write(pattern(1), Deadline::after(1s));
  const std::size_t passed = half.device_received().size();
  BOOST_TEST(passed > 70u);
  BOOST_TEST(passed < 130u);
}

BOOST_AUTO_TEST_CASE(reads_stay_within_their_deadline_while_bytes_are_held) {
  Link link(plan_of({{{"kind", "latency"}, {"direction", "to_host"}, {"latency_ms", 500}}}));
  hilbench::test::send_all(link.peer.get(), pattern(4));
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(link.faulty->read_exact(4, Deadline::after(50ms)), hilbench::DeviceTimeout);
  BOOST_TEST(ms_since(start) < 400.0);
  BOOST_TEST(link.host_reads(4) == pattern(4));  // held bytes arrive when due
}

BOOST_AUTO_TEST_SUITE_END()
