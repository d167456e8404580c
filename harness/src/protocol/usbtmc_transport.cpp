// UsbtmcTransport: USBTMC messages over a UsbTransport's bulk endpoints (see usbtmc.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/usbtmc.hpp"

namespace hilbench::usbtmc {
namespace {

constexpr std::uint8_t to_interface = 0xA1;  // IN, class, interface
constexpr std::uint8_t to_endpoint = 0xA2;   // IN, class, endpoint
constexpr int max_status_polls = 100;

std::size_t round_up(std::size_t value, std::size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

std::string status_name(std::uint8_t code) {
  switch (code) {
    case status::success:
      return "success";
    case status::pending:
      return "pending";
    case status::interrupt_in_busy:
      return "interrupt_in_busy";
    case status::failed:
      return "failed";
    case status::transfer_not_in_progress:
      return "transfer_not_in_progress";
    case status::split_not_in_progress:
      return "split_not_in_progress";
    case status::split_in_progress:
      return "split_in_progress";
    default:
      return fmt::format("0x{:02x}", code);
  }
}

}  // namespace

UsbtmcTransport::UsbtmcTransport(std::shared_ptr<UsbTransport> usb, UsbtmcSettings settings)
    : usb_(std::move(usb)), settings_(settings) {
  if (!usb_) throw ConfigError({"usbtmc", "open", std::nullopt}, "no USB transport given");
  if (usb_->interface_class() != 0xFE || usb_->interface_subclass() != 3)
    throw ConfigError(
        {usb_->name(), "open", std::nullopt},
        fmt::format("interface {} is class 0x{:02x} subclass {}, not USBTMC "
                    "(0xfe, 3)",
                    usb_->interface_number(), usb_->interface_class(), usb_->interface_subclass()));
  if (usb_->endpoints().bulk_in == 0 || usb_->endpoints().bulk_out == 0)
    throw ConfigError({usb_->name(), "open", std::nullopt},
                      "a USBTMC interface needs a bulk-in and a bulk-out endpoint");
  if (settings_.max_transfer == 0)
    throw ConfigError({usb_->name(), "open", std::nullopt}, "max_transfer must be > 0");
  const Deadline deadline = Deadline::after(settings_.open_timeout);
  const Bytes reply = class_request(to_interface, request::get_capabilities, 0, 0x18, deadline);
  try {
    capabilities_ = decode_capabilities(reply);
  } catch (const DecodeError& error) {
    throw ProtocolError({name(), "GET_CAPABILITIES", deadline.budget()}, error.what());
  }
  if (capabilities_.status != status::success)
    throw ProtocolError({name(), "GET_CAPABILITIES", deadline.budget()},
                        "status " + status_name(capabilities_.status));
}

std::string UsbtmcTransport::name() const {
  const std::string inner = usb_->name();
  return "usbtmc:" + (inner.rfind("usb:", 0) == 0 ? inner.substr(4) : inner);
}

bool UsbtmcTransport::is_usb488() const noexcept { return usb_->interface_protocol() == 1; }

std::uint8_t UsbtmcTransport::take_tag() noexcept {
  tag_ = next_tag(tag_);
  return tag_;
}

Bytes UsbtmcTransport::class_request(std::uint8_t recipient, std::uint8_t code, std::uint16_t value,
                                     std::uint16_t length, Deadline deadline) {
  const std::uint16_t index =
      recipient == to_endpoint
          ? (code <= request::check_abort_bulk_out_status ? usb_->endpoints().bulk_out
                                                          : usb_->endpoints().bulk_in)
          : static_cast<std::uint16_t>(usb_->interface_number());
  const UsbResult result = usb_->control(recipient, code, value, index, {}, length, deadline);
  const std::string operation = fmt::format("class request {}", code);
  if (result.status == UsbResult::Status::timeout)
    throw DeviceTimeout({name(), operation, deadline.budget()}, "no reply to a control request");
  if (result.status == UsbResult::Status::stall)
    throw ProtocolError({name(), operation, deadline.budget()}, "the device stalled the request");
  if (result.data.empty())
    throw ProtocolError({name(), operation, deadline.budget()}, "empty reply");
  return result.data;
}

void UsbtmcTransport::clear_with(Deadline recovery) {
  try {
    const Bytes started = class_request(to_interface, request::initiate_clear, 0, 1, recovery);
    last_recovery_ += fmt::format("; initiate_clear: {}", status_name(started[0]));
    if (started[0] == status::success) {
      for (int poll = 0; poll < max_status_polls; ++poll) {
        const Bytes check =
            class_request(to_interface, request::check_clear_status, 0, 2, recovery);
        if (check.size() >= 2 && (check[1] & 0x01) != 0)  // bulk-in FIFO holds data: read it
          usb_->bulk_in(usb_->endpoints().bulk_in, usb_->endpoints().bulk_in_max_packet, recovery);
        if (check[0] != status::pending) {
          last_recovery_ += fmt::format("; check_clear_status: {}", status_name(check[0]));
          break;
        }
      }
    }
    usb_->clear_halt(usb_->endpoints().bulk_out, recovery);
    last_recovery_ += "; halt cleared on bulk-out";
  } catch (const DeviceTimeout&) {
    last_recovery_ += "; clear timed out";
  } catch (const ProtocolError& error) {
    last_recovery_ += fmt::format("; clear failed: {}", error.detail());
  }
  pending_.clear();
  pending_at_ = 0;
}

void UsbtmcTransport::abort_bulk_in(std::uint8_t tag) {
  ++recoveries_;
  const Deadline recovery = Deadline::after(settings_.recovery_timeout);
  last_recovery_ = fmt::format("abort_bulk_in tag {}", tag);
  try {
    const Bytes started =
        class_request(to_endpoint, request::initiate_abort_bulk_in, tag, 2, recovery);
    last_recovery_ += ": " + status_name(started[0]);
    if (started[0] != status::success) {
      clear_with(recovery);  // nothing to abort (or refused): clear the interface instead
      return;
    }
    for (int poll = 0; poll < max_status_polls; ++poll) {
      const Bytes check =
          class_request(to_endpoint, request::check_abort_bulk_in_status, 0, 8, recovery);
      if (check.size() >= 2 && (check[1] & 0x01) != 0)  // data left in the FIFO: read it out
        usb_->bulk_in(
            usb_->endpoints().bulk_in,
            round_up(header_size + settings_.max_transfer, usb_->endpoints().bulk_in_max_packet),
            recovery);
      if (check[0] != status::pending) {
        last_recovery_ += fmt::format("; check_abort_bulk_in_status: {}", status_name(check[0]));
        return;
      }
    }
  } catch (const DeviceTimeout&) {
    last_recovery_ += "; abort timed out";
    clear_with(Deadline::after(settings_.recovery_timeout));
  } catch (const ProtocolError& error) {
    last_recovery_ += fmt::format("; abort failed: {}", error.detail());
    clear_with(Deadline::after(settings_.recovery_timeout));
  }
}

void UsbtmcTransport::abort_bulk_out(std::uint8_t tag) {
  ++recoveries_;
  const Deadline recovery = Deadline::after(settings_.recovery_timeout);
  last_recovery_ = fmt::format("abort_bulk_out tag {}", tag);
  try {
    const Bytes started =
        class_request(to_endpoint, request::initiate_abort_bulk_out, tag, 2, recovery);
    last_recovery_ += ": " + status_name(started[0]);
    if (started[0] != status::success) {
      clear_with(recovery);
      return;
    }
    for (int poll = 0; poll < max_status_polls; ++poll) {
      const Bytes check =
          class_request(to_endpoint, request::check_abort_bulk_out_status, 0, 8, recovery);
      if (check[0] != status::pending) break;
    }
    usb_->clear_halt(usb_->endpoints().bulk_out, recovery);
  } catch (const DeviceTimeout&) {
    last_recovery_ += "; abort timed out";
    clear_with(Deadline::after(settings_.recovery_timeout));
  } catch (const ProtocolError& error) {
    last_recovery_ += fmt::format("; abort failed: {}", error.detail());
    clear_with(Deadline::after(settings_.recovery_timeout));
  }
}

std::optional<Bytes> UsbtmcTransport::request_transfer(Deadline deadline) {
  const UsbEndpoints& ep = usb_->endpoints();
  const std::uint8_t tag = take_tag();
  const Bytes ask = encode_request_dev_dep_msg_in(tag, settings_.max_transfer, std::nullopt);
  const UsbResult sent = usb_->bulk_out(ep.bulk_out, ask, deadline);
  if (sent.status != UsbResult::Status::ok) {
    abort_bulk_out(tag);
    if (sent.status == UsbResult::Status::stall)
      throw ProtocolError({name(), "REQUEST_DEV_DEP_MSG_IN", deadline.budget()},
                          "the device stalled the request; " + last_recovery_);
    return std::nullopt;
  }
  const std::size_t want = round_up(header_size + settings_.max_transfer, ep.bulk_in_max_packet);
  UsbResult first = usb_->bulk_in(ep.bulk_in, want, deadline);
  if (first.status == UsbResult::Status::timeout) {
    abort_bulk_in(tag);
    return std::nullopt;
  }
  if (first.status == UsbResult::Status::stall) {
    ++recoveries_;
    last_recovery_ = "bulk-in stalled";
    usb_->clear_halt(ep.bulk_in, Deadline::after(settings_.recovery_timeout));
    clear_with(Deadline::after(settings_.recovery_timeout));
    throw ProtocolError({name(), "DEV_DEP_MSG_IN", deadline.budget()},
                        "the device stalled bulk-in; " + last_recovery_);
  }
  InHeader h;
  try {
    h = decode_in_header(first.data);
  } catch (const DecodeError& error) {
    ++recoveries_;
    last_recovery_ = "bad header";
    clear_with(Deadline::after(settings_.recovery_timeout));
    throw ProtocolError({name(), "DEV_DEP_MSG_IN", deadline.budget()}, error.what());
  }
  if (h.tag != tag) {
    ++recoveries_;
    last_recovery_ = fmt::format("bTag {} answered with {}", tag, h.tag);
    clear_with(Deadline::after(settings_.recovery_timeout));
    throw ProtocolError({name(), "DEV_DEP_MSG_IN", deadline.budget()},
                        fmt::format("reply carries bTag {}, the request had bTag {} (USBTMC 1.0 "
                                    "3.3: the device echoes the request's bTag)",
                                    h.tag, tag));
  }
  if (h.transfer_size > settings_.max_transfer) {
    ++recoveries_;
    last_recovery_ = "transfer size too large";
    clear_with(Deadline::after(settings_.recovery_timeout));
    throw ProtocolError({name(), "DEV_DEP_MSG_IN", deadline.budget()},
                        fmt::format("TransferSize {} exceeds the {} bytes asked for",
                                    h.transfer_size, settings_.max_transfer));
  }
  Bytes payload(first.data.begin() + header_size, first.data.end());
  // A USB transfer that filled its URB may go on in the next one (only the first has a
  // header); one that came back short ended there (a short packet ends a bulk transfer,
  // USB 2.0 5.8.3), so a payload still short of TransferSize is the device's error, not
  // something to wait for.
  std::size_t last_chunk = first.data.size();
  while (payload.size() < h.transfer_size) {
    if (last_chunk < want) {
      ++recoveries_;
      last_recovery_ = "transfer ended short";
      clear_with(Deadline::after(settings_.recovery_timeout));
      throw ProtocolError({name(), "DEV_DEP_MSG_IN", deadline.budget()},
                          fmt::format("the bulk-in transfer ended (short packet) after {} of "
                                      "the {} bytes of its header's TransferSize",
                                      payload.size(), h.transfer_size));
    }
    UsbResult more = usb_->bulk_in(ep.bulk_in, want, deadline);
    if (more.status != UsbResult::Status::ok) {
      abort_bulk_in(tag);
      return std::nullopt;
    }
    last_chunk = more.data.size();
    payload.insert(payload.end(), more.data.begin(), more.data.end());
  }
  payload.resize(h.transfer_size);  // alignment bytes dropped
  last_eom_ = h.eom;
  return payload;
}

std::size_t UsbtmcTransport::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  while (pending_at_ >= pending_.size()) {
    if (deadline.expired()) return 0;
    std::optional<Bytes> payload = request_transfer(deadline);
    if (!payload) return 0;
    pending_ = std::move(*payload);
    pending_at_ = 0;
  }
  const std::size_t n = std::min(buf.size(), pending_.size() - pending_at_);
  std::copy_n(pending_.begin() + static_cast<std::ptrdiff_t>(pending_at_), n, buf.begin());
  pending_at_ += n;
  return n;
}

Bytes UsbtmcTransport::read_message(Deadline deadline) {
  Bytes message(pending_.begin() + static_cast<std::ptrdiff_t>(pending_at_), pending_.end());
  const bool had_pending = pending_at_ < pending_.size();
  pending_.clear();
  pending_at_ = 0;
  if (had_pending && last_eom_) {
    record_chunk(Direction::rx, message);
    return message;
  }
  while (true) {
    std::optional<Bytes> payload = request_transfer(deadline);
    if (!payload) {
      throw DeviceTimeout({name(), "read_message", deadline.budget()},
                          message.empty()
                              ? std::string("no answer")
                              : fmt::format("message not ended: {} bytes received, no transfer "
                                            "with EOM (USBTMC 1.0 3.3.1)",
                                            message.size()));
    }
    message.insert(message.end(), payload->begin(), payload->end());
    if (last_eom_) break;
  }
  record_chunk(Direction::rx, message);
  return message;
}

std::size_t UsbtmcTransport::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t done = 0;
  do {
    const std::size_t n = std::min<std::size_t>(bytes.size() - done, settings_.max_transfer);
    const bool eom = done + n == bytes.size();
    const std::uint8_t tag = take_tag();
    const Bytes frame = encode_dev_dep_msg_out(tag, bytes.subspan(done, n), eom);
    const UsbResult sent = usb_->bulk_out(usb_->endpoints().bulk_out, frame, deadline);
    if (sent.status != UsbResult::Status::ok) {
      abort_bulk_out(tag);
      if (sent.status == UsbResult::Status::stall)
        throw ProtocolError({name(), "DEV_DEP_MSG_OUT", deadline.budget()},
                            "the device stalled bulk-out; " + last_recovery_);
      return done;
    }
    done += n;
  } while (done < bytes.size());
  return done;
}

