// The emulated instruments' USBTMC device side (see usbtmc_function.hpp). Written from
// USBTMC 1.0 (sections 3.2, 3.3, 4.2) and USB488 1.0 (sections 3.4, 4.3).
#include "common/usbtmc_function.hpp"

#include <algorithm>

namespace hilbench::emu::usbtmc {
namespace {

constexpr std::uint8_t kSuccess = 0x01;
constexpr std::uint8_t kFailed = 0x80;

std::uint32_t le32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint32_t>(bytes[at]) | (static_cast<std::uint32_t>(bytes[at + 1]) << 8) |
         (static_cast<std::uint32_t>(bytes[at + 2]) << 16) |
         (static_cast<std::uint32_t>(bytes[at + 3]) << 24);
}

}  // namespace

UsbtmcFunction::UsbtmcFunction(FunctionOptions options) : options_(std::move(options)) {}

bool UsbtmcFunction::bulk_out(std::span<const std::uint8_t> transfer) {
  if (transfer.size() < 12) return false;
  const std::uint8_t id = transfer[0];
  const std::uint8_t tag = transfer[1];
  if (tag == 0 || transfer[2] != static_cast<std::uint8_t>(~tag) || transfer[3] != 0) return false;
  const std::uint32_t size = le32(transfer, 4);
  if (id == 1) {  // DEV_DEP_MSG_OUT
    if (size > transfer.size() - 12) return false;
    out_tag_ = tag;
    message_.insert(message_.end(), transfer.begin() + 12,
                    transfer.begin() + 12 + static_cast<std::ptrdiff_t>(size));
    if ((transfer[8] & 0x01) == 0) return true;  // more transfers of this message follow
    std::string text(message_.begin(), message_.end());
    message_.clear();
    out_tag_.reset();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    ++executed_;
    if (options_.execute) {
      if (auto reply = options_.execute(text)) {
        response_ += *reply;
        response_ += '\n';
      }
    }
    return true;
  }
  if (id == 2) {  // REQUEST_DEV_DEP_MSG_IN
    if (size == 0) return false;
    request_ = Request{tag, size};
    return true;
  }
  return false;  // vendor-specific and USB488 TRIGGER messages: not offered
}

std::optional<Bytes> UsbtmcFunction::bulk_in(std::size_t max_bytes) {
  if (!request_ || response_.empty() || max_bytes < 16) return std::nullopt;
  if (options_.defects.stall_until_abort && !withheld_once_) {
    withheld_once_ = true;
    withholding_ = true;
  }
  if (withholding_) return std::nullopt;
  const std::size_t room = std::min<std::size_t>(request_->size, (max_bytes - 12) / 4 * 4);
  const std::size_t n = std::min(room, response_.size());
  const bool last = n == response_.size();
  std::uint8_t tag = request_->tag;
  if (options_.defects.tag_not_echoed) tag = static_cast<std::uint8_t>(tag == 255 ? 1 : tag + 1);
  Bytes out(12, 0);
  out[0] = 2;  // DEV_DEP_MSG_IN
  out[1] = tag;
  out[2] = static_cast<std::uint8_t>(~tag);
  for (int i = 0; i < 4; ++i)
    out[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  out[8] = (last && !options_.defects.eom_never_set) ? 0x01 : 0x00;
  out.insert(out.end(), response_.begin(), response_.begin() + static_cast<std::ptrdiff_t>(n));
  out.resize((out.size() + 3) / 4 * 4, 0);
  response_.erase(0, n);
  request_.reset();
  last_in_tag_ = tag;
  return out;
}

void UsbtmcFunction::reset() {
  message_.clear();
  out_tag_.reset();
  response_.clear();
  request_.reset();
  withholding_ = false;
  interrupts_.clear();
}

std::optional<Bytes> UsbtmcFunction::interrupt_in() {
  if (interrupts_.empty()) return std::nullopt;
  Bytes out = std::move(interrupts_.front());
  interrupts_.pop_front();
  return out;
}

std::optional<Bytes> UsbtmcFunction::control(std::uint8_t request_type, std::uint8_t request,
                                             std::uint16_t value, std::uint16_t /*index*/,
                                             std::uint16_t length) {
  if ((request_type & 0x60) != 0x20) return std::nullopt;  // not a class request
  Bytes reply;
  const auto tag = static_cast<std::uint8_t>(value & 0xFF);
  switch (request) {
    case 1:  // INITIATE_ABORT_BULK_OUT
      if (!message_.empty() || out_tag_) {
        message_.clear();
        out_tag_.reset();
        reply = {kSuccess, tag};
      } else {
        reply = {kFailed, tag};
      }
      break;
    case 2:  // CHECK_ABORT_BULK_OUT_STATUS
      reply = {kSuccess, 0, 0, 0, 0, 0, 0, 0};
      break;
    case 3:  // INITIATE_ABORT_BULK_IN
      if (request_ || withholding_ || !response_.empty()) {
        response_.clear();
        request_.reset();
        withholding_ = false;
        reply = {kSuccess, tag};
      } else {
        reply = {kFailed, last_in_tag_.value_or(0)};
      }
      break;
    case 4:  // CHECK_ABORT_BULK_IN_STATUS: the FIFO is always empty here
      reply = {kSuccess, 0, 0, 0, 0, 0, 0, 0};
      break;
    case 5:  // INITIATE_CLEAR
      message_.clear();
      out_tag_.reset();
      response_.clear();
      request_.reset();
      withholding_ = false;
      reply = {kSuccess};
      break;
    case 6:  // CHECK_CLEAR_STATUS
      reply = {kSuccess, 0};
      break;
    case 7:  // GET_CAPABILITIES
      reply.assign(24, 0);
      reply[0] = kSuccess;
      reply[2] = 0x00;  // bcdUSBTMC 1.00
      reply[3] = 0x01;
      reply[4] = 0x04;   // indicator pulse; neither talk-only nor listen-only
      reply[12] = 0x00;  // bcdUSB488 1.00
      reply[13] = 0x01;
      reply[14] = 0x06;  // 488.2 interface, REN_CONTROL/GO_TO_LOCAL/LOCAL_LOCKOUT
      reply[15] = 0x0E;  // SCPI, SR1, RL1 (no DT1)
      if (options_.defects.wrong_capabilities) {
        reply[4] = 0x01;  // listen-only: it would never answer a query
        reply[12] = reply[13] = reply[14] = reply[15] = 0;
      }
      break;
    case 64:  // INDICATOR_PULSE
      reply = {kSuccess};
      break;
    case 128: {  // READ_STATUS_BYTE: the STB travels on interrupt-IN
      const auto status_tag = static_cast<std::uint8_t>(value & 0x7F);
      const std::uint8_t stb = options_.status_byte ? options_.status_byte() : 0;
      interrupts_.push_back(Bytes{static_cast<std::uint8_t>(0x80 | status_tag), stb});
      reply = {kSuccess, status_tag, 0};
      break;
    }
    case 160:  // REN_CONTROL
      remote_enabled_ = (value & 0x01) != 0;
      reply = {kSuccess};
      break;
    case 161:  // GO_TO_LOCAL
    case 162:  // LOCAL_LOCKOUT
      reply = {kSuccess};
      break;
    default:
      return std::nullopt;
  }
  if (reply.size() > length) reply.resize(length);
  return reply;
}

}  // namespace hilbench::emu::usbtmc
