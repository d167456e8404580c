#pragma once
// LatencyHistogram: a streaming distribution of durations (exchange latencies, gaps) in
// constant memory, mergeable across runs and serialisable to plain JSON for the journal.
//
// Buckets are log-linear (the HdrHistogram layout): values below 2^sub_bucket_bits ns are
// counted exactly; above, each power of two is split into 2^(sub_bucket_bits-1) equal
// buckets, so a bucket is at most 1/128 of its values wide (at 2 ms: 8.2 us). A quantile is
// the midpoint of the bucket holding its rank, clamped to [min, max]: relative error
// <= 1/256. count, min, max, mean and standard deviation are exact (Welford, merged with
// Chan's formula). Values up to 2^40 ns (~18 min) are binned; larger ones fall into the last
// bucket (max stays exact).
//
// Jitter is the mean absolute difference of consecutive values (RFC 3550's interarrival
// jitter without its 1/16 smoothing, IPDV in RFC 5481's terms). It is mergeable in that the
// sums and pair counts add; the pair across two merged runs is not counted.
//
// Plain value type; not thread-safe (one thread records; merge copies). Nothing here is
// journaled by itself: to_json() is what the caller journals.
#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace hilbench::measure {

class LatencyHistogram {
 public:
  static constexpr int sub_bucket_bits = 8;
  static constexpr int max_bits = 40;  ///< values >= 2^40 ns share the last bucket
  static constexpr std::size_t bucket_count =
      (std::size_t{1} << sub_bucket_bits) + static_cast<std::size_t>(max_bits - sub_bucket_bits) *
                                                (std::size_t{1} << (sub_bucket_bits - 1));
  /// Identifies the JSON layout (to_json / from_json).
  static constexpr const char* json_schema = "hilbench.latency-histogram/1";

  /// Adds one value; negative durations throw std::invalid_argument.
  void record(std::chrono::nanoseconds value);
  /// Adds every value of `other` (its buckets, moments and jitter pairs).
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const noexcept { return count_; }
  std::chrono::nanoseconds min() const noexcept { return std::chrono::nanoseconds{min_}; }
  std::chrono::nanoseconds max() const noexcept { return std::chrono::nanoseconds{max_}; }
  double mean_ns() const noexcept { return mean_; }
  /// Sample standard deviation (n - 1), 0 below two values.
  double stddev_ns() const noexcept;
  /// Mean |x[i] - x[i-1]| over consecutive values (0 below two values).
  double jitter_ns() const noexcept;
  /// The value at quantile q (0 < q <= 1): nearest rank, bucket midpoint clamped to
  /// [min, max]; q = 1 gives max exactly. Throws std::invalid_argument on an empty histogram
  /// or q outside (0, 1].
  std::chrono::nanoseconds quantile(double q) const;

  /// {"schema", "unit": "ns", "sub_bucket_bits", "count", "min_ns", "max_ns", "mean_ns",
  ///  "m2_ns2", "jitter_sum_ns", "jitter_pairs", "buckets": [[lower_ns, count], ...] (non-empty
  ///  buckets, ascending), "summary": {"p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "max_ns",
  ///  "stddev_ns", "jitter_ns"}}. The summary is derived (for readers); from_json ignores it.
  nlohmann::json to_json() const;
  /// Rebuilds a histogram from to_json(); throws std::invalid_argument on another schema,
  /// another bucket layout or inconsistent counts.
  static LatencyHistogram from_json(const nlohmann::json& j);

  /// Index of the bucket `value_ns` (>= 0) falls in, and that bucket's lower edge and width.
  static std::size_t bucket_index(std::uint64_t value_ns) noexcept;
  static std::uint64_t bucket_lower(std::size_t index) noexcept;
  static std::uint64_t bucket_width(std::size_t index) noexcept;

 private:
  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
  double jitter_sum_ = 0.0;
  std::uint64_t jitter_pairs_ = 0;
  std::optional<std::int64_t> last_;
};

}  // namespace hilbench::measure
