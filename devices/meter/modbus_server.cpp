#include "meter/modbus_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>

namespace hilbench::emu::meter {

namespace {

// Largest quantities the spec allows per request (they keep the PDU within 253 bytes).
constexpr unsigned spec_max_read_registers = 125;
constexpr unsigned spec_max_read_bits = 2000;
constexpr unsigned spec_max_write_coils = 1968;
constexpr unsigned spec_max_write_registers = 123;
// A defective device that skips the quantity check still has a one-byte byte count.
constexpr unsigned byte_count_max_registers = 127;
constexpr unsigned byte_count_max_bits = 255 * 8;

constexpr std::size_t mbap_header_size = 7;  // transaction, protocol, length, unit
constexpr std::uint16_t mbap_max_length = 1 + max_pdu_size;
constexpr std::uint8_t tcp_any_unit = 0xFF;
constexpr std::uint8_t rtu_broadcast_address = 0;

std::uint16_t be16(std::span<const std::uint8_t> bytes, std::size_t offset) noexcept {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

void put_be16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

Bytes exception_pdu(std::uint8_t function, std::uint8_t code) {
  return Bytes{static_cast<std::uint8_t>(function | 0x80), code};
}

std::string with_wrong_last_digit(std::string revision) {
  auto digit = std::find_if(revision.rbegin(), revision.rend(),
                            [](unsigned char c) { return std::isdigit(c) != 0; });
  if (digit == revision.rend()) return revision + "1";
  *digit = static_cast<char>('0' + ((*digit - '0' + 1) % 10));
  return revision;
}

// Register words of one value one count higher: what the TCP skew defect serves.
std::vector<std::uint16_t> plus_one_count(ValueType type, std::vector<std::uint16_t> words) {
  if (word_count(type) == 1) {
    words[0] = static_cast<std::uint16_t>(words[0] + 1);
    return words;
  }
  std::uint32_t bits = (std::uint32_t{words[0]} << 16) | words[1];
  if (type == ValueType::f32)
    bits = std::bit_cast<std::uint32_t>(std::bit_cast<float>(bits) + 1.0f);
  else
    bits += 1;  // wraps like the device's 32-bit counter would
  return {static_cast<std::uint16_t>(bits >> 16), static_cast<std::uint16_t>(bits & 0xFFFF)};
}

}  // namespace

RtuTiming rtu_timing(const SerialSettings& serial) noexcept {
  using std::chrono::nanoseconds;
  const auto character =
      nanoseconds{std::int64_t{1'000'000'000} * serial.bits_per_character() / serial.baud};
  if (serial.baud > 19200)
    return {character, std::chrono::microseconds{1750}, std::chrono::microseconds{750}};
  return {character, character * 7 / 2, character * 3 / 2};
}

// ---- MBAP stream ------------------------------------------------------------------------

void MbapStreamDecoder::append(std::span<const std::uint8_t> bytes) {
  // Drop consumed bytes before growing, so the buffer stays as small as one frame.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

MbapStreamDecoder::Result MbapStreamDecoder::next() {
  const std::span<const std::uint8_t> pending{buffer_.data() + consumed_, buffered()};
  if (pending.size() >= 4 && be16(pending, 2) != 0)
    return {
        Status::malformed, {}, fmt::format("MBAP protocol id {} (expected 0)", be16(pending, 2))};
  if (pending.size() >= 6) {
    const std::uint16_t length = be16(pending, 4);
    if (length < 2 || length > mbap_max_length)
      return {Status::malformed,
              {},
              fmt::format("MBAP length {} (expected 2..{})", length, mbap_max_length)};
    const std::size_t frame_size = 6u + length;
    if (pending.size() >= frame_size) {
      Result result{Status::frame, Bytes(pending.begin(), pending.begin() + frame_size), {}};
      consumed_ += frame_size;
      return result;
    }
  }
  return {};
}

// ---- server -----------------------------------------------------------------------------

ModbusServer::ModbusServer(DeviceProfile profile) : profile_(std::move(profile)) {
  for (std::size_t index = 0; index < profile_.registers.size(); ++index) {
    const RegisterSpec& spec = profile_.registers[index];
    RegisterMap& map = registers_of(spec.table);
    for (unsigned word = 0; word < spec.initial_words.size(); ++word)
      map.emplace(static_cast<std::uint16_t>(spec.address + word),
                  RegisterCell{index, word, spec.initial_words[word]});
  }
  for (const BitSpec& bit : profile_.coils)
    coils_.emplace(bit.address, BitCell{bit.value, bit.writable});
  for (const BitSpec& bit : profile_.discrete_inputs)
    discrete_inputs_.emplace(bit.address, BitCell{bit.value, false});
}

std::optional<Bytes> ModbusServer::handle_pdu(std::span<const std::uint8_t> pdu, Interface via) {
  auto reply = dispatch_pdu(pdu, via);
  // Tell the device which registers a successful write touched (the clock, for one).
  const bool register_write = !pdu.empty() && (pdu[0] == function_code::write_single_register ||
                                               pdu[0] == function_code::write_multiple_registers);
  if (on_write_ && register_write && reply && !reply->empty() && (reply->front() & 0x80) == 0 &&
      pdu.size() >= 3) {
    const unsigned first = be16(pdu, 1);
    const unsigned quantity =
        pdu[0] == function_code::write_single_register || pdu.size() < 5 ? 1u : be16(pdu, 3);
    for (const RegisterSpec& spec : profile_.registers)
      if (spec.table == RegisterTable::holding && spec.address < first + quantity &&
          first < spec.address + word_count(spec.type))
        on_write_(spec);
  }
  return reply;
}

std::optional<Bytes> ModbusServer::dispatch_pdu(std::span<const std::uint8_t> pdu, Interface via) {
  if (pdu.empty()) return std::nullopt;
  switch (pdu[0]) {
    case function_code::read_coils:
      return read_bits(pdu, coils_, profile_.limits.max_read_bits);
    case function_code::read_discrete_inputs:
      return read_bits(pdu, discrete_inputs_, profile_.limits.max_read_bits);
    case function_code::read_holding_registers:
      return read_registers(pdu, RegisterTable::holding, via);
    case function_code::read_input_registers:
      return read_registers(pdu, RegisterTable::input, via);
    case function_code::write_single_coil:
      return write_single_coil(pdu);
    case function_code::write_single_register:
      return write_single_register(pdu);
    case function_code::write_multiple_coils:
      return write_multiple_coils(pdu);
    case function_code::write_multiple_registers:
      return write_multiple_registers(pdu);
    case function_code::encapsulated_interface:
      return read_device_identification(pdu);
    default:
      return unsupported(pdu[0]);
  }
}

std::optional<Bytes> ModbusServer::unsupported(std::uint8_t function) const {
  if (defect(meter_defect("illegal_function_silent"))) return std::nullopt;
  return exception_pdu(function, exception_code::illegal_function);
}

std::optional<Bytes> ModbusServer::read_bits(std::span<const std::uint8_t> pdu, const BitMap& bits,
                                             unsigned max_quantity) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() != 5) return exception_pdu(function, exception_code::illegal_data_value);
  const unsigned first = be16(pdu, 1);
  unsigned quantity = be16(pdu, 3);

  bool lenient = defect(meter_defect("illegal_address_returns_data"));
  const bool zero_accepted = quantity == 0 && defect(meter_defect("quantity_zero_accepted"));
  if (!zero_accepted && (quantity < 1 || quantity > std::min(spec_max_read_bits, max_quantity))) {
    if (!defect(meter_defect("illegal_value_accepted")))
      return exception_pdu(function, exception_code::illegal_data_value);
    quantity = std::min(quantity, byte_count_max_bits);
    lenient = true;
  }
  // range_crossing_answered: only the start address is checked.
  if (!lenient && defect(meter_defect("range_crossing_answered")) &&
      bits.contains(static_cast<std::uint16_t>(first)))
    lenient = true;
  if (!lenient && !zero_accepted) {
    if (first + quantity > 0x10000)
      return exception_pdu(function, exception_code::illegal_data_address);
    for (unsigned address = first; address < first + quantity; ++address)
      if (!bits.contains(static_cast<std::uint16_t>(address)))
        return exception_pdu(function, exception_code::illegal_data_address);
  }

  unsigned byte_count = (quantity + 7) / 8;
  if (quantity > 0 && quantity % 8 == 0 && defect(meter_defect("bit_byte_count_off_by_one")))
    byte_count = quantity / 8 + 1;
  Bytes reply{function, static_cast<std::uint8_t>(byte_count)};
  reply.resize(2 + byte_count, 0);
  for (unsigned offset = 0; offset < quantity; ++offset) {
    const unsigned address = first + offset;
    if (address > 0xFFFF) break;  // past the address space reads as 0 (lenient only)
    auto found = bits.find(static_cast<std::uint16_t>(address));
    if (found != bits.end() && found->second.value)
      reply[2 + offset / 8] =
          static_cast<std::uint8_t>(reply[2 + offset / 8] | (1u << (offset % 8)));
  }
  return reply;
}

bool ModbusServer::whole_registers(const RegisterMap& map, unsigned first,
                                   unsigned quantity) const {
  if (quantity == 0 || first + quantity > 0x10000) return false;
  auto cell = map.find(static_cast<std::uint16_t>(first));
  if (cell == map.end() || cell->second.word_index != 0) return false;
  for (unsigned address = first; address < first + quantity; ++address, ++cell) {
    if (cell == map.end() || cell->first != address) return false;
  }
  const RegisterCell& last = std::prev(cell)->second;
  return last.word_index + 1 == profile_.registers[last.spec_index].initial_words.size();
}

std::uint16_t ModbusServer::served_word(const RegisterMap& map, std::uint16_t address,
                                        bool skewed) const {
  auto cell = map.find(address);
  if (cell == map.end()) return 0;
  const RegisterSpec& spec = profile_.registers[cell->second.spec_index];
  // The data-model knobs act on the registers the world does not drive (free_running ones
  // are the measurement model's: metrology and the clock read them through the Meter
  // driver), so each breaks HB-DATA-01 and nothing else.
  const bool data_model = spec.free_running.empty();
  if (data_model && spec.band_min && defect(meter_defect("live_value_out_of_band"))) {
    // Every word 0 (a dead sensor), or 0xFFFF when the band holds 0 (a saturated one).
    const bool holds_zero = *spec.band_min <= 0.0 && 0.0 <= *spec.band_max;
    return holds_zero ? 0xFFFF : 0;
  }
  if (data_model && word_count(spec.type) == 2 && defect(meter_defect("word_order_swapped"))) {
    const auto other = static_cast<std::uint16_t>(spec.address + (1 - cell->second.word_index));
    return map.at(other).value;  // the other half: the pair reads in the other word order
  }
  if (!skewed || !data_model) return cell->second.value;
  std::vector<std::uint16_t> words;
  for (unsigned word = 0; word < word_count(spec.type); ++word)
    words.push_back(map.at(static_cast<std::uint16_t>(spec.address + word)).value);
  const bool little = spec.word_order == WordOrder::little && words.size() == 2;
  if (little) std::swap(words[0], words[1]);  // plus_one_count takes the high word first
  words = plus_one_count(spec.type, std::move(words));
  if (little) std::swap(words[0], words[1]);
  return words[cell->second.word_index];
}

std::optional<Bytes> ModbusServer::read_registers(std::span<const std::uint8_t> pdu,
                                                  RegisterTable table, Interface via) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() != 5) return exception_pdu(function, exception_code::illegal_data_value);
  const unsigned first = be16(pdu, 1);
  unsigned quantity = be16(pdu, 3);
  const RegisterMap& map = registers_of(table);

