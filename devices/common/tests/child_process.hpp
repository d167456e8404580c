#pragma once
// A program of this tree as a child process of a test: stdin and stdout on pipes held by the
// test (stderr too, if asked), its exit awaited through a pidfd, SIGKILLed and reaped if the
// test ends first. Every wait is a poll() bounded by a deadline; nothing sleeps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <hilbench/unique_fd.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;

namespace emulator_test {

using hilbench::UniqueFd;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds start_budget{10'000};

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

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

inline std::pair<UniqueFd, UniqueFd> make_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw_errno("pipe2");
  return {UniqueFd(ends[0]), UniqueFd(ends[1])};
}

class ChildProcess {
 public:
  /// `without_environment`: variables the child must not inherit (e.g. LD_PRELOAD).
  ChildProcess(std::string program, const std::vector<std::string>& arguments,
               bool capture_stderr = false,
               const std::vector<std::string>& without_environment = {})
      : program_(std::move(program)) {
    auto [stdin_read, stdin_write] = make_pipe();
    auto [stdout_read, stdout_write] = make_pipe();
    auto [stderr_read, stderr_write] = make_pipe();
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, stdin_read.get(), STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, stdout_write.get(), STDOUT_FILENO);
    if (capture_stderr)
      ::posix_spawn_file_actions_adddup2(&actions, stderr_write.get(), STDERR_FILENO);

    std::vector<std::string> argv_storage{program_};
    argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& argument : argv_storage) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char*> environment;
    for (char** variable = environ; *variable; ++variable) {
      const std::string_view entry(*variable);
      const bool dropped =
          std::any_of(without_environment.begin(), without_environment.end(),
                      [&](const std::string& name) { return entry.starts_with(name + "="); });
      if (!dropped) environment.push_back(*variable);
    }
    environment.push_back(nullptr);
    const int status =
        ::posix_spawn(&pid_, program_.c_str(), &actions, nullptr, argv.data(), environment.data());
    ::posix_spawn_file_actions_destroy(&actions);
    if (status != 0)
      throw std::system_error(status, std::generic_category(), "posix_spawn " + program_);
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (!pidfd_) throw_errno("pidfd_open");
    stdin_ = std::move(stdin_write);
    stdout_ = std::move(stdout_read);
    if (capture_stderr) stderr_ = std::move(stderr_read);
  }

  ~ChildProcess() {
    if (!exit_status_) {
      ::kill(pid_, SIGKILL);
      int ignored = 0;
      ::waitpid(pid_, &ignored, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

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

  // The ready event (the first stdout line), parsed; fails the test when it does not come.
  nlohmann::json ready() {
    auto line = read_line(start_budget);
    BOOST_REQUIRE_MESSAGE(line.has_value(), "no ready line from " << program_);
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
  static bool read_some(const UniqueFd& fd, std::string& into, Clock::time_point deadline) {
    if (!fd || !wait_readable(fd.get(), deadline)) return false;
    char chunk[4096];
    const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
    if (count <= 0) return false;
    into.append(chunk, static_cast<std::size_t>(count));
    return true;
  }

  std::string program_;
  pid_t pid_ = -1;
  UniqueFd pidfd_, stdin_, stdout_, stderr_;
  std::string stdout_buffer_;
  std::optional<int> exit_status_;
};

}  // namespace emulator_test
