// hilbench-emulator: one emulated Modbus device (e.g. the EM-1 meter) as a separate process
// on real OS endpoints — Modbus TCP on loopback and Modbus RTU on a serial port presented
// through umockdev — with the same register state behind both (one I/O thread).
//
//   hilbench-emulator --profile FILE [--tcp-host 127.0.0.1] [--tcp-port 0 | --no-tcp]
//                     [--serial ttyUSB0 | --serial-fd FD | --no-serial]
//                     [--defect NAME]... [--dump-profile]
//
// --tcp-port 0 picks an ephemeral port. --serial presents /dev/NAME in a new umockdev
// testbed; --serial-fd serves RTU on an inherited fd instead (e.g. a pty master the parent
// created). A profile without [serial] serves no RTU. --defect switches a knob on in
// addition to the profile's [defects]. --dump-profile prints the parsed profile (with
// --defect applied) as JSON and exits.
//
// Protocol with the parent (the pytest fixture or ci script that started it):
// - stdout carries exactly one line, the ready event, once every endpoint is up:
//     {"event":"ready","pid":N,"name":"em1",
//      "tcp":{"host":"127.0.0.1","port":P} | null,
//      "serial":{"umockdev_dir":"/tmp/umockdev.XXXXXX","device_path":"/dev/ttyUSB0",
//                "baud":19200,"data_bits":8,"parity":"none","stop_bits":1} | null,
//      "defects":["name", ...]}
//   (with --serial-fd: umockdev_dir and device_path are null and "fd":FD is added).
//   Logs go to stderr.
// - The emulator exits (status 0, testbed removed) on SIGTERM/SIGINT and when its stdin
//   reaches EOF: the parent holds the pipe, so the emulator never outlives the session
//   that started it. Only a pipe or socket stdin is watched (a terminal, /dev/null or a
//   file is not: stop those runs with a signal).
// - Exit status 2: bad command line or profile (message on stderr names file and key);
//   status 1: an endpoint could not be set up.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <asio.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "endpoints.hpp"
#include "modbus_server.hpp"
#include "profile.hpp"
#include "umockdev_port.hpp"

namespace {

using namespace hilbench::emu;

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct Options {
  std::string profile_path;
  std::string tcp_host = "127.0.0.1";
  int tcp_port = 0;
  bool no_tcp = false;
  std::string serial_name = "ttyUSB0";
  bool no_serial = false;
  int serial_fd = -1;
  std::vector<std::string> defects;
  bool dump_profile = false;
};

class Logger {
 public:
  void set_device(const std::string& name) { prefix_ = fmt::format("hilbench-emulator[{}]", name); }
  void operator()(const std::string& message) const {
    std::fputs(fmt::format("{}: {}\n", prefix_, message).c_str(), stderr);
  }

 private:
  std::string prefix_ = "hilbench-emulator";
};

// Watches stdin for EOF without reading what the parent might write.
class StdinWatch {
 public:
  StdinWatch(asio::io_context& io, std::function<void()> on_eof, const Logger& log)
      : descriptor_(io), on_eof_(std::move(on_eof)) {
    // Only a pipe or socket is a parent holding on. A terminal (a background read would
    // stop us with SIGTTIN), /dev/null (what scripts give background jobs) or a file is not.
    struct stat info {};
    if (::fstat(STDIN_FILENO, &info) != 0 || !(S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode))) {
      if (!::isatty(STDIN_FILENO))
        log("stdin is not a pipe; not watching it for EOF (stop with SIGTERM)");
      return;
    }
    const int copy = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    std::error_code error;
    if (copy >= 0) descriptor_.assign(copy, error);
    if (copy < 0 || error) {
      if (copy >= 0) ::close(copy);
      log("cannot watch stdin for EOF (stop with SIGTERM)");
      return;
    }
    read_next();
  }

 private:
  void read_next() {
    descriptor_.async_read_some(asio::buffer(discard_), [this](std::error_code error, std::size_t) {
      if (error == asio::error::operation_aborted) return;
      if (error) {
        on_eof_();
        return;
      }
      read_next();  // whatever the parent writes is ignored
    });
  }

  asio::posix::stream_descriptor descriptor_;
  std::function<void()> on_eof_;
  std::array<char, 256> discard_{};
};

std::string describe_defects() {
  std::string names;
  for (Defect defect : all_defects)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", to_string(defect));
  return names;
}

