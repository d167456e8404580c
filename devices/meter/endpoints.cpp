#include "meter/endpoints.hpp"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "common/uart_link.hpp"
#include "meter/defects.hpp"

namespace hilbench::emu::meter {

namespace {

// While nobody holds the port's tty side open, reading the pty master fails with EIO at
// once (and epoll keeps reporting the hang-up), so the endpoint polls gently until a
// client opens the port again.
constexpr auto hangup_retry_interval = std::chrono::milliseconds{10};
// Replies are released in groups spanning about this much wire time: honest timing at a
// bounded wake-up rate.
constexpr auto pacing_granularity = std::chrono::milliseconds{1};
// A frame longer than an RTU ADU (256 bytes) can only be noise or merged frames.
constexpr std::size_t max_rtu_frame = 256;
constexpr std::size_t max_queued_rtu_replies = 64;

bool is_hangup(const std::error_code& error) {
  return error == asio::error::eof || error.value() == EIO;
}

// The knob rtu_reply_gap pauses after this many bytes of an answer.
constexpr std::size_t reply_gap_after_bytes = 3;

/// How long every Modbus answer is held back: the profile's [timing] response_delay_us,
/// plus max_response_time_ms + 20 ms with the knob slow_response. A non-zero delay also
/// asks the kernel for 1 ns timer slack (default 50 us), so the delay is the ground truth
/// it claims to be.
std::chrono::nanoseconds answer_delay(const DeviceProfile& profile) {
  std::chrono::nanoseconds delay = profile.timing.response_delay;
  if (profile.defects.has(meter_defect("slow_response")))
    delay += profile.timing.max_response_time + std::chrono::milliseconds{20};
  if (delay > std::chrono::nanoseconds::zero()) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  return delay;
}

// With an answer delay, timers wake this much early and the rest is spun: a timer's wake-up
// latency (tens of us on a loaded host) would otherwise be added to the ground truth.
constexpr auto spin_margin = std::chrono::microseconds{300};

asio::steady_timer::time_point wake_before(asio::steady_timer::time_point due, bool spin) {
  return spin ? due - spin_margin : due;
}

void spin_until(asio::steady_timer::time_point due) {
  while (asio::steady_timer::clock_type::now() < due) {
  }
}

}  // namespace

// ---- TCP --------------------------------------------------------------------------------

class TcpEndpoint::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, ModbusServer& server, LogSink log, TcpOptions options)
      : socket_(std::move(socket)),
        partial_frame_timer_(socket_.get_executor()),
        delay_timer_(socket_.get_executor()),
        server_(server),
        log_(std::move(log)),
        options_(options) {
    std::error_code ignored;
    peer_ = fmt::format("{}", socket_.remote_endpoint(ignored).port());
  }

  void start() { read_next(); }

  void reset() {
    std::error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);  // close sends RST
    if (closed_) return;
    closed_ = true;
    socket_.close(ignored);
    partial_frame_timer_.cancel();
    delay_timer_.cancel();
  }

  void close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    // However the session ends (the client left, a malformed or unfinished frame), bytes
    // of a frame may be left over: the defect tcp_wedged_by_partial_frame reacts to that.
    if (decoder_.has_partial_frame()) server_.tcp_client_left_mid_frame();
    if (!reason.empty()) log_(fmt::format("tcp client :{}: disconnected: {}", peer_, reason));
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    partial_frame_timer_.cancel();
    delay_timer_.cancel();
  }

 private:
  void read_next() {
    socket_.async_read_some(asio::buffer(read_buffer_),
                            [self = shared_from_this()](std::error_code error, std::size_t count) {
                              self->on_read(error, count);
                            });
  }

  void on_read(std::error_code error, std::size_t count) {
    if (closed_) return;
    if (error) {
      // A client hanging up is the normal end of a session, not worth a log line.
      close(error == asio::error::eof || error == asio::error::connection_reset ? ""
                                                                                : error.message());
      return;
    }
    decoder_.append(std::span<const std::uint8_t>(read_buffer_.data(), count));
    const auto arrived = asio::steady_timer::clock_type::now();
    for (;;) {
      auto result = decoder_.next();
      if (result.status == MbapStreamDecoder::Status::incomplete) break;
      if (result.status == MbapStreamDecoder::Status::malformed) {
        close(result.problem);
        return;
      }
      if (auto reply = server_.handle_tcp_frame(result.frame))
        // Per answer, so a knob switched through the control channel applies at once.
        queue_reply(std::move(*reply), arrived + answer_delay(server_.profile()));
      if (closed_) return;
    }
    arm_partial_frame_timer();
    read_next();
  }

  void arm_partial_frame_timer() {
    ++partial_frame_generation_;
    if (!decoder_.has_partial_frame()) {
      partial_frame_timer_.cancel();
      return;
    }
    partial_frame_timer_.expires_after(options_.partial_frame_timeout);
    partial_frame_timer_.async_wait(
        [self = shared_from_this(), generation = partial_frame_generation_](std::error_code error) {
          if (error || generation != self->partial_frame_generation_) return;
          self->close(fmt::format("unfinished frame, then {} ms of silence",
                                  self->options_.partial_frame_timeout.count()));
        });
  }

  void queue_reply(Bytes reply, asio::steady_timer::time_point not_before) {
    queued_bytes_ += reply.size();
    if (queued_bytes_ > options_.max_queued_reply_bytes) {
      close("client does not read its replies");
      return;
    }
    replies_.push_back({std::move(reply), not_before});
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    if (replies_.front().not_before > asio::steady_timer::clock_type::now()) {
      delay_timer_.expires_at(wake_before(replies_.front().not_before, true));
      delay_timer_.async_wait([self = shared_from_this()](std::error_code error) {
        if (error || self->closed_) return;
        spin_until(self->replies_.front().not_before);
        self->write_front();
      });
      return;
    }
    write_front();
  }

  void write_front() {
    asio::async_write(socket_, asio::buffer(replies_.front().bytes),
                      [self = shared_from_this()](std::error_code error, std::size_t) {
                        if (self->closed_) return;
                        if (error) {
                          self->close(error.message());
                          return;
                        }
                        self->queued_bytes_ -= self->replies_.front().bytes.size();
                        self->replies_.pop_front();
                        self->writing_ = false;
                        if (!self->replies_.empty()) self->write_next();
                      });
  }

  struct PendingReply {
    Bytes bytes;
    asio::steady_timer::time_point not_before;  ///< the answer delay (answer_delay())
  };

  asio::ip::tcp::socket socket_;
  asio::steady_timer partial_frame_timer_;
  asio::steady_timer delay_timer_;
  ModbusServer& server_;
  LogSink log_;  // copies: a session may outlive its endpoint by a pending handler
  TcpOptions options_;
  std::string peer_;
  std::array<std::uint8_t, 1024> read_buffer_{};
  MbapStreamDecoder decoder_;
  std::uint64_t partial_frame_generation_ = 0;
  std::deque<PendingReply> replies_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
};

