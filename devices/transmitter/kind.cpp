#include "transmitter/kind.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <optional>

#include "transmitter/endpoints.hpp"
#include "transmitter/profile.hpp"
#include "transmitter/server.hpp"

namespace hilbench::emu::transmitter {

namespace {

class EmulatedTransmitter final : public EmulatedDevice {
 public:
  explicit EmulatedTransmitter(Profile profile) : profile_(std::move(profile)) {}

  const std::string& name() const override { return profile_.name; }
  DefectSet& defects() override { return profile_.defects; }
  nlohmann::ordered_json profile_json() const override { return profile_to_json(profile_); }
  bool has_serial() const override { return true; }

  std::optional<std::string> presentation_problem(const EndpointOptions& options) const override {
    if (options.no_serial || !options.serial_socket.empty() || options.serial_fd >= 0)
      return std::nullopt;
    if (auto problem = pty_presentation_problem(profile_.serial))
      return fmt::format("{}: serial: {}", profile_.source, *problem);
    return std::nullopt;
  }

  int serve(const EndpointOptions& options, Logger& log) override;

 private:
  Profile profile_;
};

int EmulatedTransmitter::serve(const EndpointOptions& options, Logger& log) {
  // The transmitter has no TCP interface: --tcp-* options are accepted and ignored (the
  // ready line says "tcp": null), so a bench can start every kind the same way.
  Model model(profile_, Clock::now());
  asio::io_context io;
  auto shut_down = [&](const std::string& why) {
    log(fmt::format("stopping: {}", why));
    io.stop();
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code error, int signal_number) {
    if (!error) shut_down(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  // The world (common/world.hpp): the supply it is wired to (bench key powered_by); silent
  // while off, answering again after the profile's boot delay. Unwired: always on.
  PowerInput power(io, options.world, profile_.power, {}, [&log](const std::string& m) { log(m); });
  hilbench::emu::SerialEndpoint serial;
  std::optional<transmitter::SerialEndpoint> endpoint;
  auto sink = [&log](const std::string& message) { log(message); };

  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["pid"] = ::getpid();
  ready["name"] = profile_.name;
  ready["kind"] = kind.name;
  ready["tcp"] = nullptr;
  try {
    if (!options.no_serial) {
      serial = open_serial_endpoint(options, profile_.serial, profile_.name);
      endpoint.emplace(io, model, serial.device_fd, sink, serial.presenter_link);
      if (options.world.enabled()) endpoint->set_gate([&power] { return power.up(); });
      ready["serial"] = serial.description;
      ready["serial"]["protocol"] = profile_.protocol == Protocol::ascii ? "ascii" : "modbus-rtu";
    } else {
      ready["serial"] = nullptr;
    }
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the endpoints: {}", error.what()));
    return exit_code::failure;
  }
  ready["defects"] = active_defect_names(defect_table, profile_.defects);

  StdinWatch stdin_watch(
      io, [&] { shut_down("stdin closed"); }, log,
      [&](const nlohmann::json& request) {
        return handle_defect_request(
            defect_table, model.profile().defects, request,
            [&](const DefectSet& defects) { model.set_defects(defects, Clock::now()); });
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
  if (endpoint) endpoint->close();
  return exit_code::ok;
}

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<EmulatedTransmitter>(read_profile(document, file));
}

}  // namespace

const DeviceKind kind{
    .name = "transmitter",
    .summary = "4-20 mA class transmitter (NAMUR NE 43): Modbus RTU or line-based ASCII",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::transmitter
