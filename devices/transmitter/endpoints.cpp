#include "transmitter/endpoints.hpp"

namespace hilbench::emu::transmitter {

namespace {
constexpr std::size_t max_rtu_frame = 256;
constexpr std::size_t max_queued_replies = 64;
constexpr unsigned fixed_silence_above_baud = 19200;
}  // namespace

std::chrono::nanoseconds frame_silence(const SerialSettings& serial) {
  if (serial.baud > fixed_silence_above_baud) return std::chrono::microseconds{1750};
  return std::chrono::nanoseconds{static_cast<std::int64_t>(
      3.5 * serial.bits_per_character() * 1e9 / static_cast<double>(serial.baud))};
}

SerialEndpoint::SerialEndpoint(asio::io_context& io, Model& model, int device_fd, LogSink log,
                               bool presenter_link)
    : silence_timer_(io),
      rtu_(model),
      ascii_(model),
      log_(log),
      ascii_mode_(model.profile().protocol == Protocol::ascii),
      silence_(frame_silence(model.profile().serial)),
      port_(
          io, device_fd, presenter_link, log, [this](auto bytes) { on_bytes(bytes); },
          [this] { pending_.clear(); }, max_queued_replies) {
  port_.start();
}

SerialEndpoint::~SerialEndpoint() { close(); }

void SerialEndpoint::close() {
  if (closed_) return;
  closed_ = true;
  silence_timer_.cancel();
  port_.close();
}

void SerialEndpoint::on_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (powered_ && !powered_()) {  // unpowered: the line goes nowhere
    pending_.clear();
    discarding_ = false;
    return;
  }
  if (ascii_mode_) {
    for (const std::uint8_t byte : bytes) {
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
  if (pending_.size() + bytes.size() <= max_rtu_frame)
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
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

void SerialEndpoint::send(const Bytes& reply) { port_.send(reply); }

}  // namespace hilbench::emu::transmitter
