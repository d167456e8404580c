#pragma once
// Test support: real loopback TCP sockets for transport and protocol tests. Plain blocking
// POSIX calls with a generous safety timeout, so a broken test fails instead of hanging.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "hilbench/unique_fd.hpp"

namespace hilbench::test {

/// How long a test-side socket call may block before the test is declared broken.
inline constexpr std::chrono::seconds safety_timeout{10};

inline void fail_with_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

inline sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

inline std::uint16_t local_port(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
    fail_with_errno("getsockname");
  return ntohs(address.sin_port);
}

/// A socket bound to 127.0.0.1 on a free port; listening unless asked not to (a bound,
/// non-listening port refuses connections and cannot be taken by anyone else meanwhile).
class LoopbackListener {
 public:
  explicit LoopbackListener(bool listening = true, int backlog = 8)
      : socket_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (!socket_) fail_with_errno("socket");
    const sockaddr_in address = loopback_address(0);
    if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      fail_with_errno("bind");
    }
    if (listening && ::listen(socket_.get(), backlog) != 0) fail_with_errno("listen");
    port_ = local_port(socket_.get());
  }

  std::uint16_t port() const noexcept { return port_; }
  int fd() const noexcept { return socket_.get(); }

  /// Waits (at most the safety timeout) for one connection.
  UniqueFd accept() {
    pollfd descriptor{socket_.get(), POLLIN, 0};
    const int ready =
        ::poll(&descriptor, 1, static_cast<int>(std::chrono::milliseconds(safety_timeout).count()));
    if (ready <= 0) throw std::runtime_error("no connection to accept within the safety timeout");
    UniqueFd peer(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) fail_with_errno("accept");
    return peer;
  }

 private:
  UniqueFd socket_;
  std::uint16_t port_ = 0;
};

/// Reads exactly `count` bytes; returns fewer only if the peer closed first.
inline std::vector<std::uint8_t> receive_exact(int fd, std::size_t count) {
  std::vector<std::uint8_t> out(count);
  std::size_t got = 0;
  while (got < count) {
    pollfd descriptor{fd, POLLIN, 0};
    const int ready =
        ::poll(&descriptor, 1, static_cast<int>(std::chrono::milliseconds(safety_timeout).count()));
    if (ready == 0) throw std::runtime_error("peer sent nothing within the safety timeout");
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail_with_errno("poll");
    }
    const ssize_t n = ::recv(fd, out.data() + got, count - got, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) break;
      fail_with_errno("recv");
    }
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

inline void send_all(int fd, std::span<const std::uint8_t> bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_with_errno("send");
    }
    sent += static_cast<std::size_t>(n);
  }
}

inline void send_all(int fd, const std::string& text) {
  send_all(fd, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace hilbench::test
