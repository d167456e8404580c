// SerialTransport: libserialport for everything a port does (lookup, open, settings, modem
// lines, read, write, flush), plus ppoll() on the port's own handle (sp_get_port_handle)
// for waiting. Why not sp_wait/sp_blocking_read:
// - they cannot tell "data" from "hang-up": a pty whose master closed (emulator killed) or
//   an unplugged adapter polls readable forever while read() returns 0 or EIO, so a reader
//   spins until its deadline instead of failing at once;
// - they wait in whole milliseconds of wall-clock time and treat 0 ms as "forever".
// Under libumockdev-preload every read()/write()/ioctl() on an emulated port is a round trip
// to the process that serves the testbed; once that process is gone, the round trip aborts
// the caller. So a hang-up is checked (poll, which the preload leaves alone) before every
// call that would cross, and reported as ConnectionClosed without touching the port.
#include "hilbench/transport/serial.hpp"

#include <fmt/format.h>
#include <libserialport.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "hilbench/errors.hpp"

namespace hilbench {
namespace {

struct PortFree {
  void operator()(sp_port* port) const noexcept { sp_free_port(port); }
};
struct ConfigFree {
  void operator()(sp_port_config* config) const noexcept { sp_free_config(config); }
};
struct ErrorMessageFree {
  void operator()(char* message) const noexcept { sp_free_error_message(message); }
};

/// libserialport's description of the last failure (errno text for SP_ERR_FAIL).
std::string describe_failure(sp_return result) {
  switch (result) {
    case SP_ERR_ARG:
      return "invalid argument";
    case SP_ERR_MEM:
      return "out of memory";
    case SP_ERR_SUPP:
      return "not supported by this port or platform";
    case SP_ERR_FAIL: {
      const std::unique_ptr<char, ErrorMessageFree> message(sp_last_error_message());
      return message ? std::string(message.get()) : std::string("failed");
    }
    default:
      return fmt::format("error {}", static_cast<int>(result));
  }
}

/// errno values with which a tty reports that its other end is gone.
bool is_hang_up_errno(int error) { return error == EIO || error == ENXIO || error == ENODEV; }

std::string_view parity_name(Parity parity) {
  switch (parity) {
    case Parity::none:
      return "none";
    case Parity::odd:
      return "odd";
    case Parity::even:
      return "even";
    case Parity::mark:
      return "mark";
    case Parity::space:
      return "space";
  }
  return "?";
}

std::string_view flow_control_name(FlowControl flow) {
  switch (flow) {
    case FlowControl::none:
      return "none";
    case FlowControl::xon_xoff:
      return "xon_xoff";
    case FlowControl::rts_cts:
      return "rts_cts";
    case FlowControl::dtr_dsr:
      return "dtr_dsr";
  }
  return "?";
}

std::string read_back_parity_name(sp_parity parity) {
  switch (parity) {
    case SP_PARITY_NONE:
      return "none";
    case SP_PARITY_ODD:
      return "odd";
    case SP_PARITY_EVEN:
      return "even";
    case SP_PARITY_MARK:
      return "mark";
    case SP_PARITY_SPACE:
      return "space";
    default:  // e.g. PARENB dropped by the driver while IGNPAR was cleared
      return "no consistent parity";
  }
}

sp_parity to_sp(Parity parity) {
  switch (parity) {
    case Parity::none:
      return SP_PARITY_NONE;
    case Parity::odd:
      return SP_PARITY_ODD;
    case Parity::even:
      return SP_PARITY_EVEN;
    case Parity::mark:
      return SP_PARITY_MARK;
    case Parity::space:
      return SP_PARITY_SPACE;
  }
  return SP_PARITY_INVALID;
}

sp_flowcontrol to_sp(FlowControl flow) {
  switch (flow) {
    case FlowControl::none:
      return SP_FLOWCONTROL_NONE;
    case FlowControl::xon_xoff:
      return SP_FLOWCONTROL_XONXOFF;
    case FlowControl::rts_cts:
      return SP_FLOWCONTROL_RTSCTS;
    case FlowControl::dtr_dsr:
      return SP_FLOWCONTROL_DTRDSR;
  }
  return SP_FLOWCONTROL_NONE;
}

timespec to_timespec(Nanoseconds duration) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return timespec{static_cast<time_t>(seconds.count()),
                  static_cast<long>((duration - seconds).count())};
}

}  // namespace

