// hilbench-present-port: presents ONE emulated USB-serial port (umockdev) and relays its
// bytes to a plain pty, so a third-party device simulator (e.g. a pymodbus serial server)
// can play the device while the harness opens the port through libserialport.
//
//   harness (LD_PRELOAD=libumockdev-preload.so.0, UMOCKDEV_DIR=<umockdev_dir>)
//     └─ opens device_path (/dev/ttyUSB0) ── umockdev pty ──┐
//                                                           relay (this process)
//   simulator opens peer_path (/dev/pts/N) ── peer pty ─────┘
//
// On start it prints exactly one JSON line to stdout:
//   {"event":"ready","umockdev_dir":"...","device_path":"/dev/ttyUSB0","peer_path":"/dev/pts/N"}
// It exits cleanly (removing the testbed) on SIGTERM, SIGINT or SIGHUP, or when stdin
// reaches EOF: the parent holds the write end of a stdin pipe, so this process never
// outlives it. Run it with stdin open (a pipe, or a terminal).
//
// Both pty slaves are kept open here, so neither side sees a hang-up while the other is
// not connected; bytes sent meanwhile wait in the tty buffer (a simulator that opens late
// may want to flush its input). Modem lines are answered by the umockdev port's model; the
// peer pty has none, so the simulator cannot see DTR/RTS.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <hilbench/unique_fd.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "umockdev_port.hpp"

namespace {

using hilbench::UniqueFd;
using hilbench::emu::UmockdevBench;
using hilbench::emu::UsbSerialIdentity;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

void make_raw_nonblocking(int fd, const std::string& what) {
  termios settings{};
  if (::tcgetattr(fd, &settings) != 0) fail("tcgetattr " + what);
  ::cfmakeraw(&settings);
  if (::tcsetattr(fd, TCSANOW, &settings) != 0) fail("tcsetattr " + what);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) fail("O_NONBLOCK " + what);
}

/// Bytes read from one pty master and not yet written to the other.
struct Direction {
  int from;
  int to;
  std::string name;
  std::vector<std::uint8_t> pending;
  std::size_t written = 0;

  bool idle() const { return written == pending.size(); }

  /// Writes as much of `pending` as `to` takes now.
  void flush() {
    while (!idle()) {
      const ssize_t n = ::write(to, pending.data() + written, pending.size() - written);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        fail("write " + name);
      }
      written += static_cast<std::size_t>(n);
    }
    pending.clear();
    written = 0;
  }

  /// Reads what `from` has and forwards it at once (low latency: no batching).
  void pump() {
    std::array<std::uint8_t, 4096> buf{};
    const ssize_t n = ::read(from, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail("read " + name);
    }
    if (n == 0) throw std::runtime_error("read " + name + ": end of file");
    pending.assign(buf.begin(), buf.begin() + n);
    written = 0;
    flush();
  }
};

/// Drains stdin; false once it reached EOF (the parent is gone) or cannot be read.
bool stdin_still_open() {
  std::array<char, 256> scratch{};
  const ssize_t n = ::read(STDIN_FILENO, scratch.data(), scratch.size());
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  return n > 0;
}

