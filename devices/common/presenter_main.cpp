// hilbench-presenter: ONE process hosts every emulated serial port of a bench.
//
//   harness (LD_PRELOAD = libumockdev-preload + libhilbench-termios-shim, UMOCKDEV_DIR)
//     └─ opens /dev/ttyUSB<n> ── umockdev pty + ioctl handler (this process: the UART) ──┐
//                                                                   relay, paced per port │
//   hilbench-emulator --serial-socket <socket> ── AF_UNIX SOCK_SEQPACKET (uart_link.hpp) ─┘
//
// - One umockdev testbed with N USB-serial adapters (own sysfs identity each: VID, PID,
//   serial, manufacturer, product), so libserialport lists them and a bench finds a port by
//   its adapter serial number.
// - Each port is a UART model: the handler keeps the termios settings the harness asked for
//   (umockdev_port.hpp); the relay moves bytes at the configured character time (unless
//   --unpaced), delivers them intact only when the two sides' UARTs agree on baud, data
//   bits and parity, and otherwise hands each character over corrupted (see corrupt()).
// - Device emulators attach and detach at will: a dead emulator is a silent line (the host's
//   bytes are dropped), a restarted one connects again (the newest connection wins). The
//   harness never talks to an emulator's process, so no emulator death reaches it.
//
// Ready line (one JSON line on stdout):
//   {"event":"ready","pid":N,"umockdev_dir":"/tmp/umockdev.X","pacing":"paced"|"unpaced",
//    "socket_dir":"/tmp/hilbench-presenter.Y",
//    "ports":[{"tty":"ttyUSB0","device_path":"/dev/ttyUSB0","adapter_serial":"HB000001",
//              "vid":"0403","pid":"6001","manufacturer":"hilbench","product":"...",
//              "socket":"/tmp/hilbench-presenter.Y/ttyUSB0.sock"}, ...]}
// Lifeline and exit codes as hilbench-emulator (devices/README.md): exits 0 on SIGTERM,
// SIGINT, SIGHUP or stdin EOF, removing the testbed and the socket directory; 1 when a port
// cannot be set up; 2 on a bad command line.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <hilbench/unique_fd.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "common/uart_link.hpp"
#include "common/umockdev_port.hpp"

namespace {

using namespace hilbench::emu;
using hilbench::UniqueFd;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

/// What a receiver needs to agree on with the sender to read a character intact. Stop bits
/// are not compared: a real UART checks only the first stop bit.
struct Framing {
  unsigned baud = 9600;
  unsigned data_bits = 8;
  std::string parity = "none";
  unsigned stop_bits = 1;

  bool readable_by(const Framing& receiver) const {
    return baud == receiver.baud && data_bits == receiver.data_bits && parity == receiver.parity;
  }
  /// Start + data + parity + stop bits at the baud rate.
  std::chrono::nanoseconds character_time() const {
    const unsigned bits = 1 + data_bits + (parity == "none" ? 0 : 1) + stop_bits;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(bits) * 1'000'000'000 / baud);
  }
  static Framing of(const HostLine& line) {
    return {line.baud, line.data_bits, line.parity, line.stop_bits};
  }
};

/// A character sent with other framing than the receiver's: received as a different
/// character (bit-inverted, within the receiver's data bits). Real receivers at the wrong
/// baud rate also gain or lose characters; that is not modelled.
std::uint8_t corrupt(std::uint8_t byte, unsigned receiver_bits) {
  return static_cast<std::uint8_t>(~byte & ((1u << receiver_bits) - 1u));
}

/// The bytes a receiver with `receiver` framing reads from `sent`, sent with `sender`.
Bytes received(Bytes sent, const Framing& sender, const Framing& receiver) {
  const bool intact = sender.readable_by(receiver);
  for (auto& byte : sent)
    byte = intact ? static_cast<std::uint8_t>(byte & ((1u << receiver.data_bits) - 1u))
                  : corrupt(byte, receiver.data_bits);
  return sent;
}

/// Bytes waiting for the moment their last bit has crossed the wire.
struct Timed {
  Clock::time_point due;
  Bytes bytes;
  Framing framing;  // the sender's, at the time it sent them
};

/// Schedules `bytes` onto a direction of the line: byte k of a burst finishes one character
/// after byte k-1, and never before the previous burst finished. Released in groups of about
/// 1 ms of wire time (honest timing at a bounded wake-up rate), or as one group when
/// `whole_burst`. Unpaced: due at once.
void schedule(std::deque<Timed>& queue, Clock::time_point& line_free, const Bytes& bytes,
              const Framing& framing, bool paced, bool whole_burst = false) {
  const auto now = Clock::now();
  if (!paced) {
    queue.push_back({now, bytes, framing});
    return;
  }
  const auto character = framing.character_time();
  const std::size_t group =
      whole_burst ? bytes.size()
                  : static_cast<std::size_t>(std::max<std::int64_t>(
                        1, std::chrono::nanoseconds(std::chrono::milliseconds(1)) / character));
  auto at = std::max(now, line_free);
  for (std::size_t start = 0; start < bytes.size(); start += group) {
    const std::size_t end = std::min(bytes.size(), start + group);
    at += character * static_cast<std::int64_t>(end - start);
    queue.push_back({at,
                     Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                           bytes.begin() + static_cast<std::ptrdiff_t>(end)),
                     framing});
  }
  line_free = at;
}

