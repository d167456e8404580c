#pragma once
// A powered device's supply input, shared by every powered DUT kind (meter now, the
// transmitter later). The profile's optional `[power]` table:
//   [power]  nominal_v (volts, > 0), min_v (volts, 0..nominal_v: below it the device resets),
//            boot_delay_ms (0..60000: from the supply coming back to the device answering)
// The device is wired to its supply with `--wire power=<psu>` (bench key `powered_by`);
// the supply's world document (common/world.hpp) holds "output_on" and "voltage_v".
//   - no power wire: the device is on from start to end (a bench without a modelled supply);
//   - supply off, or its voltage below min_v (a sag): the device is off at once — the
//     owner goes silent on every endpoint and drops volatile state in `lost`;
//   - supply back (on, at or above min_v): after boot_delay the device is on (`booted`).
//     A supply that drops again while booting cancels the boot.
// At start-up a supply that is already on counts as on (the emulator's start is the boot);
// a supply that never published counts as off.
// The supply is read on a fixed tick and whenever the owner asks (up()), so a change the
// supply published before a request reached the device is always seen by that request.
// Not thread-safe: one io_context thread, like the endpoints.
#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/profile_reader.hpp"
#include "common/world.hpp"

namespace hilbench::emu {

struct PowerSpec {
  bool declared = false;   ///< the profile has a [power] table
  double nominal_v = 0.0;  ///< volts
  double min_v = 0.0;      ///< volts; below it the device is off
  std::chrono::milliseconds boot_delay{0};
};

/// Reads the optional `[power]` table through the profile's top-level reader.
PowerSpec read_power_spec(TableReader& top);
/// {"nominal_v", "min_v", "boot_delay_ms"}, or null when the profile declares no [power].
nlohmann::ordered_json power_to_json(const PowerSpec& spec);

class PowerInput {
 public:
  enum class State : std::uint8_t { off, booting, on };
  struct Hooks {
    std::function<void()> lost;    ///< was on, now off (cut or sag)
    std::function<void()> booted;  ///< boot delay over, on again
  };
  static constexpr std::chrono::milliseconds default_tick{10};

  PowerInput(asio::io_context& io, const world::WorldOptions& world, PowerSpec spec, Hooks hooks,
             std::function<void(const std::string&)> log,
             std::chrono::milliseconds tick = default_tick);
  PowerInput(const PowerInput&) = delete;
  PowerInput& operator=(const PowerInput&) = delete;
  ~PowerInput();

  /// Reads the supply now, then: is the device on?
  bool up();
  State state() const noexcept { return state_; }
  /// True when wired to a supply (else always on).
  bool wired() const noexcept { return !supply_.empty(); }
  /// Volts the supply last published (0 when off or unknown; the nominal when not wired).
  double supply_voltage() const noexcept { return supply_voltage_; }

 private:
  void refresh();
  void arm_tick();

  world::WorldOptions world_;
  std::string supply_;
  PowerSpec spec_;
  Hooks hooks_;
  std::function<void(const std::string&)> log_;
  std::chrono::milliseconds tick_;
  asio::steady_timer tick_timer_;
  asio::steady_timer boot_timer_;
  State state_ = State::on;
  double supply_voltage_ = 0.0;
  std::uint64_t boot_generation_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace hilbench::emu
