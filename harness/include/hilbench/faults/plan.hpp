#pragma once
// FaultPlan: a declarative, seeded list of link faults (docs/faults.md).
//
// - A plan is plain data: a seed and a list of Fault entries, each with a kind, a direction
//   (host->device, device->host, both), a schedule (from `start` for `duration`; every n-th
//   chunk; with probability p per chunk) and the parameters of its kind.
// - One explicit seed makes a plan replay byte for byte: every random choice is drawn from
//   std::mt19937_64 streams derived from (seed, fault index, direction) and turned into
//   numbers by code of our own (FaultRng), never by std:: distributions (whose output is
//   implementation-defined) and never from std::random_device.
// - parse_fault_plan reads the JSON form (the Python dict form and, through Python's strict
//   TOML reader, plan files); it is strict: an unknown key, a parameter of another kind, a
//   wrong type or a value out of range is a ConfigError naming the key path
//   ("faults[2].bit_error_rate: ...") and, when given, the file. to_json gives the canonical
//   form journaled with every applied plan.
// - Units: times are std::chrono durations (the JSON keys name their unit: start_s,
//   latency_ms, delay_us ...), rates in bytes per second, error rates per bit or per byte.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "hilbench/clock.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench::faults {

enum class FaultKind : std::uint8_t {
  latency,         ///< each selected chunk arrives `latency` +- `jitter` (uniform) later
  down,            ///< nothing passes while the window is open (a pulled cable)
  bandwidth,       ///< bytes pass at no more than `rate` bytes per second
  slow_close,      ///< closing the transport waits `delay` first
  timeout,         ///< data stops; after `timeout` the connection closes (0: it stays open)
  reset_peer,      ///< `timeout` after the window opens, the connection is reset
  slicer,          ///< chunks split into `size` +- `size_variation` bytes, `delay` apart
  limit_data,      ///< the connection closes once `bytes` bytes have passed
  bit_flip,        ///< every bit flipped with probability `rate` (bit error rate)
  byte_drop,       ///< every byte dropped with probability `rate`
  byte_duplicate,  ///< every byte sent twice with probability `rate`
  noise_burst,     ///< `size` +- `size_variation` random bytes inserted at a random place
  truncate,        ///< a chunk cut after `keep` bytes (no `keep`: after a random count)
  gap,             ///< a silence of `delay` inserted at a random place inside a chunk
};

/// host->device is what the harness writes (Direction::tx); device->host what it reads.
enum class FaultDirection : std::uint8_t { to_device, to_host, both };

std::string_view kind_name(FaultKind kind) noexcept;
std::string_view direction_name(FaultDirection direction) noexcept;
/// "to_device" for tx, "to_host" for rx.
std::string_view direction_name(Direction direction) noexcept;

struct Schedule {
  Nanoseconds start{0};                 ///< from when the plan was applied (transport wrapped)
  std::optional<Nanoseconds> duration;  ///< none: until the plan is removed
  std::uint64_t every = 1;              ///< every n-th chunk of the direction (1: each one)
  double probability = 1.0;             ///< per selected chunk
};

/// One fault. Only the parameters of its kind are meaningful (the parser refuses others).
struct Fault {
  FaultKind kind = FaultKind::latency;
  FaultDirection direction = FaultDirection::both;
  Schedule schedule;
  Nanoseconds latency{0};  ///< latency
  Nanoseconds jitter{0};   ///< latency: uniform in [-jitter, +jitter], never below 0 in total
  Nanoseconds delay{0};    ///< slow_close, slicer (between slices), gap (the silence)
  Nanoseconds timeout{0};  ///< timeout, reset_peer
  double rate = 0.0;     ///< bandwidth: bytes/s; bit_flip: per bit; byte_drop/_duplicate: per byte
  std::size_t size = 0;  ///< slicer: average slice; noise_burst: burst length
  std::size_t size_variation = 0;   ///< slicer, noise_burst
  std::optional<std::size_t> keep;  ///< truncate: bytes kept
  std::uint64_t bytes = 0;          ///< limit_data
};

struct FaultPlan {
  std::uint64_t seed = 0;
  std::string name;  ///< free text for humans (journaled)
  std::vector<Fault> faults;
};

/// Parses the JSON form; `source` (a file name, "" for a dict) prefixes every error.
/// Throws ConfigError naming the key path.
FaultPlan parse_fault_plan(const nlohmann::json& document, const std::string& source = "");
/// The canonical JSON form (what parse_fault_plan reads back to an equal plan).
nlohmann::json to_json(const FaultPlan& plan);

/// Deterministic numbers from a std::mt19937_64 stream (whose output the standard fixes),
/// by arithmetic of our own, so a seed gives the same faults with any standard library.
class FaultRng {
 public:
  explicit FaultRng(std::uint64_t seed) : engine_(seed) {}
  /// A stream for (plan seed, fault index, direction, purpose), independent of the others:
  /// adding a fault does not change what an existing one does.
  static FaultRng stream(std::uint64_t seed, std::size_t index, Direction direction,
                         std::uint64_t purpose);
  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [low, high] (low <= high).
  std::uint64_t between(std::uint64_t low, std::uint64_t high) {
    return low + engine_() % (high - low + 1);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace hilbench::faults
