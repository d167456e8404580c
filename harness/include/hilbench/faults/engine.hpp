#pragma once
// FaultEngine: what a FaultPlan does to the bytes of one link, sans-io (docs/faults.md). The
// one fault engine of hilbench: FaultyTransport (in-process, over any Transport) and
// hilbench-proxy (out of process, between two TCP sockets: proxy/) drive it with their own
// I/O and their own waiting.
//
// How it is driven
// - push(direction, chunk, now) runs one chunk through the plan's faults in plan order and
//   queues what comes out, every byte with the time it may go (latency: absolute; slicer,
//   gap, bandwidth: a silence after the byte before it actually went). Faults whose
//   direction and time window match, and whose chunk schedule selects the chunk (every n-th,
//   probability p), change it: bytes flipped, dropped, duplicated, inserted, cut; pieces
//   delayed; nothing passing (down, timeout).
// - releasable(direction, now, limit) says how many bytes at the head of a direction's queue
//   may go now (one piece at most: a slicer/gap piece goes in a write of its own);
//   copy_front() hands them out and release() takes them off once they went.
//   next_release_ns() says when the head may go (the caller's wake-up).
// - Connection faults: check_connection(now) closes the link when a reset_peer or timeout
//   fault's time has come; next_event_ns(now) is the next time that needs a look.
//   close_if_drained(direction) closes it once a direction that hit its limit_data is
//   drained; close_delay(now) is how long a close waits (slow_close). closed() says why the
//   link closed, closed_by_reset() whether the peer should see a reset.
// - Time is monotonic nanoseconds (hilbench/clock.hpp) passed in by the caller; time
//   windows count from `applied_ns` (when the plan was applied). The engine never reads a
//   clock, sleeps or does I/O.
//
// What is recorded: every fault actually applied goes to the AppliedFaultSink as an
// AppliedFault (monotonic time, fault index and kind, direction, byte offset in that
// direction's stream, and what changed as JSON). At most `max_records` are handed on; the
// rest are counted (suppressed_records()).
//
// Replay: every random choice comes from the plan's FaultRng streams, one per (seed, fault,
// direction, purpose), so two engines with the same plan fed the same chunks give the same
// bytes and records. Byte-level faults draw per byte and replay whatever the chunking.
//
// Ownership and threads: owns the plan, its queues and the sink; plain data, not
// thread-safe (one thread drives it).
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hilbench/faults/plan.hpp"

namespace hilbench::faults {

struct AppliedFault {
  std::int64_t monotonic_ns = 0;  ///< when it was applied
  std::size_t fault = 0;          ///< index in the plan's faults
  FaultKind kind = FaultKind::latency;
  Direction direction = Direction::tx;  ///< tx: host->device, rx: device->host
  /// Byte offset in this direction's stream of the chunk's first byte as it reached the
  /// fault stage, plus the position in the chunk as it stood when this fault applied.
  std::uint64_t offset = 0;
  nlohmann::json change = nlohmann::json::object();  ///< what changed (kind-specific keys)
};

using AppliedFaultSink = std::function<void(const AppliedFault&)>;

/// AppliedFault as JSON: monotonic_ns, fault, kind, direction ("to_device"/"to_host"),
/// offset, change (the journal's `faults_applied` entries, docs/journal-schema.md).
nlohmann::ordered_json to_json(const AppliedFault& applied);

class FaultEngine {
 public:
  static constexpr std::size_t default_max_records = 10000;

  /// Applies `plan` from `applied_ns` (monotonic) on.
  FaultEngine(FaultPlan plan, std::int64_t applied_ns, AppliedFaultSink sink = {},
              std::size_t max_records = default_max_records);

  const FaultPlan& plan() const noexcept { return plan_; }
  std::uint64_t suppressed_records() const noexcept { return suppressed_; }
  /// Faults applied so far, recorded or suppressed.
  std::uint64_t applied_count() const noexcept { return records_ + suppressed_; }

