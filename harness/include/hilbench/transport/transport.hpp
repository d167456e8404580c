#pragma once
// Transport: a byte stream to one device with deadline-bound I/O and timestamped chunks.
//
// Contract
// - Every read/write takes a Deadline and never blocks past it. A read that gets too few
//   bytes before the deadline throws DeviceTimeout (the message names the budget and how
//   many bytes did arrive); a broken endpoint throws TransportError / ConnectionClosed.
// - Every chunk actually read or written is handed, with its CLOCK_MONOTONIC timestamp in
//   ns, to the chunk sink if one is set (raw capture for the journal).
// - Not thread-safe: one thread uses a transport at a time. Owned through shared_ptr so
//   a protocol client and the Python side can both hold it.
// - Implementations (serial, tcp; later usb, rfc2217) override only the protected do_*
//   primitives; framing helpers (exact count, delimiter, silence) live here once, over the
//   two public primitives read_some / write_some, which is also what a decorator
//   (transport/decorator.hpp: fault injection, ...) calls on the transport it wraps.
// - Capabilities beyond a byte stream are asked for, not cast to: serial_line() answers
//   for transports that end in a serial line (character timing, reconfigure while open).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "hilbench/clock.hpp"

namespace hilbench {

class SerialLine;

enum class Direction : std::uint8_t { tx, rx };

/// One piece of traffic as the OS delivered it.
struct Chunk {
  Direction direction;
  std::int64_t monotonic_ns;  ///< when the read returned / the write completed
  std::vector<std::uint8_t> bytes;
};

using ChunkSink = std::function<void(const Chunk&)>;
using Bytes = std::vector<std::uint8_t>;

class Transport {
 public:
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  /// "serial:/dev/ttyUSB0", "tcp:127.0.0.1:502": used in every error and journal record.
  virtual std::string name() const = 0;

  /// The primitive every helper below uses: reads at most buf.size() bytes; blocks until at
  /// least one byte is there or the deadline passes (then returns 0). The bytes read are
  /// timestamped and handed to the chunk sink as one rx chunk. Throws TransportError /
  /// ConnectionClosed on failure.
  std::size_t read_some(std::span<std::uint8_t> buf, Deadline deadline);
  /// The write primitive: writes some of `bytes` (at least one unless the deadline passes
  /// first), returns how many (0: the deadline passed). The bytes written are timestamped and
  /// handed to the chunk sink as one tx chunk. Throws TransportError / ConnectionClosed.
  std::size_t write_some(std::span<const std::uint8_t> bytes, Deadline deadline);

  /// Writes all of `bytes` or throws (DeviceTimeout if the deadline passes first).
  void write(std::span<const std::uint8_t> bytes, Deadline deadline);

  /// Reads exactly `count` bytes.
  Bytes read_exact(std::size_t count, Deadline deadline);

  /// Reads until `delimiter` has been received (included in the result), at most
  /// `max_bytes` (ProtocolError past that).
  Bytes read_until(std::span<const std::uint8_t> delimiter, std::size_t max_bytes,
                   Deadline deadline);

  /// Waits up to `deadline` for the first byte, then reads until the line has been quiet
  /// for `silence` (Modbus RTU end of frame: t3.5) or `max_bytes` arrived. The deadline
  /// also bounds the whole frame: a device that never falls silent times out.
  Bytes read_until_silence(Nanoseconds silence, std::size_t max_bytes, Deadline deadline);

  /// Drops whatever is buffered for reading (stale bytes of an earlier, timed-out answer).
  void discard_input();

  /// Reads and drops bytes until the line has been quiet for `quiet` (each byte restarts the
  /// wait) or the deadline passes. The first quiet window may be shorter (`first_quiet`: part
  /// of it already elapsed). Dropped bytes reach the chunk sink like any other.
  struct Drained {
    Bytes bytes;         ///< what was dropped
    bool quiet = false;  ///< false: the deadline passed while the line was still active
  };
  Drained drain_until_quiet(Nanoseconds quiet, Nanoseconds first_quiet, Deadline deadline);

  /// Where chunks go; an empty function turns capture off. A decorator and the transport
  /// it wraps each have their own sink: the wrapped one sees the wire, the decorator what
  /// it passed on.
  void set_chunk_sink(ChunkSink sink) { sink_ = std::move(sink); }

  /// The serial line this transport ends in, or nullptr (TCP). Owned by the transport and
  /// valid as long as it is. Decorators answer with the wrapped transport's line.
  virtual SerialLine* serial_line() noexcept { return nullptr; }

  /// True once the connection is known to be gone: an I/O call raised TransportError
  /// (ConnectionClosed included), or a non-blocking check finds the peer gone (a TCP peer
  /// that closed, a serial port that hung up) before any call noticed. A lost transport
  /// stays lost: open a new one (the Python TransportFactory does, and journals it).
  bool connection_lost();

 protected:
  Transport() = default;
  /// Implementation of read_some, without the capture: reads at most buf.size() bytes;
  /// blocks until at least one byte is there or the deadline passes (then returns 0).
  /// Throws TransportError/ConnectionClosed on failure.
  virtual std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) = 0;
  /// Implementation of write_some, without the capture: writes some bytes; returns how many
  /// (0 if the deadline passed). Throws on failure.
  virtual std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) = 0;
  virtual void do_discard_input() = 0;
  /// Non-blocking: has the peer gone away? Default: no way to tell without I/O.
  virtual bool peer_gone() { return false; }
  /// For I/O beside read_some/write_some (USB bulk/interrupt transfers): hands `bytes` to the
  /// chunk sink, timestamped now, as read_some/write_some do.
  void record_chunk(Direction direction, std::span<const std::uint8_t> bytes);
  /// For I/O beside read_some/write_some: the connection is gone (connection_lost() is true).
  void mark_lost() noexcept { lost_ = true; }

 private:
  ChunkSink sink_;
  bool lost_ = false;
};

}  // namespace hilbench
