// Modbus client: one request/response transaction at a time over any Transport.
//
// Decisions the header leaves open (also in the report to the lead):
// - Bad arguments (quantity out of the spec range, an address range past 0xFFFF, a read to
//   the RTU broadcast address) throw ConfigError naming device and operation, before
//   anything is sent; no Exchange is recorded because no transaction took place.
// - RTU: before each request the client waits until t3.5 has passed since the line last
//   carried a frame (bounded by the transaction deadline), then drops stale input. The
//   response is read in pieces sized by expected_rtu_response_length; functions whose
//   length is not computable fall back to read_until_silence. Unit 0 is the broadcast
//   address: writes get no answer, so none is awaited.
// - TCP: stale input is dropped before each request. A response carrying the transaction
//   id of an earlier request that timed out is a late answer: it is skipped, once per such
//   id (the last 8 are remembered), and the client keeps reading for its own answer. Any
//   other foreign transaction id is a ProtocolError. Skipped frames appear in the raw chunk
//   capture, not in the Exchange, which holds the answer to its own request.
// - transact() checks framing and addressing only (CRC / MBAP / transaction id / unit); the
//   PDU comes back as received. The typed calls also check function echo, byte counts and
//   echoed address/value, and turn exception responses into ModbusException.
// - Padding bits above the last requested coil/input are ignored, not judged.
// - Transport errors are rethrown as the same type with the Modbus operation as context and
//   the transport step in the detail ("read_exact(7): no answer: 0 of 7 bytes received").
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/transport/serial_line.hpp"

namespace hilbench::modbus {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_rtu_adu = 256;
constexpr std::size_t mbap_size = 7;
constexpr std::uint16_t min_mbap_length = 2;    // unit id + function code
constexpr std::uint16_t max_mbap_length = 254;  // unit id + 253-byte PDU
constexpr std::size_t remembered_abandoned_ids = 8;

// Quantity limits, Modbus Application Protocol V1.1b3 section 6.
constexpr std::uint16_t max_read_bits = 2000;
constexpr std::uint16_t max_read_registers = 125;
constexpr std::uint16_t max_write_coils = 1968;
constexpr std::uint16_t max_write_registers = 123;

constexpr std::uint8_t mei_device_identification = 0x0E;
constexpr std::uint8_t more_follows_yes = 0xFF;
constexpr std::uint8_t more_follows_no = 0x00;

std::uint16_t big_endian_u16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

void append_big_endian_u16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFFU));
}

void append(Bytes& out, const Bytes& piece) { out.insert(out.end(), piece.begin(), piece.end()); }

Pdu address_and_quantity_request(std::uint8_t function, std::uint16_t address,
                                 std::uint16_t quantity) {
  Pdu request{function, {}};
  append_big_endian_u16(request.data, address);
  append_big_endian_u16(request.data, quantity);
  return request;
}

void require_quantity(const ErrorContext& context, std::size_t quantity, std::size_t max_quantity,
                      std::uint16_t address) {
  if (quantity < 1 || quantity > max_quantity) {
    throw ConfigError(context, fmt::format("quantity {} is outside 1..{}", quantity, max_quantity));
  }
  if (address + quantity - 1 > 0xFFFF) {
    throw ConfigError(context, fmt::format("addresses {}..{} run past the last address 65535",
                                           address, address + quantity - 1));
  }
}

std::size_t byte_count_for_bits(std::size_t bits) { return (bits + 7) / 8; }

// One answer to Read Device Identification: the header fields and the objects it carries.
struct DeviceIdentificationPage {
  std::uint8_t conformity_level = 0;
  bool more_follows = false;
  std::uint8_t next_object_id = 0;
  std::vector<std::pair<std::uint8_t, std::string>> objects;
};