  /// Runs one chunk of `direction` seen at `now_ns` through the plan and queues the result.
  void push(Direction direction, std::span<const std::uint8_t> chunk, std::int64_t now_ns);
  /// How many bytes at the head of the direction's queue may go at `now_ns` (at most
  /// `limit`, never more than one piece).
  std::size_t releasable(Direction direction, std::int64_t now_ns, std::size_t limit) const;
  /// Copies the first out.size() queued bytes (out.size() <= held(direction)).
  void copy_front(Direction direction, std::span<std::uint8_t> out) const;
  /// Takes the first `count` queued bytes off: they went at `now_ns`.
  void release(Direction direction, std::size_t count, std::int64_t now_ns);
  /// When the head of the direction's queue may go (INT64_MAX: empty).
  std::int64_t next_release_ns(Direction direction) const;
  /// Bytes queued (delayed) in a direction.
  std::size_t held(Direction direction) const noexcept { return queue(direction).size(); }
  /// Forgets what is queued in a direction (discarded input).
  void clear(Direction direction) noexcept { queue(direction).clear(); }

  /// Connection faults whose time has come (reset_peer, timeout) close the link.
  void check_connection(std::int64_t now_ns);
  /// The next time a connection fault or window edge needs attention (INT64_MAX: none).
  std::int64_t next_event_ns(std::int64_t now_ns) const;
  /// limit_data: once the direction's queue is empty, a limit reached in that direction
  /// closes the link. True when it did.
  bool close_if_drained(Direction direction);
  /// Why the link is closed (a fault), if it is.
  const std::optional<std::string>& closed() const noexcept { return closed_; }
  /// The link was closed by reset_peer (the peer sees a reset, not an orderly close).
  bool closed_by_reset() const noexcept { return reset_; }
  /// down, timeout: nothing passes in the direction at `now_ns` (a driver that passes
  /// closes on holds those back too).
  bool blocked(Direction direction, std::int64_t now_ns) const;
  /// slow_close: how long closing the link waits now (the faults in their window, summed;
  /// each recorded as applied in `direction`).
  Nanoseconds close_delay(Direction direction, std::int64_t now_ns);

 private:
  struct Timed {
    std::int64_t due_ns;  ///< not before (latency: absolute)
    std::int64_t gap_ns;  ///< and not before this long after the byte before it went
    bool piece_start;     ///< a slicer/gap piece begins here: released in a write of its own
    std::uint8_t byte;
  };
  struct Stream {  // per fault, per direction
    std::uint64_t chunks = 0;
    FaultRng schedule{0};
    FaultRng effect{0};
  };

  static std::size_t dir_index(Direction d) noexcept { return d == Direction::tx ? 0 : 1; }
  std::deque<Timed>& queue(Direction d) noexcept { return queues_[dir_index(d)]; }
  const std::deque<Timed>& queue(Direction d) const noexcept { return queues_[dir_index(d)]; }
  bool applies(const Fault& fault, Direction d) const;
  /// Window state at `now_ns`: open, and ns since it opened.
  std::optional<std::int64_t> window_age(const Fault& fault, std::int64_t now_ns) const;
  void record(std::size_t index, Direction d, std::uint64_t offset, nlohmann::json change,
              std::int64_t now);

  FaultPlan plan_;
  AppliedFaultSink sink_;
  std::size_t max_records_;
  std::size_t records_ = 0;
  std::uint64_t suppressed_ = 0;
  std::int64_t applied_ns_;
  std::vector<std::array<Stream, 2>> streams_;
  std::array<std::uint64_t, 2> offsets_{};     ///< bytes seen per direction, before faults
  std::array<std::uint64_t, 2> passed_{};      ///< bytes passed on per direction (limit_data)
  std::array<std::int64_t, 2> last_due_{};     ///< keeps bytes in order per direction
  std::array<std::int64_t, 2> released_ns_{};  ///< when the last byte went, per direction
  std::array<std::deque<Timed>, 2> queues_;    ///< [tx] towards the device, [rx] the host
  std::optional<std::string> closed_;          ///< why the link closed (a fault)
  bool reset_ = false;
  std::array<std::optional<std::string>, 2> close_when_drained_;  ///< limit_data, per direction
};

}  // namespace hilbench::faults
