#include "common/scpi_serial.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>

namespace hilbench::emu::scpi {

namespace {
constexpr auto hangup_retry_interval = std::chrono::milliseconds{10};
constexpr std::size_t max_queued_packets = 256;

bool is_hangup(const std::error_code& error) {
  return error == asio::error::eof || error.value() == EIO;
}
}  // namespace

SerialSession::SerialSession(asio::io_context& io, Engine& engine, int device_fd,
                             bool presenter_link, std::function<void(const std::string&)> log)
    : port_(io, device_fd),
      retry_timer_(io),
      engine_(engine),
      log_(std::move(log)),
      presenter_link_(presenter_link) {
  read_next();
}

SerialSession::~SerialSession() { close(); }

void SerialSession::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  retry_timer_.cancel();
  port_.cancel(ignored);
  port_.release();  // the fd belongs to the caller
}

void SerialSession::read_next() {
  port_.async_read_some(asio::buffer(buffer_), [this, alive = std::weak_ptr<int>(alive_)](
                                                   std::error_code error, std::size_t count) {
    if (alive.expired() || closed_ || error == asio::error::operation_aborted) return;
    if (error && presenter_link_) {
      log_("the presenter closed the serial port; serving no serial side");
      closed_ = true;
      return;
    }
    if (error) {  // a raw tty nobody holds open: retry
      if (!is_hangup(error)) log_(fmt::format("serial read failed: {}", error.message()));
      message_.clear();
      retry_timer_.expires_after(hangup_retry_interval);
      retry_timer_.async_wait([this, alive](std::error_code timer_error) {
        if (!timer_error && !alive.expired() && !closed_) read_next();
      });
      return;
    }
    if (!presenter_link_)
      on_bytes(buffer_.data(), count);
    else if (count > 0 && buffer_[0] == static_cast<std::uint8_t>(uart_link::data))
      on_bytes(buffer_.data() + 1, count - 1);
    // 'L' packets (the host's line settings) need no action: the presenter models mismatches.
    read_next();
  });
}

void SerialSession::on_bytes(const std::uint8_t* bytes, std::size_t count) {
  for (std::size_t index = 0; index < count; ++index) {
    const char c = static_cast<char>(bytes[index]);
    if (c == '\n') {
      if (!discarding_) {
        if (!message_.empty() && message_.back() == '\r') message_.pop_back();
        if (auto response = engine_.handle(message_)) send(*response + "\n");
      }
      discarding_ = false;
      message_.clear();
      continue;
    }
    if (discarding_) continue;
    message_ += c;
    if (message_.size() > max_message_bytes) {
      log_(fmt::format("serial program message longer than {} bytes; discarded up to its LF",
                       max_message_bytes));
      discarding_ = true;
      message_.clear();
    }
  }
}

void SerialSession::send(const std::string& text) {
  // Over the presenter link every packet carries at most max_packet - 1 data bytes.
  const std::size_t chunk = presenter_link_ ? uart_link::max_packet - 1 : text.size();
  for (std::size_t offset = 0; offset < text.size(); offset += chunk) {
    if (outgoing_.size() >= max_queued_packets) {
      log_("serial responses are not being read; dropping the rest of one");
      return;
    }
    std::string packet;
    if (presenter_link_) packet.push_back(uart_link::data);
    packet.append(text, offset, chunk);
    outgoing_.push_back(std::move(packet));
  }
  if (!writing_) write_next();
}

void SerialSession::write_next() {
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

}  // namespace hilbench::emu::scpi
