#include "source/kind.hpp"

#include "common/scpi_kind.hpp"
#include "source/instrument.hpp"
#include "source/profile.hpp"

namespace hilbench::emu::source {

namespace {

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<scpi::EmulatedInstrument<Profile, Instrument>>(
      kind.name, read_profile(document, file), &profile_to_json, defect_table);
}

}  // namespace

const DeviceKind kind{
    .name = "source",
    .summary = "reference source: SCPI over raw TCP (SOUR:VOLT, SOUR:CURR, SOUR:PHAS, OUTP)",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::source
