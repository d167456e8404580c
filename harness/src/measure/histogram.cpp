#include "hilbench/measure/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace hilbench::measure {

namespace {
constexpr std::uint64_t exact_limit = std::uint64_t{1} << LatencyHistogram::sub_bucket_bits;
constexpr std::uint64_t half = exact_limit / 2;
}  // namespace

std::size_t LatencyHistogram::bucket_index(std::uint64_t value_ns) noexcept {
  if (value_ns < exact_limit) return static_cast<std::size_t>(value_ns);
  const int bits = std::bit_width(value_ns);
  if (bits > max_bits) return bucket_count - 1;
  const int shift = bits - sub_bucket_bits;     // >= 1
  const std::uint64_t top = value_ns >> shift;  // in [half, exact_limit)
  return static_cast<std::size_t>(exact_limit + static_cast<std::uint64_t>(shift - 1) * half +
                                  (top - half));
}

std::uint64_t LatencyHistogram::bucket_lower(std::size_t index) noexcept {
  if (index < exact_limit) return index;
  const std::uint64_t rest = index - exact_limit;
  const int shift = static_cast<int>(rest / half) + 1;
  return (half + rest % half) << shift;
}

std::uint64_t LatencyHistogram::bucket_width(std::size_t index) noexcept {
  if (index < exact_limit) return 1;
  return std::uint64_t{1} << (static_cast<int>((index - exact_limit) / half) + 1);
}

void LatencyHistogram::record(std::chrono::nanoseconds value) {
  const std::int64_t v = value.count();
  if (v < 0)
    throw std::invalid_argument("LatencyHistogram::record: negative duration " + std::to_string(v) +
                                " ns");
  ++buckets_[bucket_index(static_cast<std::uint64_t>(v))];
  if (count_ == 0) {
    min_ = max_ = v;
  } else {
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  ++count_;
  const double delta = static_cast<double>(v) - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (static_cast<double>(v) - mean_);
  if (last_) {
    jitter_sum_ += std::abs(static_cast<double>(v - *last_));
    ++jitter_pairs_;
  }
  last_ = v;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  const double n_a = static_cast<double>(count_);
  const double n_b = static_cast<double>(other.count_);
  const double delta = other.mean_ - mean_;
  const double n = n_a + n_b;
  mean_ += delta * n_b / n;
  m2_ += other.m2_ + delta * delta * n_a * n_b / n;
  count_ += other.count_;
  jitter_sum_ += other.jitter_sum_;
  jitter_pairs_ += other.jitter_pairs_;
  last_.reset();  // the pair across the two runs is not a consecutive pair
}

double LatencyHistogram::stddev_ns() const noexcept {
  return count_ < 2 ? 0.0 : std::sqrt(m2_ / static_cast<double>(count_ - 1));
}

double LatencyHistogram::jitter_ns() const noexcept {
  return jitter_pairs_ == 0 ? 0.0 : jitter_sum_ / static_cast<double>(jitter_pairs_);
}

std::chrono::nanoseconds LatencyHistogram::quantile(double q) const {
  if (count_ == 0) throw std::invalid_argument("LatencyHistogram::quantile: no values");
  if (!(q > 0.0 && q <= 1.0))
    throw std::invalid_argument("LatencyHistogram::quantile: q must be in (0, 1], got " +
                                std::to_string(q));
  if (q == 1.0) return max();
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const std::uint64_t mid = bucket_lower(i) + bucket_width(i) / 2;
      const auto value = std::clamp(static_cast<std::int64_t>(mid), min_, max_);
      return std::chrono::nanoseconds{value};
    }
  }
  return max();
}

nlohmann::json LatencyHistogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < bucket_count; ++i)
    if (buckets_[i] != 0) buckets.push_back({bucket_lower(i), buckets_[i]});
  nlohmann::json summary = nlohmann::json::object();
  if (count_ > 0) {
    summary = {{"p50_ns", quantile(0.5).count()},
               {"p90_ns", quantile(0.9).count()},
               {"p99_ns", quantile(0.99).count()},
               {"p99_9_ns", quantile(0.999).count()},
               {"max_ns", max_},
               {"stddev_ns", stddev_ns()},
               {"jitter_ns", jitter_ns()}};
  }
  return {{"schema", json_schema},
          {"unit", "ns"},
          {"sub_bucket_bits", sub_bucket_bits},
          {"count", count_},
          {"min_ns", min_},
          {"max_ns", max_},
          {"mean_ns", mean_},
          {"m2_ns2", m2_},
          {"jitter_sum_ns", jitter_sum_},
          {"jitter_pairs", jitter_pairs_},
          {"buckets", std::move(buckets)},
          {"summary", std::move(summary)}};
}

LatencyHistogram LatencyHistogram::from_json(const nlohmann::json& j) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("LatencyHistogram::from_json: " + what);
  };
  try {
    if (j.at("schema").get<std::string>() != json_schema)
      fail("schema is not " + std::string(json_schema));
    if (j.at("sub_bucket_bits").get<int>() != sub_bucket_bits)
      fail("sub_bucket_bits is not " + std::to_string(sub_bucket_bits));
    LatencyHistogram h;
    std::uint64_t total = 0;
    for (const auto& bucket : j.at("buckets")) {
      const auto lower = bucket.at(0).get<std::uint64_t>();
      const auto index = bucket_index(lower);
      if (bucket_lower(index) != lower) fail("bucket edge " + std::to_string(lower));
      h.buckets_[index] += bucket.at(1).get<std::uint64_t>();
      total += bucket.at(1).get<std::uint64_t>();
    }
    h.count_ = j.at("count").get<std::uint64_t>();
    if (total != h.count_) fail("bucket counts do not add up to count");
    h.min_ = j.at("min_ns").get<std::int64_t>();
    h.max_ = j.at("max_ns").get<std::int64_t>();
    h.mean_ = j.at("mean_ns").get<double>();
    h.m2_ = j.at("m2_ns2").get<double>();
    h.jitter_sum_ = j.at("jitter_sum_ns").get<double>();
    h.jitter_pairs_ = j.at("jitter_pairs").get<std::uint64_t>();
    return h;
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
  return {};
}

}  // namespace hilbench::measure
