#include "common/scpi_serial.hpp"

#include <fmt/format.h>

namespace hilbench::emu::scpi {

namespace {
constexpr std::size_t max_queued_packets = 256;
}  // namespace

SerialSession::SerialSession(asio::io_context& io, Engine& engine, int device_fd,
                             bool presenter_link, std::function<void(const std::string&)> log)
    : engine_(engine),
      log_(log),
      port_(
          io, device_fd, presenter_link, log, [this](auto bytes) { on_bytes(bytes); },
          [this] { message_.clear(); }, max_queued_packets) {
  port_.start();
}

void SerialSession::on_bytes(std::span<const std::uint8_t> bytes) {
  for (const std::uint8_t byte : bytes) {
    const char c = static_cast<char>(byte);
    if (c == '\n') {
      if (!discarding_) {
        if (!message_.empty() && message_.back() == '\r') message_.pop_back();
        if (auto response = engine_.handle(message_)) {
          response->push_back('\n');
          port_.send({reinterpret_cast<const std::uint8_t*>(response->data()), response->size()});
        }
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

}  // namespace hilbench::emu::scpi
