#pragma once
// IEC 62056-21 (optical / "D0" interface), protocol mode C: sign-on at 300 baud 7E1,
// identification, acknowledgement/option select with a baud-rate switch, data readout with
// BCC check, and programming mode (password P1, read R1, write W1, break B0).
// Facts and their confidence tags: ../shared/reference/metrology-crypto.md §5.3 ("mode C
// table"); the standard itself was not available, so figures tagged [M] there are options
// (ClientOptions) a lab can set from the purchased text, not constants.
//
// - The codec (iec62056_codec.cpp) is sans-io: messages out, bytes in -> values.
//     request         / ? [address] ! CR LF
//     identification  / X X X Z <identifier> CR LF   (XXX manufacturer, Z baud character)
//     ack/option      ACK V Z Y CR LF                 (V protocol control, Y mode)
//     data message    STX <data block> ETX BCC        (readout: data lines, "!" CR LF)
//     command         SOH C D [STX <data> ETX | ETX] BCC   (P1, R1, W1, B0 ...)
//     error answer    STX (ERxx) ETX BCC              -> Iec62056Error
//   BCC = XOR of every byte after the first SOH or STX up to and including ETX (or EOT).
// - Client runs mode C sessions over any Transport. It needs the transport's SerialLine
//   (Transport::serial_line()) to sign on at 300 7E1 and to switch baud after the ACK; a
//   transport without one (an optical head behind a TCP bridge) gets ACKs that keep 300
//   baud. Every session step is journaled as an Exchange with protocol "iec62056-21":
//   request = the bytes sent (a password replaced by '*'), response = the bytes received,
//   fields = {mode ("readout"|"programming"|"command"), address, identification {raw,
//   manufacturer, baud_character, max_baud, reaction_20ms, identifier} | null,
//   baud_switch {from, to, baud_character, switched_ns} | null, bcc_ok (true|false|null: no
//   block), data_sets (count), command, error_code} (docs/journal-schema.md).
// - Errors: Iec62056Error (a DeviceError, protocol "iec62056-21": the device answered
//   (ERxx), NAK, or ended the session with B0), ProtocolError (bad identification, not a
//   mode C device, BCC mismatch, a message that does not start as it must, garbage: e.g. a
//   meter that did not switch baud), DeviceTimeout (no answer within the reaction time, a
//   gap longer than the inter-character time), TransportError (including a baud switch the
//   line refused).
// - Deadlines (all from ClientOptions): first byte of an answer within
//   `reaction_time_max` after the request has crossed the wire, each further byte within
//   `inter_character_max`; the harness itself waits the device's minimum reaction time
//   (20 or 200 ms, from the identification) before each message it sends.
// - Not thread-safe: one client per transport, used from one thread at a time.
#include <chrono>
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
#include "hilbench/transport/serial_line.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench::iec62056 {

/// The protocol name in exchanges and DeviceError::protocol().
inline constexpr std::string_view protocol_name = "iec62056-21";

namespace control {
inline constexpr std::uint8_t soh = 0x01;
inline constexpr std::uint8_t stx = 0x02;
inline constexpr std::uint8_t etx = 0x03;
inline constexpr std::uint8_t eot = 0x04;
inline constexpr std::uint8_t ack = 0x06;
inline constexpr std::uint8_t nak = 0x15;
}  // namespace control

/// Sign-on line settings of mode C: 300 baud, 7 data bits, even parity, 1 stop bit
/// (metrology-crypto.md §5.3, [V]).
inline constexpr int sign_on_baud = 300;
LineSettings sign_on_settings(int baud = sign_on_baud);

/// Minimum reaction time of a device whose identification has an upper-case third letter
/// (200 ms) and of one with a lower-case third letter (20 ms): metrology-crypto.md §5.3,
/// mode C table, "Identification reply" and "Timing" rows ([V]).
inline constexpr Nanoseconds reaction_time_min_standard = std::chrono::milliseconds(200);
inline constexpr Nanoseconds reaction_time_min_fast = std::chrono::milliseconds(20);

