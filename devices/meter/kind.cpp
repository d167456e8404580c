#include "meter/kind.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <bit>
#include <optional>

#include "common/power.hpp"
#include "common/world.hpp"
#include "meter/endpoints.hpp"
#include "meter/iec62056_endpoint.hpp"
#include "meter/iec62056_server.hpp"
#include "meter/metrology.hpp"
#include "meter/modbus_server.hpp"
#include "meter/profile.hpp"

namespace hilbench::emu::meter {

namespace {

/// A register's engineering value as the Modbus side stores it now (word order and scale of
/// the profile), for the optical port's readout: both interfaces show one register state.
std::optional<double> register_value(const ModbusServer& server, const std::string& name) {
  for (const RegisterSpec& spec : server.profile().registers) {
    if (spec.name != name) continue;
    std::uint32_t raw = 0;
    const unsigned words = word_count(spec.type);
    for (unsigned i = 0; i < words; ++i) {
      const auto word =
          server.register_word(spec.table, static_cast<std::uint16_t>(spec.address + i));
      if (!word) return std::nullopt;
      const unsigned significance = spec.word_order == WordOrder::little ? i : words - 1 - i;
      raw |= std::uint32_t{*word} << (16 * significance);
    }
    double value = 0;
    switch (spec.type) {
      case ValueType::u16:
      case ValueType::u32:
        value = static_cast<double>(raw);
        break;
      case ValueType::i16:
        value = static_cast<std::int16_t>(raw);
        break;
      case ValueType::i32:
        value = static_cast<std::int32_t>(raw);
        break;
      case ValueType::f32:
        value = static_cast<double>(std::bit_cast<float>(raw));
        break;
    }
    return value / spec.scale;
  }
  return std::nullopt;
}

constexpr auto world_tick = std::chrono::milliseconds{10};

// Watt-hours in a register's unit ("kWh" -> kWh, else Wh; likewise var-hours).
double energy_in_unit(double wh, const std::string& unit) {
  return !unit.empty() && (unit[0] == 'k' || unit[0] == 'K') ? wh / 1000.0 : wh;
}

// The meter in its world (meter/metrology.hpp): power, terminals, energy, clock, event log
// and pulse output, kept in the server's registers. Lives in serve(), on the I/O thread.
class LiveMeter {
 public:
  LiveMeter(ModbusServer& server, const DeviceProfile& profile, const world::WorldOptions& world)
      : server_(server),
        spec_(profile.meter),
        world_(world),
        terminals_(world.wire("terminals").value_or("")),
        publisher_(world.dir, profile.name),
        metrology_(profile.meter, knobs(profile.defects), initial_energy(server, profile.meter),
                   clock_now_s(), world::steady_now_ns()) {}

  // Reads the world, integrates, refreshes the live registers and publishes the pulses.
  void refresh(bool up) {
    const std::int64_t now = world::steady_now_ns();
    if (!terminals_.empty()) {
      const auto document = world::read_published(world_.dir, terminals_);
      const Terminals terminals = document ? terminals_from_world(*document) : Terminals{};
      metrology_.advance(terminals, now);
      if (up) write_reading(metrology_.measure(terminals));
    }
    write_energy();
    write_clock(now);
    write_events();
    publish(up);
  }
  void power_lost() {
    metrology_.power_lost(world::steady_now_ns());
    server_.restore_volatile();
    write_energy();
    write_events();
    publish(false);
  }
  void power_up() {
    metrology_.power_up(world::steady_now_ns());
    write_events();
    publish(true);
  }
  void start_unpowered() { metrology_.start_unpowered(); }
  /// The control channel switched knobs: energy is integrated up to now under the old ones
  /// first (`up`: the supply is on).
  void set_defects(const DefectSet& defects, bool up) {
    refresh(up);
    metrology_.set_knobs(knobs(defects), world::steady_now_ns());
  }
  void register_written(const RegisterSpec& spec) {
    const auto clock = spec_.single.find("clock");
    if (clock == spec_.single.end() || clock->second != spec.name) return;
    set_clock(server_.value(spec.name).value_or(0.0));
  }
  /// The clock as it reads now, drift applied (s since 1970 UTC; the optical port's too).
  double clock_s() const { return metrology_.clock_s(world::steady_now_ns()); }
  /// A clock set, over Modbus or the optical port: logged, registers refreshed.
  void set_clock(double seconds) {
    // clock_set_slips_an_hour: the set lands one hour later than written.
    const double slip =
        server_.profile().defects.has(meter_defect("clock_set_slips_an_hour")) ? 3600.0 : 0.0;
    const std::int64_t now = world::steady_now_ns();
    metrology_.set_clock(seconds + slip, now);
    write_clock(now);
    write_events();
  }

