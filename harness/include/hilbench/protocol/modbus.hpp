#pragma once
// Modbus client (Modbus Application Protocol V1.1b3; Modbus over serial line V1.02;
// Modbus Messaging on TCP/IP V1.0b), transport-agnostic.
//
// - The codec (encode/decode of PDUs and of RTU / MBAP framing) is sans-io: plain bytes.
// - Client runs one request/response transaction at a time over any Transport; RTU framing
//   reads the length the response head announces (expected_rtu_response_length), falling back
//   to read_until_silence with t3.5 (options, else the transport's serial line) where it
//   cannot be known; TCP uses the MBAP length field.
// - Errors: ModbusException, a DeviceError (exception response; carries function and
//   exception code),
//   ProtocolError (bad CRC, bad MBAP, wrong unit / transaction id / function, wrong length),
//   DeviceTimeout (no or incomplete answer before the deadline), TransportError.
// - Every transaction, whatever its outcome, is handed to the exchange sink (journal) as a
//   hilbench::Exchange with protocol "modbus" and fields {framing, unit, function[,
//   exception_code]}.
// - Not thread-safe: one client per transport, used from one thread at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hilbench/clock.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/exchange.hpp"
#include "hilbench/transport/serial_line.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench::modbus {

namespace function {
inline constexpr std::uint8_t read_coils = 0x01;
inline constexpr std::uint8_t read_discrete_inputs = 0x02;
inline constexpr std::uint8_t read_holding_registers = 0x03;
inline constexpr std::uint8_t read_input_registers = 0x04;
inline constexpr std::uint8_t write_single_coil = 0x05;
inline constexpr std::uint8_t write_single_register = 0x06;
inline constexpr std::uint8_t write_multiple_coils = 0x0F;
inline constexpr std::uint8_t write_multiple_registers = 0x10;
inline constexpr std::uint8_t encapsulated_interface = 0x2B;  ///< MEI; type 0x0E = device id
}  // namespace function

namespace exception_code {
inline constexpr std::uint8_t illegal_function = 0x01;
inline constexpr std::uint8_t illegal_data_address = 0x02;
inline constexpr std::uint8_t illegal_data_value = 0x03;
inline constexpr std::uint8_t server_device_failure = 0x04;
inline constexpr std::uint8_t acknowledge = 0x05;
inline constexpr std::uint8_t server_device_busy = 0x06;
inline constexpr std::uint8_t memory_parity_error = 0x08;
inline constexpr std::uint8_t gateway_path_unavailable = 0x0A;
inline constexpr std::uint8_t gateway_target_failed = 0x0B;
}  // namespace exception_code

/// Human name of an exception code ("ILLEGAL DATA ADDRESS"), "UNKNOWN" otherwise.
std::string exception_name(std::uint8_t code);

/// The device answered with a Modbus exception response: a DeviceError with protocol
/// "modbus" and code() = the exception code (1..255). Declared here rather than in
/// errors.hpp because only Modbus knows a function code: errors.hpp stays protocol-neutral,
/// and each protocol's header carries its own DeviceError.
class ModbusException : public DeviceError {
 public:
  ModbusException(ErrorContext context, std::uint8_t function, std::uint8_t code,
                  const std::string& detail);
  std::uint8_t function() const noexcept { return function_; }  ///< request function code

 private:
  std::uint8_t function_;
};

/// Modbus RTU inter-frame silence t3.5 for a line (Modbus over serial line V1.02, 2.5.1.1):
/// 3.5 character times at these settings, fixed at 1750 us above 19200 baud.
Nanoseconds rtu_frame_silence(const LineSettings& line) noexcept;
/// t3.5 where no serial line says otherwise (the spec's value above 19200 baud).
inline constexpr Nanoseconds fallback_rtu_frame_silence = std::chrono::microseconds(1750);

/// Protocol data unit: function code + data, no addressing, no checksum.
struct Pdu {
  std::uint8_t function = 0;
  Bytes data;
  bool is_exception() const noexcept { return (function & 0x80) != 0; }
};

// ---- sans-io codec -------------------------------------------------------------------
/// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). Appended low byte first.
std::uint16_t crc16(std::span<const std::uint8_t> bytes) noexcept;
Bytes encode_rtu(std::uint8_t unit, const Pdu& pdu);
/// Checks length and CRC; throws ProtocolError naming what is wrong.
std::pair<std::uint8_t, Pdu> decode_rtu(std::span<const std::uint8_t> adu);
/// MBAP header: transaction id, protocol id 0, length, unit id.
Bytes encode_tcp(std::uint16_t transaction_id, std::uint8_t unit, const Pdu& pdu);
struct TcpAdu {
  std::uint16_t transaction_id;
  std::uint8_t unit;
  Pdu pdu;
};
/// Checks protocol id and length field; throws ProtocolError.
TcpAdu decode_tcp(std::span<const std::uint8_t> adu);
/// Expected RTU response length for a request's function, from the first bytes of the
/// response (nullopt: need more bytes). Lets a client stop reading without waiting t3.5.
std::optional<std::size_t> expected_rtu_response_length(std::span<const std::uint8_t> head);
/// False when no longer head will let expected_rtu_response_length answer (a function whose
/// response length is not computable, e.g. 0x08 diagnostics): read until t3.5 silence instead.
/// True while it can (or may, once more bytes arrive). `head` holds at least address and function.
bool rtu_response_length_computable(std::span<const std::uint8_t> head) noexcept;

