// USBTMC 1.0 / USB488 1.0 message headers and control replies, sans-io (see usbtmc.hpp).
#include <fmt/format.h>

#include <cstring>

#include "hilbench/protocol/usbtmc.hpp"

namespace hilbench::usbtmc {
namespace {

void put_u32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint32_t get_u32(std::span<const std::uint8_t> bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | bytes[at + static_cast<std::size_t>(i)];
  return value;
}

std::vector<std::uint8_t> header(std::uint8_t msg_id, std::uint8_t tag) {
  std::vector<std::uint8_t> out(header_size, 0);
  out[0] = msg_id;
  out[1] = tag;
  out[2] = static_cast<std::uint8_t>(~tag);
  return out;
}

}  // namespace

std::uint8_t next_tag(std::uint8_t tag) noexcept {
  return tag == 255 ? 1 : static_cast<std::uint8_t>(tag + 1);
}

std::vector<std::uint8_t> encode_dev_dep_msg_out(std::uint8_t tag,
                                                 std::span<const std::uint8_t> payload, bool eom) {
  // Sized once (header + payload + 0..3 alignment bytes of value 0), then filled in.
  std::vector<std::uint8_t> out((header_size + payload.size() + 3) / 4 * 4, 0);
  out[0] = msg::dev_dep_msg_out;
  out[1] = tag;
  out[2] = static_cast<std::uint8_t>(~tag);
  put_u32(out, 4, static_cast<std::uint32_t>(payload.size()));
  out[8] = eom ? 0x01 : 0x00;
  if (!payload.empty()) std::memcpy(out.data() + header_size, payload.data(), payload.size());
  return out;
}

std::vector<std::uint8_t> encode_request_dev_dep_msg_in(std::uint8_t tag,
                                                        std::uint32_t transfer_size,
                                                        std::optional<std::uint8_t> term_char) {
  std::vector<std::uint8_t> out = header(msg::request_dev_dep_msg_in, tag);
  put_u32(out, 4, transfer_size);
  if (term_char) {
    out[8] = 0x02;  // TermCharEnabled
    out[9] = *term_char;
  }
  return out;
}

InHeader decode_in_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < header_size)
    throw DecodeError(
        fmt::format("Bulk-IN transfer of {} bytes: shorter than the 12-byte header", bytes.size()));
  InHeader h;
  h.msg_id = bytes[0];
  h.tag = bytes[1];
  if (h.msg_id != msg::dev_dep_msg_in)
    throw DecodeError(fmt::format("Bulk-IN MsgID {}: expected DEV_DEP_MSG_IN (2)", h.msg_id));
  if (static_cast<std::uint8_t>(~h.tag) != bytes[2])
    throw DecodeError(
        fmt::format("Bulk-IN bTag 0x{:02x} and bTagInverse 0x{:02x} disagree", h.tag, bytes[2]));
  if (bytes[3] != 0 || bytes[9] != 0 || bytes[10] != 0 || bytes[11] != 0)
    throw DecodeError("Bulk-IN header: reserved bytes are not zero");
  h.transfer_size = get_u32(bytes, 4);
  if ((bytes[8] & 0xFC) != 0)
    throw DecodeError(
        fmt::format("Bulk-IN bmTransferAttributes 0x{:02x}: reserved bits set", bytes[8]));
  h.eom = (bytes[8] & 0x01) != 0;
  h.term_char = (bytes[8] & 0x02) != 0;
  return h;
}

Capabilities decode_capabilities(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 24)
    throw DecodeError(fmt::format("GET_CAPABILITIES reply of {} bytes: expected 24", bytes.size()));
  Capabilities c;
  c.status = bytes[0];
  c.bcd_usbtmc = static_cast<std::uint16_t>(bytes[2] | (bytes[3] << 8));
  c.indicator_pulse = (bytes[4] & 0x04) != 0;
  c.talk_only = (bytes[4] & 0x02) != 0;
  c.listen_only = (bytes[4] & 0x01) != 0;
  c.term_char = (bytes[5] & 0x01) != 0;
  c.bcd_usb488 = static_cast<std::uint16_t>(bytes[12] | (bytes[13] << 8));
  c.is_488_2 = (bytes[14] & 0x04) != 0;
  c.ren_control = (bytes[14] & 0x02) != 0;
  c.trigger = (bytes[14] & 0x01) != 0;
  c.scpi = (bytes[15] & 0x08) != 0;
  c.sr1 = (bytes[15] & 0x04) != 0;
  c.rl1 = (bytes[15] & 0x02) != 0;
  c.dt1 = (bytes[15] & 0x01) != 0;
  return c;
}

}  // namespace hilbench::usbtmc
