// hilbench-emulator: one emulated device as a separate process on real OS endpoints
// (loopback TCP, serial ports presented through umockdev), driven by a TOML profile. The
// profile's `[device] kind` picks the device kind (registry: devices/kinds.cpp); this file
// is the command line and process contract every kind shares, documented in
// devices/README.md:
//
//   hilbench-emulator --profile FILE [--tcp-host 127.0.0.1] [--tcp-port 0 | --no-tcp]
//                     [--serial-socket PATH | --serial ttyUSB0 | --serial-fd FD | --no-serial]
//                     [--optical-socket PATH] [--world DIR [--wire ROLE=DEVICE]...]
//                     [--defect NAME]... [--dump-profile]
//   hilbench-emulator --list-defects
//
// Exit status (common/process.hpp): 0 stopped cleanly (or --dump-profile/--list-defects
// done); 1 an endpoint could not be set up; 2 bad command line or invalid profile (one
// message on stderr naming file and key); 3 a valid profile this emulator cannot present.
#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/device_kind.hpp"

namespace {

using namespace hilbench::emu;

struct Options {
  std::string profile_path;
  EndpointOptions endpoints;
  std::vector<std::string> defects;
  bool dump_profile = false;
  bool list_defects = false;
};

void complain(const std::string& message) {
  std::fputs(fmt::format("hilbench-emulator: {}\n", message).c_str(), stderr);
}

std::string kind_names() {
  std::string names;
  for (const DeviceKind* kind : registered_kinds())
    names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", kind->name);
  return names;
}

// {"kinds": {"meter": [{"name", "description", "breaks"}, ...], ...}}
nlohmann::ordered_json list_defects() {
  nlohmann::ordered_json kinds = nlohmann::ordered_json::object();
  for (const DeviceKind* kind : registered_kinds())
    kinds[std::string{kind->name}] = describe_defects(kind->defects);
  return {{"kinds", std::move(kinds)}};
}

// The kind named by `[device] kind`; the kind's own parser checks the rest of [device].
const DeviceKind& kind_of(const toml::table& document, const std::string& file) {
  const toml::node* node = document.at_path("device.kind").node();
  if (!node)
    throw ProfileError(file, "device.kind",
                       fmt::format("missing; expected one of {}", kind_names()));
  const auto name = node->value_exact<std::string>();
  const DeviceKind* kind = name ? find_kind(*name) : nullptr;
  if (!kind)
    throw ProfileError(file, "device.kind",
                       fmt::format("expected one of {}, got {} (line {})", kind_names(),
                                   describe_node(*node), node->source().begin.line));
  return *kind;
}

}  // namespace