  bool lenient = defect(meter_defect("illegal_address_returns_data"));
  const bool zero_accepted = quantity == 0 && defect(meter_defect("quantity_zero_accepted"));
  if (!zero_accepted && (quantity < 1 || quantity > std::min(spec_max_read_registers,
                                                             profile_.limits.max_read_registers))) {
    if (!defect(meter_defect("illegal_value_accepted")))
      return exception_pdu(function, exception_code::illegal_data_value);
    quantity = std::min(quantity, byte_count_max_registers);
    lenient = true;
  }
  // range_crossing_answered: a range starting on a register's first word is served even
  // when it runs past the end of the map.
  if (!lenient && defect(meter_defect("range_crossing_answered"))) {
    auto start = map.find(static_cast<std::uint16_t>(first));
    lenient = start != map.end() && start->second.word_index == 0;
  }
  if (!lenient && !zero_accepted && !whole_registers(map, first, quantity))
    return exception_pdu(function, exception_code::illegal_data_address);

  const bool skewed = table == RegisterTable::input && via == Interface::tcp &&
                      defect(meter_defect("tcp_register_skew"));
  Bytes reply{function, static_cast<std::uint8_t>(quantity * 2)};
  reply.reserve(2 + quantity * 2);
  for (unsigned offset = 0; offset < quantity; ++offset) {
    const unsigned address = first + offset;
    put_be16(reply,
             address > 0xFFFF ? 0 : served_word(map, static_cast<std::uint16_t>(address), skewed));
  }
  return reply;
}

std::optional<Bytes> ModbusServer::write_single_coil(std::span<const std::uint8_t> pdu) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() != 5) return exception_pdu(function, exception_code::illegal_data_value);
  const std::uint16_t address = be16(pdu, 1);
  const std::uint16_t value = be16(pdu, 3);
  if (value != 0xFF00 && value != 0x0000 && !defect(meter_defect("illegal_value_accepted")))
    return exception_pdu(function, exception_code::illegal_data_value);

  auto coil = coils_.find(address);
  if (coil == coils_.end()) {
    if (!defect(meter_defect("illegal_address_returns_data")))
      return exception_pdu(function, exception_code::illegal_data_address);
  } else if (!coil->second.writable) {
    return exception_pdu(function, exception_code::illegal_data_address);
  } else {
    coil->second.value = value != 0;
  }
  return Bytes(pdu.begin(), pdu.end());  // the normal answer echoes the request
}

