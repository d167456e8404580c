#include "meter/kind.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <optional>

#include "meter/endpoints.hpp"
#include "meter/modbus_server.hpp"
#include "meter/profile.hpp"

namespace hilbench::emu::meter {

namespace {

class EmulatedMeter final : public EmulatedDevice {
 public:
  explicit EmulatedMeter(DeviceProfile profile) : profile_(std::move(profile)) {}

  const std::string& name() const override { return profile_.name; }
  DefectSet& defects() override { return profile_.defects; }
  nlohmann::ordered_json profile_json() const override { return profile_to_json(profile_); }

  bool has_serial() const override { return profile_.serial.has_value(); }

  std::optional<std::string> presentation_problem(const EndpointOptions& options) const override {
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
  std::optional<TcpEndpoint> tcp;
  std::optional<RtuEndpoint> rtu;
  auto sink = [&log](const std::string& message) { log(message); };

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
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the endpoints: {}", error.what()));
    return exit_code::failure;
  }
  ready["defects"] = active_defect_names(defect_table, active.defects);

  StdinWatch stdin_watch(
      io, [&] { shut_down("stdin closed"); }, log);
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
  if (tcp) tcp->close();
  if (rtu) rtu->close();
  return exit_code::ok;
}

std::unique_ptr<EmulatedDevice> load(const toml::table& document, const std::string& file) {
  return std::make_unique<EmulatedMeter>(read_profile(document, file));
}

}  // namespace

const DeviceKind kind{
    .name = "meter",
    .summary = "Modbus smart meter: Modbus TCP and RTU from one register map",
    .defects = defect_table,
    .load = &load,
};

}  // namespace hilbench::emu::meter