// ---- device identification (FC 43 / MEI 14) ---------------------------------------------
enum class DeviceIdCategory : std::uint8_t { basic = 1, regular = 2, extended = 3, specific = 4 };
struct DeviceIdentification {
  std::uint8_t conformity_level = 0;
  /// Object id -> value. 0x00 VendorName, 0x01 ProductCode, 0x02 MajorMinorRevision,
  /// 0x03 VendorUrl, 0x04 ProductName, 0x05 ModelName, 0x06 UserApplicationName.
  std::map<std::uint8_t, std::string> objects;
};

enum class Framing : std::uint8_t { rtu, tcp };

struct ClientOptions {
  Framing framing = Framing::tcp;
  std::uint8_t unit = 1;                          ///< slave address / unit identifier
  Nanoseconds timeout = std::chrono::seconds(1);  ///< per transaction, request to last byte
  /// RTU only: end-of-frame silence; 0 = derive t3.5 from the transport's serial line
  /// (Transport::serial_line(), through decorators), else fallback_rtu_frame_silence.
  Nanoseconds rtu_silence = Nanoseconds::zero();
};

class Client {
 public:
  Client(std::shared_ptr<Transport> transport, ClientOptions options);

  std::vector<bool> read_coils(std::uint16_t address, std::uint16_t count);
  std::vector<bool> read_discrete_inputs(std::uint16_t address, std::uint16_t count);
  std::vector<std::uint16_t> read_holding_registers(std::uint16_t address, std::uint16_t count);
  std::vector<std::uint16_t> read_input_registers(std::uint16_t address, std::uint16_t count);
  void write_single_coil(std::uint16_t address, bool value);
  void write_single_register(std::uint16_t address, std::uint16_t value);
  void write_multiple_coils(std::uint16_t address, const std::vector<bool>& values);
  void write_multiple_registers(std::uint16_t address, const std::vector<std::uint16_t>& values);
  /// Reads all objects of `category` (follows "more follows" across requests).
  DeviceIdentification read_device_identification(
      DeviceIdCategory category = DeviceIdCategory::basic);

  /// Sends an arbitrary PDU and returns the response PDU as received, exception responses
  /// included (no ModbusException): for tests where malformed requests are the point.
  Pdu transact(const Pdu& request);

  void set_exchange_sink(ExchangeSink sink) { exchange_sink_ = std::move(sink); }
  const ClientOptions& options() const noexcept { return options_; }
  void set_unit(std::uint8_t unit) noexcept { options_.unit = unit; }
  void set_timeout(Nanoseconds timeout) noexcept { options_.timeout = timeout; }
  Transport& transport() noexcept { return *transport_; }
  /// The RTU t3.5 the client uses now: options().rtu_silence if set, else derived from the
  /// transport's serial line at its current settings, else fallback_rtu_frame_silence.
  Nanoseconds frame_silence() const;

 private:
  Pdu checked_transact(const Pdu& request, const std::string& operation);
  Pdu raw_transact(const Pdu& request, const std::string& operation);
  /// One transaction: framing checks always, response-shape checks and ModbusException only
  /// when `check_response`; hands exactly one Exchange to the sink.
  Pdu run_transaction(const Pdu& request, const std::string& operation, bool check_response);
  Pdu exchange_rtu(const Pdu& request, Deadline deadline, Exchange& exchange);
  Pdu exchange_tcp(const Pdu& request, Deadline deadline, Exchange& exchange);
  void wait_for_rtu_line_idle(Deadline deadline);
  std::shared_ptr<Transport> transport_;
  ClientOptions options_;
  std::uint16_t next_transaction_id_ = 1;
  ExchangeSink exchange_sink_;
  /// RTU: monotonic ns when the line last carried a frame; the next request waits t3.5 after it.
  std::int64_t rtu_line_active_ns_ = 0;
  /// RTU: a transaction failed, so the rest of an answer may still be arriving; the next
  /// request first watches the line until it has really been idle for t3.5.
  bool rtu_line_suspect_ = false;
  /// TCP: ids of requests that timed out unanswered; a late answer to one is skipped once.
  std::vector<std::uint16_t> abandoned_transaction_ids_;
};

}  // namespace hilbench::modbus