void UsbtmcTransport::do_discard_input() {
  pending_.clear();
  pending_at_ = 0;
}

std::uint8_t UsbtmcTransport::read_status_byte(Deadline deadline) {
  if (!is_usb488())
    throw ProtocolError({name(), "READ_STATUS_BYTE", std::nullopt},
                        "not a USB488 interface (bInterfaceProtocol != 1)");
  status_tag_ = static_cast<std::uint8_t>(status_tag_ >= 127 ? 2 : status_tag_ + 1);
  const Bytes reply =
      class_request(to_interface, request::read_status_byte, status_tag_, 3, deadline);
  if (reply.size() < 3 || reply[0] != status::success || reply[1] != status_tag_)
    throw ProtocolError(
        {name(), "READ_STATUS_BYTE", deadline.budget()},
        fmt::format("bad reply (status {}, {} bytes)", status_name(reply[0]), reply.size()));
  const std::uint8_t interrupt = usb_->endpoints().interrupt_in;
  if (interrupt == 0) return reply[2];
  const UsbResult notify = usb_->interrupt_in(interrupt, 2, deadline);
  if (notify.status == UsbResult::Status::timeout)
    throw DeviceTimeout({name(), "READ_STATUS_BYTE", deadline.budget()},
                        "no interrupt-IN notification");
  if (notify.status != UsbResult::Status::ok || notify.data.size() != 2 ||
      notify.data[0] != (0x80 | status_tag_))
    throw ProtocolError({name(), "READ_STATUS_BYTE", deadline.budget()},
                        "bad interrupt-IN notification (USB488 3.4.2: 0x80|bTag, STB)");
  return notify.data[1];
}

