#include "dmm/kind.hpp"

#include "dmm/instrument.hpp"
#include "dmm/profile.hpp"

namespace hilbench::emu::dmm {

namespace {

class EmulatedDmm final : public EmulatedDevice {
 public:
  explicit EmulatedDmm(Profile profile) : profile_(std::move(profile)) {}
  const std::string& name() const override { return profile_.common.name; }
  DefectSet& defects() override { return profile_.defects; }
  nlohmann::ordered_json profile_json() const override { return profile_to_json(profile_); }
  bool has_serial() const override { return false; }
  std::optional<std::string> presentation_problem(const EndpointOptions&) const override {
    return std::nullopt;
  }
  int serve(const EndpointOptions& options, Logger& log) override {
    Instrument instrument(profile_);  // built after --defect has been applied
    return scpi::serve(kind.name, profile_.common.name, instrument.engine(),
                       active_defect_names(defect_table, profile_.defects), options, log);
  }

 private:
  Profile profile_;
};

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<EmulatedDmm>(read_profile(document, file));
}

}  // namespace

const DeviceKind kind{
    .name = "dmm",
    .summary = "reference DMM: SCPI over raw TCP (MEAS:VOLT:DC?, MEAS:CURR:DC?, CONF, READ?)",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::dmm
