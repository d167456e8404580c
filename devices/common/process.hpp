#pragma once
// The process contract every emulated device kind shares with the parent that started it
// (documented once, in devices/README.md): exit codes, logging to stderr, one JSON ready
// line on stdout, stdin as a lifeline (common/control_channel.hpp, shared with
// hilbench-proxy), and how a serial endpoint is presented.
#include <asio.hpp>
#include <hilbench/unique_fd.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/control_channel.hpp"
#include "common/serial_line.hpp"
#include "common/umockdev_port.hpp"
#include "common/world.hpp"

namespace hilbench::emu {

namespace exit_code {
inline constexpr int ok = 0;
/// An endpoint could not be set up, or the I/O loop failed.
inline constexpr int failure = 1;
/// Bad command line or invalid profile (one message on stderr names file and key).
inline constexpr int usage = 2;
/// A valid profile this emulator cannot present (e.g. 8E1 on a pty-backed port).
inline constexpr int unpresentable = 3;
}  // namespace exit_code

/// The endpoints asked for on the common command line.
struct EndpointOptions {
  std::string tcp_host = "127.0.0.1";
  int tcp_port = 0;
  bool no_tcp = false;
  std::string serial_name = "ttyUSB0";
  int serial_fd = -1;
  std::string serial_socket;  ///< a hilbench-presenter port socket (uart_link.hpp)
  /// A second presenter port for a meter's optical (IEC 62056-21) interface; "" = none.
  std::string optical_socket;
  bool no_serial = false;
  bool serial_requested = false;  ///< --serial or --serial-fd given explicitly
  bool usb = false;  ///< --usb: present a USB face in a umockdev testbed of its own (SCPI kinds)
  world::WorldOptions world;  ///< --world DIR, --wire ROLE=DEVICE (common/world.hpp)
};

/// The serial side of a device: a port of a hilbench-presenter (--serial-socket: the
/// presenter owns the UART, paces the line and models framing mismatches), a
/// self-presented umockdev port (--serial: the old one-port-per-emulator path) or an
/// inherited fd (--serial-fd). Owns the testbed or the socket, if any: keep it alive while
/// serving.
struct SerialEndpoint {
  std::unique_ptr<UmockdevBench> bench;
  hilbench::UniqueFd socket;  ///< the presenter link, if any
  int device_fd = -1;
  bool presenter_link = false;         ///< device_fd carries uart_link packets, not raw bytes
  nlohmann::ordered_json description;  ///< the ready line's "serial" object
};
/// Throws std::runtime_error when the port cannot be presented.
SerialEndpoint open_serial_endpoint(const EndpointOptions& options, const SerialSettings& serial,
                                    const std::string& device_name);

}  // namespace hilbench::emu