// Response data: MEI type, read code, conformity, more follows, next object id, object
// count, then count x (object id, length, value). Every length is checked before use.
DeviceIdentificationPage parse_device_identification(const Bytes& data, std::uint8_t read_code,
                                                     const ErrorContext& context) {
  constexpr std::size_t header_size = 6;
  if (data.size() < header_size) {
    throw ProtocolError(context, fmt::format("device identification answer has {} data bytes, "
                                             "the header alone needs {}",
                                             data.size(), header_size));
  }
  if (data[0] != mei_device_identification) {
    throw ProtocolError(context, fmt::format("MEI type 0x{:02X} does not echo 0x0E", data[0]));
  }
  if (data[1] != read_code) {
    throw ProtocolError(context, fmt::format("read device id code {:02X} does not echo {:02X}",
                                             data[1], read_code));
  }
  if (data[3] != more_follows_yes && data[3] != more_follows_no) {
    throw ProtocolError(context,
                        fmt::format("'more follows' is 0x{:02X}, must be 0x00 or 0xFF", data[3]));
  }
  DeviceIdentificationPage page;
  page.conformity_level = data[2];
  page.more_follows = data[3] == more_follows_yes;
  page.next_object_id = data[4];
  const std::size_t object_count = data[5];
  std::size_t at = header_size;
  for (std::size_t object = 0; object < object_count; ++object) {
    if (at + 2 > data.size()) {
      throw ProtocolError(context, fmt::format("object {} of {}: header missing, answer ends "
                                               "after {} data bytes",
                                               object + 1, object_count, data.size()));
    }
    const std::uint8_t id = data[at];
    const std::size_t length = data[at + 1];
    at += 2;
    if (at + length > data.size()) {
      throw ProtocolError(context, fmt::format("object 0x{:02X} announces {} bytes, only {} follow",
                                               id, length, data.size() - at));
    }
    page.objects.emplace_back(id,
                              std::string(data.begin() + static_cast<std::ptrdiff_t>(at),
                                          data.begin() + static_cast<std::ptrdiff_t>(at + length)));
    at += length;
  }
  if (at != data.size()) {
    throw ProtocolError(context, fmt::format("{} bytes follow the {} announced objects",
                                             data.size() - at, object_count));
  }
  return page;
}

// Judges a normal (non-exception) answer against the request it answers.
void check_response_shape(const Pdu& request, const Pdu& response, const ErrorContext& context) {
  if (response.function != request.function) {
    throw ProtocolError(context, fmt::format("response function 0x{:02X} does not answer request "
                                             "function 0x{:02X}",
                                             response.function, request.function));
  }
  const Bytes& data = response.data;
  const auto check_byte_count = [&](std::size_t expected) {
    if (data.empty()) throw ProtocolError(context, "response has no byte count");
    if (data[0] != expected) {
      throw ProtocolError(context,
                          fmt::format("byte count {} where {} was expected", data[0], expected));
    }
    if (data.size() != 1 + expected) {
      throw ProtocolError(
          context, fmt::format("byte count {} but {} data bytes follow", data[0], data.size() - 1));
    }
  };
  const auto check_echo = [&](std::size_t echoed_bytes, const char* what) {
    const auto expected =
        std::span(request.data).first(std::min(echoed_bytes, request.data.size()));
    if (data.size() != echoed_bytes ||
        !std::equal(expected.begin(), expected.end(), data.begin())) {
      throw ProtocolError(context,
                          fmt::format("response does not echo {}: sent {:02X}, got {:02X}", what,
                                      fmt::join(expected, " "), fmt::join(data, " ")));
    }
  };
  switch (request.function) {
    case function::read_coils:
    case function::read_discrete_inputs:
      check_byte_count(byte_count_for_bits(big_endian_u16(request.data, 2)));
      break;
    case function::read_holding_registers:
    case function::read_input_registers:
      check_byte_count(2 * std::size_t{big_endian_u16(request.data, 2)});
      break;
    case function::write_single_coil:
    case function::write_single_register:
      check_echo(4, "address and value");
      break;
    case function::write_multiple_coils:
    case function::write_multiple_registers:
      check_echo(4, "address and quantity");
      break;
    case function::encapsulated_interface:
      parse_device_identification(data, request.data.at(1), context);
      break;
    default:
      break;
  }
}

std::vector<bool> unpack_bits(const Bytes& data, std::uint16_t count) {
  std::vector<bool> bits(count);
  for (std::size_t bit = 0; bit < count; ++bit) {
    bits[bit] = ((data[1 + bit / 8] >> (bit % 8)) & 1U) != 0;  // data[0] is the byte count
  }
  return bits;
}