std::optional<Bytes> ModbusServer::write_single_register(std::span<const std::uint8_t> pdu) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() != 5) return exception_pdu(function, exception_code::illegal_data_value);
  const std::uint16_t address = be16(pdu, 1);
  const std::uint16_t value = be16(pdu, 3);

  auto cell = holding_registers_.find(address);
  if (cell == holding_registers_.end()) {
    if (!defect(meter_defect("illegal_address_returns_data")))
      return exception_pdu(function, exception_code::illegal_data_address);
    return Bytes(pdu.begin(), pdu.end());  // acknowledged, nothing to store
  }
  const RegisterSpec& spec = profile_.registers[cell->second.spec_index];
  if (!spec.writable) return exception_pdu(function, exception_code::illegal_data_address);
  // One word of a 32-bit value would leave it torn; only the defective map allows it.
  if (word_count(spec.type) != 1 && !defect(meter_defect("illegal_address_returns_data")))
    return exception_pdu(function, exception_code::illegal_data_address);
  cell->second.value = value;
  return Bytes(pdu.begin(), pdu.end());
}

std::optional<Bytes> ModbusServer::write_multiple_coils(std::span<const std::uint8_t> pdu) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() < 6) return exception_pdu(function, exception_code::illegal_data_value);
  const unsigned first = be16(pdu, 1);
  const unsigned quantity = be16(pdu, 3);
  const unsigned byte_count = pdu[5];
  bool consistent = byte_count == (quantity + 7) / 8 && pdu.size() == 6u + byte_count;
  // byte_count_mismatch_accepted: the quantity alone decides, if enough data follows.
  if (!consistent && defect(meter_defect("byte_count_mismatch_accepted")))
    consistent = pdu.size() >= 6u + (quantity + 7) / 8;
  const bool zero_accepted = quantity == 0 && defect(meter_defect("quantity_zero_accepted"));
  const bool in_range = (quantity >= 1 || zero_accepted) && quantity <= spec_max_write_coils;
  if (!consistent || (!in_range && !defect(meter_defect("illegal_value_accepted"))))
    return exception_pdu(function, exception_code::illegal_data_value);

  const bool lenient = defect(meter_defect("illegal_address_returns_data"));
  if (first + quantity > 0x10000 && !lenient)
    return exception_pdu(function, exception_code::illegal_data_address);
  // Check everything before changing anything: a rejected write has no effect.
  for (unsigned address = first; address < first + quantity && address <= 0xFFFF; ++address) {
    auto coil = coils_.find(static_cast<std::uint16_t>(address));
    if (coil == coils_.end() ? !lenient : !coil->second.writable)
      return exception_pdu(function, exception_code::illegal_data_address);
  }
  for (unsigned offset = 0; offset < quantity && first + offset <= 0xFFFF; ++offset) {
    auto coil = coils_.find(static_cast<std::uint16_t>(first + offset));
    if (coil != coils_.end()) coil->second.value = (pdu[6 + offset / 8] >> (offset % 8)) & 1;
  }
  Bytes reply{function};
  put_be16(reply, static_cast<std::uint16_t>(first));
  put_be16(reply, static_cast<std::uint16_t>(quantity));
  return reply;
}

