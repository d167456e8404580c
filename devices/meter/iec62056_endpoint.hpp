#pragma once
// The meter's optical port: the IEC 62056-21 server engine (iec62056_server.hpp) on a
// hilbench-presenter port (--optical-socket; common/uart_link.hpp), on the emulator's one
// Asio thread. The device UART starts at 300 baud 7E1; a baud switch the engine asks for is
// announced to the presenter with a 'C' packet (the presenter then delivers bytes intact only
// while the harness's side agrees). Answers wait the profile's reaction time; an open session
// with no traffic for inactivity_timeout_ms returns to 300 baud. A presenter that goes away
// ends the optical side (logged; the other endpoints go on). With a gate (the meter's supply,
// common/power.hpp) the port is dead while unpowered: what the probe sends is lost, a reply
// not yet sent is dropped, and after the power returns a session starts over at 300 baud.
#include <array>
#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "meter/iec62056_server.hpp"

namespace hilbench::emu::meter {

class OpticalEndpoint {
 public:
  using LogSink = std::function<void(const std::string&)>;
  /// `link_fd` is a connected presenter port socket, owned by the caller and kept open
  /// while the endpoint lives; the device settings (300 7E1) were announced on connect.
  OpticalEndpoint(asio::io_context& io, Iec62056Server& server, int link_fd, LogSink log);
  ~OpticalEndpoint();
  OpticalEndpoint(const OpticalEndpoint&) = delete;
  OpticalEndpoint& operator=(const OpticalEndpoint&) = delete;
  void close();
  /// `powered` is asked on every byte received and before every reply.
  void set_gate(std::function<bool()> powered) { powered_ = std::move(powered); }
  /// The meter rebooted: no session, nothing pending, the UART back at 300 baud.
  void power_cycled();

 private:
  bool dead() const { return powered_ && !powered_(); }
  void read_next();
  void on_data(const std::uint8_t* bytes, std::size_t count);
  void run_next_action();
  void send_packet(char type, const std::vector<std::uint8_t>& payload);
  void announce_baud(unsigned baud);
  void arm_inactivity();

  asio::posix::stream_descriptor link_;
  asio::steady_timer reaction_timer_;
  asio::steady_timer inactivity_timer_;
  Iec62056Server& server_;
  LogSink log_;
  std::function<bool()> powered_;
  std::array<std::uint8_t, 4096> read_buffer_{};
  std::deque<Iec62056Server::Action> pending_;
  bool acting_ = false;
  bool closed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace hilbench::emu::meter