class PortRelay {
 public:
  PortRelay(asio::io_context& io, PresentedPort& port, UsbSerialIdentity identity,
            std::string socket_path, bool paced, const Logger& log)
      : io_(io),
        port_(port),
        identity_(std::move(identity)),
        socket_path_(std::move(socket_path)),
        paced_(paced),
        log_(log),
        host_(io),
        listener_(io),
        to_device_timer_(io),
        to_host_timer_(io) {
    UniqueFd master(::fcntl(port_.device_fd(), F_DUPFD_CLOEXEC, 0));
    if (master.get() < 0) throw std::runtime_error("cannot duplicate the pty master");
    host_.assign(master.release());
    host_.non_blocking(true);
    listen();
    port_.on_host_change([this, alive = std::weak_ptr<int>(alive_)] {
      asio::post(io_, [this, alive] {
        if (!alive.expired()) send_host_line();
      });
    });
    read_host();
  }

  ~PortRelay() {
    port_.on_host_change({});
    std::error_code ignored;
    host_.close(ignored);
    listener_.close(ignored);
    if (device_) device_->close(ignored);
    ::unlink(socket_path_.c_str());
  }
  PortRelay(const PortRelay&) = delete;
  PortRelay& operator=(const PortRelay&) = delete;

  nlohmann::ordered_json describe() const {
    return {{"tty", port_.tty_name()},
            {"device_path", port_.device_path()},
            {"adapter_serial", identity_.serial},
            {"vid", identity_.vendor_id},
            {"pid", identity_.product_id},
            {"manufacturer", identity_.manufacturer},
            {"product", identity_.product},
            {"socket", socket_path_}};
  }

