#pragma once
// SCPI client (IEEE 488.2-1992 message exchange and common commands; SCPI-99 error queue),
// transport-agnostic: raw TCP (port 5025 style) and serial today, USBTMC later — the client
// only needs a byte stream that carries program messages and response messages, so a USBTMC
// transport (which frames messages itself and signals END) slots under it unchanged.
//
// - The codec (below, scpi_codec.cpp) is sans-io: where a response message ends (terminator,
//   definite-length blocks #<n><len><data> that may contain the terminator, indefinite blocks
//   #0<data>), NR1/NR2/NR3 numbers, string response data, arbitrary blocks, error-queue
//   entries (-113,"Undefined header"), *IDN? fields.
// - Client runs one command or query at a time. After every one it drains the error queue
//   (SYST:ERR? until 0,"No error"; at most ClientOptions::max_error_queue entries, more is a
//   ProtocolError: a queue that never empties), and journals the whole transaction as ONE
//   Exchange with protocol "scpi": request = the program message and every SYST:ERR? sent
//   after it, response = every byte read for them, in order; fields = {command, query,
//   response (the command's own response text or null), error_queue [{code, message}],
//   error_queries[, discarded_hex]} (docs/journal-schema.md).
// - Errors: ScpiError (a DeviceError, protocol "scpi", code = the first SCPI error number the
//   queue held, all entries kept), ProtocolError (unparseable response, overlong response,
//   queue that never empties), DeviceTimeout (no complete response before the deadline; when
//   the unanswered query left an error in the queue, ScpiError instead), TransportError.
// - Every I/O step has a deadline: the program message (write, and for a query its complete
//   response) gets ClientOptions::timeout, and so does each SYST:ERR? of the drain after it;
//   a whole transaction is therefore bounded by (2 + max_error_queue) x timeout.
// - Not thread-safe: one client per transport, used from one thread at a time.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hilbench/clock.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/exchange.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench::scpi {

/// One entry of the SCPI error/event queue: `-113,"Undefined header"`. code 0 = "No error".
/// Negative codes are SCPI-99 standard errors (-100..-199 command, -200..-299 execution,
/// -300..-399 device-specific, -400..-499 query), positive ones device-defined.
struct ErrorEntry {
  int code = 0;
  std::string message;
  bool operator==(const ErrorEntry&) const = default;
};

/// The device reported an error through its error queue: a DeviceError with protocol "scpi"
/// and code() = the first non-zero SCPI error number drained; entries() has all of them.
/// Declared here, like modbus::ModbusException, so errors.hpp stays protocol-neutral.
class ScpiError : public DeviceError {
 public:
  ScpiError(ErrorContext context, std::vector<ErrorEntry> entries, const std::string& detail);
  /// The message of the first entry ("Undefined header").
  const std::string& message() const noexcept { return entries_.front().message; }
  const std::vector<ErrorEntry>& entries() const noexcept { return entries_; }

 private:
  std::vector<ErrorEntry> entries_;
};

/// *IDN? response fields (IEEE 488.2 4.1.3.6): manufacturer, model, serial number, firmware
/// level. A field the device does not provide reads "0", as sent.
struct Identity {
  std::string manufacturer;
  std::string model;
  std::string serial_number;
  std::string firmware;
  bool operator==(const Identity&) const = default;
};

/// IEEE 488.2 Standard Event Status Register bits (*ESR?).
namespace esr {
inline constexpr int operation_complete = 1 << 0;
inline constexpr int query_error = 1 << 2;
inline constexpr int device_dependent_error = 1 << 3;
inline constexpr int execution_error = 1 << 4;
inline constexpr int command_error = 1 << 5;
inline constexpr int power_on = 1 << 7;
/// The bits an error of this SCPI code sets (0 for code 0 or positive device codes).
int bit_for_error(int code) noexcept;
}  // namespace esr

/// Status Byte bits (*STB?): error/event queue available (SCPI-99), message available,
/// event status summary, master summary status.
namespace stb {
inline constexpr int error_available = 1 << 2;
inline constexpr int message_available = 1 << 4;
inline constexpr int event_summary = 1 << 5;
inline constexpr int master_summary = 1 << 6;
}  // namespace stb

// ---- sans-io codec -------------------------------------------------------------------

/// The program message as sent: `text` + terminator. Throws ConfigError if `text` contains
/// the terminator (that would be two messages).
Bytes encode_message(std::string_view text, std::string_view terminator);

/// Length of the first complete response message in `buffer`, terminator included, or
/// nullopt when more bytes are needed. A definite-length block (#<n><len><data>) at the start
/// of a response data element is skipped by its length, so its data may contain the
/// terminator; an indefinite block (#0<data>) runs to the terminator (NL^END). Throws
/// ProtocolError for a malformed block header (# not followed by a digit, or a length field
/// that is not digits).
std::optional<std::size_t> find_response_end(std::span<const std::uint8_t> buffer,
                                             std::string_view terminator);