/// The device reported an error: an `(ERxx)` answer (code = xx as a number, -1 when the text
/// after ER is not a number), a NAK (code = -2) or a break B0 from the device (code = -3).
/// Declared here, like modbus::ModbusException, so errors.hpp stays protocol-neutral.
class Iec62056Error : public DeviceError {
 public:
  static constexpr int nak_code = -2;
  static constexpr int break_code = -3;
  Iec62056Error(ErrorContext context, int code, std::string text, const std::string& detail);
  /// What the device sent: "ER05", "NAK", "B0".
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

// ---- sans-io codec -------------------------------------------------------------------

/// Mode C baud rate of an identification/ACK baud character: '0' 300, '1' 600, '2' 1200,
/// '3' 2400, '4' 4800, '5' 9600, '6' 19200 (metrology-crypto.md §5.3, [V]); nullopt for
/// any other character (mode A/B characters included).
std::optional<int> mode_c_baud(char character) noexcept;
/// The mode C baud character of `baud`, nullopt when the table has none.
std::optional<char> mode_c_character(int baud) noexcept;

/// XOR of `bytes`.
std::uint8_t bcc(std::span<const std::uint8_t> bytes) noexcept;

/// `/?<address>!CRLF`. The address (0..32 characters, printable ASCII without / ? !) may be
/// empty ("any device"). Throws ConfigError for a bad address.
Bytes encode_request(std::string_view address);
/// `ACK V Z Y CR LF`. protocol_control '0' normal; baud_character the mode C character;
/// mode '0' data readout, '1' programming. Throws ConfigError for a character outside
/// '0'..'9'.
Bytes encode_ack(char baud_character, char mode, char protocol_control = '0');
/// A command message: `SOH <command> STX <data> ETX BCC`, or `SOH <command> ETX BCC` when
/// `data` is nullopt (B0). `command` is two characters (P1, R1, W1, B0, ...). Throws
/// ConfigError for a bad command or data holding a control character.
Bytes encode_command(std::string_view command, std::optional<std::string_view> data);

struct Identification {
  std::string raw;           ///< the message without CR LF
  std::string manufacturer;  ///< XXX
  char baud_character = '0';
  /// The device's highest mode C baud rate, from the baud character.
  int max_baud = 300;
  /// Third letter of the manufacturer in lower case: the device reacts within 20 ms.
  bool reaction_20ms = false;
  std::string identifier;  ///< after Z; may hold an escape sequence "\W" (kept as sent)
  Nanoseconds reaction_time_min() const noexcept {
    return reaction_20ms ? reaction_time_min_fast : reaction_time_min_standard;
  }
};

/// Length of the identification message in `buffer` (through CR LF), or nullopt while it is
/// incomplete.
std::optional<std::size_t> find_line_end(std::span<const std::uint8_t> buffer) noexcept;
/// Parses `/XXXZ<identifier>CRLF` (CR LF may be absent). Throws ProtocolError: no '/',
/// manufacturer not three letters, baud character not a mode C one (a mode A/B device),
/// control characters in the identifier, longer than 1 + 3 + 1 + 16 characters.
Identification parse_identification(std::span<const std::uint8_t> message);

/// A block message: SOH/STX ... ETX/EOT BCC.
struct Block {
  std::uint8_t start = control::stx;  ///< SOH (a command) or STX (data)
  std::string command;                ///< after SOH: "P0", "R1", ...; "" for STX blocks
  std::string data;                   ///< between STX and ETX/EOT ("" when absent)
  std::uint8_t end = control::etx;    ///< ETX, or EOT for a partial block
  std::uint8_t bcc_received = 0;
  std::uint8_t bcc_computed = 0;
  bool bcc_ok() const noexcept { return bcc_received == bcc_computed; }
};

/// Length of the first complete block message in `buffer` (through the BCC), or nullopt
/// while it is incomplete. `buffer` must start with SOH or STX (else ProtocolError).
std::optional<std::size_t> find_block_end(std::span<const std::uint8_t> buffer);
/// Splits a complete block message. Does NOT throw on a BCC mismatch (see Block::bcc_ok);
/// throws ProtocolError for a malformed block (no SOH/STX at the start, no ETX/EOT before
/// the BCC, bytes after the BCC, a SOH block without a two-character command).
Block parse_block(std::span<const std::uint8_t> message);

/// One value of a data set: `value*unit` (unit "" when absent).
struct Value {
  std::string value;
  std::string unit;
  bool operator==(const Value&) const = default;
};
/// `address(value*unit)(value*unit)...`: one address and each bracketed value after it. A
/// bracket group without an address of its own belongs to the address before it.
struct DataSet {
  std::string address;  ///< e.g. "1.8.0", "0.9.1", "C.1.0" ("" for an error answer)
  std::vector<Value> values;
  bool operator==(const DataSet&) const = default;
};

/// Parses a data block: data lines separated by CR LF, each with one or more data sets;
/// a line "!" ends a readout (nothing after it). Throws ProtocolError for unbalanced
/// brackets, values holding '(' or control characters, text outside brackets that is not
/// an address, or more than 128 characters in one value.
std::vector<DataSet> parse_data_block(std::string_view data);
/// The code of an error answer `(ERxx)` (xx as a number; -1 when not a number), nullopt when
/// `data` is not one. An error answer is a block holding only `(ER...)`, optionally
/// followed by CR LF.
std::optional<int> error_answer_code(std::string_view data);

struct Readout {
  Identification identification;
  std::vector<DataSet> data_sets;
  Bytes message;            ///< the readout message as received, STX through BCC
  int baud = sign_on_baud;  ///< the baud rate the readout came at
  /// The first value of the first data set with `address`; nullopt when there is none.
  std::optional<Value> find(std::string_view address) const;
};

// ---- client --------------------------------------------------------------------------------

struct ClientOptions {
  /// The device address put in the request ("" = whichever device is on the line).
  std::string address;
  /// Highest baud rate to switch to; the session uses min(this, the device's), from the
  /// mode C table. 300 keeps the sign-on speed.
  int max_baud = 19200;
  /// Longest reaction time of the device: from the end of a message to the first byte of
  /// its answer. 1500 ms: metrology-crypto.md §5.3, Timing row, tagged [M] (to verify against
  /// the purchased standard), hence an option.
  Nanoseconds reaction_time_max = std::chrono::milliseconds(1500);
  /// Longest gap between two characters of one message: 1500 ms, same row, [M].
  Nanoseconds inter_character_max = std::chrono::milliseconds(1500);
  /// Waited after the ACK's last character has left the UART before the baud switch (a
  /// USB-serial adapter still holding bytes in its FIFO may need more: j62056 waits 250 ms).
  /// Keep it below the device's minimum reaction time (20 ms for a fast device).
  Nanoseconds baud_switch_margin = std::chrono::milliseconds(5);
  /// A longer message is a ProtocolError.
  std::size_t max_message_bytes = 64 * 1024;
  /// After a failed session the line may still carry the device's answer: the next session
  /// first waits until the line has been quiet this long (bounded by `resync_budget`).
  Nanoseconds resync_quiet = std::chrono::milliseconds(300);
  Nanoseconds resync_budget = std::chrono::seconds(30);
};

class Client {
 public:
  Client(std::shared_ptr<Transport> transport, ClientOptions options);

