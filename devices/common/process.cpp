#include "common/process.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/uart_link.hpp"

namespace hilbench::emu {

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
