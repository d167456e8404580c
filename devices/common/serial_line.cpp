#include "common/serial_line.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace hilbench::emu {

namespace {

constexpr std::array parities{
    std::pair{std::string_view{"none"}, Parity::none},
    std::pair{std::string_view{"odd"}, Parity::odd},
    std::pair{std::string_view{"even"}, Parity::even},
    std::pair{std::string_view{"mark"}, Parity::mark},
    std::pair{std::string_view{"space"}, Parity::space},
};

}  // namespace

std::string_view to_string(Parity parity) noexcept {
  for (const auto& [name, value] : parities)
    if (value == parity) return name;
  return "?";
}

unsigned SerialSettings::bits_per_character() const noexcept {
  return 1u + data_bits + (parity == Parity::none ? 0u : 1u) + stop_bits;
}

SerialSettings read_serial_settings(TableReader& reader) {
  SerialSettings serial;
  serial.baud = static_cast<unsigned>(reader.optional_integer("baud", 50, 4'000'000, serial.baud));
  serial.data_bits =
      static_cast<unsigned>(reader.optional_integer("data_bits", 5, 8, serial.data_bits));
  serial.parity = reader.optional_choice("parity", parities, serial.parity);
  serial.stop_bits =
      static_cast<unsigned>(reader.optional_integer("stop_bits", 1, 2, serial.stop_bits));
  reader.finish("baud, data_bits, parity, stop_bits");
  return serial;
}

nlohmann::ordered_json to_json(const SerialSettings& serial) {
  return {{"baud", serial.baud},
          {"data_bits", serial.data_bits},
          {"parity", to_string(serial.parity)},
          {"stop_bits", serial.stop_bits}};
}

std::optional<std::string> pty_presentation_problem(const SerialSettings& serial) {
  if (serial.data_bits == 8 && serial.parity == Parity::none) return std::nullopt;
  return fmt::format(
      "{} data bits, parity {} cannot be presented on a pty-backed port (a pty forces 8 data "
      "bits, no parity); serve this profile with --no-serial",
      serial.data_bits, to_string(serial.parity));
}

}  // namespace hilbench::emu
