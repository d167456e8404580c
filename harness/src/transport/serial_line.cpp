#include "hilbench/transport/serial_line.hpp"

namespace hilbench {

Nanoseconds character_time(const LineSettings& settings) noexcept {
  if (settings.baud <= 0) return Nanoseconds::zero();
  const int parity_bits = settings.parity == Parity::none ? 0 : 1;
  const std::int64_t bits = 1 + settings.data_bits + parity_bits + settings.stop_bits;
  return Nanoseconds(bits * 1'000'000'000 / settings.baud);
}

}  // namespace hilbench