std::vector<std::uint16_t> unpack_registers(const Bytes& data, std::uint16_t count) {
  std::vector<std::uint16_t> registers(count);
  for (std::size_t index = 0; index < count; ++index)
    registers[index] = big_endian_u16(data, 1 + 2 * index);
  return registers;
}

const char* category_name(DeviceIdCategory category) {
  switch (category) {
    case DeviceIdCategory::basic:
      return "basic";
    case DeviceIdCategory::regular:
      return "regular";
    case DeviceIdCategory::extended:
      return "extended";
    case DeviceIdCategory::specific:
      return "specific";
  }
  return "unknown";
}

// A transport failure seen from the Modbus operation: the transport step moves into the detail.
std::string detail_in_operation(const HarnessError& failure, const std::string& operation) {
  if (failure.operation().empty() || failure.operation() == operation) return failure.detail();
  return fmt::format("{}: {}", failure.operation(), failure.detail());
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)), options_(options) {
  if (!transport_)
    throw ConfigError({"", "modbus client", std::nullopt}, "transport must not be null");
}

// ---- typed requests -----------------------------------------------------------------------

std::vector<bool> Client::read_coils(std::uint16_t address, std::uint16_t count) {
  const std::string operation = fmt::format("read_coils({}, {})", address, count);
  require_quantity({transport_->name(), operation, std::nullopt}, count, max_read_bits, address);
  return unpack_bits(
      checked_transact(address_and_quantity_request(function::read_coils, address, count),
                       operation)
          .data,
      count);
}

std::vector<bool> Client::read_discrete_inputs(std::uint16_t address, std::uint16_t count) {
  const std::string operation = fmt::format("read_discrete_inputs({}, {})", address, count);
  require_quantity({transport_->name(), operation, std::nullopt}, count, max_read_bits, address);
  return unpack_bits(
      checked_transact(address_and_quantity_request(function::read_discrete_inputs, address, count),
                       operation)
          .data,
      count);
}

std::vector<std::uint16_t> Client::read_holding_registers(std::uint16_t address,
                                                          std::uint16_t count) {
  const std::string operation = fmt::format("read_holding_registers({}, {})", address, count);
  require_quantity({transport_->name(), operation, std::nullopt}, count, max_read_registers,
                   address);
  return unpack_registers(
      checked_transact(
          address_and_quantity_request(function::read_holding_registers, address, count), operation)
          .data,
      count);
}

std::vector<std::uint16_t> Client::read_input_registers(std::uint16_t address,
                                                        std::uint16_t count) {
  const std::string operation = fmt::format("read_input_registers({}, {})", address, count);
  require_quantity({transport_->name(), operation, std::nullopt}, count, max_read_registers,
                   address);
  return unpack_registers(
      checked_transact(address_and_quantity_request(function::read_input_registers, address, count),
                       operation)
          .data,
      count);
}

void Client::write_single_coil(std::uint16_t address, bool value) {
  const std::string operation = fmt::format("write_single_coil({}, {})", address, value);
  constexpr std::uint16_t coil_on = 0xFF00;  // the only two values the spec allows
  constexpr std::uint16_t coil_off = 0x0000;
  checked_transact(address_and_quantity_request(function::write_single_coil, address,
                                                value ? coil_on : coil_off),
                   operation);
}

void Client::write_single_register(std::uint16_t address, std::uint16_t value) {
  const std::string operation = fmt::format("write_single_register({}, {})", address, value);
  checked_transact(address_and_quantity_request(function::write_single_register, address, value),
                   operation);
}

void Client::write_multiple_coils(std::uint16_t address, const std::vector<bool>& values) {
  const std::string operation =
      fmt::format("write_multiple_coils({}, {} values)", address, values.size());
  require_quantity({transport_->name(), operation, std::nullopt}, values.size(), max_write_coils,
                   address);
  Pdu request = address_and_quantity_request(function::write_multiple_coils, address,
                                             static_cast<std::uint16_t>(values.size()));
  const std::size_t byte_count = byte_count_for_bits(values.size());
  request.data.push_back(static_cast<std::uint8_t>(byte_count));
  request.data.resize(request.data.size() + byte_count, 0);
  for (std::size_t bit = 0; bit < values.size(); ++bit) {
    if (values[bit]) request.data[5 + bit / 8] |= static_cast<std::uint8_t>(1U << (bit % 8));
  }
  checked_transact(request, operation);
}