int run(const Options& options, DeviceProfile profile, Logger& log) {
  const bool serve_tcp = !options.no_tcp;
  const bool serve_serial = !options.no_serial && profile.serial.has_value();
  if (!options.no_serial && !profile.serial)
    log("the profile has no [serial] table; serving no RTU port");

  // Order matters for shutdown: members declared later are destroyed first, so the
  // endpoints go before the io_context and the server outlives both.
  ModbusServer server(std::move(profile));
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
  std::unique_ptr<UmockdevBench> bench;
  PresentedPort* port = nullptr;
  std::optional<TcpEndpoint> tcp;
  std::optional<RtuEndpoint> rtu;
  auto sink = [&log](const std::string& message) { log(message); };

  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["pid"] = ::getpid();
  ready["name"] = active.name;
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
      const SerialSettings& serial = *active.serial;
      nlohmann::ordered_json description;
      int device_fd = options.serial_fd;
      if (device_fd >= 0) {
        description["umockdev_dir"] = nullptr;
        description["device_path"] = nullptr;
        description["fd"] = device_fd;
      } else {
        bench = std::make_unique<UmockdevBench>();
        UsbSerialIdentity identity;
        identity.product = fmt::format("hilbench emulated {} port", active.name);
        port = &bench->add_serial_port(options.serial_name, identity);
        device_fd = port->device_fd();
        description["umockdev_dir"] = bench->root_dir();
        description["device_path"] = port->device_path();
      }
      description["baud"] = serial.baud;
      description["data_bits"] = serial.data_bits;
      description["parity"] = to_string(serial.parity);
      description["stop_bits"] = serial.stop_bits;
      rtu.emplace(io, server, device_fd, serial, sink);
      ready["serial"] = std::move(description);
    } else {
      ready["serial"] = nullptr;
    }
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the endpoints: {}", error.what()));
    return exit_failure;
  }
  ready["defects"] = active.defects.names();

  StdinWatch stdin_watch(
      io, [&] { shut_down("stdin closed"); }, log);

  const std::string line = ready.dump() + "\n";
  if (std::fputs(line.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
    log("cannot write the ready line to stdout");
    return exit_failure;
  }
  log(fmt::format("ready: {}", ready.dump()));

  try {
    io.run();
  } catch (const std::exception& error) {
    log(fmt::format("I/O loop failed: {}", error.what()));
    return exit_failure;
  }
  if (tcp) tcp->close();
  if (rtu) rtu->close();
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  // A client or parent vanishing must show up as an error code, not kill the process.
  ::signal(SIGPIPE, SIG_IGN);

  Options options;
  CLI::App app{"hilbench emulated Modbus device: Modbus TCP and RTU from a TOML profile",
               "hilbench-emulator"};
  app.add_option("--profile", options.profile_path, "device profile (TOML)")
      ->required()
      ->type_name("FILE");
  app.add_option("--tcp-host", options.tcp_host, "address to listen on for Modbus TCP")
      ->capture_default_str();
  auto* tcp_port = app.add_option("--tcp-port", options.tcp_port, "Modbus TCP port (0 = ephemeral)")
                       ->check(CLI::Range(0, 65535))
                       ->capture_default_str();
  auto* no_tcp = app.add_flag("--no-tcp", options.no_tcp, "serve no Modbus TCP");
  no_tcp->excludes(tcp_port);
  auto* serial =
      app.add_option("--serial", options.serial_name, "tty name of the umockdev-presented RTU port")
          ->capture_default_str();
  auto* no_serial = app.add_flag("--no-serial", options.no_serial, "serve no Modbus RTU");
  auto* serial_fd = app.add_option("--serial-fd", options.serial_fd,
                                   "serve RTU on this inherited fd (e.g. a pty master) instead of "
                                   "presenting a umockdev port")
                        ->check(CLI::NonNegativeNumber);
  no_serial->excludes(serial)->excludes(serial_fd);
  serial_fd->excludes(serial);
  app.add_option("--defect", options.defects,
                 fmt::format("switch a defect knob on (repeatable): {}", describe_defects()))
      ->type_name("NAME");
  app.add_flag("--dump-profile", options.dump_profile, "print the parsed profile as JSON and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);  // prints help to stdout, errors to stderr
    return status == 0 ? exit_ok : exit_usage;
  }

  Logger log;
  DeviceProfile profile;
  try {
    profile = load_profile(options.profile_path);
  } catch (const ProfileError& error) {
    std::fputs(fmt::format("hilbench-emulator: invalid profile: {}\n", error.what()).c_str(),
               stderr);
    return exit_usage;
  }
  for (const std::string& name : options.defects) {
    const auto defect = defect_from_name(name);
    if (!defect) {
      std::fputs(
          fmt::format("hilbench-emulator: --defect: unknown defect \"{}\"; expected one of: {}\n",
                      name, describe_defects())
              .c_str(),
          stderr);
      return exit_usage;
    }
    profile.defects.set(*defect);
  }
  if (options.serial_name.starts_with("/dev/")) options.serial_name.erase(0, 5);
  if ((app.count("--serial") > 0 || app.count("--serial-fd") > 0) && !profile.serial) {
    std::fputs(fmt::format("hilbench-emulator: --serial: the profile {} has no [serial] table\n",
                           options.profile_path)
                   .c_str(),
               stderr);
    return exit_usage;
  }
  if (options.dump_profile) {
    std::cout << profile_to_json(profile).dump(2) << '\n' << std::flush;
    return exit_ok;
  }
  if (!options.no_tcp) {
    std::error_code error;
    asio::ip::make_address(options.tcp_host, error);
    if (error) {
      std::fputs(fmt::format("hilbench-emulator: --tcp-host: \"{}\" is not an IP address\n",
                             options.tcp_host)
                     .c_str(),
                 stderr);
      return exit_usage;
    }
  }
  log.set_device(profile.name);
  return run(options, std::move(profile), log);
}
