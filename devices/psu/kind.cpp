#include "psu/kind.hpp"

#include "common/scpi_kind.hpp"
#include "psu/instrument.hpp"
#include "psu/profile.hpp"

namespace hilbench::emu::psu {

namespace {

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<scpi::EmulatedInstrument<Profile, Instrument>>(
      kind.name, read_profile(document, file), &profile_to_json, defect_table);
}

}  // namespace

const DeviceKind kind{
    .name = "psu",
    .summary = "power supply: SCPI over raw TCP (OUTP, VOLT, CURR limit, MEAS:VOLT?, MEAS:CURR?)",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::psu
