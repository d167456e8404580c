#pragma once
// Serial line settings of a device profile's [serial] table, shared by every device kind
// with a serial interface. The schema describes real devices (5..8 data bits, any parity);
// what this emulator can present on a pty-backed umockdev port is a separate question,
// answered by pty_presentation_problem().
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/profile_reader.hpp"

namespace hilbench::emu {

enum class Parity : std::uint8_t { none, odd, even, mark, space };
std::string_view to_string(Parity parity) noexcept;

struct SerialSettings {
  unsigned baud = 9600;
  unsigned data_bits = 8;
  Parity parity = Parity::none;
  unsigned stop_bits = 1;
  /// Bits on the wire per character: start + data + parity + stop.
  unsigned bits_per_character() const noexcept;
};

/// Reads a [serial] table: baud (50..4000000, default 9600), data_bits (5..8, default 8),
/// parity (none|odd|even|mark|space, default none), stop_bits (1|2, default 1).
SerialSettings read_serial_settings(TableReader& reader);

nlohmann::ordered_json to_json(const SerialSettings& serial);

/// Why these settings cannot be presented on a pty-backed port, or nullopt when they can.
/// The pty driver forces CS8 and no parity, so the harness's read-back would refuse any
/// other setting (docs/ARCHITECTURE.md, "Emulated serial ports").
std::optional<std::string> pty_presentation_problem(const SerialSettings& serial);

}  // namespace hilbench::emu
