#pragma once
// The meter kind's profile schema (devices/profiles/*.toml with `[device] kind = "meter"`):
// identity, serial line settings, limits, register map and defect knobs of one Modbus
// device. This parser is the only parser of the schema: the Python package builds its
// DeviceProfile from `hilbench-emulator --dump-profile` (profile_to_json below).
//
// Strict on purpose (common/profile_reader.hpp): every error names the file, the key path
// in the form `registers[3].type` and what was expected.
//
// Schema 1, by example in devices/profiles/em1-meter.toml:
//   schema = 1                                        required, must be 1
//   [device]     kind, name, unit                     required; description optional ("")
//                unit is the Modbus slave address 1..247
//   [identity]   vendor, product_code, revision       required (FC43 basic objects)
//                vendor_url, product_name, model,     optional ("" = object absent)
//                serial_number
//   [serial]     baud (9600), data_bits (5..8, 8),    optional table (absent = no RTU side);
//                parity (none|odd|even|mark|space,    every key optional, defaults in ()
//                none), stop_bits (1|2, 1)            (common/serial_line.hpp)
//   [limits]     max_read_registers (1..125),         optional, defaults 125 and 2000
//                max_read_bits (1..2000)
//   [[registers]] table ("input"|"holding"), address, name, type (u16|i16|u32|i32|f32),
//                value required; scale (>0, default 1), unit ("1"), writable (false),
//                word_order ("big"|"little", big: high word first; 32-bit types only),
//                min, max (a live measurement's band, both or neither; value within) optional,
//                free_running ("counter"|"measurement": how a live value moves by itself on a
//                powered, measuring meter; needs min/max) optional
//   [[coils]], [[discrete_inputs]]  address, name, value (bool); coils also writable (false)
//   [iec62056]   optional: the optical port, IEC 62056-21 mode C (meter/iec62056_profile.hpp)
//   [power]      common/power.hpp: nominal_v, min_v, boot_delay_ms    optional
//   [meter]      meter/metrology.hpp: what the registers hold, error model, pulse constant,
//                clock, event log                                    optional
//   [timing]     response_delay_us (0..10000000, 0): every Modbus answer is held back this
//                long (TCP: after the request arrived; RTU: after its t3.5), a known ground
//                truth for latency measurement; max_response_time_ms (1..60000, 100): the
//                declared response-time limit (suites/timing judges it);
//                clock_drift_limit_s_per_day (>= 0, 0 = not declared): the clock
//                accuracy the device claims (e.g. IEC 62054-21's 0.5 [M])   optional
//   [defects]    knob names of meter/defects.hpp only, booleans (default false)
// Point names are unique across the whole profile; addresses may not repeat or overlap
// within a table (a u32 occupies two addresses).
#include <toml++/toml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/defects.hpp"
#include "common/power.hpp"
#include "common/profile_reader.hpp"
#include "common/serial_line.hpp"
#include "meter/defects.hpp"
#include "meter/iec62056_profile.hpp"
#include "meter/metrology.hpp"

namespace hilbench::emu::meter {

enum class RegisterTable : std::uint8_t { input, holding };
enum class ValueType : std::uint8_t { u16, i16, u32, i32, f32 };
/// Order of the two registers of a 32-bit value: big = high word at the lower address.
enum class WordOrder : std::uint8_t { big, little };

std::string_view to_string(RegisterTable table) noexcept;
std::string_view to_string(ValueType type) noexcept;
std::string_view to_string(WordOrder order) noexcept;
/// Number of 16-bit registers a value of this type occupies (1 or 2).
unsigned word_count(ValueType type) noexcept;

struct RegisterSpec {
  RegisterTable table = RegisterTable::holding;
  std::uint16_t address = 0;
  std::string name;
  ValueType type = ValueType::u16;
  double scale = 1.0;
  std::string unit = "1";
  double value = 0.0;  ///< engineering value as declared
  bool writable = false;
  WordOrder word_order = WordOrder::big;  ///< of 32-bit values
  /// A live measurement's declared band (both or neither): a read anywhere in
  /// [band_min, band_max] is right; without a band the value is static and must read exactly.
  std::optional<double> band_min;
  std::optional<double> band_max;
  /// How a live value moves by itself once the meter is powered and measuring: "counter"
  /// (never decreases: energy, clock seconds) or "measurement" (either way); "" = only when
  /// written. Declarative: read by the suites (two reads need not match), not by the model.
  std::string free_running;
  /// The initial register contents in address order (word_order applied). For the integer
  /// types raw = round(value * scale); for f32 the IEEE-754 bits of value * scale.
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

struct Limits {
  unsigned max_read_registers = 125;
  unsigned max_read_bits = 2000;
};

/// [timing]: how fast the device answers Modbus requests.
struct TimingSpec {
  /// Held back before every Modbus answer (ground truth for latency measurement).
  std::chrono::microseconds response_delay{0};
  /// The declared limit from a request's end to the first byte of its answer.
  std::chrono::milliseconds max_response_time{100};
  /// The clock accuracy the device claims (s/day; 0: not declared), judged by suites/timing.
  double clock_drift_limit_s_per_day = 0.0;
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
  /// The optical port (IEC 62056-21 mode C); nullopt: the meter has none.
  std::optional<Iec62056Settings> iec62056;
  PowerSpec power;    ///< [power]: how the device follows its supply
  MeterSpec meter;    ///< [meter]: the measurement model (register names checked)
  TimingSpec timing;  ///< [timing]: answer delay and declared response-time limit
  DefectSet defects;  ///< knobs of defect_table (meter/defects.hpp)
};

/// The register words (in address order, word order applied) that hold `value` (an
/// engineering value) in `spec`'s type and scale; clamped to the type's range.
std::vector<std::uint16_t> encode_value(const RegisterSpec& spec, double value);
/// The engineering value `words` (address order) hold in `spec`'s type, scale, word order.
double decode_value(const RegisterSpec& spec, const std::vector<std::uint16_t>& words);

/// Parses a parsed TOML document of this schema; `file` names it in messages.
DeviceProfile read_profile(const toml::table& document, const std::string& file);
/// Parses a profile file. Throws ProfileError (naming the file and key) on any problem.
DeviceProfile load_profile(const std::filesystem::path& file);
/// Parses profile text; `source_name` stands for the file in messages.
DeviceProfile parse_profile(std::string_view toml_text, std::string_view source_name);

/// The parsed profile as JSON, mirroring the TOML layout with every default filled in
/// (plus `raw`/`words` per register), for `hilbench-emulator --dump-profile`.
nlohmann::ordered_json profile_to_json(const DeviceProfile& profile);

}  // namespace hilbench::emu::meter
