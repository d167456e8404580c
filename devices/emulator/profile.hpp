#pragma once
// Device profiles of the emulated bench (devices/profiles/*.toml): identity, serial line
// settings, limits, register map and defect knobs of one Modbus device.
//
// The parser is strict on purpose: a profile is evidence input (the suites compare what a
// device reports against what its profile declares), so a typo must stop the run instead of
// silently falling back to a default. Every error names the file, the key path in the form
// `registers[3].type` and what was expected.
//
// Schema 1, by example in devices/profiles/em1-meter.toml:
//   schema = 1                                        required, must be 1
//   [device]     kind, name, unit                     required; description optional ("")
//                unit is the Modbus slave address 1..247
//   [identity]   vendor, product_code, revision       required (FC43 basic objects)
//                vendor_url, product_name, model,     optional ("" = object absent)
//                serial_number
//   [serial]     baud, data_bits (8), parity          optional table (absent = no RTU side);
//                ("none"|"even"|"odd"), stop_bits     when present every key is required
//   [limits]     max_read_registers (1..125),         optional, defaults 125 and 2000
//                max_read_bits (1..2000)
//   [[registers]] table ("input"|"holding"), address, name, type (u16|i16|u32|i32|f32),
//                value required; scale (>0, default 1), unit (""), writable (false) optional
//   [[coils]], [[discrete_inputs]]  address, name, value (bool); coils also writable (false)
//   [defects]    known defect names only, booleans
// Point names are unique across the whole profile; addresses may not repeat or overlap
// within a table (a u32 occupies two addresses).
#include <array>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hilbench::emu {

/// A profile that cannot be used. what() is the full message "FILE: KEY: problem".
class ProfileError : public std::runtime_error {
 public:
  ProfileError(std::string file, std::string key, const std::string& problem);
  const std::string& file() const noexcept { return file_; }
  /// Key path of the offending value (`registers[3].type`); empty for whole-file problems.
  const std::string& key() const noexcept { return key_; }

 private:
  std::string file_;
  std::string key_;
};

enum class RegisterTable : std::uint8_t { input, holding };
enum class ValueType : std::uint8_t { u16, i16, u32, i32, f32 };
enum class Parity : std::uint8_t { none, even, odd };

std::string_view to_string(RegisterTable table) noexcept;
std::string_view to_string(ValueType type) noexcept;
std::string_view to_string(Parity parity) noexcept;
/// Number of 16-bit registers a value of this type occupies (1 or 2).
unsigned word_count(ValueType type) noexcept;

struct RegisterSpec {
  RegisterTable table = RegisterTable::holding;
  std::uint16_t address = 0;
  std::string name;
  ValueType type = ValueType::u16;
  double scale = 1.0;
  std::string unit;
  double value = 0.0;  ///< engineering value as declared
  bool writable = false;
  /// The initial register contents, high word first (big-endian word order). For the
  /// integer types raw = round(value * scale); for f32 the IEEE-754 bits of value * scale.
  std::vector<std::uint16_t> initial_words;
};

struct BitSpec {
  std::uint16_t address = 0;
  std::string name;
  bool value = false;
  bool writable = false;  ///< always false for discrete inputs
};

struct DeviceIdentity {
  std::string vendor;         ///< 0x00 VendorName
  std::string product_code;   ///< 0x01 ProductCode
  std::string revision;       ///< 0x02 MajorMinorRevision
  std::string vendor_url;     ///< 0x03 VendorUrl ("" = not provided)
  std::string product_name;   ///< 0x04 ProductName
  std::string model;          ///< 0x05 ModelName
  std::string serial_number;  ///< 0x80, the first extended object
};

struct SerialSettings {
  unsigned baud = 19200;
  unsigned data_bits = 8;
  Parity parity = Parity::none;
  unsigned stop_bits = 1;
  /// Bits on the wire per character: start + data + parity + stop.
  unsigned bits_per_character() const noexcept;
};

struct Limits {
  unsigned max_read_registers = 125;
  unsigned max_read_bits = 2000;
};

/// Deliberate misbehaviours, each making one conformance requirement fail.
enum class Defect : std::uint8_t {
  illegal_address_returns_data,
  illegal_function_silent,
  illegal_value_accepted,
  bad_crc_answered,
  device_id_wrong_revision,
  tcp_register_skew,
};
inline constexpr std::array all_defects{
    Defect::illegal_address_returns_data, Defect::illegal_function_silent,
    Defect::illegal_value_accepted,       Defect::bad_crc_answered,
    Defect::device_id_wrong_revision,     Defect::tcp_register_skew,
};
std::string_view to_string(Defect defect) noexcept;
std::optional<Defect> defect_from_name(std::string_view name) noexcept;

/// The set of active defects (a tiny bit set; cheap to copy and test on every request).
class DefectSet {
 public:
  bool has(Defect defect) const noexcept { return (bits_ & mask(defect)) != 0; }
  void set(Defect defect, bool on = true) noexcept {
    bits_ = on ? (bits_ | mask(defect)) : (bits_ & ~mask(defect));
  }
  /// Names of the active defects in declaration order.
  std::vector<std::string> names() const;

 private:
  static constexpr std::uint32_t mask(Defect defect) noexcept {
    return std::uint32_t{1} << static_cast<unsigned>(defect);
  }
  std::uint32_t bits_ = 0;
};

struct DeviceProfile {
  std::string source;  ///< file the profile was read from (for messages)
  int schema = 1;
  std::string kind;
  std::string name;
  std::string description;
  std::uint8_t unit = 1;
  DeviceIdentity identity;
  std::optional<SerialSettings> serial;  ///< nullopt: the device has no RTU interface
  Limits limits;
  std::vector<RegisterSpec> registers;
  std::vector<BitSpec> coils;
  std::vector<BitSpec> discrete_inputs;
  DefectSet defects;
};

/// Parses a profile file. Throws ProfileError (naming the file and key) on any problem.
DeviceProfile load_profile(const std::filesystem::path& file);
/// Parses profile text; `source_name` stands for the file in messages.
DeviceProfile parse_profile(std::string_view toml_text, std::string_view source_name);

/// The parsed profile as JSON, mirroring the TOML layout with every default filled in
/// (plus `raw`/`words` per register), for `hilbench-emulator --dump-profile`.
nlohmann::ordered_json profile_to_json(const DeviceProfile& profile);

}  // namespace hilbench::emu
