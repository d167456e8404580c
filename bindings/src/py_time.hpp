#pragma once
// Python passes durations as float seconds; the core takes std::chrono. One conversion,
// one validation, one place.
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "hilbench/clock.hpp"

namespace hilbench::python {

inline Nanoseconds seconds_to_ns(double seconds, const char* what) {
  if (!std::isfinite(seconds) || seconds < 0.0) {
    throw std::invalid_argument(std::string(what) +
                                " must be a finite number of seconds >= 0, got " +
                                std::to_string(seconds));
  }
  return std::chrono::duration_cast<Nanoseconds>(std::chrono::duration<double>(seconds));
}

inline Deadline deadline_in(double seconds, const char* what = "timeout") {
  return Deadline::after(seconds_to_ns(seconds, what));
}

inline double ns_to_seconds(Nanoseconds ns) { return std::chrono::duration<double>(ns).count(); }

}  // namespace hilbench::python