int main(int argc, char** argv) {
  // A client or parent vanishing must show up as an error code, not kill the process.
  ::signal(SIGPIPE, SIG_IGN);

  Options options;
  EndpointOptions& endpoints = options.endpoints;
  CLI::App app{"hilbench emulated device: serves a TOML device profile on real OS endpoints",
               "hilbench-emulator"};
  app.add_option("--profile", options.profile_path, "device profile (TOML)")->type_name("FILE");
  app.add_option("--tcp-host", endpoints.tcp_host, "address to listen on for TCP")
      ->capture_default_str();
  auto* tcp_port = app.add_option("--tcp-port", endpoints.tcp_port, "TCP port (0 = ephemeral)")
                       ->check(CLI::Range(0, 65535))
                       ->capture_default_str();
  auto* no_tcp = app.add_flag("--no-tcp", endpoints.no_tcp, "serve no TCP endpoint");
  no_tcp->excludes(tcp_port);
  auto* serial =
      app.add_option("--serial", endpoints.serial_name, "tty name of the umockdev-presented port")
          ->capture_default_str();
  auto* no_serial = app.add_flag("--no-serial", endpoints.no_serial, "serve no serial endpoint");
  auto* serial_fd = app.add_option("--serial-fd", endpoints.serial_fd,
                                   "serve the serial side on this inherited fd (e.g. a pty "
                                   "master) instead of presenting a umockdev port")
                        ->check(CLI::NonNegativeNumber);
  auto* serial_socket =
      app.add_option("--serial-socket", endpoints.serial_socket,
                     "attach the serial side to a hilbench-presenter port (its socket path from "
                     "the presenter's ready line); the presenter owns the UART")
          ->type_name("PATH");
  app.add_option("--optical-socket", endpoints.optical_socket,
                 "attach the meter's optical port (IEC 62056-21 mode C, the profile's [iec62056])"
                 " to this hilbench-presenter port")
      ->type_name("PATH");
  no_serial->excludes(serial)->excludes(serial_fd)->excludes(serial_socket);
  serial_fd->excludes(serial)->excludes(serial_socket);
  serial_socket->excludes(serial);
  app.add_flag("--usb", endpoints.usb,
               "also present the instrument as a USBTMC device in a umockdev testbed of its own "
               "(SCPI kinds; the ready line's \"usb\" says where)");
  std::string world_dir;
  std::vector<std::string> wires;
  app.add_option("--world", world_dir,
                 "the bench's world directory (common/world.hpp): publish this device's "
                 "physical quantities there and read those of the devices it is wired to")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  app.add_option("--wire", wires,
                 "ROLE=DEVICE: what this device is wired to in the world (power=psu2, "
                 "terminals=rs3, pulse_input=em1; repeatable; needs --world)")
      ->type_name("ROLE=DEVICE");
  app.add_option("--defect", options.defects,
                 "switch a defect knob of the profile's kind on (repeatable; see --list-defects)")
      ->type_name("NAME");
  app.add_flag("--dump-profile", options.dump_profile,
               "print the parsed profile (defaults applied, --defect included) as JSON and exit");
  auto* list = app.add_flag("--list-defects", options.list_defects,
                            "print every kind's defect knobs as JSON and exit");
  list->excludes("--profile");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);  // prints help to stdout, errors to stderr
    return status == 0 ? exit_code::ok : exit_code::usage;
  }
  if (options.list_defects) {
    std::cout << list_defects().dump(2) << '\n' << std::flush;
    return exit_code::ok;
  }
  for (const std::string& text : wires) {
    const auto wire = world::parse_wire(text);
    if (!wire) {
      complain(fmt::format("--wire: expected ROLE=DEVICE, got \"{}\"", text));
      return exit_code::usage;
    }
    endpoints.world.wires[wire->first] = wire->second;
  }
  if (!wires.empty() && world_dir.empty()) {
    complain("--wire needs --world DIR");
    return exit_code::usage;
  }
  endpoints.world.dir = world_dir;
  if (options.profile_path.empty()) {
    complain("--profile is required (or --list-defects)");
    return exit_code::usage;
  }
  endpoints.serial_requested =
      app.count("--serial") > 0 || app.count("--serial-fd") > 0 || app.count("--serial-socket") > 0;

  std::unique_ptr<EmulatedDevice> device;
  const DeviceKind* kind = nullptr;
  try {
    const toml::table document = read_profile_document(options.profile_path);
    kind = &kind_of(document, options.profile_path);
    device = kind->load(document, options.profile_path);
  } catch (const ProfileError& error) {
    complain(fmt::format("invalid profile: {}", error.what()));
    return exit_code::usage;
  }
  for (const std::string& name : options.defects) {
    const auto defect = find_defect(kind->defects, name);
    if (!defect) {
      complain(fmt::format("--defect: unknown defect \"{}\" of kind {}; expected one of: {}", name,
                           kind->name, defect_names(kind->defects)));
      return exit_code::usage;
    }
    device->defects().set(*defect);
  }
  if (endpoints.serial_name.starts_with("/dev/")) endpoints.serial_name.erase(0, 5);
  if (endpoints.serial_requested && !device->has_serial()) {
    complain(fmt::format("--serial: the profile {} has no [serial] table", options.profile_path));
    return exit_code::usage;
  }
  if (options.dump_profile) {
    std::cout << device->profile_json().dump(2) << '\n' << std::flush;
    return exit_code::ok;
  }
  if (!endpoints.no_tcp) {
    std::error_code error;
    asio::ip::make_address(endpoints.tcp_host, error);
    if (error) {
      complain(fmt::format("--tcp-host: \"{}\" is not an IP address", endpoints.tcp_host));
      return exit_code::usage;
    }
  }
  if (auto problem = device->presentation_problem(endpoints)) {
    complain(fmt::format("cannot present this profile: {}", *problem));
    return exit_code::unpresentable;
  }
  Logger log;
  log.set_device(device->name());
  return device->serve(endpoints, log);
}