/// Owns the sp_port: closed (if opened) and freed exactly once.
struct SerialTransport::Port {
  std::unique_ptr<sp_port, PortFree> handle;
  bool is_open = false;
  int fd = -1;  ///< the OS handle, for polling only

  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  ~Port() {
    if (is_open) sp_close(handle.get());
  }
  sp_port* get() const noexcept { return handle.get(); }
};

SerialTransport::SerialTransport(SerialSettings settings)
    : settings_(std::move(settings)), port_(std::make_unique<Port>()) {
  const std::string& port_name = settings_.port;
  const auto fail = [&](const std::string& detail) {
    return TransportError({name(), "open", std::nullopt}, detail);
  };
  sp_port* found = nullptr;
  if (const sp_return result = sp_get_port_by_name(port_name.c_str(), &found); result != SP_OK) {
    throw PortNotFound(
        {name(), "open", std::nullopt},
        fmt::format("no serial port named {} ({})", port_name, describe_failure(result)));
  }
  port_->handle.reset(found);

  if (const sp_return result = sp_open(port_->get(), SP_MODE_READ_WRITE); result != SP_OK) {
    const int error = sp_last_error_code();
    const std::string detail =
        fmt::format("cannot open {}: {}", port_name, describe_failure(result));
    if (result == SP_ERR_FAIL && error == ENOENT)
      throw PortNotFound({name(), "open", std::nullopt}, detail);
    throw fail(detail);
  }
  port_->is_open = true;
  if (sp_get_port_handle(port_->get(), &port_->fd) != SP_OK || port_->fd < 0)
    throw fail("libserialport gave no OS handle for the port");

  apply(settings_, "open");
}

void SerialTransport::apply(const LineSettings& wanted, const std::string& operation) {
  const auto fail = [&](const std::string& detail) {
    return TransportError({name(), operation, std::nullopt}, detail);
  };
  if (wanted.baud <= 0) throw fail(fmt::format("baud rate {} is not positive", wanted.baud));
  if (wanted.data_bits < 5 || wanted.data_bits > 8)
    throw fail(fmt::format("data bits {} not in 5..8", wanted.data_bits));
  if (wanted.stop_bits != 1 && wanted.stop_bits != 2)
    throw fail(fmt::format("stop bits {} not 1 or 2", wanted.stop_bits));

  // All settings in one sp_set_config (one tcsetattr: the line never runs half-switched);
  // each is put into the configuration separately, so an error names the setting.
  sp_port_config* raw_wanted = nullptr;
  if (const sp_return result = sp_new_config(&raw_wanted); result != SP_OK)
    throw fail(fmt::format("cannot prepare the settings: {}", describe_failure(result)));
  const std::unique_ptr<sp_port_config, ConfigFree> config(raw_wanted);
  const auto put = [&](std::string_view setting, const std::string& value, sp_return result) {
    if (result != SP_OK)
      throw fail(fmt::format("port refused {} = {}: {}", setting, value, describe_failure(result)));
  };
  put("baud rate", std::to_string(wanted.baud), sp_set_config_baudrate(config.get(), wanted.baud));
  put("data bits", std::to_string(wanted.data_bits),
      sp_set_config_bits(config.get(), wanted.data_bits));
  put("parity", std::string(parity_name(wanted.parity)),
      sp_set_config_parity(config.get(), to_sp(wanted.parity)));
  put("stop bits", std::to_string(wanted.stop_bits),
      sp_set_config_stopbits(config.get(), wanted.stop_bits));
  put("flow control", std::string(flow_control_name(wanted.flow_control)),
      sp_set_config_flowcontrol(config.get(), to_sp(wanted.flow_control)));
  sp_port* port = port_->get();
  if (const sp_return result = sp_set_config(port, config.get()); result != SP_OK)
    throw fail(
        fmt::format("port refused the settings ({} baud, {} data bits, parity {}, {} stop "
                    "bits, flow control {}): {}",
                    wanted.baud, wanted.data_bits, parity_name(wanted.parity), wanted.stop_bits,
                    flow_control_name(wanted.flow_control), describe_failure(result)));

  // Some drivers accept a setting and quietly keep another (a pty forces 8 data bits and
  // no parity): read the configuration back so the harness never talks 8N1 believing 8E1.
  sp_port_config* raw_config = nullptr;
  if (const sp_return result = sp_new_config(&raw_config); result != SP_OK)
    throw fail(fmt::format("cannot read the settings back: {}", describe_failure(result)));
  const std::unique_ptr<sp_port_config, ConfigFree> read_back(raw_config);
  if (const sp_return result = sp_get_config(port, read_back.get()); result != SP_OK)
    throw fail(fmt::format("cannot read the settings back: {}", describe_failure(result)));
  int baud = 0, bits = 0, stop_bits = 0;
  sp_parity parity = SP_PARITY_INVALID;
  sp_get_config_baudrate(read_back.get(), &baud);
  sp_get_config_bits(read_back.get(), &bits);
  sp_get_config_parity(read_back.get(), &parity);
  sp_get_config_stopbits(read_back.get(), &stop_bits);
  const auto check = [&](std::string_view setting, const std::string& value, const std::string& got,
                         bool same) {
    if (!same)
      throw fail(fmt::format("port accepted {} = {} but kept {} (not supported by this port)",
                             setting, value, got));
  };
  check("baud rate", std::to_string(wanted.baud), std::to_string(baud), baud == wanted.baud);
  check("data bits", std::to_string(wanted.data_bits), std::to_string(bits),
        bits == wanted.data_bits);
  check("parity", std::string(parity_name(wanted.parity)), read_back_parity_name(parity),
        parity == to_sp(wanted.parity));
  check("stop bits", std::to_string(wanted.stop_bits), std::to_string(stop_bits),
        stop_bits == wanted.stop_bits);
}