int run(const std::string& tty_name, const UsbSerialIdentity& identity) {
  // Termination arrives as a readable fd, never as an asynchronous handler. Blocked before
  // umockdev starts its worker thread, so that thread inherits the mask.
  sigset_t termination;
  sigemptyset(&termination);
  sigaddset(&termination, SIGTERM);
  sigaddset(&termination, SIGINT);
  sigaddset(&termination, SIGHUP);
  if (::pthread_sigmask(SIG_BLOCK, &termination, nullptr) != 0) fail("pthread_sigmask");
  ::signal(SIGPIPE, SIG_IGN);
  const UniqueFd signals(::signalfd(-1, &termination, SFD_CLOEXEC | SFD_NONBLOCK));
  if (signals.get() < 0) fail("signalfd");

  UmockdevBench bench;
  auto& port = bench.add_serial_port(tty_name, identity);
  const int device = port.device_fd();
  make_raw_nonblocking(device, port.device_path());

  int peer_master_fd = -1, peer_slave_fd = -1;
  std::array<char, 128> peer_name{};
  if (::openpty(&peer_master_fd, &peer_slave_fd, peer_name.data(), nullptr, nullptr) != 0)
    fail("openpty");
  const UniqueFd peer_master(peer_master_fd);
  const UniqueFd peer_slave(peer_slave_fd);  // held open: see the top of this file
  ::fcntl(peer_master.get(), F_SETFD, FD_CLOEXEC);
  ::fcntl(peer_slave.get(), F_SETFD, FD_CLOEXEC);
  make_raw_nonblocking(peer_master.get(), "peer pty master");
  make_raw_nonblocking(peer_slave.get(), "peer pty slave");
  const int stdin_flags = ::fcntl(STDIN_FILENO, F_GETFL);
  if (stdin_flags >= 0) ::fcntl(STDIN_FILENO, F_SETFL, stdin_flags | O_NONBLOCK);

  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["umockdev_dir"] = bench.root_dir();
  ready["device_path"] = port.device_path();
  ready["peer_path"] = std::string(peer_name.data());
  std::fputs((ready.dump() + "\n").c_str(), stdout);
  std::fflush(stdout);

  Direction to_peer{device, peer_master.get(), "harness -> simulator", {}, 0};
  Direction to_device{peer_master.get(), device, "simulator -> harness", {}, 0};
  while (true) {
    // A direction with bytes pending waits for its reader to drain; otherwise for input.
    std::array<pollfd, 4> fds{{
        {signals.get(), POLLIN, 0},
        {STDIN_FILENO, POLLIN, 0},
        {device,
         static_cast<short>((to_peer.idle() ? POLLIN : 0) | (to_device.idle() ? 0 : POLLOUT)), 0},
        {peer_master.get(),
         static_cast<short>((to_device.idle() ? POLLIN : 0) | (to_peer.idle() ? 0 : POLLOUT)), 0},
    }};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (fds[0].revents != 0) return 0;  // SIGTERM / SIGINT / SIGHUP
    if (fds[1].revents != 0 && !stdin_still_open()) return 0;
    for (const pollfd& master : {fds[2], fds[3]}) {
      if ((master.revents & (POLLERR | POLLNVAL)) != 0 ||
          ((master.revents & POLLHUP) != 0 && (master.revents & POLLIN) == 0))
        throw std::runtime_error("a pty master hung up");
    }
    if ((fds[2].revents & POLLOUT) != 0) to_device.flush();
    if ((fds[3].revents & POLLOUT) != 0) to_peer.flush();
    if ((fds[2].revents & POLLIN) != 0 && to_peer.idle()) to_peer.pump();
    if ((fds[3].revents & POLLIN) != 0 && to_device.idle()) to_device.pump();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Presents one emulated USB-serial port through umockdev and relays it to a pty for a "
      "device simulator. Prints one JSON 'ready' line; exits on SIGTERM/SIGINT or stdin EOF.",
      "hilbench-present-port"};
  std::string tty_name = "ttyUSB0";
  UsbSerialIdentity identity;
  app.add_option("--tty", tty_name, "tty name of the emulated adapter")->capture_default_str();
  app.add_option("--vid", identity.vendor_id, "USB vendor id, 4 hex digits")->capture_default_str();
  app.add_option("--pid", identity.product_id, "USB product id, 4 hex digits")
      ->capture_default_str();
  app.add_option("--serial", identity.serial, "USB serial number string")->capture_default_str();
  app.add_option("--manufacturer", identity.manufacturer, "USB manufacturer string")
      ->capture_default_str();
  app.add_option("--product", identity.product, "USB product string")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    return run(tty_name, identity);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hilbench-present-port: %s\n", error.what());
    return 1;
  }
}
