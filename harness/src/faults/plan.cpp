#include "hilbench/faults/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

#include "hilbench/errors.hpp"

namespace hilbench::faults {
namespace {

using json = nlohmann::json;

constexpr std::array<std::pair<FaultKind, std::string_view>, 14> kind_names{{
    {FaultKind::latency, "latency"},
    {FaultKind::down, "down"},
    {FaultKind::bandwidth, "bandwidth"},
    {FaultKind::slow_close, "slow_close"},
    {FaultKind::timeout, "timeout"},
    {FaultKind::reset_peer, "reset_peer"},
    {FaultKind::slicer, "slicer"},
    {FaultKind::limit_data, "limit_data"},
    {FaultKind::bit_flip, "bit_flip"},
    {FaultKind::byte_drop, "byte_drop"},
    {FaultKind::byte_duplicate, "byte_duplicate"},
    {FaultKind::noise_burst, "noise_burst"},
    {FaultKind::truncate, "truncate"},
    {FaultKind::gap, "gap"},
}};

// The parameters each kind takes (besides the common kind/direction/schedule keys).
const std::map<FaultKind, std::set<std::string>>& kind_parameters() {
  static const std::map<FaultKind, std::set<std::string>> table{
      {FaultKind::latency, {"latency_ms", "jitter_ms"}},
      {FaultKind::down, {}},
      {FaultKind::bandwidth, {"rate_bytes_per_s"}},
      {FaultKind::slow_close, {"delay_ms"}},
      {FaultKind::timeout, {"timeout_ms"}},
      {FaultKind::reset_peer, {"timeout_ms"}},
      {FaultKind::slicer, {"average_size", "size_variation", "delay_us"}},
      {FaultKind::limit_data, {"bytes"}},
      {FaultKind::bit_flip, {"bit_error_rate"}},
      {FaultKind::byte_drop, {"rate"}},
      {FaultKind::byte_duplicate, {"rate"}},
      {FaultKind::noise_burst, {"length", "length_variation"}},
      {FaultKind::truncate, {"keep_bytes"}},
      {FaultKind::gap, {"gap_ms"}},
  };
  return table;
}

const std::set<std::string> common_keys{"kind",       "direction", "start_s",
                                        "duration_s", "every",     "probability"};

constexpr double max_seconds = 3600.0;     // any time in a plan: at most an hour
constexpr std::size_t max_burst = 4096;    // noise bytes per burst
constexpr std::size_t max_faults = 256;    // entries in one plan
constexpr double max_rate_bytes = 1.0e10;  // bandwidth

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out.empty() ? "none" : out;
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& message) const {
    // The error's operation already says "fault plan": a plan without a file adds nothing.
    const std::string prefix = source_.empty() ? "" : source_ + ": ";
    throw ConfigError({"", "fault plan", std::nullopt},
                      fmt::format("{}{}: {}", prefix, where.empty() ? "(top)" : where, message));
  }

  double number(const json& value, const std::string& where, double low, double high) const {
    if (!value.is_number() || value.is_boolean()) fail(where, "must be a number");
    const double v = value.get<double>();
    if (!std::isfinite(v) || v < low || v > high)
      fail(where, fmt::format("{} is out of range [{}, {}]", v, low, high));
    return v;
  }

  std::uint64_t integer(const json& value, const std::string& where, std::uint64_t low,
                        std::uint64_t high) const {
    if (value.is_number_unsigned()) {
      const auto v = value.get<std::uint64_t>();
      if (v < low || v > high)
        fail(where, fmt::format("{} is out of range [{}, {}]", v, low, high));
      return v;
    }
    if (value.is_number_integer()) {
      const auto v = value.get<std::int64_t>();
      if (v < 0 || static_cast<std::uint64_t>(v) < low || static_cast<std::uint64_t>(v) > high)
        fail(where, fmt::format("{} is out of range [{}, {}]", v, low, high));
      return static_cast<std::uint64_t>(v);
    }
    fail(where, "must be an integer");
  }

  Nanoseconds duration(const json& value, const std::string& where, double scale,
                       double max_value) const {
    const double v = number(value, where, 0.0, max_value);
    return Nanoseconds(static_cast<std::int64_t>(std::llround(v * scale)));
  }

