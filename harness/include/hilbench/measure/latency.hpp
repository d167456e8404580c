#pragma once
// Per-exchange timing from a transport's own chunk timestamps (Transport::set_chunk_sink):
// the request's last byte written -> the response's first and last byte read, and the
// intervals between the response's chunks. Pure functions over captured chunks (no I/O, no
// state); the caller journals what it derives (the timing suite: suites/timing).
//
// What a chunk timestamp is: CLOCK_MONOTONIC when write() returned (tx) or read() returned
// (rx). A tx timestamp is when the bytes entered the driver, not when they left the wire;
// an rx timestamp is when the reader woke, at or after the last byte of the chunk arrived.
// On a serial line, serial_line_timing() turns these into estimates of line idle time by
// assuming each chunk's bytes occupied the line for one character time each just before
// the chunk was seen. Resolution and limits: docs/timing.md.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "hilbench/transport/transport.hpp"

namespace hilbench::measure {

/// One request/response as seen in the chunk stream: a run of tx chunks, then the rx chunks
/// up to the next tx chunk (or the end of the capture).
struct ExchangeTiming {
  std::int64_t request_end_ns = 0;  ///< the last tx chunk of the request
  std::size_t request_bytes = 0;
  std::size_t request_last_chunk_bytes = 0;
  std::int64_t response_first_ns = 0;  ///< the first rx chunk (0: no response)
  std::int64_t response_last_ns = 0;   ///< the last rx chunk before the next request
  std::size_t response_bytes = 0;
  std::size_t response_first_chunk_bytes = 0;
  std::size_t response_chunks = 0;
  /// The rx chunks' timestamps and sizes, in order (for gap analysis).
  std::vector<std::int64_t> rx_ns;
  std::vector<std::size_t> rx_bytes;

  bool answered() const noexcept { return response_chunks > 0; }
  /// Request end -> first response byte seen (0 if unanswered).
  std::chrono::nanoseconds to_first() const noexcept {
    return std::chrono::nanoseconds{answered() ? response_first_ns - request_end_ns : 0};
  }
  /// Request end -> last response byte seen (0 if unanswered).
  std::chrono::nanoseconds to_last() const noexcept {
    return std::chrono::nanoseconds{answered() ? response_last_ns - request_end_ns : 0};
  }
};

/// Splits a capture (oldest first) into exchanges. rx chunks before the first tx chunk are
/// ignored (nothing was asked yet). Throws std::invalid_argument if timestamps go backwards.
std::vector<ExchangeTiming> exchange_timings(std::span<const Chunk> chunks);

/// Line idle times of one exchange on a serial line with `character_time` per character.
struct SerialLineTiming {
  /// Idle line between the request's last character and the response's first:
  /// (first rx - its bytes x t_char) - (request end + last tx chunk's bytes x t_char).
  std::chrono::nanoseconds silence_before_response{0};
  /// The largest idle interval between two characters of the response:
  /// max over consecutive rx chunks of (t[i+1] - bytes[i+1] x t_char - t[i]); 0 for one chunk.
  std::chrono::nanoseconds max_inner_gap{0};
  std::size_t max_gap_after_byte = 0;  ///< response bytes before that gap
};
SerialLineTiming serial_line_timing(const ExchangeTiming& exchange,
                                    std::chrono::nanoseconds character_time);

/// Modbus RTU limits (serial line spec V1.02 §2.5.1.1; reference §5.1): t1.5 / t3.5 are
/// 1.5 / 3.5 character times at or below 19200 baud, fixed 750 us / 1750 us above.
struct RtuLimits {
  std::chrono::nanoseconds t1_5;
  std::chrono::nanoseconds t3_5;
};
RtuLimits rtu_limits(int baud, std::chrono::nanoseconds character_time) noexcept;

}  // namespace hilbench::measure
