#pragma once
// The control channel a parent holds to its child process (devices/README.md, "Control
// channel"): stdin as a lifeline (EOF: the parent went away) carrying one JSON request per
// line, each answered by one JSON line on stdout, and log lines on stderr. Shared by the
// emulators (common/process.hpp) and hilbench-proxy (proxy/); depends on asio, fmt and
// nlohmann_json only.
#include <array>
#include <asio.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace hilbench::emu {

/// Log lines on stderr, prefixed with the program and device name.
class Logger {
 public:
  explicit Logger(std::string prefix = "hilbench-emulator") : prefix_(std::move(prefix)) {}
  void set_device(const std::string& name);
  void operator()(const std::string& message) const;

 private:
  std::string prefix_;
};

/// A control request from the parent: one JSON object per line on stdin (devices/README.md,
/// "Control channel"). Returns the reply object; throws std::invalid_argument for a request
/// the device refuses (the reply is then {"event":"error","message":...}).
using ControlHandler = std::function<nlohmann::ordered_json(const nlohmann::json& request)>;

/// Writes one JSON line to the parent (a control reply, an error).
using LineWriter = std::function<void(const nlohmann::ordered_json& line)>;

/// The lifeline and the control channel: calls on_eof when stdin reaches EOF (the parent
/// went away); each line the parent writes is a control request, answered by `control` with
/// one JSON line on stdout (after the ready line, in request order). Without a handler every
/// request is refused. Replies go out through `write` (default: write_ready_line, blocking;
/// a program writing other lines to stdout asynchronously passes its own writer so that
/// lines keep their order). Watches only a pipe or socket. Runs on `io`'s thread: the
/// handler may touch whatever that thread serves.
class StdinWatch {
 public:
  StdinWatch(asio::io_context& io, std::function<void()> on_eof, const Logger& log,
             ControlHandler control = {}, LineWriter write = {});

  /// Longest request line accepted; a longer one is answered with an error and dropped.
  static constexpr std::size_t max_request_bytes = 64 * 1024;

 private:
  void read_next();
  void handle_line(const std::string& line);

  asio::posix::stream_descriptor descriptor_;
  std::function<void()> on_eof_;
  ControlHandler control_;
  LineWriter write_;
  const Logger* log_;
  std::array<char, 4096> chunk_{};
  std::string pending_;
  bool overlong_ = false;  ///< dropping the rest of a line past max_request_bytes
};

/// Writes one JSON line (the ready line, a control reply) to stdout and flushes it; false when
/// stdout is gone.
bool write_ready_line(const nlohmann::ordered_json& ready);

}  // namespace hilbench::emu
