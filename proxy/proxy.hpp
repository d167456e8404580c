#pragma once
// hilbench-proxy's relay: a TCP listener whose every client connection gets its own upstream
// connection, bytes relayed both ways, and the fault plan applied at run time through the
// same FaultEngine as the in-process FaultyTransport (docs/faults.md, "hilbench-proxy").
//
// - Directions: client -> upstream is to_device (Direction::tx), upstream -> client is
//   to_host (Direction::rx). TCP_NODELAY on both sockets; a half-close (EOF) is passed on
//   once the bytes before it are out; a reset from one side resets the other.
// - No plan: bytes go from the read buffer straight to the other socket (no copy, no engine).
//   With a plan, every connection (open or accepted later) has its own FaultEngine, its
//   time windows counting from when the plan was applied; delayed bytes are held in the
//   engine and written when due by an asio::steady_timer. Connection faults act on the real
//   sockets: reset_peer closes the client with an RST (SO_LINGER 0), timeout and limit_data
//   close both sides, slow_close holds back the passing on of a close, and while down or
//   timeout blocks a direction its half-close waits too.
// - Removing the plan drops every engine; the bytes it held go out at once (counted).
// - Records: every fault applied is handed to `emit` as one {"event":"fault_applied",
//   "connection":id, ...AppliedFault} line; at most FaultEngine::default_max_records per
//   plan, the rest counted ("suppressed" in the remove_plan reply).
//
// Threads and ownership: everything runs on the io_context's one thread (no locks). The
// Proxy owns its acceptor and its connections (each owns its two sockets and timers; a
// connection's handlers keep it alive until they finish).
#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/control_channel.hpp"
#include "hilbench/faults/engine.hpp"

namespace hilbench::proxy {

using LineSink = std::function<void(const nlohmann::ordered_json& line)>;

class Connection;

class Proxy {
 public:
  /// Listens on `listen` at once (throws std::system_error when it cannot).
  Proxy(asio::io_context& io, const asio::ip::tcp::endpoint& listen,
        asio::ip::tcp::resolver::results_type upstream, LineSink emit, const emu::Logger& log);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  /// One control request: {"op":"apply_plan","plan":{...}}, {"op":"remove_plan"} or
  /// {"op":"stats"}; returns the reply. Throws std::invalid_argument, or ConfigError naming
  /// the key of a bad plan (the StdinWatch turns either into an error line).
  nlohmann::ordered_json control(const nlohmann::json& request);

  /// Stops accepting and closes every connection (orderly).
  void stop();

  // For connections.
  /// The engine a connection gets now: none without a plan.
  std::unique_ptr<faults::FaultEngine> make_engine(std::uint64_t connection);
  void count_relayed(Direction direction, std::size_t bytes) noexcept {
    (direction == Direction::tx ? to_device_bytes_ : to_host_bytes_) += bytes;
  }
  void connection_closed(std::uint64_t id) { connections_.erase(id); }
  const emu::Logger& log() const noexcept { return *log_; }

 private:
  void accept_next();
  void fault_applied(std::uint64_t connection, const faults::AppliedFault& applied);
  nlohmann::ordered_json apply_plan(const nlohmann::json& request);
  nlohmann::ordered_json remove_plan();
  nlohmann::ordered_json stats() const;

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::resolver::results_type upstream_;
  LineSink emit_;
  const emu::Logger* log_;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t accepted_ = 0;
  std::uint64_t to_device_bytes_ = 0;  ///< relayed (after faults), client -> upstream
  std::uint64_t to_host_bytes_ = 0;    ///< relayed (after faults), upstream -> client
  std::optional<faults::FaultPlan> plan_;
  std::int64_t plan_applied_ns_ = 0;
  std::uint64_t plan_faults_ = 0;      ///< faults applied under the current plan
  std::uint64_t plan_suppressed_ = 0;  ///< ... of which not written (past the bound)
};

}  // namespace hilbench::proxy