 private:
  void listen() {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof address.sun_path)
      throw std::runtime_error(fmt::format("socket path too long: {}", socket_path_));
    std::copy(socket_path_.begin(), socket_path_.end(), address.sun_path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ::unlink(socket_path_.c_str());
    if (fd.get() < 0 ||
        ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd.get(), 4) != 0)
      throw std::runtime_error(
          fmt::format("cannot listen on {}: {}", socket_path_, std::strerror(errno)));
    listener_.assign(fd.release());
    accept_next();
  }

  void accept_next() {
    listener_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, alive = std::weak_ptr<int>(alive_)](std::error_code error) {
                           if (alive.expired() || error == asio::error::operation_aborted) return;
                           if (!error) accept_one();
                           accept_next();
                         });
  }

  void accept_one() {
    UniqueFd fd(
        ::accept4(listener_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (fd.get() < 0) return;  // EAGAIN, or a client that gave up: nothing to do
    if (device_) {
      log_(fmt::format("{}: a new emulator attached; dropping the previous one", port_.tty_name()));
      drop_device();
    } else {
      log_(fmt::format("{}: emulator attached", port_.tty_name()));
    }
    device_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd.release());
    ++device_generation_;
    send_host_line();
    read_device();
  }

  void drop_device() {
    std::error_code ignored;
    if (device_) device_->close(ignored);
    device_.reset();
    device_framing_.reset();
    to_device_.clear();  // bytes on their way to a device that is gone
  }

  // ---- harness -> device ------------------------------------------------------------
  void read_host() {
    host_.async_read_some(asio::buffer(host_buffer_), [this, alive = std::weak_ptr<int>(alive_)](
                                                          std::error_code error, std::size_t n) {
      if (alive.expired() || error == asio::error::operation_aborted) return;
      if (error) {
        // The bench keeps a slave open, so this is not a harness closing the port.
        log_(fmt::format("{}: reading the pty failed: {}", port_.tty_name(), error.message()));
        return;
      }
      // A burst the harness wrote at once reaches the device whole, when its last character
      // has crossed the wire: the device frames by silence (Modbus t3.5), and presenter
      // wake-up jitter under load must not open gaps inside a request that the real line
      // would not have. Gaps the harness makes itself (separate writes) are kept.
      const Framing host = Framing::of(port_.host_line());
      schedule(to_device_, to_device_free_, Bytes(host_buffer_.begin(), host_buffer_.begin() + n),
               host, paced_, /*whole_burst=*/true);
      arm(to_device_timer_, to_device_, [this] { release_to_device(); });
      read_host();
    });
  }

  void release_to_device() {
    const auto now = Clock::now();
    while (!to_device_.empty() && to_device_.front().due <= now) {
      Timed item = std::move(to_device_.front());
      to_device_.pop_front();
      if (!device_ || !device_framing_) continue;  // a silent line: nobody receives
      send_packet(uart_link::data, received(std::move(item.bytes), item.framing, *device_framing_));
    }
    arm(to_device_timer_, to_device_, [this] { release_to_device(); });
  }

  // ---- device -> harness ------------------------------------------------------------
  void read_device() {
    device_->async_read_some(
        asio::buffer(device_buffer_),
        [this, alive = std::weak_ptr<int>(alive_), generation = device_generation_](
            std::error_code error, std::size_t n) {
          if (alive.expired() || error == asio::error::operation_aborted ||
              generation != device_generation_)
            return;
          if (error || n == 0) {
            log_(fmt::format("{}: emulator detached ({}); the line is silent", port_.tty_name(),
                             error ? error.message() : "end of file"));
            drop_device();
            return;
          }
          on_device_packet(n);
          if (device_) read_device();
        });
  }

  void on_device_packet(std::size_t n) {
    const char type = static_cast<char>(device_buffer_[0]);
    if (type == uart_link::device_config) {
      try {
        const auto config = nlohmann::json::parse(
            device_buffer_.begin() + 1, device_buffer_.begin() + static_cast<std::ptrdiff_t>(n));
        Framing framing;
        framing.baud = config.at("baud").get<unsigned>();
        framing.data_bits = config.at("data_bits").get<unsigned>();
        framing.parity = config.at("parity").get<std::string>();
        framing.stop_bits = config.at("stop_bits").get<unsigned>();
        if (framing.baud == 0 || framing.data_bits < 5 || framing.data_bits > 8)
          throw std::invalid_argument("baud or data bits out of range");
        device_framing_ = framing;
      } catch (const std::exception& error) {
        log_(fmt::format("{}: bad device settings from the emulator: {}", port_.tty_name(),
                         error.what()));
      }
      return;
    }
    if (type != uart_link::data || !device_framing_) return;  // data before settings: noise
    schedule(
        to_host_, to_host_free_,
        Bytes(device_buffer_.begin() + 1, device_buffer_.begin() + static_cast<std::ptrdiff_t>(n)),
        *device_framing_, paced_);
    arm(to_host_timer_, to_host_, [this] { release_to_host(); });
  }

  void release_to_host() {
    const auto now = Clock::now();
    const Framing host = Framing::of(port_.host_line());
    while (!to_host_.empty() && to_host_.front().due <= now) {
      Timed item = std::move(to_host_.front());
      to_host_.pop_front();
      const Bytes bytes = received(std::move(item.bytes), item.framing, host);
      host_pending_.insert(host_pending_.end(), bytes.begin(), bytes.end());
    }
    write_host();
    arm(to_host_timer_, to_host_, [this] { release_to_host(); });
  }

  void write_host() {
    if (host_writing_ || host_pending_.empty()) return;
    host_writing_ = true;
    host_in_flight_ = std::move(host_pending_);
    host_pending_.clear();
    asio::async_write(
        host_, asio::buffer(host_in_flight_),
        [this, alive = std::weak_ptr<int>(alive_)](std::error_code error, std::size_t) {
          if (alive.expired() || error == asio::error::operation_aborted) return;
          host_writing_ = false;
          if (error)
            log_(fmt::format("{}: writing the pty failed: {}", port_.tty_name(), error.message()));
          write_host();
        });
  }

  // ---- common -----------------------------------------------------------------------
  /// (Re)arms a direction's timer for its earliest due bytes (re-arming cancels the wait).
  template <class Release>
  void arm(asio::steady_timer& timer, const std::deque<Timed>& queue, Release release) {
    if (queue.empty()) return;
    timer.expires_at(queue.front().due);
    timer.async_wait([release, alive = std::weak_ptr<int>(alive_)](std::error_code error) {
      if (alive.expired() || error) return;
      release();
    });
  }

  void send_host_line() {
    if (!device_) return;
    const HostLine line = port_.host_line();
    const ModemLineState lines = port_.modem_lines();
    const nlohmann::json message = {{"baud", line.baud},      {"data_bits", line.data_bits},
                                    {"parity", line.parity},  {"stop_bits", line.stop_bits},
                                    {"break", line.break_on}, {"dtr", lines.dtr},
                                    {"rts", lines.rts},       {"paced", paced_}};
    const std::string text = message.dump();
    send_packet(uart_link::host_line, Bytes(text.begin(), text.end()));
  }

  void send_packet(char type, const Bytes& payload) {
    if (!device_) return;
    for (std::size_t start = 0; start < payload.size() || start == 0;
         start += uart_link::max_packet - 1) {
      const std::size_t end = std::min(payload.size(), start + uart_link::max_packet - 1);
      Bytes packet{static_cast<std::uint8_t>(type)};
      packet.insert(packet.end(), payload.begin() + static_cast<std::ptrdiff_t>(start),
                    payload.begin() + static_cast<std::ptrdiff_t>(end));
      if (::send(device_->native_handle(), packet.data(), packet.size(),
                 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        // EAGAIN: an emulator that stops reading loses bytes, as a UART whose FIFO overruns.
        if (errno != EAGAIN) return;  // a dead peer: the read side notices and drops it
        log_(fmt::format("{}: the emulator is not reading; bytes lost", port_.tty_name()));
      }
      if (end == payload.size()) break;
    }
  }

  asio::io_context& io_;
  PresentedPort& port_;
  UsbSerialIdentity identity_;
  std::string socket_path_;
  bool paced_;
  const Logger& log_;
  asio::posix::stream_descriptor host_;
  asio::posix::stream_descriptor listener_;
  std::unique_ptr<asio::posix::stream_descriptor> device_;
  std::uint64_t device_generation_ = 0;
  std::optional<Framing> device_framing_;
  std::array<std::uint8_t, 4096> host_buffer_{};
  std::array<std::uint8_t, uart_link::max_packet> device_buffer_{};
  std::deque<Timed> to_device_, to_host_;
  Clock::time_point to_device_free_{}, to_host_free_{};
  asio::steady_timer to_device_timer_, to_host_timer_;
  Bytes host_pending_, host_in_flight_;
  bool host_writing_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

/// A private directory for the port sockets, removed with everything in it.
class SocketDir {
 public:
  SocketDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hilbench-presenter.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error(fmt::format("mkdtemp: {}", std::strerror(errno)));
    path_ = pattern;
  }
  ~SocketDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  SocketDir(const SocketDir&) = delete;
  SocketDir& operator=(const SocketDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct PortOption {
  std::string tty;
  UsbSerialIdentity identity;
};

/// "ttyUSB0:SERIAL[:PRODUCT]" with the shared VID, PID and manufacturer.
PortOption parse_port(const std::string& text, const UsbSerialIdentity& defaults) {
  PortOption port{text, defaults};
  const auto colon = text.find(':');
  if (colon != std::string::npos) {
    port.tty = text.substr(0, colon);
    std::string rest = text.substr(colon + 1);
    const auto second = rest.find(':');
    port.identity.serial = rest.substr(0, second);
    if (second != std::string::npos) port.identity.product = rest.substr(second + 1);
  }
  if (port.tty.empty() || port.identity.serial.empty())
    throw CLI::ValidationError("--port",
                               fmt::format("expected TTY:SERIAL[:PRODUCT], got {:?}", text));
  return port;
}

int run(const std::vector<PortOption>& ports, bool paced, Logger& log) {
  asio::io_context io;
  // Before umockdev starts its worker thread: asio's signal handling covers every thread.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&](std::error_code error, int number) {
    if (error) return;
    log(fmt::format("stopping: signal {}", number));
    io.stop();
  });
  SocketDir sockets;
  UmockdevBench bench;
  std::vector<std::unique_ptr<PortRelay>> relays;
  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["pid"] = ::getpid();
  ready["umockdev_dir"] = bench.root_dir();
  ready["pacing"] = paced ? "paced" : "unpaced";
  ready["socket_dir"] = sockets.path().string();
  ready["ports"] = nlohmann::ordered_json::array();
  try {
    for (const PortOption& option : ports) {
      PresentedPort& port = bench.add_serial_port(option.tty, option.identity);
      relays.push_back(std::make_unique<PortRelay>(
          io, port, option.identity, (sockets.path() / (option.tty + ".sock")).string(), paced,
          log));
      ready["ports"].push_back(relays.back()->describe());
    }
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the ports: {}", error.what()));
    return exit_code::failure;
  }
  StdinWatch lifeline(
      io,
      [&] {
        log("stopping: stdin closed");
        io.stop();
      },
      log);
  if (!write_ready_line(ready)) {
    log("cannot write the ready line to stdout");
    return exit_code::failure;
  }
  try {
    io.run();
  } catch (const std::exception& error) {
    log(fmt::format("I/O loop failed: {}", error.what()));
    return exit_code::failure;
  }
  relays.clear();
  return exit_code::ok;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "Hosts every emulated serial port of a bench in one umockdev testbed; device emulators "
      "attach with hilbench-emulator --serial-socket. Prints one JSON 'ready' line; exits on "
      "SIGTERM/SIGINT/SIGHUP or stdin EOF.",
      "hilbench-presenter"};
  std::vector<std::string> port_texts;
  UsbSerialIdentity defaults;
  bool unpaced = false;
  app.add_option("--port", port_texts, "a port: TTY:ADAPTER_SERIAL[:PRODUCT] (repeatable)")
      ->required();
  app.add_option("--vid", defaults.vendor_id, "USB vendor id of every adapter")
      ->capture_default_str();
  app.add_option("--pid", defaults.product_id, "USB product id of every adapter")
      ->capture_default_str();
  app.add_option("--manufacturer", defaults.manufacturer, "USB manufacturer string")
      ->capture_default_str();
  app.add_flag("--unpaced", unpaced,
               "move bytes as fast as they come (no character-time pacing), for fast functional "
               "runs; the ready line says \"pacing\":\"unpaced\"");
  std::vector<PortOption> ports;
  try {
    app.parse(argc, argv);
    for (const auto& text : port_texts) ports.push_back(parse_port(text, defaults));
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return status == 0 ? exit_code::ok : exit_code::usage;
  }
  Logger log("hilbench-presenter");
  try {
    return run(ports, !unpaced, log);
  } catch (const std::exception& error) {
    log(error.what());
    return exit_code::failure;
  }
}