 private:
  static MetrologyKnobs knobs(const DefectSet& defects) {
    return {defects.has(meter_defect("out_of_class_at_low_current")),
            defects.has(meter_defect("loses_energy_on_power_cut")),
            defects.has(meter_defect("clock_drift_excessive")),
            defects.has(meter_defect("creeps_at_no_load")),
            defects.has(meter_defect("register_disagrees_with_test_output"))};
  }
  static double clock_now_s() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
  }
  static Energy initial_energy(const ModbusServer& server, const MeterSpec& spec) {
    auto wh = [&](const char* quantity) {
      const auto name = spec.single.find(quantity);
      if (name == spec.single.end()) return 0.0;
      const RegisterSpec* reg = nullptr;
      for (const RegisterSpec& r : server.profile().registers)
        if (r.name == name->second) reg = &r;
      const double value = server.value(name->second).value_or(0.0);
      return reg && !reg->unit.empty() && (reg->unit[0] == 'k' || reg->unit[0] == 'K')
                 ? value * 1000.0
                 : value;
    };
    return {wh("active_import"), wh("active_export"), wh("reactive_import"), wh("reactive_export")};
  }
  void set(const std::string& quantity, double value) {
    const auto name = spec_.single.find(quantity);
    if (name != spec_.single.end()) server_.set_value(name->second, value);
  }
  void set_phase(const std::string& quantity, std::size_t phase, double value) {
    const auto names = spec_.phases.find(quantity);
    if (names != spec_.phases.end() && phase < names->second.size())
      server_.set_value(names->second[phase], value);
  }
  void write_reading(const Reading& reading) {
    for (std::size_t phase = 0; phase < reading.phases.size(); ++phase) {
      const PhaseReading& p = reading.phases[phase];
      set_phase("voltage", phase, p.voltage_v);
      set_phase("current", phase, p.current_a);
      set_phase("active_power", phase, p.active_w);
      set_phase("reactive_power", phase, p.reactive_var);
      set_phase("power_factor", phase, p.power_factor);
    }
    set("frequency", reading.frequency_hz);
  }
  void write_energy() {
    const Energy& e = metrology_.energy();
    auto put = [&](const char* quantity, double wh) {
      const auto name = spec_.single.find(quantity);
      if (name == spec_.single.end()) return;
      for (const RegisterSpec& r : server_.profile().registers)
        if (r.name == name->second) server_.set_value(r.name, energy_in_unit(wh, r.unit));
    };
    put("active_import", e.active_import_wh);
    put("active_export", e.active_export_wh);
    put("reactive_import", e.reactive_import_varh);
    put("reactive_export", e.reactive_export_varh);
  }
  void write_clock(std::int64_t now) {
    const double clock = metrology_.clock_s(now);
    const double whole = std::floor(clock);
    set("clock", whole);
    set("clock_ms", std::floor((clock - whole) * 1000.0));
  }
  void write_events() {
    if (spec_.event_log_entries == 0) return;
    const auto& events = metrology_.events();
    server_.set_value("event_count", static_cast<double>(events.size()));
    for (unsigned n = 1; n <= spec_.event_log_entries; ++n) {
      const Event entry = n <= events.size() ? events[n - 1] : Event{};
      server_.set_value(fmt::format("event_{}_sequence", n), entry.sequence);
      server_.set_value(fmt::format("event_{}_code", n), entry.code);
      server_.set_value(fmt::format("event_{}_time", n), entry.timestamp_s);
    }
  }
  // The pulse output as a line the source counts: the exact count at a steady instant and
  // the rate from then on, republished when the rate changes (or every second), so the
  // count a reader extrapolates is exact whatever the publishing lag.
  void publish(bool up) {
    const double rate = metrology_.pulse_rate_hz();
    const std::int64_t at = metrology_.integrated_to_ns();
    if (rate == published_rate_ && up == published_up_ && at - published_at_ < 1'000'000'000)
      return;
    if (publisher_.publish({{"powered", up},
                            {"pulses", metrology_.pulses()},
                            {"pulse_count", metrology_.pulses_exact()},
                            {"pulse_rate_hz", rate},
                            {"pulses_at_ns", at}})) {
      published_rate_ = rate;
      published_up_ = up;
      published_at_ = at;
    }
  }

  ModbusServer& server_;
  MeterSpec spec_;
  world::WorldOptions world_;
  std::string terminals_;
  world::Publisher publisher_;
  Metrology metrology_;
  double published_rate_ = -1.0;
  std::int64_t published_at_ = 0;
  bool published_up_ = false;
};

class EmulatedMeter final : public EmulatedDevice {
 public:
  explicit EmulatedMeter(DeviceProfile profile) : profile_(std::move(profile)) {}