void Client::write_multiple_registers(std::uint16_t address,
                                      const std::vector<std::uint16_t>& values) {
  const std::string operation =
      fmt::format("write_multiple_registers({}, {} values)", address, values.size());
  require_quantity({transport_->name(), operation, std::nullopt}, values.size(),
                   max_write_registers, address);
  Pdu request = address_and_quantity_request(function::write_multiple_registers, address,
                                             static_cast<std::uint16_t>(values.size()));
  request.data.push_back(static_cast<std::uint8_t>(2 * values.size()));
  for (const std::uint16_t value : values) append_big_endian_u16(request.data, value);
  checked_transact(request, operation);
}

DeviceIdentification Client::read_device_identification(DeviceIdCategory category) {
  const auto read_code = static_cast<std::uint8_t>(category);
  DeviceIdentification identification;
  std::set<std::uint8_t> requested_object_ids;
  std::uint8_t object_id =
      0;  // stream access starts at the first object; "specific" reads object 0
  // Each answer names the next object to ask for; a device that names one already asked for
  // would loop forever, so at most 256 requests are ever sent.
  while (true) {
    requested_object_ids.insert(object_id);
    const std::string operation = fmt::format("read_device_identification({}, object 0x{:02X})",
                                              category_name(category), object_id);
    const Pdu response = checked_transact(
        Pdu{function::encapsulated_interface, {mei_device_identification, read_code, object_id}},
        operation);
    const ErrorContext context{transport_->name(), operation, std::nullopt};
    const DeviceIdentificationPage page =
        parse_device_identification(response.data, read_code, context);
    if (requested_object_ids.size() == 1) identification.conformity_level = page.conformity_level;
    for (const auto& [id, value] : page.objects) identification.objects[id] = value;
    if (!page.more_follows) return identification;
    if (requested_object_ids.contains(page.next_object_id)) {
      throw ProtocolError(context,
                          fmt::format("'more follows' names next object 0x{:02X}, which was "
                                      "already requested",
                                      page.next_object_id));
    }
    object_id = page.next_object_id;
  }
}

Pdu Client::transact(const Pdu& request) {
  return raw_transact(request, fmt::format("transact(function 0x{:02X}, {} data bytes)",
                                           request.function, request.data.size()));
}

// ---- one transaction ----------------------------------------------------------------------

Pdu Client::checked_transact(const Pdu& request, const std::string& operation) {
  return run_transaction(request, operation, true);
}

Pdu Client::raw_transact(const Pdu& request, const std::string& operation) {
  return run_transaction(request, operation, false);
}

