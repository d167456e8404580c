#pragma once
// Helpers of the emulator process tests: the built hilbench-emulator as a child process
// (child_process.hpp), plain POSIX sockets and Modbus transactions over them. Every wait is
// a poll() bounded by a deadline; nothing sleeps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/tests/child_process.hpp"
#include "common/tests/test_paths.hpp"
#include "modbus_frames.hpp"

namespace emulator_test {

constexpr milliseconds reply_budget{2'000};

// hilbench-emulator as a child process, its stdin and stdout on pipes held by the test.
class EmulatorProcess : public ChildProcess {
 public:
  /// `without_environment`: variables the child must not inherit (e.g. LD_PRELOAD).
  explicit EmulatorProcess(const std::vector<std::string>& arguments, bool capture_stderr = false,
                           const std::vector<std::string>& without_environment = {})
      : ChildProcess(emulator_path, arguments, capture_stderr, without_environment) {}
};

inline UniqueFd connect_tcp(int port) {
  UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) throw_errno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw_errno("connect");
  int on = 1;
  ::setsockopt(socket_fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return socket_fd;
}

inline void send_all(int fd, const Bytes& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t count = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (count < 0) {
      if (errno == EINTR) continue;
      throw_errno("send");
    }
    sent += static_cast<std::size_t>(count);
  }
}

// Reads exactly `size` bytes; nullopt on timeout or EOF.
inline std::optional<Bytes> read_exact(int fd, std::size_t size, milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  Bytes bytes;
  while (bytes.size() < size) {
    if (!wait_readable(fd, deadline)) return std::nullopt;
    std::uint8_t chunk[512];
    const ssize_t count = ::read(fd, chunk, std::min(sizeof chunk, size - bytes.size()));
    if (count <= 0) return std::nullopt;
    bytes.insert(bytes.end(), chunk, chunk + count);
  }
  return bytes;
}

// True when the peer closes the connection before the deadline.
inline bool closed_by_peer(int fd, milliseconds budget) {
  const auto deadline = Clock::now() + budget;
  for (;;) {
    if (!wait_readable(fd, deadline)) return false;
    std::uint8_t chunk[256];
    const ssize_t count = ::recv(fd, chunk, sizeof chunk, 0);
    if (count == 0 || (count < 0 && errno == ECONNRESET)) return true;
  }
}

// One Modbus TCP transaction; the reply's PDU (after the 7-byte header).
inline Bytes tcp_transaction(int fd, std::uint16_t transaction, const Bytes& pdu) {
  send_all(fd, mbap(transaction, 1, pdu));
  auto header = read_exact(fd, 7, reply_budget);
  BOOST_REQUIRE_MESSAGE(header.has_value(), "no MBAP header in reply");
  BOOST_TEST(((*header)[0] << 8 | (*header)[1]) == transaction);
  const std::size_t length = static_cast<std::size_t>((*header)[4] << 8 | (*header)[5]);
  BOOST_REQUIRE_GE(length, 2u);
  auto pdu_reply = read_exact(fd, length - 1, reply_budget);
  BOOST_REQUIRE_MESSAGE(pdu_reply.has_value(), "truncated MBAP reply");
  return *pdu_reply;
}

}  // namespace emulator_test