std::optional<Bytes> ModbusServer::write_multiple_registers(std::span<const std::uint8_t> pdu) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() < 6) return exception_pdu(function, exception_code::illegal_data_value);
  const unsigned first = be16(pdu, 1);
  const unsigned quantity = be16(pdu, 3);
  const unsigned byte_count = pdu[5];
  bool consistent = byte_count == quantity * 2 && pdu.size() == 6u + byte_count;
  if (!consistent && defect(meter_defect("byte_count_mismatch_accepted")))
    consistent = pdu.size() >= 6u + quantity * 2;
  const bool zero_accepted = quantity == 0 && defect(meter_defect("quantity_zero_accepted"));
  const bool in_range = (quantity >= 1 || zero_accepted) && quantity <= spec_max_write_registers;
  if (!consistent || (!in_range && !defect(meter_defect("illegal_value_accepted"))))
    return exception_pdu(function, exception_code::illegal_data_value);

  const bool lenient = defect(meter_defect("illegal_address_returns_data"));
  if (!lenient && quantity > 0 && !whole_registers(holding_registers_, first, quantity))
    return exception_pdu(function, exception_code::illegal_data_address);
  for (unsigned address = first; address < first + quantity && address <= 0xFFFF; ++address) {
    auto cell = holding_registers_.find(static_cast<std::uint16_t>(address));
    if (cell != holding_registers_.end() && !profile_.registers[cell->second.spec_index].writable)
      return exception_pdu(function, exception_code::illegal_data_address);
  }
  const bool stored = !defect(meter_defect("write_multiple_registers_not_stored"));
  for (unsigned offset = 0; offset < quantity && first + offset <= 0xFFFF; ++offset) {
    auto cell = holding_registers_.find(static_cast<std::uint16_t>(first + offset));
    // Not stored: the configuration registers; the clock (free_running) still sets, so the
    // knob breaks MODBUS-APP-WRITE and not HB-CLOCK-SET.
    if (cell == holding_registers_.end()) continue;
    if (stored || !profile_.registers[cell->second.spec_index].free_running.empty())
      cell->second.value = be16(pdu, 6 + 2 * offset);
  }
  Bytes reply{function};
  put_be16(reply, static_cast<std::uint16_t>(first));
  put_be16(reply, static_cast<std::uint16_t>(quantity));
  return reply;
}

