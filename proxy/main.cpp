// hilbench-proxy: a man-in-the-middle TCP <-> TCP proxy applying fault plans at run time
// (docs/faults.md, "hilbench-proxy").
//
//   hilbench-proxy --listen 127.0.0.1:0 --upstream HOST:PORT [--name NAME]
//
// Prints one JSON ready line on stdout once listening:
//   {"event":"ready","pid":N,"name":...,"listen":{"host","port"},"upstream":{"host","port"}}
// then takes control requests, one JSON object per line on stdin, each answered by one line
// on stdout: apply_plan, remove_plan, stats (proxy.hpp). Every fault applied is also a
// {"event":"fault_applied",...} line. Exits 0 when stdin reaches EOF (the parent went away)
// or on SIGTERM/SIGINT; 2 on a bad command line; 1 when it cannot listen.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "common/control_channel.hpp"
#include "proxy.hpp"

namespace {

using asio::ip::tcp;

struct HostPort {
  std::string host;
  std::string port;
};

HostPort split_host_port(const std::string& text, const char* option) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw std::invalid_argument(std::string(option) + ": expected HOST:PORT, got " + text);
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, text.substr(colon + 1)};
}

// Lines to stdout without ever blocking the relay: a parent that reads its control replies
// only now and then may leave many fault_applied lines in the pipe. Lines keep their order.
// The queue is bounded by what is written: replies, and fault lines bounded per plan.
class StdoutLines {
 public:
  explicit StdoutLines(asio::io_context& io) : out_(io) {
    const int copy = ::dup(STDOUT_FILENO);
    std::error_code error;
    if (copy >= 0) out_.assign(copy, error);
    if (copy >= 0 && error) ::close(copy);
  }

  void write(const nlohmann::ordered_json& line) {
    if (!out_.is_open()) {  // not a pipe or a terminal (a file): plain blocking writes
      hilbench::emu::write_ready_line(line);
      return;
    }
    queue_.push_back(line.dump() + "\n");
    if (!writing_) next();
  }

 private:
  void next() {
    writing_ = true;
    asio::async_write(out_, asio::buffer(queue_.front()),
                      [this](std::error_code error, std::size_t) {
                        writing_ = false;
                        if (error) {  // the parent is gone; stdin's EOF ends us
                          queue_.clear();
                          return;
                        }
                        queue_.pop_front();
                        if (!queue_.empty()) next();
                      });
  }

  asio::posix::stream_descriptor out_;
  std::deque<std::string> queue_;
  bool writing_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error code, not a signal
  CLI::App app{"hilbench-proxy: a TCP man in the middle applying hilbench fault plans"};
  std::string listen_text;
  std::string upstream_text;
  std::string name = "proxy";
  app.add_option("--listen", listen_text, "HOST:PORT to listen on (port 0: any free one)")
      ->required();
  app.add_option("--upstream", upstream_text, "HOST:PORT each client connection is relayed to")
      ->required();
  app.add_option("--name", name, "a name for logs and the ready line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  hilbench::emu::Logger log("hilbench-proxy[" + name + "]");

  asio::io_context io(1);
  HostPort listen;
  HostPort upstream;
  tcp::endpoint listen_endpoint;
  tcp::resolver::results_type upstream_endpoints;
  try {
    listen = split_host_port(listen_text, "--listen");
    upstream = split_host_port(upstream_text, "--upstream");
    tcp::resolver resolver(io);  // synchronous: no resolver thread
    listen_endpoint = *resolver.resolve(listen.host, listen.port, tcp::resolver::passive).begin();
    upstream_endpoints = resolver.resolve(upstream.host, upstream.port);
  } catch (const std::exception& error) {
    log(error.what());
    return 2;
  }

  StdoutLines out(io);
  const auto emit = [&out](const nlohmann::ordered_json& line) { out.write(line); };
  std::unique_ptr<hilbench::proxy::Proxy> proxy;
  try {
    proxy = std::make_unique<hilbench::proxy::Proxy>(io, listen_endpoint, upstream_endpoints, emit,
                                                     log);
  } catch (const std::exception& error) {
    log(std::string("cannot listen on ") + listen_text + ": " + error.what());
    return 1;
  }
  const tcp::endpoint bound = proxy->local_endpoint();
  emit({{"event", "ready"},
        {"pid", ::getpid()},
        {"name", name},
        {"listen", {{"host", bound.address().to_string()}, {"port", bound.port()}}},
        {"upstream",
         {{"host", upstream.host}, {"port", upstream_endpoints.begin()->endpoint().port()}}}});

  asio::signal_set signals(io, SIGTERM, SIGINT);
  const auto leave = [&] {
    proxy->stop();
    signals.cancel();
    io.stop();
  };
  signals.async_wait([&](std::error_code error, int) {
    if (!error) leave();
  });
  hilbench::emu::StdinWatch stdin_watch(
      io, leave, log, [&proxy](const nlohmann::json& request) { return proxy->control(request); },
      emit);
  io.run();
  return 0;
}
