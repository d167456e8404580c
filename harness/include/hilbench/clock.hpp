#pragma once
// Time in the harness: every timestamp is CLOCK_MONOTONIC in nanoseconds (std::chrono::steady_clock
// on Linux), so chunks, exchanges and journal records from one host can be ordered and
// subtracted. Wall-clock time appears only in journal records, for humans.
#include <chrono>
#include <cstdint>

namespace hilbench {

using Clock = std::chrono::steady_clock;
using Nanoseconds = std::chrono::nanoseconds;

/// Monotonic time now, in nanoseconds since an arbitrary epoch (the host's boot).
std::int64_t monotonic_ns() noexcept;

/// A point in monotonic time by which an operation must finish. Cheap to copy.
/// Every blocking call in the harness takes one; none waits past it.
class Deadline {
 public:
  /// A deadline `budget` from now. `budget` must be >= 0.
  static Deadline after(Nanoseconds budget) noexcept;
  template <class Rep, class Period>
  static Deadline after(std::chrono::duration<Rep, Period> budget) noexcept {
    return after(std::chrono::duration_cast<Nanoseconds>(budget));
  }

  Clock::time_point when() const noexcept { return when_; }
  /// The budget the deadline was created with (for error messages: "no answer within 500 ms").
  Nanoseconds budget() const noexcept { return budget_; }
  /// Time left, never negative.
  Nanoseconds remaining() const noexcept;
  bool expired() const noexcept { return remaining() == Nanoseconds::zero(); }
  /// The earlier of this deadline and `other` (the budget is the one of the earlier deadline).
  Deadline earliest(const Deadline& other) const noexcept;

 private:
  Deadline(Clock::time_point when, Nanoseconds budget) : when_(when), budget_(budget) {}
  Clock::time_point when_;
  Nanoseconds budget_;
};

}  // namespace hilbench
