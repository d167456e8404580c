#pragma once
// The process contract every emulated device kind shares with the parent that started it
// (documented once, in devices/README.md): exit codes, logging to stderr, one JSON ready
// line on stdout, stdin as a lifeline, and how a serial endpoint is presented.
#include <array>
#include <asio.hpp>
#include <functional>
#include <hilbench/unique_fd.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

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

/// Log lines on stderr, prefixed with the program and device name.
class Logger {
 public:
  explicit Logger(std::string prefix = "hilbench-emulator") : prefix_(std::move(prefix)) {}
  void set_device(const std::string& name);
  void operator()(const std::string& message) const;

 private:
  std::string prefix_;
};

/// A control request from the parent: one JSON object per line on stdin (devices/README.md,
/// "Control channel"). Returns the reply object; throws std::invalid_argument for a request
/// the device refuses (the reply is then {"event":"error","message":...}).
using ControlHandler = std::function<nlohmann::ordered_json(const nlohmann::json& request)>;

/// The lifeline and the control channel: calls on_eof when stdin reaches EOF (the parent
/// went away); each line the parent writes is a control request, answered by `control` with
/// one JSON line on stdout (after the ready line, in request order). Without a handler every
/// request is refused. Watches only a pipe or socket. Runs on `io`'s thread: the handler may
/// touch whatever that thread serves.
class StdinWatch {
 public:
  StdinWatch(asio::io_context& io, std::function<void()> on_eof, const Logger& log,
             ControlHandler control = {});

  /// Longest request line accepted; a longer one is answered with an error and dropped.
  static constexpr std::size_t max_request_bytes = 64 * 1024;

 private:
  void read_next();
  void handle_line(const std::string& line);

  asio::posix::stream_descriptor descriptor_;
  std::function<void()> on_eof_;
  ControlHandler control_;
  const Logger* log_;
  std::array<char, 4096> chunk_{};
  std::string pending_;
  bool overlong_ = false;  ///< dropping the rest of a line past max_request_bytes
};

/// Writes one JSON line (the ready line, a control reply) to stdout and flushes it; false when
/// stdout is gone.
bool write_ready_line(const nlohmann::ordered_json& ready);

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
