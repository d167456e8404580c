#pragma once
// The meter's IEC 62056-21 mode C server engine (sans-io): bytes in, actions out (a reply to
// send after the reaction time, baud switches of the device's UART). Written from the
// standard's message layout (../shared/reference/metrology-crypto.md §5.3), independently
// of the harness's client codec on purpose: the harness is tested against it.
// Not thread-safe: driven from the emulator's single I/O thread.
//
// Behaviour:
// - Initial state: 300 baud 7E1. `/?!CRLF` or `/?<address>!CRLF` (the profile's address)
//   -> `/XXXZ<identifier>CRLF` (Z = the baud character of max_baud). Other addresses and
//   bytes that are no request are ignored.
// - Then `ACK V Z Y CRLF`: Z must be a mode C character <= the announced one (else the ACK
//   is ignored); the UART switches to Z's baud rate at once (the ACK has been received).
//   Y '0': the data readout `STX <lines> !CRLF ETX BCC`, one line `obis(value*unit)` per
//   [[iec62056.readout]] entry, then back to 300 baud. Y '1': programming mode, the device
//   sends `SOH P0 STX (<serial number>) ETX BCC`.
// - Programming mode: every block's BCC is checked (mismatch -> NAK). `P1 (password)`:
//   right -> ACK, wrong -> NAK and back to the initial state (300 baud). After P1:
//   `R1 obis()` -> `STX obis(value*unit) ETX BCC`, unknown address -> `(ER01)`;
//   `W1 0.9.1(hh:mm:ss)` / `W1 0.9.2(YY-MM-DD)` set the clock -> ACK; a malformed value ->
//   `(ER03)`; any other address -> `(ER02)` (not writable). R1/W1 before P1 -> `(ER04)`.
//   `B0` -> no answer, back to 300 baud. Error codes are this emulator's choice [U].
// - A sign-on request is accepted in any state whose UART is still at 300 baud.
// - The clock: the meter's own (use_clock: a meter in the world, the clock Modbus reads and
//   sets, drift included), else UTC of the host plus an offset that W1 sets.
// - Defects (meter/defects.hpp): iec_identification_wrong_baud_character (the identification
//   announces the next baud character: '6' for a 9600-baud device; ACKs are still judged
//   against the real maximum), iec_bcc_error (the readout's BCC is off by one bit),
//   iec_ignores_baud_switch (the UART stays at 300 baud after the ACK), and
//   iec_password_not_checked (P1 with any password opens programming mode).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/defects.hpp"
#include "meter/iec62056_profile.hpp"

namespace hilbench::emu::meter {

class Iec62056Server {
 public:
  using Bytes = std::vector<std::uint8_t>;
  /// A register's current engineering value by name (nullopt: unknown name).
  using ValueSource = std::function<std::optional<double>(const std::string& register_name)>;

  /// What to do after some received bytes, in order.
  struct Action {
    /// Switch the device UART to this baud rate (7E1) at once, before `reply`.
    std::optional<unsigned> switch_now;
    /// Send after the reaction time (empty: nothing).
    Bytes reply;
    /// Switch the UART to this baud rate once `reply` has been handed to the line.
    std::optional<unsigned> switch_after;
  };

  Iec62056Server(Iec62056Settings settings, DefectSet defects, ValueSource values,
                 std::string serial_number);

  std::vector<Action> on_bytes(std::span<const std::uint8_t> bytes);
  /// No traffic for inactivity_timeout_ms: back to the initial state; the baud rate to
  /// switch the UART to, if it changed.
  std::optional<unsigned> on_inactivity();
  unsigned baud() const noexcept { return baud_; }
  /// The meter's own clock, when it keeps one (a meter in the world: meter/metrology.hpp), so
  /// the optical port reads and sets the same clock as Modbus; seconds since 1970 UTC.
  /// Without it the port keeps a clock of its own: the host's plus what W1 set.
  struct ClockAccess {
    std::function<double()> read_s;
    std::function<void(double)> set_s;
  };
  void use_clock(ClockAccess clock) { clock_ = std::move(clock); }
  /// The control channel switched knobs: they apply from the next byte on.
  void set_defects(const DefectSet& defects) noexcept { defects_ = defects; }
  bool idle() const noexcept { return state_ == State::idle; }
  const Iec62056Settings& settings() const noexcept { return settings_; }
  /// How long the device waits before it answers: the profile's reaction_time_ms, or 5 ms
  /// with the defect iec_reaction_too_fast.
  std::chrono::milliseconds reaction_time() const noexcept;

  /// The readout message as it would be sent now (for tests).
  Bytes readout_message() const;

  static std::uint8_t block_check(std::span<const std::uint8_t> bytes) noexcept;

 private:
  enum class State : std::uint8_t { idle, identified, programming, authorised };
  std::optional<Action> on_initial_byte_stream();
  std::optional<Action> on_block(const Bytes& block);
  std::optional<std::string> value_text(const ReadoutEntry& entry) const;
  std::string data_line(const ReadoutEntry& entry) const;
  std::chrono::system_clock::time_point now() const;
  void shift_clock(std::chrono::system_clock::duration by);
  Bytes data_message(const std::string& data, bool corrupt_bcc = false) const;
  Bytes error_message(int code) const;
  bool defect(DefectId which) const noexcept { return defects_.has(which); }

  Iec62056Settings settings_;
  DefectSet defects_;
  ValueSource values_;
  std::string serial_number_;
  State state_ = State::idle;
  unsigned baud_ = 300;
  Bytes buffer_;
  std::chrono::system_clock::duration clock_offset_{};
  ClockAccess clock_;
};

}  // namespace hilbench::emu::meter