SerialTransport::~SerialTransport() = default;

std::string SerialTransport::name() const { return "serial:" + settings_.port; }

namespace {

enum class Readiness : std::uint8_t { ready, timed_out, hung_up };

/// Waits for `events` on `fd` until `deadline`; a hang-up or error wins over readiness.
Readiness wait_for(int fd, short events, Deadline deadline, const std::string& device,
                   const std::string& operation) {
  while (true) {
    pollfd poll_fd{fd, events, 0};
    const timespec timeout = to_timespec(deadline.remaining());
    const int result = ::ppoll(&poll_fd, 1, &timeout, nullptr);
    if (result < 0) {
      if (errno == EINTR) continue;
      throw TransportError({device, operation, deadline.budget()},
                           fmt::format("poll failed: {}", std::strerror(errno)));
    }
    if (result == 0) return Readiness::timed_out;
    if ((poll_fd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return Readiness::hung_up;
    if ((poll_fd.revents & events) != 0) return Readiness::ready;
    if (deadline.expired()) return Readiness::timed_out;
  }
}

/// Fails with ConnectionClosed if the port has hung up; call before anything that crosses
/// to the device (see the top of this file).
void throw_if_hung_up(int fd, const std::string& device, const std::string& operation) {
  if (wait_for(fd, 0, Deadline::after(Nanoseconds::zero()), device, operation) ==
      Readiness::hung_up)
    throw ConnectionClosed({device, operation, std::nullopt},
                           "the port hung up (device unplugged or emulator gone)");
}

[[noreturn]] void throw_failure(const std::string& device, const std::string& operation,
                                sp_return result, std::optional<Nanoseconds> budget) {
  const int error = sp_last_error_code();
  if (result == SP_ERR_FAIL && is_hang_up_errno(error))
    throw ConnectionClosed({device, operation, budget},
                           fmt::format("the port hung up: {}", describe_failure(result)));
  throw TransportError({device, operation, budget}, describe_failure(result));
}

}  // namespace

std::size_t SerialTransport::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  if (buf.empty()) return 0;
  while (true) {
    switch (wait_for(port_->fd, POLLIN, deadline, name(), "read")) {
      case Readiness::timed_out:
        return 0;
      case Readiness::hung_up:
        throw ConnectionClosed({name(), "read", deadline.budget()},
                               "the port hung up (device unplugged or emulator gone)");
      case Readiness::ready:
        break;
    }
    const sp_return result = sp_nonblocking_read(port_->get(), buf.data(), buf.size());
    if (result > 0) return static_cast<std::size_t>(result);
    if (result < 0) throw_failure(name(), "read", result, deadline.budget());
    // Readable but nothing read: someone else took the bytes. Wait again.
    if (deadline.expired()) return 0;
  }
}

std::size_t SerialTransport::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  if (bytes.empty()) return 0;
  while (true) {
    switch (wait_for(port_->fd, POLLOUT, deadline, name(), "write")) {
      case Readiness::timed_out:
        return 0;
      case Readiness::hung_up:
        throw ConnectionClosed({name(), "write", deadline.budget()},
                               "the port hung up (device unplugged or emulator gone)");
      case Readiness::ready:
        break;
    }
    const sp_return result = sp_nonblocking_write(port_->get(), bytes.data(), bytes.size());
    if (result > 0) return static_cast<std::size_t>(result);
    if (result < 0 && sp_last_error_code() != EAGAIN)
      throw_failure(name(), "write", result, deadline.budget());
    if (deadline.expired()) return 0;
  }
}