void UsbtmcTransport::ren_control(bool enable, Deadline deadline) {
  if (!capabilities_.ren_control)
    throw ProtocolError({name(), "REN_CONTROL", std::nullopt}, "the device does not offer it");
  const Bytes reply =
      class_request(to_interface, request::ren_control, enable ? 1 : 0, 1, deadline);
  if (reply[0] != status::success)
    throw ProtocolError({name(), "REN_CONTROL", deadline.budget()},
                        "status " + status_name(reply[0]));
}

void UsbtmcTransport::go_to_local(Deadline deadline) {
  if (!capabilities_.ren_control)
    throw ProtocolError({name(), "GO_TO_LOCAL", std::nullopt}, "the device does not offer it");
  const Bytes reply = class_request(to_interface, request::go_to_local, 0, 1, deadline);
  if (reply[0] != status::success)
    throw ProtocolError({name(), "GO_TO_LOCAL", deadline.budget()},
                        "status " + status_name(reply[0]));
}

void UsbtmcTransport::local_lockout(Deadline deadline) {
  if (!capabilities_.ren_control)
    throw ProtocolError({name(), "LOCAL_LOCKOUT", std::nullopt}, "the device does not offer it");
  const Bytes reply = class_request(to_interface, request::local_lockout, 0, 1, deadline);
  if (reply[0] != status::success)
    throw ProtocolError({name(), "LOCAL_LOCKOUT", deadline.budget()},
                        "status " + status_name(reply[0]));
}

void UsbtmcTransport::clear(Deadline deadline) {
  ++recoveries_;
  last_recovery_ = "clear";
  clear_with(deadline);
}

}  // namespace hilbench::usbtmc