/// The response text without its terminator (and without a trailing CR before an LF
/// terminator, which many instruments send).
std::string strip_terminator(std::span<const std::uint8_t> message, std::string_view terminator);

/// Splits response data elements at commas (outside quoted strings and blocks); leading and
/// trailing blanks of each element are removed.
std::vector<std::string> split_elements(std::string_view response);

/// NR1 (integer). Throws ProtocolError naming the text.
std::int64_t parse_nr1(std::string_view text);
/// NR1, NR2 or NR3 (decimal, optional sign, fraction, exponent). 9.9E37 (SCPI overflow) and
/// 9.91E37 (NaN) are returned as numbers: what they mean is the caller's business.
double parse_number(std::string_view text);
/// String response data: "..." (doubled "" for a quote) or '...'. Throws ProtocolError.
std::string parse_string(std::string_view text);
/// An arbitrary block: #<n><len><data> (definite) or #0<data> (indefinite, up to the end of
/// `text`). Returns the data bytes. Throws ProtocolError (bad header, length mismatch).
Bytes parse_block(std::span<const std::uint8_t> text);
/// One SYST:ERR? answer: `<NR1>,"<message>"`. Throws ProtocolError.
ErrorEntry parse_error_entry(std::string_view text);
/// *IDN? answer: exactly four comma-separated fields. Throws ProtocolError.
Identity parse_identity(std::string_view text);

// ---- client --------------------------------------------------------------------------------

struct ClientOptions {
  /// Per message: a command's write, a query's write + complete response, and each SYST:ERR?
  /// (write + answer) of the drain after it.
  Nanoseconds timeout = std::chrono::seconds(1);
  /// Appended to every program message, and what ends every response message. "\n" (LF) is
  /// the IEEE 488.2 terminator on byte streams; "\r\n" for instruments that want CR LF.
  std::string terminator = "\n";
  /// Drain SYST:ERR? after every command and query (off only for instruments without SCPI
  /// error queues, and for tests).
  bool check_errors = true;
  /// More entries than this and the queue is taken to never empty: ProtocolError.
  std::size_t max_error_queue = 32;
  /// A longer response message is a ProtocolError (bytes, terminator included).
  std::size_t max_response_bytes = std::size_t{16} << 20;
  /// After a transaction that timed out or broke the protocol, the rest of an answer may
  /// still be on its way (SCPI has no transaction ids to tell it apart): the next
  /// transaction first drops input until the line has been quiet this long (bounded by its
  /// deadline; at most half of `timeout`) and records what it dropped (fields.discarded_hex).
  Nanoseconds resync_quiet = std::chrono::milliseconds(100);
};

class Client {
 public:
  Client(std::shared_ptr<Transport> transport, ClientOptions options);

  /// Sends a command (no response expected), then drains the error queue. Throws ScpiError
  /// when the queue held errors.
  void command(std::string_view command);
  /// Sends a query and returns its response text (terminator removed), then drains the error
  /// queue. Throws ScpiError when the queue held errors (the response is in the exchange).
  std::string query(std::string_view query);
  /// query() whose response is one NR1/NR2/NR3 number.
  double query_number(std::string_view query);
  /// query() whose response is one NR1 integer.
  std::int64_t query_integer(std::string_view query);
  /// query() whose response is one arbitrary block; returns its data bytes.
  Bytes query_block(std::string_view query);

  // IEEE 488.2 common commands.
  Identity identify();          ///< *IDN?
  void reset();                 ///< *RST
  void clear_status();          ///< *CLS: clears the event registers and error queue
  bool operation_complete();    ///< *OPC? (true when the device answered 1)
  int event_status_register();  ///< *ESR? (reading clears it on the device)
  int status_byte();            ///< *STB?

  /// Drains the error queue on request (SYST:ERR? until 0): the entries, oldest first,
  /// returned as data (no ScpiError). One exchange, operation "errors()".
  std::vector<ErrorEntry> errors();

  void set_exchange_sink(ExchangeSink sink) { exchange_sink_ = std::move(sink); }
  const ClientOptions& options() const noexcept { return options_; }
  void set_timeout(Nanoseconds timeout) noexcept { options_.timeout = timeout; }
  Transport& transport() noexcept { return *transport_; }

 private:
  std::string transact(std::string_view message, bool is_query, const std::string& operation);
  Bytes read_response(Deadline deadline, Exchange& exchange);
  std::vector<ErrorEntry> drain(Exchange& exchange, const ErrorContext& context);
  void record(Exchange& exchange, const char* outcome, const std::string& error);
  void prepare_line(Exchange& exchange, Deadline deadline);

  std::shared_ptr<Transport> transport_;
  ClientOptions options_;
  ExchangeSink exchange_sink_;
  /// The last transaction timed out or broke the protocol: resynchronise before the next.
  bool line_suspect_ = false;
};

}  // namespace hilbench::scpi
