// TCP transport: one non-blocking socket; every wait is a ppoll bounded by the caller's
// deadline (ppoll rather than poll: its nanosecond timeout neither wakes early and spins nor
// oversleeps the deadline by the millisecond rounding poll would need).
#include "hilbench/transport/tcp.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <future>
#include <memory>
#include <thread>

#include "hilbench/errors.hpp"

namespace hilbench {
namespace {

struct AddrinfoDeleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrinfoList = std::unique_ptr<addrinfo, AddrinfoDeleter>;

std::string errno_text(int error) { return std::strerror(error); }

enum class WaitResult : std::uint8_t { ready, deadline_passed };

// Waits until `fd` is ready for `events` or the deadline passes. EINTR restarts the wait with
// the time then remaining. POLLERR/POLLHUP count as ready: the following I/O call reports them.
WaitResult wait_for(int fd, short events, Deadline deadline, const ErrorContext& context) {
  while (true) {
    const Nanoseconds remaining = deadline.remaining();
    if (remaining == Nanoseconds::zero()) return WaitResult::deadline_passed;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(remaining);
    const timespec timeout{static_cast<std::time_t>(seconds.count()),
                           static_cast<long>((remaining - seconds).count())};
    pollfd descriptor{fd, events, 0};
    const int ready = ::ppoll(&descriptor, 1, &timeout, nullptr);
    if (ready > 0) return WaitResult::ready;
    if (ready < 0 && errno != EINTR) {
      throw TransportError(context, fmt::format("poll: {}", errno_text(errno)));
    }
    // timeout (loop re-checks the deadline; the kernel never returns early) or EINTR
  }
}

/// One getaddrinfo call, shared by the caller and the thread that runs it: whoever lets go
/// last frees it, so a lookup that outlives the caller's deadline cleans up after itself.
struct Lookup {
  std::string host;
  std::string service;
  addrinfo hints{};
  int status = 0;
  int saved_errno = 0;
  AddrinfoList addresses;
  std::promise<void> done;
};

std::string lookup_failure(int status, int saved_errno) {
  return status == EAI_SYSTEM ? errno_text(saved_errno) : ::gai_strerror(status);
}

/// getaddrinfo bounded by the connect deadline. getaddrinfo itself has no timeout (a dead
/// DNS server holds it for attempts x timeout of resolv.conf, 10 s by default), so a name
/// that is not a numeric address is looked up on a helper thread and waited for with the
/// deadline; if that passes, the thread is left to finish on its own (Lookup above).
AddrinfoList resolve(const std::string& host, const std::string& service, Deadline deadline,
                     const ErrorContext& context) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICHOST;  // a numeric address needs no lookup: no thread
  addrinfo* raw_list = nullptr;
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw_list) == 0) {
    return AddrinfoList(raw_list);
  }

  auto lookup = std::make_shared<Lookup>();
  lookup->host = host;
  lookup->service = service;
  lookup->hints = hints;
  lookup->hints.ai_flags = 0;
  std::future<void> finished = lookup->done.get_future();
  std::thread([lookup] {
    addrinfo* list = nullptr;
    lookup->status =
        ::getaddrinfo(lookup->host.c_str(), lookup->service.c_str(), &lookup->hints, &list);
    lookup->saved_errno = errno;
    lookup->addresses.reset(list);
    lookup->done.set_value();
  }).detach();
  if (finished.wait_for(deadline.remaining()) != std::future_status::ready) {
    throw DeviceTimeout(context, fmt::format("host name '{}' not resolved within the connect "
                                             "deadline (DNS not answering?)",
                                             host));
  }
  if (lookup->status != 0) {
    throw PortNotFound({context.device, context.operation, std::nullopt},
                       fmt::format("cannot resolve host '{}': {}", host,
                                   lookup_failure(lookup->status, lookup->saved_errno)));
  }
  return std::move(lookup->addresses);
}

bool is_connection_loss(int error) {
  return error == ECONNRESET || error == EPIPE || error == ENOTCONN || error == ECONNABORTED ||
         error == ETIMEDOUT;
}

}  // namespace

