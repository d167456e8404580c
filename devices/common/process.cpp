#include "common/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/uart_link.hpp"

namespace hilbench::emu {

void Logger::set_device(const std::string& name) {
  prefix_ = fmt::format("hilbench-emulator[{}]", name);
}

void Logger::operator()(const std::string& message) const {
  std::fputs(fmt::format("{}: {}\n", prefix_, message).c_str(), stderr);
}

StdinWatch::StdinWatch(asio::io_context& io, std::function<void()> on_eof, const Logger& log,
                       ControlHandler control)
    : descriptor_(io), on_eof_(std::move(on_eof)), control_(std::move(control)), log_(&log) {
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

void StdinWatch::read_next() {
  descriptor_.async_read_some(asio::buffer(chunk_), [this](std::error_code error, std::size_t n) {
    if (error == asio::error::operation_aborted) return;
    if (error) {
      on_eof_();
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const char byte = chunk_[i];
      if (byte == '\n') {
        if (overlong_)
          write_ready_line({{"event", "error"},
                            {"message", fmt::format("control request longer than {} bytes",
                                                    max_request_bytes)}});
        else if (!pending_.empty())
          handle_line(pending_);
        pending_.clear();
        overlong_ = false;
      } else if (!overlong_) {
        pending_.push_back(byte);
        if (pending_.size() > max_request_bytes) {
          overlong_ = true;
          pending_.clear();
        }
      }
    }
    read_next();
  });
}

void StdinWatch::handle_line(const std::string& line) {
  nlohmann::ordered_json reply;
  try {
    const nlohmann::json request = nlohmann::json::parse(line);
    if (!request.is_object()) throw std::invalid_argument("a control request is a JSON object");
    if (!control_) throw std::invalid_argument("this device takes no control requests");
    reply = control_(request);
  } catch (const nlohmann::json::exception& error) {
    reply = {{"event", "error"}, {"message", fmt::format("bad control request: {}", error.what())}};
  } catch (const std::exception& error) {
    reply = {{"event", "error"}, {"message", error.what()}};
  }
  (*log_)(fmt::format("control: {} -> {}", line.substr(0, 200), reply.dump()));
  if (!write_ready_line(reply)) (*log_)("cannot write a control reply to stdout");
}

bool write_ready_line(const nlohmann::ordered_json& ready) {
  const std::string line = ready.dump() + "\n";
  return std::fputs(line.c_str(), stdout) >= 0 && std::fflush(stdout) == 0;
}

namespace {

/// Connects to a presenter port and announces the device UART's settings.
hilbench::UniqueFd connect_presenter(const std::string& path, const SerialSettings& serial) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    throw std::runtime_error(fmt::format("--serial-socket: path too long: {}", path));
  std::copy(path.begin(), path.end(), address.sun_path);
  hilbench::UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error(
        fmt::format("cannot connect to the presenter at {}: {}", path, std::strerror(errno)));
  // Built by append: GCC 12's -Wrestrict misfires on operator+ of two strings at -O2.
  std::string config(1, uart_link::device_config);
  config.append(to_json(serial).dump());
  if (::send(fd.get(), config.data(), config.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(config.size()))
    throw std::runtime_error(
        fmt::format("cannot send the line settings to {}: {}", path, std::strerror(errno)));
  return fd;
}

}  // namespace

SerialEndpoint open_serial_endpoint(const EndpointOptions& options, const SerialSettings& serial,
                                    const std::string& device_name) {
  SerialEndpoint endpoint;
  endpoint.device_fd = options.serial_fd;
  if (!options.serial_socket.empty()) {
    endpoint.socket = connect_presenter(options.serial_socket, serial);
    endpoint.device_fd = endpoint.socket.get();
    endpoint.presenter_link = true;
    endpoint.description["umockdev_dir"] = nullptr;
    endpoint.description["device_path"] = nullptr;
    endpoint.description["socket"] = options.serial_socket;
  } else if (endpoint.device_fd >= 0) {
    endpoint.description["umockdev_dir"] = nullptr;
    endpoint.description["device_path"] = nullptr;
    endpoint.description["fd"] = endpoint.device_fd;
  } else {
    endpoint.bench = std::make_unique<UmockdevBench>();
    UsbSerialIdentity identity;
    identity.product = fmt::format("hilbench emulated {} port", device_name);
    PresentedPort& port = endpoint.bench->add_serial_port(options.serial_name, identity);
    endpoint.device_fd = port.device_fd();
    endpoint.description["umockdev_dir"] = endpoint.bench->root_dir();
    endpoint.description["device_path"] = port.device_path();
  }
  endpoint.description.update(to_json(serial));
  return endpoint;
}

}  // namespace hilbench::emu