std::vector<std::pair<std::uint8_t, std::string>> ModbusServer::identification_objects() const {
  const DeviceIdentity& identity = profile_.identity;
  std::vector<std::pair<std::uint8_t, std::string>> objects{
      {0x00, identity.vendor},
      {0x01, identity.product_code},
      {0x02, defect(meter_defect("device_id_wrong_revision"))
                 ? with_wrong_last_digit(identity.revision)
                 : identity.revision},
  };
  const std::array optional_objects{
      std::pair<std::uint8_t, const std::string*>{0x03, &identity.vendor_url},
      std::pair<std::uint8_t, const std::string*>{0x04, &identity.product_name},
      std::pair<std::uint8_t, const std::string*>{0x05, &identity.model},
      std::pair<std::uint8_t, const std::string*>{0x80, &identity.serial_number},
  };
  for (const auto& [id, value] : optional_objects)
    if (!value->empty()) objects.emplace_back(id, *value);
  return objects;
}

std::optional<Bytes> ModbusServer::read_device_identification(std::span<const std::uint8_t> pdu) {
  const std::uint8_t function = pdu[0];
  if (pdu.size() >= 2 && pdu[1] != function_code::mei_read_device_identification)
    return unsupported(function);  // another MEI transport (e.g. CANopen 0x0D)
  if (pdu.size() != 4) return exception_pdu(function, exception_code::illegal_data_value);
  const std::uint8_t read_code = pdu[2];
  const std::uint8_t requested_object = pdu[3];
  if (read_code < 1 || read_code > 4)
    return exception_pdu(function, exception_code::illegal_data_value);

  const auto objects = identification_objects();
  std::vector<std::pair<std::uint8_t, std::string>> selected;
  if (read_code == 4) {  // individual access: exactly the object asked for
    auto found = std::find_if(objects.begin(), objects.end(),
                              [&](const auto& object) { return object.first == requested_object; });
    if (found == objects.end())
      return exception_pdu(function, exception_code::illegal_data_address);
    selected.push_back(*found);
  } else {  // stream access over a category: basic 0x00-0x02, regular -0x7F, extended -0xFF
    const unsigned last_id = read_code == 1 ? 0x02u : read_code == 2 ? 0x7Fu : 0xFFu;
    for (const auto& object : objects)
      if (object.first <= last_id) selected.push_back(object);
    auto start = std::find_if(selected.begin(), selected.end(),
                              [&](const auto& object) { return object.first == requested_object; });
    // An unknown starting object restarts the stream at the beginning (spec 6.21).
    if (start != selected.end()) selected.erase(selected.begin(), start);
  }

  Bytes reply{function,
              function_code::mei_read_device_identification,
              read_code,
              device_id_conformity_level,
              0x00 /* more follows */,
              0x00 /* next object */,
              0x00 /* number of objects */};
  std::uint8_t count = 0;
  for (const auto& [id, value] : selected) {
    if (reply.size() + 2 + value.size() > max_pdu_size) {
      // Split: the client continues with another request starting at `id`.
      reply[4] = 0xFF;
      reply[5] = id;
      break;
    }
    reply.push_back(id);
    reply.push_back(static_cast<std::uint8_t>(value.size()));
    reply.insert(reply.end(), value.begin(), value.end());
    ++count;
  }
  reply[6] = count;
  return reply;
}

