#pragma once
// FaultyTransport: a TransportDecorator that applies a FaultPlan to the bytes passing
// through it, in-process, over any transport (serial, TCP, ...). docs/faults.md. The faults
// themselves are the FaultEngine's (faults/engine.hpp), shared with hilbench-proxy; this
// class is its I/O: reads, writes and bounded waits in the caller's thread.
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
#include <cstdint>
#include <memory>

#include "hilbench/faults/engine.hpp"
#include "hilbench/faults/plan.hpp"
#include "hilbench/transport/decorator.hpp"

namespace hilbench::faults {

class FaultyTransport : public TransportDecorator {
 public:
  static constexpr std::size_t default_max_records = FaultEngine::default_max_records;

  /// Applies `plan` from now on. Throws ConfigError if `inner` is null.
  FaultyTransport(std::shared_ptr<Transport> inner, FaultPlan plan, AppliedFaultSink sink = {},
                  std::size_t max_records = default_max_records);
  ~FaultyTransport() override;
  FaultyTransport(const FaultyTransport&) = delete;
  FaultyTransport& operator=(const FaultyTransport&) = delete;

  const FaultPlan& plan() const noexcept { return engine_.plan(); }
  std::uint64_t suppressed_records() const noexcept { return engine_.suppressed_records(); }
  /// Bytes held here (delayed towards the host, or not yet written towards the device).
  std::size_t held_bytes() const noexcept {
    return engine_.held(Direction::tx) + engine_.held(Direction::rx);
  }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;
  bool peer_gone() override;

 private:
  [[noreturn]] void throw_closed(const char* operation) const;
  /// Writes on the bytes towards the device that are due; with `wait`, waits for the rest
  /// until the deadline. True when none is held any more.
  bool flush_outbox(Deadline deadline, bool wait);

  FaultEngine engine_;  ///< the plan's faults; its tx queue is the outbox, rx the inbox
};

}  // namespace hilbench::faults
