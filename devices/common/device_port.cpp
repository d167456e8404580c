#include "common/device_port.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace hilbench::emu {

namespace {
constexpr auto hangup_retry_interval = std::chrono::milliseconds{10};

bool is_hangup(const std::error_code& error) {
  return error == asio::error::eof || error.value() == EIO;
}
}  // namespace

DevicePort::DevicePort(asio::io_context& io, int device_fd, bool presenter_link, Log log,
                       BytesHandler on_bytes, std::function<void()> on_hangup,
                       std::size_t max_queued)
    : port_(io, device_fd),
      retry_timer_(io),
      presenter_link_(presenter_link),
      log_(std::move(log)),
      on_bytes_(std::move(on_bytes)),
      on_hangup_(std::move(on_hangup)),
      max_queued_(max_queued) {}

DevicePort::~DevicePort() { close(); }

void DevicePort::start() { read_next(); }

void DevicePort::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  retry_timer_.cancel();
  port_.cancel(ignored);
  port_.release();  // the fd belongs to the caller
}

void DevicePort::read_next() {
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
      if (on_hangup_) on_hangup_();
      retry_timer_.expires_after(hangup_retry_interval);
      retry_timer_.async_wait([this, alive](std::error_code timer_error) {
        if (!timer_error && !alive.expired() && !closed_) read_next();
      });
      return;
    }
    const std::span<const std::uint8_t> received(buffer_.data(), count);
    if (!presenter_link_)
      on_bytes_(received);
    else if (count > 0 && buffer_[0] == static_cast<std::uint8_t>(uart_link::data))
      on_bytes_(received.subspan(1));
    if (alive.expired() || closed_) return;  // the handler may have closed the port
    read_next();
  });
}

void DevicePort::send(std::span<const std::uint8_t> bytes) {
  // Over the presenter link every packet carries at most max_packet - 1 data bytes.
  const std::size_t chunk =
      presenter_link_ ? uart_link::max_packet - 1 : std::max<std::size_t>(bytes.size(), 1);
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk) {
    if (outgoing_.size() >= max_queued_) {
      log_("serial replies are not being read; dropping the rest of one");
      return;
    }
    std::vector<std::uint8_t> packet;
    if (presenter_link_) packet.push_back(static_cast<std::uint8_t>(uart_link::data));
    const auto part = bytes.subspan(offset, std::min(chunk, bytes.size() - offset));
    packet.insert(packet.end(), part.begin(), part.end());
    outgoing_.push_back(std::move(packet));
  }
  if (!writing_) write_next();
}

void DevicePort::write_next() {
  if (outgoing_.empty() || closed_) {
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

}  // namespace hilbench::emu
