#include "meter/iec62056_endpoint.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/uart_link.hpp"

namespace hilbench::emu::meter {

OpticalEndpoint::OpticalEndpoint(asio::io_context& io, Iec62056Server& server, int link_fd,
                                 LogSink log)
    : link_(io, link_fd),
      reaction_timer_(io),
      inactivity_timer_(io),
      server_(server),
      log_(std::move(log)) {
  read_next();
}

OpticalEndpoint::~OpticalEndpoint() { close(); }

void OpticalEndpoint::close() {
  if (closed_) return;
  closed_ = true;
  reaction_timer_.cancel();
  inactivity_timer_.cancel();
  std::error_code ignored;
  link_.cancel(ignored);
  link_.release();  // the fd belongs to the caller
}

void OpticalEndpoint::read_next() {
  link_.async_read_some(asio::buffer(read_buffer_), [this, alive = std::weak_ptr<int>(alive_)](
                                                        std::error_code error, std::size_t n) {
    if (alive.expired() || closed_ || error == asio::error::operation_aborted) return;
    if (error || n == 0) {
      log_(fmt::format("the presenter closed the optical port ({}); serving no IEC 62056-21",
                       error ? error.message() : "end of file"));
      closed_ = true;
      return;
    }
    if (read_buffer_[0] == static_cast<std::uint8_t>(uart_link::data))
      on_data(read_buffer_.data() + 1, n - 1);
    read_next();
  });
}

void OpticalEndpoint::power_cycled() {
  reaction_timer_.cancel();
  pending_.clear();
  acting_ = false;
  if (auto baud = server_.on_inactivity()) announce_baud(*baud);
}

void OpticalEndpoint::on_data(const std::uint8_t* bytes, std::size_t count) {
  if (dead()) return;  // an unpowered port: the probe's light goes nowhere
  for (auto& action : server_.on_bytes(std::span(bytes, count)))
    pending_.push_back(std::move(action));
  arm_inactivity();
  if (!acting_) run_next_action();
}

void OpticalEndpoint::run_next_action() {
  if (pending_.empty()) {
    acting_ = false;
    return;
  }
  acting_ = true;
  // The ACK has been received whole: the UART switches now, the answer follows after the
  // reaction time at the new rate.
  if (pending_.front().switch_now) announce_baud(*pending_.front().switch_now);
  pending_.front().switch_now.reset();
  reaction_timer_.expires_after(server_.reaction_time());
  reaction_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](std::error_code error) {
    if (error || alive.expired() || closed_) return;
    if (dead()) {  // the supply went while the reply waited: it is never sent
      pending_.clear();
      acting_ = false;
      return;
    }
    Iec62056Server::Action action = std::move(pending_.front());
    pending_.pop_front();
    if (!action.reply.empty()) send_packet(uart_link::data, action.reply);
    // The presenter schedules the reply with the framing it was sent with, so the UART may
    // switch back as soon as the reply is handed over.
    if (action.switch_after) announce_baud(*action.switch_after);
    run_next_action();
  });
}

void OpticalEndpoint::arm_inactivity() {
  inactivity_timer_.expires_after(
      std::chrono::milliseconds(server_.settings().inactivity_timeout_ms));
  inactivity_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](std::error_code error) {
    if (error || alive.expired() || closed_) return;
    if (server_.idle()) return;
    log_("optical port: session timed out; back to 300 baud");
    if (auto baud = server_.on_inactivity()) announce_baud(*baud);
  });
}

void OpticalEndpoint::announce_baud(unsigned baud) {
  const nlohmann::json config = {
      {"baud", baud}, {"data_bits", 7}, {"parity", "even"}, {"stop_bits", 1}};
  const std::string text = config.dump();
  send_packet(uart_link::device_config, std::vector<std::uint8_t>(text.begin(), text.end()));
}

void OpticalEndpoint::send_packet(char type, const std::vector<std::uint8_t>& payload) {
  if (closed_) return;
  std::size_t start = 0;
  do {
    const std::size_t end = std::min(payload.size(), start + uart_link::max_packet - 1);
    std::vector<std::uint8_t> packet{static_cast<std::uint8_t>(type)};
    packet.insert(packet.end(), payload.begin() + static_cast<std::ptrdiff_t>(start),
                  payload.begin() + static_cast<std::ptrdiff_t>(end));
    // Small packets on a local SEQPACKET socket: a blocking-style send keeps their order
    // with the 'C' packets around them.
    if (::send(link_.native_handle(), packet.data(), packet.size(), MSG_NOSIGNAL) < 0) {
      log_(fmt::format("optical port: cannot send to the presenter: {}", std::strerror(errno)));
      return;
    }
    start = end;
  } while (start < payload.size());
}

}  // namespace hilbench::emu::meter