Pdu Client::run_transaction(const Pdu& request, const std::string& operation, bool check_response) {
  const bool rtu = options_.framing == Framing::rtu;
  const bool broadcast = rtu && options_.unit == 0;
  const ErrorContext context{transport_->name(), operation, std::nullopt};
  if (broadcast && check_response && request.function != function::write_single_coil &&
      request.function != function::write_single_register &&
      request.function != function::write_multiple_coils &&
      request.function != function::write_multiple_registers) {
    throw ConfigError(context, "unit 0 is the RTU broadcast address: only writes may be broadcast");
  }

  Exchange exchange;
  exchange.protocol = "modbus";
  exchange.transport = context.device;
  exchange.operation = operation;
  exchange.fields = {
      {"framing", rtu ? "rtu" : "tcp"}, {"unit", options_.unit}, {"function", request.function}};
  const Deadline deadline = Deadline::after(options_.timeout);
  const ErrorContext timed_context{context.device, operation, options_.timeout};

  const auto record = [&](const char* outcome, const std::string& error) {
    if (rtu) {
      rtu_line_active_ns_ = monotonic_ns();
      rtu_line_suspect_ =
          std::string_view(outcome) != "ok" && std::string_view(outcome) != "device_error";
    }
    exchange.outcome = outcome;
    exchange.error = error;
    if (exchange_sink_) exchange_sink_(exchange);
  };

  try {
    Pdu response =
        rtu ? exchange_rtu(request, deadline, exchange) : exchange_tcp(request, deadline, exchange);
    if (broadcast) {
      record("ok", "");
      return response;
    }
    if (check_response && response.is_exception()) {
      if (response.function != (request.function | 0x80U)) {
        throw ProtocolError(context,
                            fmt::format("exception response function 0x{:02X} does not answer "
                                        "request function 0x{:02X}",
                                        response.function, request.function));
      }
      if (response.data.size() != 1 || response.data[0] == 0) {
        throw ProtocolError(context, fmt::format("malformed exception response: data {:02X}",
                                                 fmt::join(response.data, " ")));
      }
      const std::uint8_t code = response.data[0];
      exchange.fields["exception_code"] = code;
      throw ModbusException(context, request.function, code,
                            fmt::format("exception {:02X} {}", code, exception_name(code)));
    }
    if (check_response) check_response_shape(request, response, context);
    if (response.is_exception() && !response.data.empty())
      exchange.fields["exception_code"] = response.data[0];
    record(response.is_exception() ? "device_error" : "ok", "");
    return response;
  } catch (const ModbusException& failure) {
    record("device_error", failure.what());
    throw;
  } catch (const DeviceTimeout& failure) {
    const DeviceTimeout in_context(timed_context, detail_in_operation(failure, operation));
    record("timeout", in_context.what());
    throw in_context;
  } catch (const ProtocolError& failure) {
    const ProtocolError in_context(context, failure.detail());  // codec errors carry no device
    if (rtu) {
      // The rest of a bad answer may still be on the line: take it now (into the evidence)
      // so it cannot be mistaken for the next answer.
      try {
        const auto rest = transport_->drain_until_quiet(frame_silence(), frame_silence(), deadline);
        exchange.response.insert(exchange.response.end(), rest.bytes.begin(), rest.bytes.end());
      } catch (const HarnessError&) {
        // the transport failed too: the next request reports that
      }
    }
    record("protocol_error", in_context.what());
    throw in_context;
  } catch (const ConnectionClosed& failure) {
    const ConnectionClosed in_context(context, detail_in_operation(failure, operation));
    record("transport_error", in_context.what());
    throw in_context;
  } catch (const TransportError& failure) {
    const TransportError in_context(context, detail_in_operation(failure, operation));
    record("transport_error", in_context.what());
    throw in_context;
  }
}

Nanoseconds Client::frame_silence() const {
  if (options_.rtu_silence > Nanoseconds::zero()) return options_.rtu_silence;
  if (const SerialLine* line = transport_->serial_line()) {
    return rtu_frame_silence(line->line_settings());
  }
  return fallback_rtu_frame_silence;
}

// A master may send only after the line has been idle for t3.5 (Modbus over Serial Line,
// RTU framing). After a clean transaction the idle time is counted from the last frame; after
// a failed one the tail of an answer may still be arriving, so the line is watched and every
// byte restarts the wait (otherwise that tail would be taken for the next answer).
void Client::wait_for_rtu_line_idle(Deadline deadline) {
  const Nanoseconds t35 = frame_silence();
  const Nanoseconds since_active = Nanoseconds(monotonic_ns() - rtu_line_active_ns_);
  transport_->discard_input();  // what already arrived of an earlier, late answer
  if (!rtu_line_suspect_ && since_active >= t35) return;
  const Nanoseconds first = rtu_line_suspect_ ? t35 : t35 - since_active;
  const auto drained = transport_->drain_until_quiet(t35, first, deadline);
  if (!drained.quiet) {
    throw DeviceTimeout(
        {transport_->name(), "", deadline.budget()},
        fmt::format("the line never fell idle for t3.5 ({} stray bytes)", drained.bytes.size()));
  }
  rtu_line_suspect_ = false;
}

