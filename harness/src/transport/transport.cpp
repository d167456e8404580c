#include "hilbench/transport/transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "hilbench/errors.hpp"

namespace hilbench {

bool Transport::connection_lost() {
  if (!lost_ && peer_gone()) lost_ = true;
  return lost_;
}

std::size_t Transport::read_some(std::span<std::uint8_t> buf, Deadline deadline) {
  std::size_t n = 0;
  try {
    n = do_read(buf, deadline);
  } catch (const TransportError&) {
    lost_ = true;
    throw;
  }
  if (n > 0 && sink_)
    sink_(Chunk{Direction::rx, monotonic_ns(), Bytes(buf.begin(), buf.begin() + n)});
  return n;
}

std::size_t Transport::write_some(std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t n = 0;
  try {
    n = do_write(bytes, deadline);
  } catch (const TransportError&) {
    lost_ = true;
    throw;
  }
  if (n > 0 && sink_) {
    sink_(Chunk{Direction::tx, monotonic_ns(),
                Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n))});
  }
  return n;
}

void Transport::record_chunk(Direction direction, std::span<const std::uint8_t> bytes) {
  if (!bytes.empty() && sink_)
    sink_(Chunk{direction, monotonic_ns(), Bytes(bytes.begin(), bytes.end())});
}

void Transport::write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t n = write_some(bytes.subspan(done), deadline);
    if (n == 0) {
      throw DeviceTimeout({name(), fmt::format("write({})", bytes.size()), deadline.budget()},
                          fmt::format("only {} of {} bytes could be written", done, bytes.size()));
    }
    done += n;
  }
}

Bytes Transport::read_exact(std::size_t count, Deadline deadline) {
  Bytes out(count);
  std::size_t got = 0;
  while (got < count) {
    const std::size_t n = read_some(std::span(out).subspan(got), deadline);
    if (n == 0) {
      throw DeviceTimeout({name(), fmt::format("read_exact({})", count), deadline.budget()},
                          fmt::format("no answer: {} of {} bytes received", got, count));
    }
    got += n;
  }
  return out;
}

Bytes Transport::read_until(std::span<const std::uint8_t> delimiter, std::size_t max_bytes,
                            Deadline deadline) {
  Bytes out;
  std::array<std::uint8_t, 1> byte{};
  // Byte at a time so nothing past the delimiter is consumed; a buffered reader can come
  // later if line protocols need the speed.
  while (true) {
    if (read_some(byte, deadline) == 0) {
      throw DeviceTimeout({name(), "read_until", deadline.budget()},
                          fmt::format("delimiter not received: {} bytes received", out.size()));
    }
    out.push_back(byte[0]);
    if (!delimiter.empty() && out.size() >= delimiter.size() &&
        std::equal(delimiter.begin(), delimiter.end(),
                   out.end() - static_cast<std::ptrdiff_t>(delimiter.size())))
      return out;
    if (out.size() >= max_bytes) {
      throw ProtocolError({name(), "read_until", std::nullopt},
                          fmt::format("delimiter not found within {} bytes", max_bytes));
    }
  }
}

Bytes Transport::read_until_silence(Nanoseconds silence, std::size_t max_bytes, Deadline deadline) {
  Bytes out;
  std::array<std::uint8_t, 256> buf{};
  const std::size_t first =
      read_some(std::span(buf).first(std::min(buf.size(), max_bytes)), deadline);
  if (first == 0) {
    throw DeviceTimeout({name(), "read_until_silence", deadline.budget()},
                        "no answer: 0 bytes received");
  }
  out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(first));
  while (out.size() < max_bytes) {
    if (deadline.expired()) {
      throw DeviceTimeout({name(), "read_until_silence", deadline.budget()},
                          fmt::format("line never fell silent: {} bytes received", out.size()));
    }
    const Deadline quiet = Deadline::after(silence).earliest(deadline);
    const std::size_t want = std::min(buf.size(), max_bytes - out.size());
    const std::size_t n = read_some(std::span(buf).first(want), quiet);
    if (n == 0) {
      if (quiet.when() < deadline.when() || !deadline.expired()) return out;  // silence: frame ends
      throw DeviceTimeout({name(), "read_until_silence", deadline.budget()},
                          fmt::format("line never fell silent: {} bytes received", out.size()));
    }
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

void Transport::discard_input() { do_discard_input(); }

Transport::Drained Transport::drain_until_quiet(Nanoseconds quiet, Nanoseconds first_quiet,
                                                Deadline deadline) {
  Drained drained;
  std::array<std::uint8_t, 256> buf{};
  Nanoseconds window = first_quiet;
  while (true) {
    const Deadline window_end = Deadline::after(window).earliest(deadline);
    const std::size_t n = read_some(buf, window_end);
    if (n == 0) {
      drained.quiet = window_end.when() < deadline.when() || !deadline.expired();
      return drained;
    }
    drained.bytes.insert(drained.bytes.end(), buf.begin(),
                         buf.begin() + static_cast<std::ptrdiff_t>(n));
    window = quiet;
  }
}

}  // namespace hilbench
