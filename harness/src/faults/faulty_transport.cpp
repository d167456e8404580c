#include "hilbench/faults/faulty_transport.hpp"

#include <algorithm>
#include <array>
#include <thread>
#include <utility>

#include "hilbench/errors.hpp"

namespace hilbench::faults {
namespace {

std::int64_t deadline_ns(const Deadline& deadline, std::int64_t now) {
  return now + deadline.remaining().count();
}

Deadline until(std::int64_t when_ns, std::int64_t now, const Deadline& deadline) {
  return Deadline::after(Nanoseconds(std::max<std::int64_t>(0, when_ns - now))).earliest(deadline);
}

void sleep_until_ns(std::int64_t when_ns) {
  const std::int64_t now = monotonic_ns();
  if (when_ns > now) std::this_thread::sleep_for(Nanoseconds(when_ns - now));
}

}  // namespace

FaultyTransport::FaultyTransport(std::shared_ptr<Transport> inner, FaultPlan plan,
                                 AppliedFaultSink sink, std::size_t max_records)
    : TransportDecorator(std::move(inner), "faults"),
      engine_(std::move(plan), monotonic_ns(), std::move(sink), max_records) {}

FaultyTransport::~FaultyTransport() {
  try {
    // bounded: the parser caps each delay at 60 s
    std::this_thread::sleep_for(engine_.close_delay(Direction::tx, monotonic_ns()));
  } catch (...) {
    // a destructor does not throw; the delay is best effort if recording failed
  }
}

void FaultyTransport::throw_closed(const char* operation) const {
  throw ConnectionClosed({name(), operation, std::nullopt}, *engine_.closed());
}

bool FaultyTransport::flush_outbox(Deadline deadline, bool wait) {
  constexpr Direction tx = Direction::tx;
  Bytes due;
  while (engine_.held(tx) > 0) {
    const std::int64_t now = monotonic_ns();
    const std::size_t count = engine_.releasable(tx, now, engine_.held(tx));
    if (count == 0) {
      if (!wait) return false;
      const std::int64_t limit = deadline_ns(deadline, now);
      const std::int64_t next = engine_.next_release_ns(tx);
      if (next > limit) {
        sleep_until_ns(limit);
        return false;
      }
      sleep_until_ns(next);
      continue;
    }
    due.resize(count);
    engine_.copy_front(tx, due);
    const std::size_t n = inner()->write_some(due, deadline);
    if (n == 0) return false;
    engine_.release(tx, n, monotonic_ns());
  }
  engine_.close_if_drained(tx);
  return true;
}

std::size_t FaultyTransport::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  const std::int64_t now = monotonic_ns();
  engine_.check_connection(now);
  if (engine_.closed()) throw_closed("write");
  engine_.push(Direction::tx, bytes, now);
  // Bytes still held when the deadline passes are in flight: they go out during the next
  // read or write. The caller's bytes were accepted either way.
  flush_outbox(deadline, true);
  return bytes.size();
}

std::size_t FaultyTransport::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  std::array<std::uint8_t, 512> scratch{};
  for (;;) {
    std::int64_t now = monotonic_ns();
    engine_.check_connection(now);
    if (engine_.closed()) throw_closed("read");
    if (engine_.held(Direction::tx) > 0) flush_outbox(deadline, false);
    const std::size_t n = engine_.releasable(Direction::rx, now, buf.size());
    if (n > 0) {
      engine_.copy_front(Direction::rx, buf.first(n));
      engine_.release(Direction::rx, n, now);
      return n;
    }
    if (engine_.close_if_drained(Direction::rx)) throw_closed("read");
    if (deadline.expired()) return 0;
    std::int64_t wake = std::min(deadline_ns(deadline, now), engine_.next_event_ns(now));
    wake = std::min(wake, engine_.next_release_ns(Direction::rx));
    wake = std::min(wake, engine_.next_release_ns(Direction::tx));
    const std::size_t m = inner()->read_some(scratch, until(wake, now, deadline));
    if (m == 0) continue;
    now = monotonic_ns();
    engine_.push(Direction::rx, std::span(scratch).first(m), now);
  }
}

void FaultyTransport::do_discard_input() {
  engine_.clear(Direction::rx);
  inner()->discard_input();
}

bool FaultyTransport::peer_gone() {
  return engine_.closed().has_value() || inner()->connection_lost();
}

}  // namespace hilbench::faults
