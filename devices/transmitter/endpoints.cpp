#include "transmitter/endpoints.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "common/uart_link.hpp"

namespace hilbench::emu::transmitter {

namespace {
constexpr auto hangup_retry_interval = std::chrono::milliseconds{10};
constexpr std::size_t max_rtu_frame = 256;
constexpr std::size_t max_queued_replies = 64;
constexpr unsigned fixed_silence_above_baud = 19200;

bool is_hangup(const std::error_code& error) {
  return error == asio::error::eof || error.value() == EIO;
}
}  // namespace

std::chrono::nanoseconds frame_silence(const SerialSettings& serial) {
  if (serial.baud > fixed_silence_above_baud) return std::chrono::microseconds{1750};
  return std::chrono::nanoseconds{static_cast<std::int64_t>(
      3.5 * serial.bits_per_character() * 1e9 / static_cast<double>(serial.baud))};
}

SerialEndpoint::SerialEndpoint(asio::io_context& io, Model& model, int device_fd, LogSink log,
                               bool presenter_link)
    : port_(io, device_fd),
      silence_timer_(io),
      retry_timer_(io),
      rtu_(model),
      ascii_(model),
      log_(std::move(log)),
      presenter_link_(presenter_link),
      ascii_mode_(model.profile().protocol == Protocol::ascii),
      silence_(frame_silence(model.profile().serial)) {
  read_next();
}

SerialEndpoint::~SerialEndpoint() { close(); }

void SerialEndpoint::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  silence_timer_.cancel();
  retry_timer_.cancel();
  port_.cancel(ignored);
  port_.release();  // the fd belongs to the caller
}

void SerialEndpoint::read_next() {
  port_.async_read_some(asio::buffer(read_buffer_), [this, alive = std::weak_ptr<int>(alive_)](
                                                        std::error_code error, std::size_t count) {
    if (alive.expired() || closed_ || error == asio::error::operation_aborted) return;
    if (error && presenter_link_) {
      log_("the presenter closed the serial port; serving no serial side");
      closed_ = true;
      return;
    }
    if (error) {
      if (!is_hangup(error)) log_(fmt::format("serial read failed: {}", error.message()));
      pending_.clear();
      retry_timer_.expires_after(hangup_retry_interval);
      retry_timer_.async_wait([this, alive](std::error_code timer_error) {
        if (!timer_error && !alive.expired() && !closed_) read_next();
      });
      return;
    }
    if (!presenter_link_)
      on_bytes(read_buffer_.data(), count);
    else if (count > 0 && read_buffer_[0] == static_cast<std::uint8_t>(uart_link::data))
      on_bytes(read_buffer_.data() + 1, count - 1);
    // 'L' packets (the host's line settings) need no action: the presenter models mismatches.
    read_next();
  });
}

void SerialEndpoint::on_bytes(const std::uint8_t* bytes, std::size_t count) {
  if (count == 0) return;
  if (powered_ && !powered_()) {  // unpowered: the line goes nowhere
    pending_.clear();
    discarding_ = false;
    return;
  }
  if (ascii_mode_) {
    for (std::size_t index = 0; index < count; ++index) {
      const std::uint8_t byte = bytes[index];
      if (byte == '\n') {
        if (!discarding_) {
          const std::string reply =
              ascii_.handle_line(std::string(pending_.begin(), pending_.end()), Clock::now());
          send(Bytes(reply.begin(), reply.end()));
        }
        discarding_ = false;
        pending_.clear();
        continue;
      }
      if (discarding_) continue;
      pending_.push_back(byte);
      if (pending_.size() > AsciiEngine::max_line + 1) {  // +1: a CR before the LF
        const std::string reply =
            ascii_.handle_line(std::string(AsciiEngine::max_line + 1, 'X'), Clock::now());
        send(Bytes(reply.begin(), reply.end()));
        discarding_ = true;
        pending_.clear();
      }
    }
    return;
  }
  if (pending_.size() + count <= max_rtu_frame)
    pending_.insert(pending_.end(), bytes, bytes + count);
  silence_timer_.expires_after(silence_);
  silence_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                             generation = ++silence_generation_](std::error_code error) {
    if (error || alive.expired() || closed_ || generation != silence_generation_) return;
    on_frame_silence();
  });
}

void SerialEndpoint::on_frame_silence() {
  Bytes frame = std::move(pending_);
  pending_.clear();
  if (auto reply = rtu_.handle_frame(frame, Clock::now())) send(*reply);
}

void SerialEndpoint::send(const Bytes& reply) {
  if (outgoing_.size() >= max_queued_replies) {
    log_("serial replies are not being read; dropping one");
    return;
  }
  Bytes packet;
  if (presenter_link_) packet.push_back(static_cast<std::uint8_t>(uart_link::data));
  packet.insert(packet.end(), reply.begin(), reply.end());
  outgoing_.push_back(std::move(packet));
  if (!writing_) write_next();
}

void SerialEndpoint::write_next() {
  if (outgoing_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  asio::async_write(port_, asio::buffer(outgoing_.front()),
                    [this, alive = std::weak_ptr<int>(alive_)](std::error_code error, std::size_t) {
                      if (alive.expired() || closed_ || error == asio::error::operation_aborted)
                        return;
                      if (error) {
                        if (!is_hangup(error))
                          log_(fmt::format("serial write failed: {}", error.message()));
                        outgoing_.clear();
                        writing_ = false;
                        return;
                      }
                      outgoing_.pop_front();
                      write_next();
                    });
}

}  // namespace hilbench::emu::transmitter