void SerialTransport::do_discard_input() {
  if (const sp_return result = sp_flush(port_->get(), SP_BUF_INPUT); result != SP_OK)
    throw_failure(name(), "discard_input", result, std::nullopt);
}

bool SerialTransport::peer_gone() {
  return wait_for(port_->fd, 0, Deadline::after(Nanoseconds::zero()), name(), "check") ==
         Readiness::hung_up;
}

ModemLines SerialTransport::modem_lines() {
  throw_if_hung_up(port_->fd, name(), "modem_lines");
  ModemLines lines;
  sp_signal signals{};
  if (const sp_return result = sp_get_signals(port_->get(), &signals); result != SP_OK)
    throw_failure(name(), "modem_lines", result, std::nullopt);
  lines.cts = (signals & SP_SIG_CTS) != 0;
  lines.dsr = (signals & SP_SIG_DSR) != 0;
  lines.dcd = (signals & SP_SIG_DCD) != 0;
  lines.ri = (signals & SP_SIG_RI) != 0;

  // sp_get_signals reports inputs only; the outputs come from the port's configuration,
  // which libserialport reads from the same TIOCMGET.
  sp_port_config* raw_config = nullptr;
  if (const sp_return result = sp_new_config(&raw_config); result != SP_OK)
    throw_failure(name(), "modem_lines", result, std::nullopt);
  const std::unique_ptr<sp_port_config, ConfigFree> config(raw_config);
  if (const sp_return result = sp_get_config(port_->get(), config.get()); result != SP_OK)
    throw_failure(name(), "modem_lines", result, std::nullopt);
  sp_dtr dtr = SP_DTR_INVALID;
  sp_rts rts = SP_RTS_INVALID;
  sp_get_config_dtr(config.get(), &dtr);
  sp_get_config_rts(config.get(), &rts);
  lines.dtr = dtr == SP_DTR_ON;
  lines.rts = rts == SP_RTS_ON;
  return lines;
}

void SerialTransport::set_dtr(bool asserted) {
  const std::string operation = fmt::format("set_dtr({})", asserted);
  throw_if_hung_up(port_->fd, name(), operation);
  if (const sp_return result = sp_set_dtr(port_->get(), asserted ? SP_DTR_ON : SP_DTR_OFF);
      result != SP_OK)
    throw_failure(name(), operation, result, std::nullopt);
}

void SerialTransport::set_rts(bool asserted) {
  const std::string operation = fmt::format("set_rts({})", asserted);
  throw_if_hung_up(port_->fd, name(), operation);
  if (const sp_return result = sp_set_rts(port_->get(), asserted ? SP_RTS_ON : SP_RTS_OFF);
      result != SP_OK)
    throw_failure(name(), operation, result, std::nullopt);
}

void SerialTransport::reconfigure(const LineSettings& settings) {
  const std::string operation =
      fmt::format("reconfigure({} baud, {}{}{})", settings.baud, settings.data_bits,
                  parity_name(settings.parity).substr(0, 1), settings.stop_bits);
  throw_if_hung_up(port_->fd, name(), operation);
  const LineSettings previous = settings_;
  try {
    apply(settings, operation);
  } catch (const TransportError&) {
    try {
      apply(previous, operation);  // back to what the line ran at, as far as the port allows
    } catch (const TransportError&) {
      // the first failure is the one to report
    }
    throw;
  }
  static_cast<LineSettings&>(settings_) = settings;
}

}  // namespace hilbench
