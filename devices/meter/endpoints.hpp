#pragma once
// The emulator's OS endpoints around the sans-io ModbusServer, all on one Asio io_context
// run by one thread (the server is not thread-safe and needs no locks this way):
// - TcpEndpoint: Modbus TCP on a listening socket, any number of clients at once. A client
//   that breaks MBAP (protocol id != 0, length outside 2..254) or leaves a frame unfinished
//   for `partial_frame_timeout` is disconnected; the others never notice.
// - RtuEndpoint: Modbus RTU on a serial device fd (the master side of the pty behind a
//   umockdev-presented port). Frames end at t3.5 of silence. Replies are paced at the
//   configured character time: a pty enforces no baud rate, and timing tests need the bytes
//   to arrive as they would on the wire (each group of bytes is released when its last
//   byte would have been received, so the whole reply takes n * character time). A request
//   that arrives as one burst is taken to occupy the line for its character times too, so
//   a reply never starts before the request could have been received on a real line.
//   Timing knobs and settings (suites/timing): the profile's [timing] response_delay_us holds
//   every answer back (TCP and RTU), slow_response adds max_response_time_ms + 20 ms;
//   rtu_reply_without_silence frames requests after half a character instead of t3.5;
//   rtu_reply_gap pauses 2.5 characters after an answer's third byte.
//   Not modelled: the t1.5 inter-character limit (scheduler jitter on the master's side
//   would make it flaky on a pty), and half-duplex collisions (bytes arriving while a reply
//   is being sent are still received and framed). Over a presenter link the presenter
//   paces instead (and models framing mismatches); the endpoint keeps its t3.5 framing.
//   While nobody holds the tty side open
//   (EIO on the master) the endpoint retries every 10 ms; a partial frame is dropped.
#include <array>
#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "meter/modbus_server.hpp"

namespace hilbench::emu::meter {

/// Where endpoints write their log lines (the emulator sends them to stderr).
using LogSink = std::function<void(const std::string&)>;

struct TcpOptions {
  /// A client that sent part of a frame and then nothing for this long is disconnected.
  std::chrono::milliseconds partial_frame_timeout{500};
  /// A client that stops reading its replies is disconnected once this much is queued.
  std::size_t max_queued_reply_bytes = 1u << 20;
};

class TcpEndpoint {
 public:
  /// Binds and listens at once (throws std::system_error when it cannot).
  TcpEndpoint(asio::io_context& io, ModbusServer& server, const asio::ip::tcp::endpoint& listen_on,
              LogSink log, TcpOptions options = {});
  ~TcpEndpoint();
  TcpEndpoint(const TcpEndpoint&) = delete;
  TcpEndpoint& operator=(const TcpEndpoint&) = delete;

  /// The bound address and port (the real port when 0 was asked for).
  asio::ip::tcp::endpoint local_endpoint() const;
  /// Stops accepting and disconnects every client.
  void close();
  /// Resets every client connection (RST), as a rebooted device's fresh TCP stack answers
  /// segments of connections it no longer knows; keeps accepting.
  void reset_clients();

 private:
  class Session;  // one client connection (defined in endpoints.cpp)
  void accept_next();

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  ModbusServer& server_;
  LogSink log_;
  TcpOptions options_;
  std::vector<std::weak_ptr<Session>> sessions_;           // to disconnect them on close()
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers check it still exists
};

class RtuEndpoint {
 public:
  /// Serves RTU on `device_fd`, which stays owned by the caller and must outlive close()
  /// (or the endpoint). It is switched to non-blocking mode. With `presenter_link`, the fd
  /// is a hilbench-presenter port socket (common/uart_link.hpp): bytes come and go in 'D'
  /// packets, the presenter paces the line (the endpoint sends each reply whole) and
  /// announces the host's line settings in 'L' packets (logged on change). A presenter
  /// that goes away ends the serial side (the endpoint stops; TCP goes on).
  RtuEndpoint(asio::io_context& io, ModbusServer& server, int device_fd,
              const SerialSettings& serial, LogSink log, bool presenter_link = false);
  ~RtuEndpoint();
  RtuEndpoint(const RtuEndpoint&) = delete;
  RtuEndpoint& operator=(const RtuEndpoint&) = delete;

  const RtuTiming& timing() const noexcept { return timing_; }
  /// Re-reads the timing knobs (rtu_reply_without_silence, rtu_reply_gap, slow_response) from
  /// the server's profile after the control channel switched them; from the next answer on.
  void apply_defects();
  void close();

 private:
  void read_next();
  void on_bytes(const std::uint8_t* bytes, std::size_t count);
  void on_frame_silence();
  struct PendingReply {
    Bytes bytes;
    asio::steady_timer::time_point not_before;  ///< the answer delay
  };
  void queue_reply(PendingReply reply);
  void start_next_reply();
  void send_next_group();

  asio::posix::stream_descriptor port_;
  asio::steady_timer silence_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer pacing_timer_;
  ModbusServer& server_;
  LogSink log_;
  RtuTiming timing_;
  std::chrono::nanoseconds framing_silence_{0};  ///< t3.5, or half a character (a knob)
  std::chrono::nanoseconds answer_delay_{0};
  std::size_t gap_after_ = 0;  ///< rtu_reply_gap: pause after this many bytes (0: none)
  std::chrono::nanoseconds gap_{0};
  std::size_t bytes_per_group_;

  bool presenter_link_ = false;
  std::string host_line_;  ///< the last 'L' packet, to log changes only
  std::array<std::uint8_t, 4096> read_buffer_{};
  Bytes frame_;
  bool frame_overflow_ = false;
  std::uint64_t silence_generation_ = 0;
  asio::steady_timer::time_point line_free_at_{};  ///< when the last received byte finished

  std::deque<PendingReply> replies_;
  Bytes outgoing_;  ///< the group being written (with the link's packet type, if any)
  std::size_t reply_bytes_sent_ = 0;
  asio::steady_timer::time_point reply_started_;
  bool sending_ = false;
  bool closed_ = false;
  bool hangup_logged_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers check it still exists
};

}  // namespace hilbench::emu::meter
