#pragma once
// The shared physical world of one emulated bench: quantities one emulator publishes and
// others consume (the supply's output powers a DUT, the reference source drives a meter's
// terminals, the meter's pulse output reaches the source's pulse input).
//
// Design (devices/README.md, "The world"): a world is a directory the bench launcher
// creates and passes to every emulator as `--world DIR`. Each device publishes all its
// quantities in one JSON file, DIR/<device>.json, replaced atomically (write a temporary
// file in DIR, rename over the old one), so a reader sees either the old or the new
// document, never half of one, and no lock is shared between processes. Each quantity has
// exactly one owner (the device whose file holds it); consumers read the file of the device
// they are wired to (`--wire ROLE=DEVICE`) when they need it and on a fixed tick. A killed
// emulator leaves its last document behind: the world survives it (the physical quantity a
// process was simulating does not vanish when the process does) and no other process waits
// on it. Every document carries "device", "pid", "seq" (increasing per publisher) and
// "published_ns" (CLOCK_MONOTONIC, shared by every process of the machine).
//
// Thread-safety: a Publisher is used from one thread; read_published may run anywhere.
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hilbench::emu::world {

/// `--world DIR` and `--wire ROLE=DEVICE` of the common command line.
struct WorldOptions {
  std::filesystem::path dir;                 ///< empty: the device stands alone
  std::map<std::string, std::string> wires;  ///< role ("power", "terminals", ...) -> device

  bool enabled() const noexcept { return !dir.empty(); }
  /// The device wired to `role`, if the world is enabled and the wire was given.
  std::optional<std::string> wire(std::string_view role) const;
};

/// Parses one `--wire ROLE=DEVICE`; nullopt when it is not of that form.
std::optional<std::pair<std::string, std::string>> parse_wire(std::string_view text);

/// The machine's monotonic clock (CLOCK_MONOTONIC) in nanoseconds: comparable across the
/// processes of one bench (std::chrono::steady_clock is this clock on Linux).
std::int64_t steady_now_ns() noexcept;

/// Publishes one device's quantities as DIR/<device>.json.
class Publisher {
 public:
  Publisher(std::filesystem::path dir, std::string device);
  /// Replaces the device's document with `quantities` plus device, pid, seq, published_ns.
  /// False (and nothing replaced) when the file cannot be written; never throws.
  bool publish(const nlohmann::json& quantities);
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path dir_;
  std::string device_;
  std::filesystem::path path_;
  std::uint64_t seq_ = 0;
};

/// The document `device` published last in `dir`, or nullopt when it never published (or
/// the file is not a JSON object). Never throws.
std::optional<nlohmann::json> read_published(const std::filesystem::path& dir,
                                             const std::string& device);

}  // namespace hilbench::emu::world