TcpEndpoint::TcpEndpoint(asio::io_context& io, ModbusServer& server,
                         const asio::ip::tcp::endpoint& listen_on, LogSink log, TcpOptions options)
    : acceptor_(io),
      accept_retry_timer_(io),
      server_(server),
      log_(std::move(log)),
      options_(options) {
  acceptor_.open(listen_on.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(listen_on);
  acceptor_.listen();
  accept_next();
}

TcpEndpoint::~TcpEndpoint() { close(); }

asio::ip::tcp::endpoint TcpEndpoint::local_endpoint() const { return acceptor_.local_endpoint(); }

void TcpEndpoint::close() {
  std::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  for (auto& weak : sessions_)
    if (auto session = weak.lock()) session->close("");
  sessions_.clear();
}

void TcpEndpoint::reset_clients() {
  for (auto& weak : sessions_)
    if (auto session = weak.lock()) session->reset();
  sessions_.clear();
}

void TcpEndpoint::accept_next() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code error,
                                                                    asio::ip::tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (error) {
      // E.g. out of file descriptors: back off instead of spinning on the same error.
      log_(fmt::format("tcp accept failed: {}", error.message()));
      accept_retry_timer_.expires_after(std::chrono::milliseconds{100});
      accept_retry_timer_.async_wait([this, alive](std::error_code timer_error) {
        if (!timer_error && !alive.expired() && acceptor_.is_open()) accept_next();
      });
      return;
    }
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);  // replies are tiny
    auto session = std::make_shared<Session>(std::move(socket), server_, log_, options_);
    std::erase_if(sessions_, [](const auto& weak) { return weak.expired(); });
    sessions_.push_back(session);
    session->start();
    accept_next();
  });
}

