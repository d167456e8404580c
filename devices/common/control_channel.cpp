#include "common/control_channel.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace hilbench::emu {

void Logger::set_device(const std::string& name) {
  prefix_ = fmt::format("hilbench-emulator[{}]", name);
}

void Logger::operator()(const std::string& message) const {
  std::fputs(fmt::format("{}: {}\n", prefix_, message).c_str(), stderr);
}

StdinWatch::StdinWatch(asio::io_context& io, std::function<void()> on_eof, const Logger& log,
                       ControlHandler control, LineWriter write)
    : descriptor_(io),
      on_eof_(std::move(on_eof)),
      control_(std::move(control)),
      write_(std::move(write)),
      log_(&log) {
  if (!write_)
    write_ = [this](const nlohmann::ordered_json& line) {
      if (!write_ready_line(line)) (*log_)("cannot write a control reply to stdout");
    };
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
          write_({{"event", "error"},
                  {"message",
                   fmt::format("control request longer than {} bytes", max_request_bytes)}});
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
  write_(reply);
}

bool write_ready_line(const nlohmann::ordered_json& ready) {
  const std::string line = ready.dump() + "\n";
  return std::fputs(line.c_str(), stdout) >= 0 && std::fflush(stdout) == 0;
}

}  // namespace hilbench::emu