Pdu Client::exchange_rtu(const Pdu& request, Deadline deadline, Exchange& exchange) {
  exchange.request = encode_rtu(options_.unit, request);
  wait_for_rtu_line_idle(deadline);
  transport_->write(exchange.request, deadline);
  exchange.request_ns = monotonic_ns();
  rtu_line_active_ns_ = exchange.request_ns;
  if (options_.unit == 0) return Pdu{};  // broadcast: no device answers

  // Read exactly the bytes the answer needs, in pieces sized by what its head announces:
  // address and function first, then a byte count or object headers where the length
  // depends on them, then the rest. No t3.5 wait at the end unless the length is unknowable.
  Bytes& frame = exchange.response;
  append(frame, transport_->read_exact(2, deadline));
  while (true) {
    if (const auto expected = expected_rtu_response_length(frame)) {
      if (*expected > max_rtu_adu) {
        throw ProtocolError(
            {}, fmt::format("response announces {} bytes, more than the {}-byte RTU maximum",
                            *expected, max_rtu_adu));
      }
      if (*expected > frame.size())
        append(frame, transport_->read_exact(*expected - frame.size(), deadline));
      break;
    }
    if (!rtu_response_length_computable(frame)) {
      append(frame,
             transport_->read_until_silence(frame_silence(), max_rtu_adu - frame.size(), deadline));
      break;
    }
    if (frame.size() >= max_rtu_adu) {
      throw ProtocolError({}, fmt::format("no complete response within {} bytes", max_rtu_adu));
    }
    append(frame, transport_->read_exact(1, deadline));
  }
  exchange.response_ns = monotonic_ns();
  rtu_line_active_ns_ = exchange.response_ns;

  auto [unit, response] = decode_rtu(frame);
  if (unit != options_.unit) {
    throw ProtocolError(
        {}, fmt::format("response from unit {} to a request for unit {}", unit, options_.unit));
  }
  return response;
}

Pdu Client::exchange_tcp(const Pdu& request, Deadline deadline, Exchange& exchange) {
  const std::uint16_t transaction_id = next_transaction_id_++;
  exchange.request = encode_tcp(transaction_id, options_.unit, request);
  // An id that has wrapped around is no longer the id of an abandoned request.
  std::erase(abandoned_transaction_ids_, transaction_id);
  transport_->discard_input();  // stale answers that already arrived
  try {
    transport_->write(exchange.request, deadline);
    exchange.request_ns = monotonic_ns();
    while (true) {
      exchange.response.clear();  // holds only the frame being read, not skipped late ones
      append(exchange.response, transport_->read_exact(mbap_size, deadline));
      const std::uint16_t length = big_endian_u16(exchange.response, 4);
      if (length < min_mbap_length || length > max_mbap_length) {
        // Reading `length` bytes would wait for a frame that cannot be Modbus.
        throw ProtocolError({}, fmt::format("MBAP length field {} is outside {}..{}", length,
                                            min_mbap_length, max_mbap_length));
      }
      append(exchange.response, transport_->read_exact(length - 1U, deadline));
      exchange.response_ns = monotonic_ns();
      TcpAdu answer = decode_tcp(exchange.response);
      if (answer.transaction_id != transaction_id) {
        const auto late = std::find(abandoned_transaction_ids_.begin(),
                                    abandoned_transaction_ids_.end(), answer.transaction_id);
        if (late != abandoned_transaction_ids_.end()) {
          abandoned_transaction_ids_.erase(late);
          exchange.response_ns = 0;
          continue;
        }
        throw ProtocolError({}, fmt::format("transaction id {} does not match the request's {}",
                                            answer.transaction_id, transaction_id));
      }
      if (answer.unit != options_.unit) {
        throw ProtocolError({}, fmt::format("response from unit {} to a request for unit {}",
                                            answer.unit, options_.unit));
      }
      return std::move(answer.pdu);
    }
  } catch (const DeviceTimeout&) {
    // Its answer may still come; the next transaction then recognises and skips it.
    if (abandoned_transaction_ids_.size() == remembered_abandoned_ids) {
      abandoned_transaction_ids_.erase(abandoned_transaction_ids_.begin());
    }
    abandoned_transaction_ids_.push_back(transaction_id);
    throw;
  }
}

}  // namespace hilbench::modbus
