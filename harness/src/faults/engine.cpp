#include "hilbench/faults/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace hilbench::faults {
namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

// Purposes of the random streams of one fault in one direction.
constexpr std::uint64_t schedule_stream = 1;
constexpr std::uint64_t effect_stream = 2;

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

nlohmann::ordered_json to_json(const AppliedFault& applied) {
  return {{"monotonic_ns", applied.monotonic_ns},
          {"fault", applied.fault},
          {"kind", kind_name(applied.kind)},
          {"direction", direction_name(applied.direction)},
          {"offset", applied.offset},
          {"change", applied.change}};
}

FaultEngine::FaultEngine(FaultPlan plan, std::int64_t applied_ns, AppliedFaultSink sink,
                         std::size_t max_records)
    : plan_(std::move(plan)),
      sink_(std::move(sink)),
      max_records_(max_records),
      applied_ns_(applied_ns) {
  streams_.resize(plan_.faults.size());
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    for (const Direction d : {Direction::tx, Direction::rx}) {
      Stream& s = streams_[i][dir_index(d)];
      s.schedule = FaultRng::stream(plan_.seed, i, d, schedule_stream);
      s.effect = FaultRng::stream(plan_.seed, i, d, effect_stream);
    }
  }
  last_due_ = {applied_ns_, applied_ns_};
}

bool FaultEngine::applies(const Fault& fault, Direction d) const {
  return fault.direction == FaultDirection::both ||
         (fault.direction == FaultDirection::to_device) == (d == Direction::tx);
}

std::optional<std::int64_t> FaultEngine::window_age(const Fault& fault, std::int64_t now_ns) const {
  const std::int64_t opens = applied_ns_ + fault.schedule.start.count();
  if (now_ns < opens) return std::nullopt;
  if (fault.schedule.duration && now_ns >= opens + fault.schedule.duration->count())
    return std::nullopt;
  return now_ns - opens;
}

void FaultEngine::record(std::size_t index, Direction d, std::uint64_t offset,
                         nlohmann::json change, std::int64_t now) {
  if (!sink_) return;
  if (records_ >= max_records_) {
    ++suppressed_;
    return;
  }
  ++records_;
  sink_(AppliedFault{now, index, plan_.faults[index].kind, d, offset, std::move(change)});
}

void FaultEngine::check_connection(std::int64_t now_ns) {
  if (closed_) return;
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    const Fault& fault = plan_.faults[i];
    const bool resets = fault.kind == FaultKind::reset_peer;
    const bool times_out = fault.kind == FaultKind::timeout && fault.timeout.count() > 0;
    if (!resets && !times_out) continue;
    const auto age = window_age(fault, now_ns);
    if (!age || *age < fault.timeout.count()) continue;
    closed_ = resets ? fmt::format("connection reset by peer (fault {}: reset_peer)", i)
                     : fmt::format("connection closed after {} ms without data (fault {}: timeout)",
                                   fault.timeout.count() / 1'000'000, i);
    reset_ = resets;
    record(i, Direction::tx, offsets_[0], {{resets ? "reset" : "closed", true}}, now_ns);
    return;
  }
}

std::int64_t FaultEngine::next_event_ns(std::int64_t now_ns) const {
  std::int64_t next = never;
  const auto consider = [&](std::int64_t when) {
    if (when > now_ns) next = std::min(next, when);
  };
  for (const Fault& fault : plan_.faults) {
    const std::int64_t opens = applied_ns_ + fault.schedule.start.count();
    consider(opens);
    if (fault.schedule.duration) consider(opens + fault.schedule.duration->count());
    if (fault.kind == FaultKind::reset_peer || fault.kind == FaultKind::timeout)
      consider(opens + fault.timeout.count());
  }
  return next;
}

bool FaultEngine::close_if_drained(Direction d) {
  const std::optional<std::string>& pending = close_when_drained_[dir_index(d)];
  if (!pending || !queue(d).empty()) return false;
  closed_ = pending;
  return true;
}

bool FaultEngine::blocked(Direction d, std::int64_t now_ns) const {
  for (const Fault& fault : plan_.faults)
    if ((fault.kind == FaultKind::down || fault.kind == FaultKind::timeout) && applies(fault, d) &&
        window_age(fault, now_ns))
      return true;
  return false;
}

Nanoseconds FaultEngine::close_delay(Direction d, std::int64_t now_ns) {
  Nanoseconds total{0};
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    const Fault& fault = plan_.faults[i];
    if (fault.kind != FaultKind::slow_close || !window_age(fault, now_ns)) continue;
    record(i, d, offsets_[dir_index(d)], {{"close_delayed_ns", fault.delay.count()}}, now_ns);
    total += fault.delay;
  }
  return total;
}

