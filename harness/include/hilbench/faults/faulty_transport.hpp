#pragma once
// FaultyTransport: a TransportDecorator that applies a FaultPlan to the bytes passing
// through it, in-process, over any transport (serial, TCP, ...). docs/faults.md.
//
// How faults happen
// - Every chunk passing through (one write_some call's bytes towards the device; one read
//   of the wrapped transport towards the host) goes through the plan's faults in plan
//   order. Faults whose direction and time window match, and whose chunk schedule selects
//   the chunk (every n-th, probability p), change it: bytes flipped, dropped, duplicated,
//   inserted, cut; pieces delayed (latency, slicer, gap, bandwidth); nothing passing (down,
//   timeout); or the connection closing (timeout, reset_peer, limit_data: the caller gets
//   ConnectionClosed naming the fault, and the transport counts as lost).
// - Delays towards the host hold the bytes here until they are due; read_some returns them
//   then. Delays towards the device are waited before the bytes are written on. No thread
//   of its own: every wait happens in the caller's read/write and is bounded by the
//   caller's deadline. A write whose delayed bytes are not all out by its deadline returns
//   0 (the caller's write raises DeviceTimeout); the rest goes first on the next write,
//   as bytes in flight on a slow link would.
// - Time windows count from construction (the moment the plan was applied).
// - The wrapped transport keeps its line timing: serial_line() is the wrapped line.
//
// What is recorded: every fault actually applied goes to the AppliedFaultSink as an
// AppliedFault (monotonic time, fault index and kind, direction, byte offset in that
// direction's stream, and what changed as JSON), which the Python side journals
// (`fault_applied` records, docs/journal-schema.md). At most `max_records` are handed on;
// the rest are counted (suppressed_records()).
//
// Ownership and threads: shares the wrapped transport; not thread-safe (as Transport). The
// destructor waits a slow_close fault's delay (bounded by the plan's limits) before the
// wrapped transport may close.
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hilbench/faults/plan.hpp"
#include "hilbench/transport/decorator.hpp"

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

class FaultyTransport : public TransportDecorator {
 public:
  static constexpr std::size_t default_max_records = 10000;

  /// Applies `plan` from now on. Throws ConfigError if `inner` is null.
  FaultyTransport(std::shared_ptr<Transport> inner, FaultPlan plan, AppliedFaultSink sink = {},
                  std::size_t max_records = default_max_records);
  ~FaultyTransport() override;
  FaultyTransport(const FaultyTransport&) = delete;
  FaultyTransport& operator=(const FaultyTransport&) = delete;

  const FaultPlan& plan() const noexcept { return plan_; }
  std::uint64_t suppressed_records() const noexcept { return suppressed_; }
  /// Bytes held here (delayed towards the host, or not yet written towards the device).
  std::size_t held_bytes() const noexcept { return inbox_.size() + outbox_.size(); }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;
  bool peer_gone() override;

 private:
  struct Timed {
    std::int64_t due_ns;  ///< not before (latency: absolute)
    std::int64_t gap_ns;  ///< and not before this long after the byte before it went
    bool piece_start;     ///< a slicer/gap piece begins here: released in a write of its own
    std::uint8_t byte;
  };
  struct Piece {
    Bytes bytes;
    std::int64_t delay_ns = 0;  ///< silence before this piece
  };
  struct Stream {  // per fault, per direction
    std::uint64_t chunks = 0;
    FaultRng schedule{0};
    FaultRng effect{0};
  };

  static std::size_t dir_index(Direction d) { return d == Direction::tx ? 0 : 1; }
  bool applies(const Fault& fault, Direction d) const;
  /// Window state at `now_ns`: open, and ns since it opened.
  std::optional<std::int64_t> window_age(const Fault& fault, std::int64_t now_ns) const;
  /// Connection faults whose time has come close the link (sets closed_).
  void check_connection(std::int64_t now_ns);
  /// The next time a connection fault or window edge needs attention (INT64_MAX: none).
  std::int64_t next_event_ns(std::int64_t now_ns) const;
  [[noreturn]] void throw_closed(const char* operation) const;
  /// Runs one chunk through the plan; returns the bytes with their due times.
  std::vector<Timed> process(Direction d, std::span<const std::uint8_t> chunk, std::int64_t now);
  void record(std::size_t index, Direction d, std::uint64_t offset, nlohmann::json change,
              std::int64_t now);
  /// Writes on the bytes towards the device that are due; with `wait`, waits for the rest
  /// until the deadline. True when the outbox is empty.
  bool flush_outbox(Deadline deadline, bool wait);
  /// How many bytes at the head of `queue` may go at `now` (at most `limit`, one piece).
  std::size_t releasable(const std::deque<Timed>& queue, Direction d, std::int64_t now,
                         std::size_t limit) const;
  /// When the head of `queue` may go (INT64_MAX: empty).
  std::int64_t next_release_ns(const std::deque<Timed>& queue, Direction d) const;

  FaultPlan plan_;
  AppliedFaultSink sink_;
  std::size_t max_records_;
  std::size_t records_ = 0;
  std::uint64_t suppressed_ = 0;
  std::int64_t applied_ns_;
  std::vector<std::array<Stream, 2>> streams_;
  std::array<std::uint64_t, 2> offsets_{};        ///< bytes seen per direction, before faults
  std::array<std::uint64_t, 2> passed_{};         ///< bytes passed on per direction (limit_data)
  std::array<std::int64_t, 2> last_due_{};        ///< keeps bytes in order per direction
  std::array<std::int64_t, 2> released_ns_{};     ///< when the last byte went, per direction
  std::deque<Timed> inbox_;                       ///< towards the host, not yet due
  std::deque<Timed> outbox_;                      ///< towards the device, not yet written
  std::optional<std::string> closed_;             ///< why the connection closed (a fault)
  std::optional<std::string> close_after_write_;  ///< limit_data: close once outbox is out
  std::optional<std::string> close_after_read_;   ///< limit_data: close once inbox is read
};

}  // namespace hilbench::faults