  Fault fault(const json& entry, const std::string& where) const {
    if (!entry.is_object()) fail(where, "must be a table/object");
    Fault fault;
    if (!entry.contains("kind"))
      fail(where + ".kind", fmt::format("missing (one of: {})", kinds()));
    const json& kind = entry.at("kind");
    if (!kind.is_string()) fail(where + ".kind", "must be a string");
    const auto found = std::find_if(kind_names.begin(), kind_names.end(), [&](const auto& pair) {
      return pair.second == kind.get_ref<const std::string&>();
    });
    if (found == kind_names.end())
      fail(where + ".kind",
           fmt::format("'{}' is not one of: {}", kind.get<std::string>(), kinds()));
    fault.kind = found->first;
    const std::set<std::string>& allowed = kind_parameters().at(fault.kind);
    for (const auto& [key, value] : entry.items()) {
      if (common_keys.contains(key) || allowed.contains(key)) continue;
      fail(where + "." + key, fmt::format("not a key of a {} fault (its parameters: {}; every "
                                          "fault: {})",
                                          found->second, join(allowed), join(common_keys)));
    }
    const auto key = [&](const char* name) { return where + "." + name; };
    if (entry.contains("direction")) {
      const json& d = entry.at("direction");
      if (!d.is_string()) fail(key("direction"), "must be a string");
      const auto& text = d.get_ref<const std::string&>();
      if (text == "to_device")
        fault.direction = FaultDirection::to_device;
      else if (text == "to_host")
        fault.direction = FaultDirection::to_host;
      else if (text == "both")
        fault.direction = FaultDirection::both;
      else
        fail(key("direction"), fmt::format("'{}' is not one of: to_device, to_host, both", text));
    }
    if (entry.contains("start_s"))
      fault.schedule.start = duration(entry.at("start_s"), key("start_s"), 1e9, max_seconds);
    if (entry.contains("duration_s"))
      fault.schedule.duration =
          duration(entry.at("duration_s"), key("duration_s"), 1e9, max_seconds);
    if (entry.contains("every"))
      fault.schedule.every = integer(entry.at("every"), key("every"), 1, 1'000'000'000);
    if (entry.contains("probability"))
      fault.schedule.probability = number(entry.at("probability"), key("probability"), 0.0, 1.0);

    const auto required = [&](const char* name) -> const json& {
      if (!entry.contains(name))
        fail(key(name), fmt::format("missing (a {} fault needs it)", found->second));
      return entry.at(name);
    };
    switch (fault.kind) {
      case FaultKind::latency:
        fault.latency = duration(required("latency_ms"), key("latency_ms"), 1e6, 60'000.0);
        if (entry.contains("jitter_ms"))
          fault.jitter = duration(entry.at("jitter_ms"), key("jitter_ms"), 1e6, 60'000.0);
        break;
      case FaultKind::down:
        break;
      case FaultKind::bandwidth:
        fault.rate =
            number(required("rate_bytes_per_s"), key("rate_bytes_per_s"), 1.0, max_rate_bytes);
        break;
      case FaultKind::slow_close:
        fault.delay = duration(required("delay_ms"), key("delay_ms"), 1e6, 60'000.0);
        break;
      case FaultKind::timeout:
      case FaultKind::reset_peer:
        if (entry.contains("timeout_ms"))
          fault.timeout =
              duration(entry.at("timeout_ms"), key("timeout_ms"), 1e6, max_seconds * 1000.0);
        break;
      case FaultKind::slicer:
        fault.size = integer(required("average_size"), key("average_size"), 1, 65536);
        if (entry.contains("size_variation"))
          fault.size_variation =
              integer(entry.at("size_variation"), key("size_variation"), 0, fault.size - 1);
        if (entry.contains("delay_us"))
          fault.delay = duration(entry.at("delay_us"), key("delay_us"), 1e3, 60'000'000.0);
        break;
      case FaultKind::limit_data:
        fault.bytes = integer(required("bytes"), key("bytes"), 0, std::uint64_t{1} << 48);
        break;
      case FaultKind::bit_flip:
        fault.rate = number(required("bit_error_rate"), key("bit_error_rate"), 0.0, 1.0);
        break;
      case FaultKind::byte_drop:
      case FaultKind::byte_duplicate:
        fault.rate = number(required("rate"), key("rate"), 0.0, 1.0);
        break;
      case FaultKind::noise_burst:
        fault.size = integer(required("length"), key("length"), 1, max_burst);
        if (entry.contains("length_variation"))
          fault.size_variation =
              integer(entry.at("length_variation"), key("length_variation"), 0, fault.size - 1);
        break;
      case FaultKind::truncate:
        if (entry.contains("keep_bytes"))
          fault.keep = integer(entry.at("keep_bytes"), key("keep_bytes"), 0, 1 << 20);
        break;
      case FaultKind::gap:
        fault.delay = duration(required("gap_ms"), key("gap_ms"), 1e6, 60'000.0);
        break;
    }
    return fault;
  }

  static std::string kinds() {
    std::string out;
    for (const auto& [kind, name] : kind_names) {
      if (!out.empty()) out += ", ";
      out += name;
    }
    return out;
  }

 private:
  std::string source_;
};

double ms(Nanoseconds value) { return static_cast<double>(value.count()) / 1e6; }

}  // namespace

std::string_view kind_name(FaultKind kind) noexcept {
  for (const auto& [k, name] : kind_names)
    if (k == kind) return name;
  return "?";
}

std::string_view direction_name(FaultDirection direction) noexcept {
  switch (direction) {
    case FaultDirection::to_device:
      return "to_device";
    case FaultDirection::to_host:
      return "to_host";
    case FaultDirection::both:
      return "both";
  }
  return "?";
}

std::string_view direction_name(Direction direction) noexcept {
  return direction == Direction::tx ? "to_device" : "to_host";
}

FaultPlan parse_fault_plan(const nlohmann::json& document, const std::string& source) {
  const Reader reader(source);
  if (!document.is_object()) reader.fail("", "a fault plan must be a table/object");
  for (const auto& [key, value] : document.items()) {
    if (key != "seed" && key != "name" && key != "faults")
      reader.fail(key, "not a key of a fault plan (its keys: seed, name, faults)");
  }
  FaultPlan plan;
  if (!document.contains("seed"))
    reader.fail("seed", "missing: a plan needs an explicit seed so it replays byte for byte");
  plan.seed = reader.integer(document.at("seed"), "seed", 0, UINT64_MAX);
  if (document.contains("name")) {
    const json& name = document.at("name");
    if (!name.is_string()) reader.fail("name", "must be a string");
    plan.name = name.get<std::string>();
    if (plan.name.size() > 256) reader.fail("name", "longer than 256 characters");
  }
  if (!document.contains("faults")) reader.fail("faults", "missing (a list of faults)");
  const json& faults = document.at("faults");
  if (!faults.is_array()) reader.fail("faults", "must be a list");
  if (faults.size() > max_faults)
    reader.fail("faults", fmt::format("{} entries: at most {}", faults.size(), max_faults));
  for (std::size_t i = 0; i < faults.size(); ++i)
    plan.faults.push_back(reader.fault(faults[i], fmt::format("faults[{}]", i)));
  return plan;
}

nlohmann::json to_json(const FaultPlan& plan) {
  json faults = json::array();
  for (const Fault& fault : plan.faults) {
    json entry{{"kind", kind_name(fault.kind)}, {"direction", direction_name(fault.direction)}};
    entry["start_s"] = static_cast<double>(fault.schedule.start.count()) / 1e9;
    if (fault.schedule.duration)
      entry["duration_s"] = static_cast<double>(fault.schedule.duration->count()) / 1e9;
    entry["every"] = fault.schedule.every;
    entry["probability"] = fault.schedule.probability;
    switch (fault.kind) {
      case FaultKind::latency:
        entry["latency_ms"] = ms(fault.latency);
        entry["jitter_ms"] = ms(fault.jitter);
        break;
      case FaultKind::down:
        break;
      case FaultKind::bandwidth:
        entry["rate_bytes_per_s"] = fault.rate;
        break;
      case FaultKind::slow_close:
        entry["delay_ms"] = ms(fault.delay);
        break;
      case FaultKind::timeout:
      case FaultKind::reset_peer:
        entry["timeout_ms"] = ms(fault.timeout);
        break;
      case FaultKind::slicer:
        entry["average_size"] = fault.size;
        entry["size_variation"] = fault.size_variation;
        entry["delay_us"] = static_cast<double>(fault.delay.count()) / 1e3;
        break;
      case FaultKind::limit_data:
        entry["bytes"] = fault.bytes;
        break;
      case FaultKind::bit_flip:
        entry["bit_error_rate"] = fault.rate;
        break;
      case FaultKind::byte_drop:
      case FaultKind::byte_duplicate:
        entry["rate"] = fault.rate;
        break;
      case FaultKind::noise_burst:
        entry["length"] = fault.size;
        entry["length_variation"] = fault.size_variation;
        break;
      case FaultKind::truncate:
        if (fault.keep) entry["keep_bytes"] = *fault.keep;
        break;
      case FaultKind::gap:
        entry["gap_ms"] = ms(fault.delay);
        break;
    }
    faults.push_back(std::move(entry));
  }
  return json{{"seed", plan.seed}, {"name", plan.name}, {"faults", std::move(faults)}};
}

FaultRng FaultRng::stream(std::uint64_t seed, std::size_t index, Direction direction,
                          std::uint64_t purpose) {
  // splitmix64 over the stream's coordinates: well-spread, independent seeds per stream.
  std::uint64_t x = seed;
  const auto mix = [&x](std::uint64_t v) {
    x += 0x9E3779B97F4A7C15ull + v;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    x = z ^ (z >> 31);
  };
  mix(index);
  mix(direction == Direction::tx ? 1 : 2);
  mix(purpose);
  return FaultRng(x);
}

}  // namespace hilbench::faults