void FaultEngine::push(Direction d, std::span<const std::uint8_t> chunk, std::int64_t now) {
  const std::size_t di = dir_index(d);
  const std::uint64_t base = offsets_[di];
  offsets_[di] += chunk.size();
  Bytes data(chunk.begin(), chunk.end());
  std::vector<std::int64_t> pause(data.size(), 0);  // silence before each byte
  double bandwidth = 0.0;                           // bytes/s; 0: unlimited
  std::int64_t latency = 0;                         // the whole chunk arrives this much later

  for (std::size_t i = 0; i < plan_.faults.size() && !data.empty(); ++i) {
    const Fault& fault = plan_.faults[i];
    if (!applies(fault, d) || !window_age(fault, now)) continue;
    // Window-only faults: no chunk schedule.
    if (fault.kind == FaultKind::down || fault.kind == FaultKind::timeout) {
      record(i, d, base, {{"dropped", data.size()}, {"dropped_hex", hex(data)}}, now);
      data.clear();
      pause.clear();
      break;
    }
    if (fault.kind == FaultKind::reset_peer || fault.kind == FaultKind::slow_close ||
        fault.kind == FaultKind::limit_data)
      continue;  // act on the connection, not on chunks (check_connection, below, destructor)
    Stream& s = streams_[i][di];
    ++s.chunks;
    if (s.chunks % fault.schedule.every != 0) continue;
    if (fault.schedule.probability < 1.0 && s.schedule.uniform() >= fault.schedule.probability)
      continue;
    FaultRng& rng = s.effect;
    switch (fault.kind) {
      case FaultKind::latency: {
        const std::int64_t jitter = fault.jitter.count();
        std::int64_t delay = fault.latency.count();
        if (jitter > 0)
          delay +=
              static_cast<std::int64_t>(rng.between(0, static_cast<std::uint64_t>(2 * jitter))) -
              jitter;
        delay = std::max<std::int64_t>(delay, 0);
        latency += delay;
        record(i, d, base, {{"delay_ns", delay}}, now);
        break;
      }
      case FaultKind::bandwidth:
        bandwidth = bandwidth == 0.0 ? fault.rate : std::min(bandwidth, fault.rate);
        record(i, d, base, {{"rate_bytes_per_s", fault.rate}, {"bytes", data.size()}}, now);
        break;
      case FaultKind::slicer: {
        std::size_t at = 0;
        std::size_t slices = 0;
        while (at < data.size()) {
          const std::uint64_t size =
              rng.between(fault.size - fault.size_variation, fault.size + fault.size_variation);
          if (at > 0) pause[at] += fault.delay.count();
          at += static_cast<std::size_t>(size);
          ++slices;
        }
        if (slices > 1)
          record(i, d, base, {{"slices", slices}, {"delay_ns", fault.delay.count()}}, now);
        break;
      }
      case FaultKind::bit_flip: {
        for (std::size_t k = 0; k < data.size(); ++k) {
          std::uint8_t mask = 0;
          for (int bit = 0; bit < 8; ++bit)
            if (rng.uniform() < fault.rate) mask |= static_cast<std::uint8_t>(1u << bit);
          if (mask == 0) continue;
          const std::uint8_t before = data[k];
          data[k] = static_cast<std::uint8_t>(before ^ mask);
          record(i, d, base + k, {{"mask", mask}, {"before", before}, {"after", data[k]}}, now);
        }
        break;
      }
      case FaultKind::byte_drop: {
        Bytes kept;
        std::vector<std::int64_t> kept_pause;
        std::int64_t carried = 0;  // a dropped byte's pause moves to the next byte
        for (std::size_t k = 0; k < data.size(); ++k) {
          if (rng.uniform() < fault.rate) {
            carried += pause[k];
            record(i, d, base + k, {{"dropped", data[k]}}, now);
            continue;
          }
          kept.push_back(data[k]);
          kept_pause.push_back(pause[k] + std::exchange(carried, 0));
        }
        data = std::move(kept);
        pause = std::move(kept_pause);
        break;
      }
      case FaultKind::byte_duplicate: {
        Bytes out;
        std::vector<std::int64_t> out_pause;
        for (std::size_t k = 0; k < data.size(); ++k) {
          out.push_back(data[k]);
          out_pause.push_back(pause[k]);
          if (rng.uniform() < fault.rate) {
            out.push_back(data[k]);
            out_pause.push_back(0);
            record(i, d, base + k, {{"duplicated", data[k]}}, now);
          }
        }
        data = std::move(out);
        pause = std::move(out_pause);
        break;
      }
      case FaultKind::noise_burst: {
        const auto length = static_cast<std::size_t>(
            rng.between(fault.size - fault.size_variation, fault.size + fault.size_variation));
        const auto at = static_cast<std::size_t>(rng.between(0, data.size()));
        Bytes noise(length);
        for (std::uint8_t& b : noise) b = static_cast<std::uint8_t>(rng.next() & 0xFF);
        data.insert(data.begin() + static_cast<std::ptrdiff_t>(at), noise.begin(), noise.end());
        pause.insert(pause.begin() + static_cast<std::ptrdiff_t>(at), length, 0);
        record(i, d, base + at, {{"inserted_hex", hex(noise)}}, now);
        break;
      }
      case FaultKind::truncate: {
        const std::size_t keep = fault.keep
                                     ? std::min(*fault.keep, data.size())
                                     : static_cast<std::size_t>(rng.between(0, data.size() - 1));
        if (keep == data.size()) break;
        record(i, d, base + keep,
               {{"kept", keep},
                {"dropped", data.size() - keep},
                {"dropped_hex", hex(std::span(data).subspan(keep))}},
               now);
        data.resize(keep);
        pause.resize(keep);
        break;
      }
      case FaultKind::gap: {
        if (data.size() < 2) break;
        const auto at = static_cast<std::size_t>(rng.between(1, data.size() - 1));
        pause[at] += fault.delay.count();
        record(i, d, base + at, {{"gap_ns", fault.delay.count()}}, now);
        break;
      }
      case FaultKind::down:
      case FaultKind::timeout:
      case FaultKind::reset_peer:
      case FaultKind::slow_close:
      case FaultKind::limit_data:
        break;  // handled above
    }
  }

  // limit_data: what passes beyond the limit is cut, and the connection closes after it.
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    const Fault& fault = plan_.faults[i];
    if (fault.kind != FaultKind::limit_data || !applies(fault, d) || !window_age(fault, now))
      continue;
    const std::uint64_t allowed = fault.bytes > passed_[di] ? fault.bytes - passed_[di] : 0;
    if (data.size() < allowed) continue;  // exactly reaching the limit closes too
    const std::size_t dropped = data.size() - static_cast<std::size_t>(allowed);
    data.resize(static_cast<std::size_t>(allowed));
    pause.resize(data.size());
    std::optional<std::string>& close = close_when_drained_[di];
    if (!close) {
      close = fmt::format("connection closed after {} bytes {} (fault {}: limit_data)", fault.bytes,
                          direction_name(d), i);
      record(i, d, base + allowed, {{"limit", fault.bytes}, {"dropped", dropped}, {"closed", true}},
             now);
    }
  }
  passed_[di] += data.size();

  // Latency is absolute (the chunk arrives that much after it was seen; order is kept);
  // slicer and gap pauses are silences before a byte, counted from when the byte before it
  // actually went (so they hold even when this thread wakes late), and start a new write;
  // bandwidth spaces every byte from the one before.
  std::deque<Timed>& queued = queue(d);
  const std::int64_t byte_ns =
      bandwidth > 0.0 ? static_cast<std::int64_t>(1e9 / bandwidth) : std::int64_t{0};
  std::int64_t& last = last_due_[di];
  const std::int64_t due = std::max(now + latency, last);
  last = due;
  for (std::size_t k = 0; k < data.size(); ++k)
    queued.push_back(Timed{due, pause[k] + byte_ns, pause[k] > 0, data[k]});
}

std::size_t FaultEngine::releasable(Direction d, std::int64_t now, std::size_t limit) const {
  std::int64_t t = released_ns_[dir_index(d)];
  std::size_t n = 0;
  for (const Timed& item : queue(d)) {
    if (n == limit || (n > 0 && item.piece_start)) break;
    const std::int64_t allowed = std::max(item.due_ns, t + item.gap_ns);
    if (allowed > now) break;
    t = allowed;
    ++n;
  }
  return n;
}

void FaultEngine::copy_front(Direction d, std::span<std::uint8_t> out) const {
  const std::deque<Timed>& q = queue(d);
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = q[k].byte;
}

void FaultEngine::release(Direction d, std::size_t count, std::int64_t now_ns) {
  std::deque<Timed>& q = queue(d);
  q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(std::min(count, q.size())));
  released_ns_[dir_index(d)] = now_ns;
}

std::int64_t FaultEngine::next_release_ns(Direction d) const {
  const std::deque<Timed>& q = queue(d);
  if (q.empty()) return never;
  return std::max(q.front().due_ns, released_ns_[dir_index(d)] + q.front().gap_ns);
}

}  // namespace hilbench::faults
