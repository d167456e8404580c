#include "meter/kind.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <bit>
#include <optional>

#include "meter/endpoints.hpp"
#include "meter/iec62056_endpoint.hpp"
#include "meter/iec62056_server.hpp"
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
      optical.emplace(io, *iec, optical_link.device_fd, sink);
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
