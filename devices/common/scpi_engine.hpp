#pragma once
// The emulated instruments' SCPI server engine, sans-io: one program message in (text
// without its terminator), the response message out. Shared by the SCPI kinds (dmm, source,
// psu); written from IEEE 488.2-1992 and SCPI-99, independently of the harness's client
// (harness/src/protocol/scpi_*), so the harness is not tested against its own bugs.
//
// What it implements
// - Program messages: units separated by ';'; headers in short or long form, any case
//   (MEAS:VOLT:DC? = measure:voltage:dc?), optional nodes ([SOURce]:VOLTage[:LEVel]), a
//   leading ':' for the root, and the SCPI-99 path rule (a unit after ';' without ':' is
//   relative to the previous unit's path; common commands do not move it). Parameters after
//   white space, comma-separated; numbers in NRf with an optional unit suffix (V, A, DEG with
//   M/U/K multipliers) or MIN/MAX/DEF; booleans ON|OFF|1|0.
// - Responses of the queries in one message joined by ';' (IEEE 488.2 8.4).
// - The error/event queue (SCPI-99 volume 2, 21.8): capacity from the profile; on overflow
//   the newest entry becomes -350,"Queue overflow". Standard codes used: -100 Command error,
//   -102 Syntax error, -104 Data type error, -108 Parameter not allowed, -109 Missing
//   parameter, -113 Undefined header, -200 Execution error, -221 Settings conflict, -222
//   Data out of range, -224 Illegal parameter value, -350 Queue overflow.
// - Status: ESR (bits per error class, OPC), ESE, SRE, STB (EAV bit 2 = queue not empty,
//   ESB bit 5, MSS bit 6); common commands *IDN? *RST *CLS *ESR? *ESE *ESE? *SRE *SRE? *STB?
//   *OPC *OPC? *WAI *TST?; SYSTem:ERRor[:NEXT]? SYSTem:ERRor:COUNt? SYSTem:VERSion?.
//
// Not thread-safe: driven by the one I/O thread of its endpoint.
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hilbench::emu::scpi {

/// A handler's way to refuse a command: the engine queues `code` with `detail`.
class CommandFailure : public std::runtime_error {
 public:
  CommandFailure(int code, const std::string& detail) : std::runtime_error(detail), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Standard error numbers (SCPI-99) and their messages.
namespace error {
inline constexpr int command_error = -100;
inline constexpr int syntax_error = -102;
inline constexpr int data_type_error = -104;
inline constexpr int parameter_not_allowed = -108;
inline constexpr int missing_parameter = -109;
inline constexpr int undefined_header = -113;
inline constexpr int execution_error = -200;
inline constexpr int settings_conflict = -221;
inline constexpr int data_out_of_range = -222;
inline constexpr int illegal_parameter_value = -224;
inline constexpr int queue_overflow = -350;
std::string_view message(int code) noexcept;
}  // namespace error

/// The parameters of one program message unit, with typed accessors that throw
/// CommandFailure with the right standard code.
class Call {
 public:
  Call(std::string header, std::vector<std::string> parameters)
      : header_(std::move(header)), parameters_(std::move(parameters)) {}
  const std::string& header() const noexcept { return header_; }
  std::size_t size() const noexcept { return parameters_.size(); }
  /// -109 with fewer than `min`, -108 with more than `max` parameters.
  void expect(std::size_t min, std::size_t max) const;
  /// Parameter i as a number in [min, max] (-222 outside). MIN/MAX give the bounds, DEF
  /// `fallback`. `unit` ("V", "A", "DEG", "" = none) is the accepted suffix.
  double number(std::size_t i, double min, double max, double fallback,
                std::string_view unit) const;
  /// ON|OFF|1|0 (-224 otherwise).
  bool boolean(std::size_t i) const;
  /// Character data, upper-cased.
  std::string keyword(std::size_t i) const;

 private:
  std::string header_;
  std::vector<std::string> parameters_;
};

/// A command handler: returns the response data for queries ("" for commands).
using Handler = std::function<std::string(const Call&)>;

struct EngineOptions {
  /// *IDN? answer fields.
  std::string manufacturer, model, serial_number, firmware;
  std::size_t error_queue_size = 10;
  /// Defect: errors are queued but never flagged in *ESR? (and so never in STB's ESB).
  bool esr_ignores_errors = false;
};

class Engine {
 public:
  explicit Engine(EngineOptions options);

  /// Registers a header pattern such as "MEASure:VOLTage[:DC]?" (a query) or
  /// "[SOURce]:VOLTage[:LEVel]" (a command); upper case marks the short form.
  void add(std::string_view pattern, Handler handler);
  /// Called by *RST after the engine's own reset (the kind restores its state).
  void on_reset(std::function<void()> reset) { reset_ = std::move(reset); }
  /// Called after every program message, before its response is sent (the world publishes
  /// the instrument's new state there, so a client that saw the answer sees the world too).
  void after_message(std::function<void()> hook) { after_ = std::move(hook); }

  /// Executes one program message; returns the response message without terminator, or
  /// nullopt when it held no query.
  std::optional<std::string> handle(std::string_view message);

  void queue_error(int code, std::string_view detail = {});
  std::size_t queued_errors() const noexcept { return queue_.size(); }
  int event_status() const noexcept { return esr_; }
  int status_byte() const noexcept;

 private:
  struct Node {
    std::string short_form;
    std::string long_form;
    bool optional = false;
  };
  struct Entry {
    std::vector<Node> nodes;
    bool query = false;
    Handler handler;
  };
  std::optional<std::string> handle_units(std::string_view message);
  const Entry* find(const std::vector<std::string>& mnemonics, bool query) const;
  std::optional<std::string> execute_unit(std::string_view unit, std::vector<std::string>& path);
  std::optional<std::string> common_command(const std::string& header, const Call& call);
  std::string next_error();

  EngineOptions options_;
  std::vector<Entry> entries_;
  std::function<void()> reset_;
  std::function<void()> after_;
  std::deque<std::pair<int, std::string>> queue_;
  int esr_ = 0;
  int ese_ = 0;
  int sre_ = 0;
};

/// A response number as instruments send it: "+1.234567890E+01".
std::string format_nr3(double value);

}  // namespace hilbench::emu::scpi
