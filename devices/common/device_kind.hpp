#pragma once
// The registry of emulated device kinds. hilbench-emulator reads the profile's
// `[device] kind` and hands the rest to that kind: a new kind is a new folder with its
// profile schema, server engine and endpoints, plus one line in devices/kinds.cpp.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "common/defects.hpp"
#include "common/process.hpp"
#include "common/profile_reader.hpp"

namespace hilbench::emu {

/// One device of some kind, its profile parsed and validated, ready to serve.
class EmulatedDevice {
 public:
  virtual ~EmulatedDevice() = default;
  virtual const std::string& name() const = 0;
  /// The active defect knobs (the profile's [defects] plus --defect).
  virtual DefectSet& defects() = 0;
  /// The full parsed profile, defaults applied (--dump-profile; the Python package builds
  /// its DeviceProfile from it).
  virtual nlohmann::ordered_json profile_json() const = 0;
  /// False when the profile declares no serial interface (then --serial is a usage error).
  virtual bool has_serial() const = 0;
  /// Why the asked-for endpoints cannot be presented, or nullopt (checked before serving).
  virtual std::optional<std::string> presentation_problem(const EndpointOptions& options) const = 0;
  /// Sets up the endpoints, writes the ready line, serves until stopped; returns an exit code.
  virtual int serve(const EndpointOptions& options, Logger& log) = 0;
};

struct DeviceKind {
  std::string_view name;  ///< the value of `[device] kind`
  std::string_view summary;
  std::span<const DefectInfo> defects;  ///< the kind's one defect table
  /// Parses the whole profile document. Throws ProfileError naming file and key.
  std::unique_ptr<EmulatedDevice> (*load)(const toml::table& document, const std::string& file);
};

/// Every kind this executable serves (defined in devices/kinds.cpp).
std::span<const DeviceKind* const> registered_kinds();
const DeviceKind* find_kind(std::string_view name);

}  // namespace hilbench::emu
