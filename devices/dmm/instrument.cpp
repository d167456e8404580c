#include "dmm/instrument.hpp"

namespace hilbench::emu::dmm {

namespace {

constexpr double reading_offset_gain = 1.005;  // defect reading_offset: 0.5 % high

scpi::EngineOptions options_for(const Profile& profile) {
  scpi::EngineOptions options = scpi::engine_options(profile.common);
  options.esr_ignores_errors = profile.defects.has(dmm_defect("error_queue_fills_silently"));
  if (profile.defects.has(dmm_defect("idn_wrong_firmware"))) options.firmware += "-rc1";
  return options;
}

double noisy(std::mt19937_64& random, double value, double sigma) {
  if (sigma <= 0) return value;
  return value + std::normal_distribution<double>(0.0, sigma)(random);
}

}  // namespace

Instrument::Instrument(const Profile& profile)
    : profile_(profile), engine_(options_for(profile)), random_(profile.reading.seed) {
  engine_.on_reset([this] { function_ = Function::dc_voltage; });
  engine_.add("MEASure:VOLTage[:DC]?", [this](const scpi::Call& call) {
    call.expect(0, 2);
    function_ = Function::dc_voltage;
    return scpi::format_nr3(read_voltage());
  });
  engine_.add("MEASure:CURRent[:DC]?", [this](const scpi::Call& call) {
    call.expect(0, 2);
    function_ = Function::dc_current;
    return scpi::format_nr3(read_current());
  });
  engine_.add("CONFigure:VOLTage[:DC]", [this](const scpi::Call& call) {
    call.expect(0, 2);
    function_ = Function::dc_voltage;
    return std::string();
  });
  engine_.add("CONFigure:CURRent[:DC]", [this](const scpi::Call& call) {
    call.expect(0, 2);
    function_ = Function::dc_current;
    return std::string();
  });
  engine_.add("CONFigure?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return std::string(function_ == Function::dc_voltage ? "\"VOLT:DC\"" : "\"CURR:DC\"");
  });
  engine_.add("READ?", [this](const scpi::Call& call) {
    call.expect(0, 0);
    return scpi::format_nr3(function_ == Function::dc_voltage ? read_voltage() : read_current());
  });
}

double Instrument::read_voltage() {
  double value = noisy(random_, profile_.reading.dc_voltage_v, profile_.reading.noise_v);
  if (profile_.defects.has(dmm_defect("reading_offset"))) value *= reading_offset_gain;
  return value;
}

double Instrument::read_current() {
  double value = noisy(random_, profile_.reading.dc_current_a, profile_.reading.noise_a);
  if (profile_.defects.has(dmm_defect("reading_offset"))) value *= reading_offset_gain;
  return value;
}

}  // namespace hilbench::emu::dmm
