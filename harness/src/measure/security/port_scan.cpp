// TCP connect scan of a loopback address (port_scan.hpp): a window of non-blocking connects,
// completed or refused as poll reports them.
#include "hilbench/measure/security/port_scan.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hilbench/clock.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/unique_fd.hpp"

namespace hilbench::security {
namespace {

struct Pending {
  std::uint16_t port;
  UniqueFd socket;
  Deadline deadline;
};

}  // namespace

bool is_loopback_address(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

PortScanResult scan_tcp_ports(const PortScanOptions& options) {
  ErrorContext context{fmt::format("tcp:{}", options.host),
                       fmt::format("scan_tcp_ports({}-{})", options.first_port, options.last_port),
                       std::chrono::duration_cast<Nanoseconds>(options.deadline)};
  if (!is_loopback_address(options.host)) {
    throw ConfigError(context, fmt::format("refusing to scan {}: only loopback addresses "
                                           "(127.0.0.0/8, ::1) may be scanned",
                                           options.host));
  }
  if (options.first_port == 0 || options.first_port > options.last_port) {
    throw ConfigError(context, "the port range must be 1..65535 with first <= last");
  }
  sockaddr_storage address{};
  socklen_t address_size = 0;
  int family = AF_INET;
  {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (::inet_pton(AF_INET, options.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      address_size = sizeof(sockaddr_in);
    } else {
      ::inet_pton(AF_INET6, options.host.c_str(), &v6->sin6_addr);
      v6->sin6_family = AF_INET6;
      family = AF_INET6;
      address_size = sizeof(sockaddr_in6);
    }
  }
  auto set_port = [&](std::uint16_t port) {
    if (family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
    }
  };

  const Deadline deadline = Deadline::after(options.deadline);
  const std::size_t window = std::max<std::size_t>(1, options.parallel);
  PortScanResult result;
  std::vector<Pending> pending;
  std::uint32_t next = options.first_port;
  while (next <= options.last_port || !pending.empty()) {
    if (deadline.expired()) throw DeviceTimeout(context, "the scan's deadline passed");
    while (next <= options.last_port && pending.size() < window) {
      const auto port = static_cast<std::uint16_t>(next++);
      ++result.scanned;
      UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) throw TransportError(context, fmt::format("socket: {}", std::strerror(errno)));
      set_port(port);
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), address_size) == 0) {
        result.open.push_back(port);
      } else if (errno == EINPROGRESS) {
        pending.push_back(
            {port, std::move(fd), Deadline::after(options.attempt_timeout).earliest(deadline)});
      } else if (errno != ECONNREFUSED) {
        throw TransportError(context,
                             fmt::format("connect to port {}: {}", port, std::strerror(errno)));
      }
    }
    if (pending.empty()) continue;
    std::vector<pollfd> descriptors;
    descriptors.reserve(pending.size());
    Nanoseconds wait = deadline.remaining();
    for (const auto& entry : pending) {
      descriptors.push_back({entry.socket.get(), POLLOUT, 0});
      wait = std::min(wait, entry.deadline.remaining());
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wait);
    const timespec timeout{static_cast<std::time_t>(seconds.count()),
                           static_cast<long>((wait - seconds).count())};
    if (::ppoll(descriptors.data(), descriptors.size(), &timeout, nullptr) < 0 && errno != EINTR) {
      throw TransportError(context, fmt::format("poll: {}", std::strerror(errno)));
    }
    std::vector<Pending> still;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      Pending& entry = pending[i];
      if (descriptors[i].revents != 0) {
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(entry.socket.get(), SOL_SOCKET, SO_ERROR, &error, &size);
        if (error == 0) result.open.push_back(entry.port);
      } else if (entry.deadline.expired()) {
        result.filtered.push_back(entry.port);
      } else {
        still.push_back(std::move(entry));
      }
    }
    pending = std::move(still);
  }
  std::sort(result.open.begin(), result.open.end());
  std::sort(result.filtered.begin(), result.filtered.end());
  return result;
}

}  // namespace hilbench::security