std::optional<Bytes> ModbusServer::handle_rtu_frame(std::span<const std::uint8_t> frame) {
  if (gate_ && !gate_()) return std::nullopt;  // unpowered: not a single bit on the line
  if (serial_wedged_) return std::nullopt;
  const bool crc_ok =
      frame.size() >= 4 &&
      static_cast<std::uint16_t>(frame[frame.size() - 2] | (frame[frame.size() - 1] << 8)) ==
          crc16_modbus(frame.first(frame.size() - 2));
  if (!crc_ok) {
    constexpr std::size_t wedge_after = 3;  // malformed frames in a row
    if (++malformed_in_a_row_ >= wedge_after && defect(meter_defect("stops_answering_after_noise")))
      serial_wedged_ = true;
  } else {
    malformed_in_a_row_ = 0;
  }
  if (frame.size() < 4) return std::nullopt;
  const auto body = frame.first(frame.size() - 2);
  if (!crc_ok && !defect(meter_defect("bad_crc_answered"))) {
    // The defect acts on the corrupted request as if it were intact, and stays silent.
    if (defect(meter_defect("bad_crc_executed")) && body[0] == profile_.unit)
      handle_pdu(body.subspan(1), Interface::rtu);
    return std::nullopt;
  }

  const std::uint8_t address = frame[0];
  std::optional<Bytes> reply_pdu;
  if (address == rtu_broadcast_address) {
    reply_pdu = handle_pdu(body.subspan(1), Interface::rtu);                   // writes take effect
    if (!defect(meter_defect("rtu_broadcast_answered"))) return std::nullopt;  // unanswered
  } else if (address == profile_.unit || defect(meter_defect("rtu_other_unit_answered"))) {
    reply_pdu = handle_pdu(body.subspan(1), Interface::rtu);
  } else {
    return std::nullopt;
  }
  // Answers (the defective ones too) always carry the device's own address.
  if (!reply_pdu) return std::nullopt;

  Bytes reply;
  reply.reserve(reply_pdu->size() + 3);
  reply.push_back(profile_.unit);
  reply.insert(reply.end(), reply_pdu->begin(), reply_pdu->end());
  const std::uint16_t crc = crc16_modbus(reply);
  reply.push_back(static_cast<std::uint8_t>(crc & 0xFF));  // CRC goes low byte first
  reply.push_back(static_cast<std::uint8_t>(crc >> 8));
  return reply;
}