TcpTransport::TcpTransport(TcpSettings settings) : settings_(std::move(settings)) {
  const Deadline deadline = Deadline::after(settings_.connect_timeout);
  const std::string endpoint = name().substr(4);  // "host:port" without "tcp:"

  const AddrinfoList addresses = resolve(settings_.host, std::to_string(settings_.port), deadline,
                                         {name(), "connect", settings_.connect_timeout});

  // Try every address the name resolves to (e.g. "localhost" gives ::1 then 127.0.0.1)
  // within the one connect deadline; report the last failure if none connects.
  int last_error = 0;
  bool timed_out = false;
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    UniqueFd candidate(::socket(address->ai_family,
                                address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                address->ai_protocol));
    if (!candidate) {
      last_error = errno;
      continue;
    }
    const int result = ::connect(candidate.get(), address->ai_addr, address->ai_addrlen);
    // An interrupted connect carries on in the background: wait for it like EINPROGRESS.
    if (result != 0 && errno != EINPROGRESS && errno != EINTR) {
      last_error = errno;
      continue;
    }
    if (result != 0) {
      if (wait_for(candidate.get(), POLLOUT, deadline,
                   {name(), "connect", settings_.connect_timeout}) == WaitResult::deadline_passed) {
        timed_out = true;
        break;  // the budget is spent for every remaining address too
      }
      int connect_error = 0;
      socklen_t size = sizeof connect_error;
      if (::getsockopt(candidate.get(), SOL_SOCKET, SO_ERROR, &connect_error, &size) != 0) {
        connect_error = errno;
      }
      if (connect_error != 0) {
        last_error = connect_error;
        continue;
      }
    }
    socket_ = std::move(candidate);
    break;
  }

  if (!socket_) {
    if (timed_out) {
      throw DeviceTimeout({name(), "connect", settings_.connect_timeout},
                          fmt::format("no answer from {}", endpoint));
    }
    throw TransportError(
        {name(), "connect", std::nullopt},
        fmt::format("cannot connect to {}: {}", endpoint,
                    last_error != 0 ? errno_text(last_error) : "no usable address"));
  }

  if (settings_.no_delay) {
    const int enable = 1;
    if (::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &enable, sizeof enable) != 0) {
      throw TransportError({name(), "connect", std::nullopt},
                           fmt::format("cannot set TCP_NODELAY: {}", errno_text(errno)));
    }
  }
}

TcpTransport::~TcpTransport() = default;

std::string TcpTransport::name() const {
  // IPv6 literals are bracketed so the port stays unambiguous: "tcp:[::1]:502".
  if (settings_.host.find(':') != std::string::npos) {
    return fmt::format("tcp:[{}]:{}", settings_.host, settings_.port);
  }
  return fmt::format("tcp:{}:{}", settings_.host, settings_.port);
}

bool TcpTransport::peer_gone() {
  std::uint8_t byte = 0;
  const ssize_t peeked = ::recv(socket_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked == 0) return true;  // orderly shutdown by the peer
  return peeked < 0 && is_connection_loss(errno);
}

std::size_t TcpTransport::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  if (buf.empty()) return 0;
  while (true) {
    const ssize_t received = ::recv(socket_.get(), buf.data(), buf.size(), 0);
    if (received > 0) return static_cast<std::size_t>(received);
    if (received == 0) {
      throw ConnectionClosed({name(), "read", std::nullopt}, "peer closed the connection");
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      if (wait_for(socket_.get(), POLLIN, deadline, {name(), "read", std::nullopt}) ==
          WaitResult::deadline_passed) {
        return 0;
      }
      continue;
    }
    if (is_connection_loss(error)) {
      throw ConnectionClosed({name(), "read", std::nullopt},
                             fmt::format("connection lost: {}", errno_text(error)));
    }
    throw TransportError({name(), "read", std::nullopt}, errno_text(error));
  }
}

std::size_t TcpTransport::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  if (bytes.empty()) return 0;
  while (true) {
    // MSG_NOSIGNAL: a peer that went away is an EPIPE error here, not a SIGPIPE that kills
    // the test process.
    const ssize_t sent = ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      if (wait_for(socket_.get(), POLLOUT, deadline, {name(), "write", std::nullopt}) ==
          WaitResult::deadline_passed) {
        return 0;
      }
      continue;
    }
    if (is_connection_loss(error)) {
      throw ConnectionClosed({name(), "write", std::nullopt},
                             fmt::format("connection lost: {}", errno_text(error)));
    }
    throw TransportError({name(), "write", std::nullopt}, errno_text(error));
  }
}

void TcpTransport::do_discard_input() {
  // Bounded, so a peer that streams without pause cannot hold the caller here forever.
  constexpr std::size_t max_discarded = 1U << 20;
  std::array<std::uint8_t, 4096> sink{};
  std::size_t discarded = 0;
  while (discarded < max_discarded) {
    const ssize_t received = ::recv(socket_.get(), sink.data(), sink.size(), MSG_DONTWAIT);
    if (received > 0) {
      discarded += static_cast<std::size_t>(received);
      continue;
    }
    if (received < 0 && errno == EINTR) continue;
    // Nothing more buffered (EAGAIN), or EOF / an error that the next read reports with
    // the operation it belongs to.
    return;
  }
}

}  // namespace hilbench