  /// A whole readout session: sign-on, identification, ACK '0' Z '0', baud switch, the
  /// readout (BCC checked), back to the sign-on settings. One exchange, mode "readout".
  /// Throws ProtocolError on a BCC mismatch (the data sets stay in the exchange's fields),
  /// Iec62056Error on an (ERxx) answer.
  Readout readout();
  /// Sign-on and identification only, then lets the session lapse (no ACK: the device
  /// returns to its initial state after its time-out). One exchange, mode "identification".
  Identification identify();

  /// Opens a programming session: sign-on, ACK '0' Z '1', baud switch, the device's P0
  /// message, then P1 with `password`; the device must answer ACK. Returns the P0 operand
  /// (the device's password seed or serial, brackets removed). Throws Iec62056Error when the
  /// password is refused (NAK, (ERxx) or B0). One exchange, mode "programming", command "P1".
  std::string open_programming(std::string_view password);
  /// R1: reads `address` (e.g. "0.9.1"); throws Iec62056Error on (ERxx). Needs an open
  /// programming session. One exchange, command "R1".
  DataSet read_register(std::string_view address);
  /// W1: writes `value` to `address`; the device must answer ACK. One exchange, "W1".
  void write_register(std::string_view address, std::string_view value);
  /// B0: ends the programming session (no answer expected) and returns the line to the
  /// sign-on settings. Harmless without a session. One exchange, "B0".
  void end_programming();
  bool programming() const noexcept { return programming_; }

  void set_exchange_sink(ExchangeSink sink) { exchange_sink_ = std::move(sink); }
  const ClientOptions& options() const noexcept { return options_; }
  Transport& transport() noexcept { return *transport_; }

 private:
  Identification sign_on(Exchange& exchange);
  void acknowledge(Exchange& exchange, const Identification& id, char mode);
  void send(Exchange& exchange, const Bytes& message, std::size_t redact_from = 0,
            std::size_t redact_count = 0);
  /// Reads one answer: ACK, NAK, or a block (SOH/STX ... BCC).
  Bytes read_answer(Exchange& exchange, bool line_message = false);
  void wait_reaction_time();
  void restore_sign_on_line();
  void prepare_line(Exchange& exchange);
  void record(Exchange& exchange, const char* outcome, const std::string& error);
  template <typename Body>
  auto run(const std::string& operation, const char* mode, Body&& body);

  std::shared_ptr<Transport> transport_;
  ClientOptions options_;
  ExchangeSink exchange_sink_;
  /// A new client does not know what the line carries (an earlier client's session may
  /// still be answering): its first session waits for a quiet line too.
  bool line_suspect_ = true;
  bool programming_ = false;
  Nanoseconds device_reaction_min_ = reaction_time_min_standard;
  std::int64_t last_received_ns_ = 0;  ///< end of the device's last message
  std::int64_t last_sent_end_ns_ = 0;  ///< when our last message's last bit left the wire
};

}  // namespace hilbench::iec62056
