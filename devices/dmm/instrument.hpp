#pragma once
// The emulated reference DMM: its SCPI command set on the common engine.
//   MEASure:VOLTage[:DC]? [range[,resolution]]   one DC voltage reading, volts (NR3)
//   MEASure:CURRent[:DC]? [range[,resolution]]   one DC current reading, amps
//   CONFigure:VOLTage[:DC] | CONFigure:CURRent[:DC] [range[,resolution]]
//   CONFigure?   "VOLT:DC" | "CURR:DC";   READ?   one reading of the configured function
// Each reading = the profile's value + Gaussian noise (profile's sigma, seeded). *RST
// configures VOLT:DC. Range and resolution are accepted and not modelled.
#include <random>

#include "common/scpi_engine.hpp"
#include "dmm/profile.hpp"

namespace hilbench::emu::dmm {

class Instrument {
 public:
  explicit Instrument(const Profile& profile);
  scpi::Engine& engine() noexcept { return engine_; }
  double read_voltage();  ///< volts
  double read_current();  ///< amps

 private:
  enum class Function { dc_voltage, dc_current };
  Profile profile_;
  scpi::Engine engine_;
  Function function_ = Function::dc_voltage;
  std::mt19937_64 random_;
};

}  // namespace hilbench::emu::dmm