// ---- RTU --------------------------------------------------------------------------------

RtuEndpoint::RtuEndpoint(asio::io_context& io, ModbusServer& server, int device_fd,
                         const SerialSettings& serial, LogSink log, bool presenter_link)
    : port_(io, device_fd),
      silence_timer_(io),
      retry_timer_(io),
      pacing_timer_(io),
      server_(server),
      log_(std::move(log)),
      timing_(rtu_timing(serial)),
      presenter_link_(presenter_link) {
  apply_defects();
  bytes_per_group_ = static_cast<std::size_t>(std::max<std::int64_t>(
      1, std::chrono::nanoseconds{pacing_granularity} / timing_.character_time));
  if (presenter_link_) bytes_per_group_ = max_rtu_frame;  // the presenter paces
  read_next();
}

void RtuEndpoint::apply_defects() {
  const DeviceProfile& profile = server_.profile();
  framing_silence_ = profile.defects.has(meter_defect("rtu_reply_without_silence"))
                         ? timing_.character_time / 2
                         : timing_.frame_silence;
  answer_delay_ = answer_delay(profile);
  const bool gap = profile.defects.has(meter_defect("rtu_reply_gap"));
  gap_after_ = gap ? reply_gap_after_bytes : 0;
  gap_ = gap ? timing_.character_time * 5 / 2 : std::chrono::nanoseconds{0};
}

RtuEndpoint::~RtuEndpoint() { close(); }

void RtuEndpoint::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  silence_timer_.cancel();
  retry_timer_.cancel();
  pacing_timer_.cancel();
  // The fd belongs to the caller (the umockdev bench closes it to hang the line up): stop
  // using it without closing it.
  port_.cancel(ignored);
  port_.release();
}

void RtuEndpoint::read_next() {
  port_.async_read_some(asio::buffer(read_buffer_), [this, alive = std::weak_ptr<int>(alive_)](
                                                        std::error_code error, std::size_t count) {
    if (alive.expired() || closed_ || error == asio::error::operation_aborted) return;
    if (error && presenter_link_) {
      log_(fmt::format("the presenter closed the serial port ({}); serving no RTU",
                       is_hangup(error) ? "end of file" : error.message()));
      closed_ = true;
      return;
    }
    if (error) {
      if (!is_hangup(error))
        log_(fmt::format("serial read failed: {}", error.message()));
      else if (!hangup_logged_)
        log_("serial port closed by the client; waiting for it to reopen");
      hangup_logged_ = true;
      frame_.clear();  // a frame cut by a hang-up is lost, as on a real line
      retry_timer_.expires_after(hangup_retry_interval);
      retry_timer_.async_wait([this, alive](std::error_code timer_error) {
        if (!timer_error && !alive.expired() && !closed_) read_next();
      });
      return;
    }
    hangup_logged_ = false;
    if (!presenter_link_) {
      on_bytes(read_buffer_.data(), count);
    } else if (count > 0 && read_buffer_[0] == static_cast<std::uint8_t>(uart_link::data)) {
      on_bytes(read_buffer_.data() + 1, count - 1);
    } else if (count > 0 && read_buffer_[0] == static_cast<std::uint8_t>(uart_link::host_line)) {
      std::string line(read_buffer_.begin() + 1,
                       read_buffer_.begin() + static_cast<std::ptrdiff_t>(count));
      if (line != host_line_) log_(fmt::format("host line: {}", line));
      host_line_ = std::move(line);
    }
    read_next();
  });
}

