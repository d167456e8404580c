// Sans-io Modbus codec: CRC, RTU and MBAP framing, RTU response lengths. No transport here.
//
// Encoders frame any PDU the framing can represent, oversized ones included: Client::transact
// exists to send malformed requests on purpose. Decoders enforce the spec limits (RTU ADU
// <= 256 bytes, TCP ADU <= 260 bytes) because they judge what a device sent.
#include <fmt/format.h>

#include <array>
#include <limits>
#include <stdexcept>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"

namespace hilbench::modbus {
namespace {

constexpr std::size_t max_rtu_adu = 256;  // address + PDU (253) + CRC (2)
constexpr std::size_t max_tcp_adu = 260;  // MBAP (7) + PDU (253)
constexpr std::size_t mbap_size = 7;
constexpr std::size_t rtu_crc_size = 2;

constexpr std::array<std::uint16_t, 256> make_crc_table() {
  std::array<std::uint16_t, 256> table{};
  for (std::size_t byte = 0; byte < table.size(); ++byte) {
    auto crc = static_cast<std::uint16_t>(byte);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1U) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001U)
                            : static_cast<std::uint16_t>(crc >> 1);
    }
    table[byte] = crc;
  }
  return table;
}
constexpr auto crc_table = make_crc_table();

std::uint16_t big_endian_u16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

void append_big_endian_u16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFFU));
}

[[noreturn]] void reject(const std::string& operation, const std::string& detail) {
  throw ProtocolError({"", operation, std::nullopt}, detail);
}

// Response length of a Read Device Identification (MEI 0x0E) RTU answer, walking the
// object headers: address, 0x2B, 0x0E, code, conformity, more follows, next id, count, then
// count x (id, length, value), then the CRC.
std::optional<std::size_t> device_identification_rtu_length(std::span<const std::uint8_t> head) {
  constexpr std::size_t object_list_offset = 8;
  if (head.size() < object_list_offset) return std::nullopt;
  const std::size_t object_count = head[7];
  std::size_t length = object_list_offset;
  for (std::size_t object = 0; object < object_count; ++object) {
    if (head.size() < length + 2) return std::nullopt;
    length += 2 + head[length + 1];
    // A frame announcing more than an ADU can hold is already known to be too long: report
    // it now instead of asking for bytes that must never be waited for.
    if (length > max_rtu_adu) return length + rtu_crc_size;
  }
  return length + rtu_crc_size;
}

}  // namespace

ModbusException::ModbusException(ErrorContext context, std::uint8_t function, std::uint8_t code,
                                 const std::string& detail)
    : DeviceError(std::move(context), "modbus", code, detail), function_(function) {}

Nanoseconds rtu_frame_silence(const LineSettings& line) noexcept {
  // Modbus over serial line V1.02, 2.5.1.1: above 19200 baud t3.5 is fixed at 1.75 ms.
  if (line.baud > 19200) return fallback_rtu_frame_silence;
  return character_time(line) * 7 / 2;
}

std::string exception_name(std::uint8_t code) {
  switch (code) {
    case exception_code::illegal_function:
      return "ILLEGAL FUNCTION";
    case exception_code::illegal_data_address:
      return "ILLEGAL DATA ADDRESS";
    case exception_code::illegal_data_value:
      return "ILLEGAL DATA VALUE";
    case exception_code::server_device_failure:
      return "SERVER DEVICE FAILURE";
    case exception_code::acknowledge:
      return "ACKNOWLEDGE";
    case exception_code::server_device_busy:
      return "SERVER DEVICE BUSY";
    case exception_code::memory_parity_error:
      return "MEMORY PARITY ERROR";
    case exception_code::gateway_path_unavailable:
      return "GATEWAY PATH UNAVAILABLE";
    case exception_code::gateway_target_failed:
      return "GATEWAY TARGET DEVICE FAILED TO RESPOND";
    default:
      return "UNKNOWN";
  }
}

std::uint16_t crc16(std::span<const std::uint8_t> bytes) noexcept {
  std::uint16_t crc = 0xFFFF;
  for (const std::uint8_t byte : bytes) {
    crc = static_cast<std::uint16_t>((crc >> 8) ^ crc_table[(crc ^ byte) & 0xFFU]);
  }
  return crc;
}

Bytes encode_rtu(std::uint8_t unit, const Pdu& pdu) {
  Bytes adu;
  adu.reserve(2 + pdu.data.size() + rtu_crc_size);
  adu.push_back(unit);
  adu.push_back(pdu.function);
  adu.insert(adu.end(), pdu.data.begin(), pdu.data.end());
  const std::uint16_t crc = crc16(adu);
  adu.push_back(static_cast<std::uint8_t>(crc & 0xFFU));  // low byte first (serial line spec)
  adu.push_back(static_cast<std::uint8_t>(crc >> 8));
  return adu;
}

