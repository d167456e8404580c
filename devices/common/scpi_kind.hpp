#pragma once
// The EmulatedDevice every SCPI instrument kind (dmm, source, psu) registers: written once
// here; a kind supplies its Profile (with `common` and `defects` members), its Instrument
// (built from the profile, exposing engine()), its profile_to_json and its defect table.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/defects.hpp"
#include "common/device_kind.hpp"
#include "common/scpi_instrument.hpp"
#include "common/world.hpp"

namespace hilbench::emu::scpi {

template <class Profile, class Instrument>
class EmulatedInstrument final : public EmulatedDevice {
 public:
  using ToJson = nlohmann::ordered_json (*)(const Profile&);
  EmulatedInstrument(std::string_view kind, Profile profile, ToJson to_json,
                     std::span<const DefectInfo> defect_table)
      : kind_(kind), profile_(std::move(profile)), to_json_(to_json), table_(defect_table) {}

  const std::string& name() const override { return profile_.common.name; }
  DefectSet& defects() override { return profile_.defects; }
  nlohmann::ordered_json profile_json() const override { return to_json_(profile_); }
  bool has_serial() const override { return profile_.common.serial.has_value(); }
  std::optional<std::string> presentation_problem(const EndpointOptions& options) const override {
    if (!has_serial() || options.no_serial || !options.serial_socket.empty() ||
        options.serial_fd >= 0)
      return std::nullopt;
    if (auto problem = pty_presentation_problem(*profile_.common.serial))
      return fmt::format("{}: serial: {}", profile_.common.source, *problem);
    return std::nullopt;
  }
  int serve(const EndpointOptions& options, Logger& log) override {
    Instrument instrument(profile_);  // built after --defect has been applied
    // The world (common/world.hpp): a kind with world_state() publishes it after every
    // message; a kind with attach_world() reads the devices it is wired to.
    std::optional<world::Publisher> publisher;
    if constexpr (requires { instrument.world_state(); }) {
      if (options.world.enabled()) {
        publisher.emplace(options.world.dir, profile_.common.name);
        if (!publisher->publish(instrument.world_state()))
          log(fmt::format("world: cannot write {}", publisher->path().string()));
        instrument.engine().after_message([&] { publisher->publish(instrument.world_state()); });
      }
    }
    if constexpr (requires { instrument.attach_world(options.world); })
      instrument.attach_world(options.world);
    return scpi::serve(kind_, profile_.common, instrument.engine(),
                       active_defect_names(table_, profile_.defects), options, log);
  }

 private:
  std::string_view kind_;
  Profile profile_;
  ToJson to_json_;
  std::span<const DefectInfo> table_;
};

}  // namespace hilbench::emu::scpi
