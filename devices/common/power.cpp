#include "common/power.hpp"

#include <fmt/format.h>

namespace hilbench::emu {

PowerSpec read_power_spec(TableReader& top) {
  PowerSpec spec;
  const toml::table* table = top.optional_table("power");
  if (!table) return spec;
  TableReader power(top.file(), *table, "power");
  spec.declared = true;
  spec.nominal_v = power.required_number("nominal_v");
  if (!(spec.nominal_v > 0.0))
    power.fail("nominal_v", power.find("nominal_v"),
               fmt::format("expected volts > 0, got {}", spec.nominal_v));
  spec.min_v = power.optional_number("min_v", spec.nominal_v * 0.8);
  if (spec.min_v < 0.0 || spec.min_v > spec.nominal_v)
    power.fail(
        "min_v", power.find("min_v"),
        fmt::format("expected volts in 0..nominal_v ({}), got {}", spec.nominal_v, spec.min_v));
  spec.boot_delay = std::chrono::milliseconds{power.optional_integer("boot_delay_ms", 0, 60000, 0)};
  power.finish("nominal_v, min_v, boot_delay_ms");
  return spec;
}

nlohmann::ordered_json power_to_json(const PowerSpec& spec) {
  if (!spec.declared) return nullptr;
  return {{"nominal_v", spec.nominal_v},
          {"min_v", spec.min_v},
          {"boot_delay_ms", spec.boot_delay.count()}};
}

PowerInput::PowerInput(asio::io_context& io, const world::WorldOptions& world, PowerSpec spec,
                       Hooks hooks, std::function<void(const std::string&)> log,
                       std::chrono::milliseconds tick)
    : world_(world),
      supply_(world.wire("power").value_or("")),
      spec_(spec),
      hooks_(std::move(hooks)),
      log_(std::move(log)),
      tick_(tick),
      tick_timer_(io),
      boot_timer_(io) {
  if (!wired()) {
    supply_voltage_ = spec_.nominal_v;
    return;
  }
  // At start-up a live supply means on at once; otherwise wait for it.
  state_ = State::off;
  const auto document = world::read_published(world_.dir, supply_);
  const bool on = document && document->value("output_on", false) &&
                  document->value("voltage_v", 0.0) >= spec_.min_v;
  if (on) {
    state_ = State::on;
    supply_voltage_ = document->value("voltage_v", 0.0);
  }
  log_(fmt::format("power: supplied by {} (min {} V, boot delay {} ms): {}", supply_, spec_.min_v,
                   spec_.boot_delay.count(), on ? "on" : "off"));
  arm_tick();
}

PowerInput::~PowerInput() {
  tick_timer_.cancel();
  boot_timer_.cancel();
}

bool PowerInput::up() {
  if (wired()) refresh();
  return state_ == State::on;
}

void PowerInput::arm_tick() {
  tick_timer_.expires_after(tick_);
  tick_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](std::error_code error) {
    if (error || alive.expired()) return;
    refresh();
    arm_tick();
  });
}

void PowerInput::refresh() {
  const auto document = world::read_published(world_.dir, supply_);
  const bool output_on = document && document->value("output_on", false);
  const double volts = output_on ? document->value("voltage_v", 0.0) : 0.0;
  supply_voltage_ = volts;
  const bool supplied = output_on && volts >= spec_.min_v;
  if (!supplied) {
    if (state_ == State::off) return;
    const bool was_on = state_ == State::on;
    state_ = State::off;
    ++boot_generation_;
    boot_timer_.cancel();
    log_(output_on
             ? fmt::format("power: supply sagged to {} V (below {} V): reset", volts, spec_.min_v)
             : std::string("power: supply off"));
    if (was_on && hooks_.lost) hooks_.lost();
    return;
  }
  if (state_ != State::off) return;
  state_ = State::booting;
  log_(fmt::format("power: supply on at {} V; booting ({} ms)", volts, spec_.boot_delay.count()));
  boot_timer_.expires_after(spec_.boot_delay);
  boot_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                          generation = ++boot_generation_](std::error_code error) {
    if (error || alive.expired() || generation != boot_generation_) return;
    state_ = State::on;
    log_("power: booted");
    if (hooks_.booted) hooks_.booted();
  });
}

}  // namespace hilbench::emu