  const std::string& name() const override { return profile_.name; }
  DefectSet& defects() override { return profile_.defects; }
  nlohmann::ordered_json profile_json() const override { return profile_to_json(profile_); }

  bool has_serial() const override { return profile_.serial.has_value(); }

  std::optional<std::string> presentation_problem(const EndpointOptions& options) const override {
    if (!options.optical_socket.empty() && !profile_.iec62056)
      return fmt::format("{}: --optical-socket: the profile has no [iec62056] table",
                         profile_.source);
    if (!profile_.serial || options.no_serial) return std::nullopt;
    // A presenter port is a UART model that keeps any framing; an inherited fd is whatever
    // the parent made it. Only the self-presented testbed port is a bare pty underneath.
    if (!options.serial_socket.empty() || options.serial_fd >= 0) return std::nullopt;
    if (auto problem = pty_presentation_problem(*profile_.serial))
      return fmt::format("{}: serial: {}", profile_.source, *problem);
    return std::nullopt;
  }

  int serve(const EndpointOptions& options, Logger& log) override;

 private:
  DeviceProfile profile_;
};

int EmulatedMeter::serve(const EndpointOptions& options, Logger& log) {
  const bool serve_tcp = !options.no_tcp;
  const bool serve_serial = !options.no_serial && profile_.serial.has_value();
  if (!options.no_serial && !profile_.serial)
    log("the profile has no [serial] table; serving no RTU port");

  // Order matters for shutdown: members declared later are destroyed first, so the
  // endpoints go before the io_context and the server outlives both.
  ModbusServer server(profile_);
  const DeviceProfile& active = server.profile();
  asio::io_context io;
  auto shut_down = [&](const std::string& why) {
    log(fmt::format("stopping: {}", why));
    io.stop();
  };
  // Caught from here on, so a SIGTERM during set-up still removes the testbed.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code error, int signal_number) {
    if (!error) shut_down(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  SerialEndpoint serial;
  SerialEndpoint optical_link;
  std::optional<Iec62056Server> iec;
  std::optional<TcpEndpoint> tcp;
  std::optional<RtuEndpoint> rtu;
  std::optional<OpticalEndpoint> optical;
  auto sink = [&log](const std::string& message) { log(message); };

  // The world (common/world.hpp): the supply it is wired to, and with a [meter] table its
  // measurement model, clock and event log. Without --world the registers stay static.
  std::optional<LiveMeter> live;
  if (active.meter.declared && options.world.enabled()) live.emplace(server, active, options.world);
  PowerInput power(io, options.world, active.power,
                   {.lost =
                        [&] {
                          if (live)
                            live->power_lost();
                          else
                            server.restore_volatile();
                        },
                    .booted =
                        [&] {
                          if (live) live->power_up();
                          if (tcp)
                            tcp->reset_clients();  // connections from before the cut are gone
                          if (optical) optical->power_cycled();
                        }},
                   sink);
  if (live) {
    if (power.up())
      live->power_up();  // the emulator's start is the device's power-up
    else
      live->start_unpowered();
  }
  auto refresh = [&] {
    const bool up = power.up();
    if (live) live->refresh(up);
    return up;
  };
  server.set_gate(refresh);
  server.on_register_write([&](const RegisterSpec& spec) {
    if (live) live->register_written(spec);
  });
  asio::steady_timer world_timer(io);
  std::function<void()> tick = [&] {
    world_timer.expires_after(world_tick);
    world_timer.async_wait([&](std::error_code error) {
      if (error) return;
      refresh();
      tick();
    });
  };
  if (options.world.enabled()) {
    refresh();
    tick();
  }

  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["pid"] = ::getpid();
  ready["name"] = active.name;
  ready["kind"] = kind.name;
  try {
    if (serve_tcp) {
      const asio::ip::tcp::endpoint listen_on{asio::ip::make_address(options.tcp_host),
                                              static_cast<std::uint16_t>(options.tcp_port)};
      tcp.emplace(io, server, listen_on, sink);
      const auto bound = tcp->local_endpoint();
      ready["tcp"] = {{"host", bound.address().to_string()}, {"port", bound.port()}};
    } else {
      ready["tcp"] = nullptr;
    }
    if (serve_serial) {
      serial = open_serial_endpoint(options, *active.serial, active.name);
      rtu.emplace(io, server, serial.device_fd, *active.serial, sink, serial.presenter_link);
      ready["serial"] = serial.description;
    } else {
      ready["serial"] = nullptr;
    }
    if (!options.optical_socket.empty()) {
      // The optical port starts at the mode C sign-on settings, 300 baud 7E1.
      EndpointOptions link = options;
      link.serial_socket = options.optical_socket;
      SerialSettings sign_on{.baud = 300, .data_bits = 7, .parity = Parity::even, .stop_bits = 1};
      optical_link = open_serial_endpoint(link, sign_on, active.name);
      iec.emplace(
          *active.iec62056, active.defects,
          [&server](const std::string& name) { return register_value(server, name); },
          active.identity.serial_number);
      if (live)  // one meter, one clock: the readout shows the clock Modbus sets, and W1 sets it
        iec->use_clock({.read_s = [&live] { return live->clock_s(); },
                        .set_s = [&live](double seconds) { live->set_clock(seconds); }});
      optical.emplace(io, *iec, optical_link.device_fd, sink);
      if (options.world.enabled()) optical->set_gate(refresh);  // dead without its supply
      ready["optical"] = optical_link.description;
    } else {
      ready["optical"] = nullptr;
    }
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the endpoints: {}", error.what()));
    return exit_code::failure;
  }
  ready["defects"] = active_defect_names(defect_table, active.defects);

  StdinWatch stdin_watch(
      io, [&] { shut_down("stdin closed"); }, log,
      [&](const nlohmann::json& request) {
        return handle_defect_request(defect_table, active.defects, request,
                                     [&](const DefectSet& defects) {
                                       if (live) live->set_defects(defects, power.up());
                                       server.set_defects(defects);
                                       if (rtu) rtu->apply_defects();
                                       if (iec) iec->set_defects(defects);
                                     });
      });
  if (!write_ready_line(ready)) {
    log("cannot write the ready line to stdout");
    return exit_code::failure;
  }
  log(fmt::format("ready: {}", ready.dump()));

  try {
    io.run();
  } catch (const std::exception& error) {
    log(fmt::format("I/O loop failed: {}", error.what()));
    return exit_code::failure;
  }
  world_timer.cancel();
  if (tcp) tcp->close();
  if (rtu) rtu->close();
  if (optical) optical->close();
  return exit_code::ok;
}

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<EmulatedMeter>(read_profile(document, file));
}

}  // namespace

const DeviceKind kind{
    .name = "meter",
    .summary =
        "smart meter: Modbus TCP and RTU from one register map, and an optical port "
        "(IEC 62056-21 mode C)",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::meter
