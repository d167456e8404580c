#include "dmm/kind.hpp"

#include "common/scpi_kind.hpp"
#include "dmm/instrument.hpp"
#include "dmm/profile.hpp"

namespace hilbench::emu::dmm {

namespace {

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<scpi::EmulatedInstrument<Profile, Instrument>>(
      kind.name, read_profile(document, file), &profile_to_json, defect_table);
}

}  // namespace

const DeviceKind kind{
    .name = "dmm",
    .summary = "reference DMM: SCPI over raw TCP (MEAS:VOLT:DC?, MEAS:CURR:DC?, CONF, READ?)",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::dmm