std::pair<std::uint8_t, Pdu> decode_rtu(std::span<const std::uint8_t> adu) {
  constexpr std::size_t min_rtu_adu = 4;  // address, function, CRC
  if (adu.size() < min_rtu_adu) {
    reject("decode_rtu", fmt::format("RTU frame of {} bytes is shorter than the minimum {}",
                                     adu.size(), min_rtu_adu));
  }
  if (adu.size() > max_rtu_adu) {
    reject("decode_rtu",
           fmt::format("RTU frame of {} bytes exceeds the maximum {}", adu.size(), max_rtu_adu));
  }
  const auto body = adu.first(adu.size() - rtu_crc_size);
  const auto received =
      static_cast<std::uint16_t>(adu[adu.size() - 2] | (adu[adu.size() - 1] << 8));
  const std::uint16_t computed = crc16(body);
  if (received != computed) {
    reject("decode_rtu", fmt::format("CRC mismatch: frame carries 0x{:04X}, computed 0x{:04X}",
                                     received, computed));
  }
  return {adu[0], Pdu{adu[1], Bytes(body.begin() + 2, body.end())}};
}

Bytes encode_tcp(std::uint16_t transaction_id, std::uint8_t unit, const Pdu& pdu) {
  // The length field counts the unit id, the function code and the data.
  const std::size_t length = 2 + pdu.data.size();
  if (length > std::numeric_limits<std::uint16_t>::max()) {
    throw std::invalid_argument(
        fmt::format("encode_tcp: PDU data of {} bytes does not fit the 16-bit MBAP length field",
                    pdu.data.size()));
  }
  Bytes adu;
  adu.reserve(mbap_size + 1 + pdu.data.size());
  append_big_endian_u16(adu, transaction_id);
  append_big_endian_u16(adu, 0);  // protocol id: Modbus
  append_big_endian_u16(adu, static_cast<std::uint16_t>(length));
  adu.push_back(unit);
  adu.push_back(pdu.function);
  adu.insert(adu.end(), pdu.data.begin(), pdu.data.end());
  return adu;
}

TcpAdu decode_tcp(std::span<const std::uint8_t> adu) {
  constexpr std::size_t min_tcp_adu = mbap_size + 1;  // MBAP + function
  if (adu.size() < min_tcp_adu) {
    reject("decode_tcp", fmt::format("TCP ADU of {} bytes is shorter than the minimum {}",
                                     adu.size(), min_tcp_adu));
  }
  if (adu.size() > max_tcp_adu) {
    reject("decode_tcp",
           fmt::format("TCP ADU of {} bytes exceeds the maximum {}", adu.size(), max_tcp_adu));
  }
  const std::uint16_t protocol_id = big_endian_u16(adu, 2);
  if (protocol_id != 0) {
    reject("decode_tcp", fmt::format("MBAP protocol id is {}, Modbus requires 0", protocol_id));
  }
  const std::uint16_t length = big_endian_u16(adu, 4);
  if (length != adu.size() - 6) {
    reject("decode_tcp", fmt::format("MBAP length field says {} bytes follow, frame has {}", length,
                                     adu.size() - 6));
  }
  return TcpAdu{big_endian_u16(adu, 0), adu[6], Pdu{adu[7], Bytes(adu.begin() + 8, adu.end())}};
}

std::optional<std::size_t> expected_rtu_response_length(std::span<const std::uint8_t> head) {
  if (head.size() < 2) return std::nullopt;
  const std::uint8_t function_code = head[1];
  if ((function_code & 0x80U) != 0) return 5;  // address, function, exception code, CRC
  switch (function_code) {
    // address, function, byte count, data, CRC
    case function::read_coils:
    case function::read_discrete_inputs:
    case function::read_holding_registers:
    case function::read_input_registers:
    case 0x0C:  // get comm event log
    case 0x11:  // report server id
    case 0x14:  // read file record
    case 0x15:  // write file record
    case 0x17:  // read/write multiple registers
      if (head.size() < 3) return std::nullopt;
      return 3 + std::size_t{head[2]} + rtu_crc_size;
    // address, function, two 16-bit fields, CRC
    case function::write_single_coil:
    case function::write_single_register:
    case function::write_multiple_coils:
    case function::write_multiple_registers:
    case 0x0B:  // get comm event counter
      return 8;
    case 0x07:  // read exception status: one status byte
      return 5;
    case 0x16:  // mask write register: address, and-mask, or-mask
      return 10;
    case 0x18:  // read FIFO queue: 16-bit byte count
      if (head.size() < 4) return std::nullopt;
      return 4 + std::size_t{big_endian_u16(head, 2)} + rtu_crc_size;
    case function::encapsulated_interface:
      if (head.size() < 3 || head[2] != 0x0E) return std::nullopt;
      return device_identification_rtu_length(head);
    default:
      return std::nullopt;
  }
}

bool rtu_response_length_computable(std::span<const std::uint8_t> head) noexcept {
  if (head.size() < 2) return true;
  const std::uint8_t function_code = head[1];
  if ((function_code & 0x80U) != 0) return true;
  switch (function_code) {
    case function::read_coils:
    case function::read_discrete_inputs:
    case function::read_holding_registers:
    case function::read_input_registers:
    case function::write_single_coil:
    case function::write_single_register:
    case 0x07:
    case 0x0B:
    case 0x0C:
    case function::write_multiple_coils:
    case function::write_multiple_registers:
    case 0x11:
    case 0x14:
    case 0x15:
    case 0x16:
    case 0x17:
    case 0x18:
      return true;
    case function::encapsulated_interface:
      return head.size() < 3 || head[2] == 0x0E;  // only device identification is walkable
    default:
      return false;
  }
}

}  // namespace hilbench::modbus
