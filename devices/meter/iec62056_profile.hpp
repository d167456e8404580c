#pragma once
// The meter profile's optional [iec62056] table: the optical (D0) interface speaking
// IEC 62056-21 mode C (devices/meter/iec62056_server.hpp serves it). Parsed with the rest of
// the profile (meter/profile.cpp calls read_iec62056); absent = the meter has no optical port.
//
//   [iec62056]
//   manufacturer = "HBL"          three letters; a lower-case third letter announces the
//                                 20 ms minimum reaction time (else 200 ms)
//   identifier = "EM1"            after the baud character, 1..16 printable characters
//   max_baud = 9600               the highest mode C baud rate (300, 600, ..., 19200)
//   address = "EM1-2026-000123"   device address accepted in the request ("" = none; the
//                                 request "/?!" without an address is always accepted)
//   password = "00000000"         P1 operand that opens programming mode
//   reaction_time_ms = 200        before every answer (>= the minimum the letter announces)
//   inactivity_timeout_ms = 3000  an open session with no traffic returns to 300 baud
//   [[iec62056.readout]]          the data readout, in this order:
//   obis = "1.8.0"                the data set's address
//   register = "active_energy_import"   a register of the map (its engineering value), or
//   source = "clock_time"         one of clock_time (0.9.1, hh:mm:ss), clock_date
//                                 (0.9.2, YY-MM-DD), serial_number (the identity's)
//   unit = "kWh"                  default: the register's unit ("1" -> none)
//   decimals = 3                  default: from the register's scale (10^n -> n)
#include <optional>
#include <string>
#include <vector>

#include "common/profile_reader.hpp"

namespace hilbench::emu::meter {

struct RegisterSpec;

enum class ReadoutSource : std::uint8_t { register_value, clock_time, clock_date, serial_number };

struct ReadoutEntry {
  std::string obis;
  ReadoutSource source = ReadoutSource::register_value;
  std::string register_name;  ///< for register_value
  std::string unit;           ///< "" = none
  int decimals = 0;
};

struct Iec62056Settings {
  std::string manufacturer;
  std::string identifier;
  unsigned max_baud = 9600;
  char baud_character = '5';
  std::string address;
  std::string password;
  unsigned reaction_time_ms = 200;
  unsigned inactivity_timeout_ms = 3000;
  std::vector<ReadoutEntry> readout;
};

/// Reads the [iec62056] table; `registers` resolves register names (units, decimals).
/// Throws ProfileError naming the key.
Iec62056Settings read_iec62056(TableReader& reader, const std::vector<RegisterSpec>& registers);
nlohmann::ordered_json to_json(const Iec62056Settings& settings);
/// Mode C baud character of `baud`, '\0' when the table has none ('0' 300 ... '6' 19200).
char mode_c_baud_character(unsigned baud) noexcept;
/// Baud rate of a mode C baud character, 0 when it is none.
unsigned mode_c_baud_of(char character) noexcept;

}  // namespace hilbench::emu::meter
