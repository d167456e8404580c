// Latency histograms (bucket layout, quantiles against sorted data, merge = one histogram of
// both runs, JSON round trip) and per-exchange timing from chunk timestamps.
#define BOOST_TEST_MODULE latency_histogram
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "hilbench/measure/histogram.hpp"
#include "hilbench/measure/latency.hpp"

using hilbench::Chunk;
using hilbench::Direction;
using hilbench::measure::exchange_timings;
using hilbench::measure::LatencyHistogram;
using hilbench::measure::rtu_limits;
using hilbench::measure::serial_line_timing;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

namespace {

std::vector<std::int64_t> lognormal_sample(unsigned seed, std::size_t n) {
  std::mt19937_64 rng{seed};
  std::lognormal_distribution<double> dist{std::log(2.0e6), 0.3};  // around 2 ms
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::int64_t>(dist(rng)));
  return out;
}

std::int64_t exact_quantile(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * v.size())));
  return v[rank - 1];
}

}  // namespace

BOOST_AUTO_TEST_CASE(buckets_are_contiguous_and_log_linear) {
  for (std::size_t i = 0; i + 1 < LatencyHistogram::bucket_count; ++i) {
    BOOST_TEST_REQUIRE(LatencyHistogram::bucket_lower(i) + LatencyHistogram::bucket_width(i) ==
                       LatencyHistogram::bucket_lower(i + 1));
    BOOST_TEST_REQUIRE(LatencyHistogram::bucket_index(LatencyHistogram::bucket_lower(i)) == i);
  }
  // relative width never above 1/128 past the exact range
  for (std::size_t i = 256; i < LatencyHistogram::bucket_count; ++i)
    BOOST_TEST_REQUIRE(LatencyHistogram::bucket_width(i) * 128 <=
                       LatencyHistogram::bucket_lower(i));
  BOOST_TEST(LatencyHistogram::bucket_index(std::uint64_t{1} << 50) ==
             LatencyHistogram::bucket_count - 1);
}

BOOST_AUTO_TEST_CASE(quantiles_within_half_a_bucket_of_the_exact_ones) {
  const auto values = lognormal_sample(11, 100000);
  LatencyHistogram h;
  for (auto v : values) h.record(nanoseconds{v});
  BOOST_TEST(h.count() == values.size());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = static_cast<double>(exact_quantile(values, q));
    const double got = static_cast<double>(h.quantile(q).count());
    BOOST_TEST(std::abs(got - exact) <= exact / 256.0 + 1, "q=" << q);
  }
  BOOST_TEST(h.quantile(1.0).count() == *std::max_element(values.begin(), values.end()));
  BOOST_TEST(h.min().count() == *std::min_element(values.begin(), values.end()));
}

BOOST_AUTO_TEST_CASE(mean_stddev_and_jitter_are_exact) {
  LatencyHistogram h;
  for (std::int64_t v : {100, 300, 200, 600}) h.record(nanoseconds{v});
  BOOST_TEST(h.mean_ns() == 300.0, boost::test_tools::tolerance(1e-12));
  // sample variance of 100,300,200,600 = (40000+0+10000+90000)/3
  BOOST_TEST(h.stddev_ns() == std::sqrt(140000.0 / 3.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(h.jitter_ns() == (200.0 + 100.0 + 400.0) / 3.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(merge_equals_one_histogram_of_both_runs) {
  const auto a = lognormal_sample(1, 5000);
  const auto b = lognormal_sample(2, 7000);
  LatencyHistogram ha, hb, all;
  for (auto v : a) ha.record(nanoseconds{v}), all.record(nanoseconds{v});
  for (auto v : b) hb.record(nanoseconds{v}), all.record(nanoseconds{v});
  ha.merge(hb);
  BOOST_TEST(ha.count() == all.count());
  BOOST_TEST(ha.min().count() == all.min().count());
  BOOST_TEST(ha.max().count() == all.max().count());
  for (double q : {0.5, 0.9, 0.99, 0.999})
    BOOST_TEST(ha.quantile(q).count() == all.quantile(q).count());
  BOOST_TEST(ha.mean_ns() == all.mean_ns(), boost::test_tools::tolerance(1e-9));
  BOOST_TEST(ha.stddev_ns() == all.stddev_ns(), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(json_round_trip_and_rejects) {
  LatencyHistogram h;
  for (auto v : lognormal_sample(3, 2000)) h.record(nanoseconds{v});
  const auto j = h.to_json();
  BOOST_TEST(j.at("schema") == LatencyHistogram::json_schema);
  BOOST_TEST(j.at("summary").at("p50_ns") == h.quantile(0.5).count());
  const auto back = LatencyHistogram::from_json(nlohmann::json::parse(j.dump()));
  BOOST_TEST(back.to_json() == j);
  auto bad = j;
  bad["count"] = 1;
  BOOST_CHECK_THROW(LatencyHistogram::from_json(bad), std::invalid_argument);
  bad = j;
  bad["sub_bucket_bits"] = 5;
  BOOST_CHECK_THROW(LatencyHistogram::from_json(bad), std::invalid_argument);
  BOOST_CHECK_THROW(LatencyHistogram{}.quantile(0.5), std::invalid_argument);
  BOOST_CHECK_THROW(h.record(nanoseconds{-1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(exchanges_from_chunks) {
  const std::vector<Chunk> chunks{
      {Direction::rx, 10, {0x00}},  // stale byte before any request: ignored
      {Direction::tx, 100, {1, 2, 3}},
      {Direction::tx, 150, {4, 5}},
      {Direction::rx, 1150, {9}},
      {Direction::rx, 2150, {9, 9}},
      {Direction::tx, 5000, {1}},
      {Direction::tx, 6000, {1}},  // unanswered request followed by another
  };
  const auto ex = exchange_timings(chunks);
  BOOST_TEST_REQUIRE(ex.size() == 2u);
  BOOST_TEST(ex[0].request_bytes == 5u);
  BOOST_TEST(ex[0].request_end_ns == 150);
  BOOST_TEST(ex[0].to_first().count() == 1000);
  BOOST_TEST(ex[0].to_last().count() == 2000);
  BOOST_TEST(ex[0].response_bytes == 3u);
  BOOST_TEST(!ex[1].answered());
  // on a line of 100 ns per character: request ends on the wire at 150 + 2*100,
  // the response starts at 1150 - 100; between rx chunks 2150 - 2*100 - 1150 = 800 idle
  const auto line = serial_line_timing(ex[0], nanoseconds{100});
  BOOST_TEST(line.silence_before_response.count() == 1050 - 350);
  BOOST_TEST(line.max_inner_gap.count() == 800);
  BOOST_TEST(line.max_gap_after_byte == 1u);
  const std::vector<Chunk> backwards{{Direction::tx, 10, {1}}, {Direction::rx, 5, {1}}};
  BOOST_CHECK_THROW(exchange_timings(backwards), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(rtu_limits_fixed_above_19200) {
  const auto at_9600 = rtu_limits(9600, nanoseconds{1145833});
  BOOST_TEST(at_9600.t3_5.count() == 4010415);
  BOOST_TEST(at_9600.t1_5.count() == 1718749);
  const auto at_38400 = rtu_limits(38400, nanoseconds{286458});
  BOOST_TEST((at_38400.t1_5 == microseconds{750}));
  BOOST_TEST((at_38400.t3_5 == microseconds{1750}));
}
