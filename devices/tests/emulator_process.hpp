#pragma once
// Helpers of the emulator process tests: the built hilbench-emulator as a child process
// (stdin/stdout on pipes, exit awaited through a pidfd), plain POSIX sockets and Modbus
// frame builders. Every wait is a poll() bounded by a deadline; nothing sleeps.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "modbus_server.hpp"  // crc16_modbus only, to build RTU requests

extern char** environ;

namespace emulator_test {

using Bytes = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline const std::string emulator_path = HILBENCH_EMULATOR_PATH;
inline const std::string em1_path = HILBENCH_SOURCE_DIR "/devices/profiles/em1-meter.toml";
constexpr milliseconds start_budget{10'000};
constexpr milliseconds reply_budget{2'000};

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

inline int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits until `fd` is readable or the deadline passes.
inline bool wait_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) throw_errno("poll");
  }
}

inline std::pair<Fd, Fd> make_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw_errno("pipe2");
  return {Fd(ends[0]), Fd(ends[1])};
}

// The emulator as a child process, its stdin and stdout on pipes held by the test.
class EmulatorProcess {
 public:
  /// `without_environment`: variables the child must not inherit (e.g. LD_PRELOAD).
  explicit EmulatorProcess(const std::vector<std::string>& arguments, bool capture_stderr = false,
                           const std::vector<std::string>& without_environment = {}) {
    auto [stdin_read, stdin_write] = make_pipe();
    auto [stdout_read, stdout_write] = make_pipe();
    auto [stderr_read, stderr_write] = make_pipe();
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, stdin_read.get(), STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, stdout_write.get(), STDOUT_FILENO);
    if (capture_stderr) ::posix_spawn_file_actions_adddup2(&actions, stderr_write.get(), STDERR_FILENO);

    std::vector<std::string> argv_storage{emulator_path};
    argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& argument : argv_storage) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> environment;
    for (char** variable = environ; *variable; ++variable) {
      const std::string_view entry(*variable);
      const bool dropped = std::any_of(without_environment.begin(), without_environment.end(),
                                       [&](const std::string& name) { return entry.starts_with(name + "="); });
      if (!dropped) environment.push_back(*variable);
    }
    environment.push_back(nullptr);
    const int status = ::posix_spawn(&pid_, emulator_path.c_str(), &actions, nullptr, argv.data(), environment.data());
    ::posix_spawn_file_actions_destroy(&actions);
    if (status != 0) throw std::system_error(status, std::generic_category(), "posix_spawn " + emulator_path);
    pidfd_ = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (pidfd_.get() < 0) throw_errno("pidfd_open");
    stdin_ = std::move(stdin_write);
    stdout_ = std::move(stdout_read);
    if (capture_stderr) stderr_ = std::move(stderr_read);
  }

  ~EmulatorProcess() {
    if (!exit_status_) {
      ::kill(pid_, SIGKILL);
      int ignored = 0;
      ::waitpid(pid_, &ignored, 0);
    }
  }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  pid_t pid() const { return pid_; }

  std::optional<std::string> read_line(milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    for (;;) {
      if (auto end = stdout_buffer_.find('\n'); end != std::string::npos) {
        std::string line = stdout_buffer_.substr(0, end);
        stdout_buffer_.erase(0, end + 1);
        return line;
      }
      if (!read_some(stdout_, stdout_buffer_, deadline)) return std::nullopt;
    }
  }

  // The ready event, parsed; fails the test when it does not come.
  nlohmann::json ready() {
    auto line = read_line(start_budget);
    BOOST_REQUIRE_MESSAGE(line.has_value(), "no ready line from the emulator");
    BOOST_TEST_MESSAGE("ready line: " << *line);
    return nlohmann::json::parse(*line);
  }

  std::string read_stdout_to_eof(milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    while (read_some(stdout_, stdout_buffer_, deadline)) {
    }
    return std::exchange(stdout_buffer_, {});
  }

  std::string read_stderr_to_eof(milliseconds budget) {
    std::string text;
    const auto deadline = Clock::now() + budget;
    while (read_some(stderr_, text, deadline)) {
    }
    return text;
  }

  void close_stdin() { stdin_.reset(); }
  void send_signal(int signal_number) { ::kill(pid_, signal_number); }

  static constexpr int still_running = -100;
  static constexpr int killed_by_signal = -1;
  // Exit status (WEXITSTATUS), killed_by_signal, or still_running after the budget.
  int wait_exit(milliseconds budget) {
    if (exit_status_) return *exit_status_;
    if (!wait_readable(pidfd_.get(), Clock::now() + budget)) return still_running;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) throw_errno("waitpid");
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : killed_by_signal;
    return *exit_status_;
  }

 private:
  // Appends what is readable before the deadline; false on EOF or timeout.
  static bool read_some(const Fd& fd, std::string& into, Clock::time_point deadline) {
    if (fd.get() < 0 || !wait_readable(fd.get(), deadline)) return false;
    char chunk[4096];
    const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
    if (count <= 0) return false;
    into.append(chunk, static_cast<std::size_t>(count));
    return true;
  }

  pid_t pid_ = -1;
  Fd pidfd_, stdin_, stdout_, stderr_;
  std::string stdout_buffer_;
  std::optional<int> exit_status_;
};

inline Fd connect_tcp(int port) {
  Fd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
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

inline Bytes mbap(std::uint16_t transaction, std::uint8_t unit, const Bytes& pdu) {
  const auto length = static_cast<std::uint16_t>(pdu.size() + 1);
  Bytes frame{static_cast<std::uint8_t>(transaction >> 8), static_cast<std::uint8_t>(transaction & 0xFF), 0, 0,
              static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xFF), unit};
  frame.insert(frame.end(), pdu.begin(), pdu.end());
  return frame;
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

inline Bytes with_crc(Bytes frame) {
  const std::uint16_t crc = hilbench::emu::crc16_modbus(frame);
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

}  // namespace emulator_test
