#include "hilbench/measure/latency.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hilbench::measure {

std::vector<ExchangeTiming> exchange_timings(std::span<const Chunk> chunks) {
  std::vector<ExchangeTiming> out;
  std::int64_t previous = 0;
  bool in_request = false;
  for (const Chunk& chunk : chunks) {
    if (chunk.monotonic_ns < previous)
      throw std::invalid_argument("exchange_timings: chunk timestamps go backwards at " +
                                  std::to_string(chunk.monotonic_ns) + " ns");
    previous = chunk.monotonic_ns;
    if (chunk.bytes.empty()) continue;
    if (chunk.direction == Direction::tx) {
      if (!in_request) out.emplace_back();
      in_request = true;
      ExchangeTiming& e = out.back();
      e.request_end_ns = chunk.monotonic_ns;
      e.request_bytes += chunk.bytes.size();
      e.request_last_chunk_bytes = chunk.bytes.size();
      continue;
    }
    if (out.empty()) continue;  // nothing asked yet
    in_request = false;
    ExchangeTiming& e = out.back();
    if (e.response_chunks == 0) {
      e.response_first_ns = chunk.monotonic_ns;
      e.response_first_chunk_bytes = chunk.bytes.size();
    }
    e.response_last_ns = chunk.monotonic_ns;
    e.response_bytes += chunk.bytes.size();
    ++e.response_chunks;
    e.rx_ns.push_back(chunk.monotonic_ns);
    e.rx_bytes.push_back(chunk.bytes.size());
  }
  return out;
}

SerialLineTiming serial_line_timing(const ExchangeTiming& exchange,
                                    std::chrono::nanoseconds character_time) {
  SerialLineTiming t;
  if (!exchange.answered()) return t;
  const std::int64_t tc = character_time.count();
  const std::int64_t request_on_wire_end =
      exchange.request_end_ns + static_cast<std::int64_t>(exchange.request_last_chunk_bytes) * tc;
  const std::int64_t response_on_wire_start =
      exchange.response_first_ns -
      static_cast<std::int64_t>(exchange.response_first_chunk_bytes) * tc;
  t.silence_before_response =
      std::chrono::nanoseconds{response_on_wire_start - request_on_wire_end};
  std::size_t before = exchange.rx_bytes.empty() ? 0 : exchange.rx_bytes[0];
  for (std::size_t i = 1; i < exchange.rx_ns.size(); ++i) {
    const std::int64_t gap = exchange.rx_ns[i] -
                             static_cast<std::int64_t>(exchange.rx_bytes[i]) * tc -
                             exchange.rx_ns[i - 1];
    if (gap > t.max_inner_gap.count()) {
      t.max_inner_gap = std::chrono::nanoseconds{gap};
      t.max_gap_after_byte = before;
    }
    before += exchange.rx_bytes[i];
  }
  return t;
}

RtuLimits rtu_limits(int baud, std::chrono::nanoseconds character_time) noexcept {
  using std::chrono::microseconds;
  if (baud > 19200) return {microseconds{750}, microseconds{1750}};
  return {character_time * 3 / 2, character_time * 7 / 2};
}

}  // namespace hilbench::measure