void ModbusServer::tcp_client_left_mid_frame() noexcept {
  if (defect(meter_defect("tcp_wedged_by_partial_frame"))) tcp_wedged_ = true;
}

std::optional<Bytes> ModbusServer::handle_tcp_frame(std::span<const std::uint8_t> frame) {
  if (gate_ && !gate_()) return std::nullopt;  // unpowered: no answer
  if (tcp_wedged_) return std::nullopt;
  if (frame.size() < mbap_header_size + 1) return std::nullopt;
  if (be16(frame, 2) != 0) return std::nullopt;
  if (be16(frame, 4) != frame.size() - 6) return std::nullopt;
  const std::uint8_t unit = frame[6];
  if (unit != profile_.unit && unit != tcp_any_unit) return std::nullopt;

  auto reply_pdu = handle_pdu(frame.subspan(mbap_header_size), Interface::tcp);
  if (!reply_pdu) return std::nullopt;
  Bytes reply{frame[0], frame[1], 0x00, 0x00};  // same transaction id, protocol 0
  if (defect(meter_defect("mbap_transaction_id_top_bit_cleared"))) reply[0] &= 0x7F;
  put_be16(reply, static_cast<std::uint16_t>(reply_pdu->size() + 1));
  reply.push_back(defect(meter_defect("mbap_unit_id_not_echoed")) ? profile_.unit : unit);
  reply.insert(reply.end(), reply_pdu->begin(), reply_pdu->end());
  return reply;
}

std::optional<std::uint16_t> ModbusServer::register_word(RegisterTable table,
                                                         std::uint16_t address) const {
  const RegisterMap& map = registers_of(table);
  auto cell = map.find(address);
  if (cell == map.end()) return std::nullopt;
  return cell->second.value;
}

const RegisterSpec* ModbusServer::register_spec(std::string_view name) const {
  for (const RegisterSpec& spec : profile_.registers)
    if (spec.name == name) return &spec;
  return nullptr;
}

bool ModbusServer::set_value(std::string_view name, double value) {
  const RegisterSpec* spec = register_spec(name);
  if (!spec) return false;
  const std::vector<std::uint16_t> words = encode_value(*spec, value);
  RegisterMap& map = registers_of(spec->table);
  for (unsigned word = 0; word < words.size(); ++word)
    map.at(static_cast<std::uint16_t>(spec->address + word)).value = words[word];
  return true;
}

std::optional<double> ModbusServer::value(std::string_view name) const {
  const RegisterSpec* spec = register_spec(name);
  if (!spec) return std::nullopt;
  std::vector<std::uint16_t> words;
  const RegisterMap& map = registers_of(spec->table);
  for (unsigned word = 0; word < word_count(spec->type); ++word)
    words.push_back(map.at(static_cast<std::uint16_t>(spec->address + word)).value);
  return decode_value(*spec, words);
}

void ModbusServer::restore_volatile() {
  for (auto& [address, cell] : holding_registers_) {
    const RegisterSpec& spec = profile_.registers[cell.spec_index];
    if (spec.writable) cell.value = spec.initial_words[cell.word_index];
  }
  for (const BitSpec& bit : profile_.coils) coils_.at(bit.address).value = bit.value;
}

std::optional<bool> ModbusServer::coil(std::uint16_t address) const {
  auto found = coils_.find(address);
  if (found == coils_.end()) return std::nullopt;
  return found->second.value;
}

std::optional<bool> ModbusServer::discrete_input(std::uint16_t address) const {
  auto found = discrete_inputs_.find(address);
  if (found == discrete_inputs_.end()) return std::nullopt;
  return found->second.value;
}

}  // namespace hilbench::emu::meter
