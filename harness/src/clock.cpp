#include "hilbench/clock.hpp"

#include <algorithm>

namespace hilbench {

std::int64_t monotonic_ns() noexcept {
  return std::chrono::duration_cast<Nanoseconds>(Clock::now().time_since_epoch()).count();
}

Deadline Deadline::after(Nanoseconds budget) noexcept {
  budget = std::max(budget, Nanoseconds::zero());
  return Deadline(Clock::now() + budget, budget);
}

Nanoseconds Deadline::remaining() const noexcept {
  return std::max(Nanoseconds::zero(),
                  std::chrono::duration_cast<Nanoseconds>(when_ - Clock::now()));
}

Deadline Deadline::earliest(const Deadline& other) const noexcept {
  return when_ <= other.when_ ? *this : other;
}

}  // namespace hilbench