void RtuEndpoint::on_bytes(const std::uint8_t* bytes, std::size_t count) {
  if (count == 0) return;
  if (frame_.size() + count > max_rtu_frame)
    frame_overflow_ = true;
  else
    frame_.insert(frame_.end(), bytes, bytes + count);
  // A pty delivers a request at once, but on a serial line its bytes follow each other at
  // the character time. Model when the line becomes free: byte k of a burst finishes one
  // character after byte k-1 (a master pacing its own bytes gets no extra delay). The
  // frame ends t3.5 after that, so no reply starts before the request could have arrived.
  // Over a presenter link bytes arrive when the presenter says they crossed the wire.
  const auto now = asio::steady_timer::clock_type::now();
  line_free_at_ = presenter_link_
                      ? now
                      : std::max(now, line_free_at_ + timing_.character_time) +
                            timing_.character_time * static_cast<std::int64_t>(count - 1);
  // Each byte restarts the t3.5 silence that ends the frame.
  silence_timer_.expires_at(line_free_at_ + framing_silence_);
  silence_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                             generation = ++silence_generation_](std::error_code error) {
    if (error || alive.expired() || closed_ || generation != silence_generation_) return;
    on_frame_silence();
  });
}

void RtuEndpoint::on_frame_silence() {
  Bytes frame = std::move(frame_);
  frame_.clear();
  const bool overflow = std::exchange(frame_overflow_, false);
  if (overflow || frame.empty()) return;
  if (auto reply = server_.handle_rtu_frame(frame))
    queue_reply({std::move(*reply), asio::steady_timer::clock_type::now() + answer_delay_});
}

void RtuEndpoint::queue_reply(PendingReply reply) {
  if (replies_.size() >= max_queued_rtu_replies) {
    log_("serial replies are not being read; dropping one");
    return;
  }
  replies_.push_back(std::move(reply));
  if (!sending_) start_next_reply();
}

void RtuEndpoint::start_next_reply() {
  if (replies_.empty()) {
    sending_ = false;
    return;
  }
  sending_ = true;
  reply_bytes_sent_ = 0;
  reply_started_ = std::max(asio::steady_timer::clock_type::now(), replies_.front().not_before);
  send_next_group();
}

void RtuEndpoint::send_next_group() {
  const Bytes& reply = replies_.front().bytes;
  std::size_t group_end = std::min(reply.size(), reply_bytes_sent_ + bytes_per_group_);
  if (gap_after_ > reply_bytes_sent_ && gap_after_ < group_end) group_end = gap_after_;
  // Release the group when its last byte would have finished arriving on a real line.
  // Over a presenter link the presenter paces: hand the reply over at once.
  auto due = presenter_link_
                 ? reply_started_
                 : reply_started_ + timing_.character_time * static_cast<std::int64_t>(group_end);
  // rtu_reply_gap: the bytes after the first gap_after_ follow a pause of gap_ on the line.
  if (gap_after_ != 0 && reply_bytes_sent_ >= gap_after_) {
    due += gap_;
    if (presenter_link_) due += timing_.character_time * static_cast<std::int64_t>(gap_after_);
  }
  const bool spin = answer_delay_ > std::chrono::nanoseconds::zero();
  pacing_timer_.expires_at(wake_before(due, spin));
  pacing_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), group_end, due, spin](std::error_code error) {
        if (error || alive.expired() || closed_) return;
        if (spin) spin_until(due);
        const Bytes& reply = replies_.front().bytes;
        outgoing_.clear();
        if (presenter_link_) outgoing_.push_back(static_cast<std::uint8_t>(uart_link::data));
        outgoing_.insert(outgoing_.end(),
                         reply.begin() + static_cast<std::ptrdiff_t>(reply_bytes_sent_),
                         reply.begin() + static_cast<std::ptrdiff_t>(group_end));
        asio::async_write(
            port_, asio::buffer(outgoing_),
            [this, alive, group_end](std::error_code write_error, std::size_t) {
              if (alive.expired() || closed_ || write_error == asio::error::operation_aborted)
                return;
              if (write_error) {
                // Nobody holds the port open: the reply has nowhere to go, like on a cut line.
                if (!is_hangup(write_error))
                  log_(fmt::format("serial write failed: {}", write_error.message()));
                replies_.clear();
                sending_ = false;
                return;
              }
              reply_bytes_sent_ = group_end;
              if (reply_bytes_sent_ < replies_.front().bytes.size()) {
                send_next_group();
                return;
              }
              replies_.pop_front();
              start_next_reply();
            });
      });
}

}  // namespace hilbench::emu::meter
