#include "meter/profile.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace hilbench::emu::meter {

namespace {

// Longest identity string that still fits one FC43 response: PDU 253 bytes minus the
// 7-byte response header minus the object's id and length bytes.
constexpr std::size_t max_identity_length = 253 - 7 - 2;

constexpr std::array register_tables{
    std::pair{std::string_view{"input"}, RegisterTable::input},
    std::pair{std::string_view{"holding"}, RegisterTable::holding},
};
constexpr std::array word_orders{
    std::pair{std::string_view{"big"}, WordOrder::big},
    std::pair{std::string_view{"little"}, WordOrder::little},
};
constexpr std::array free_running_kinds{
    std::pair{std::string_view{"counter"}, std::string_view{"counter"}},
    std::pair{std::string_view{"measurement"}, std::string_view{"measurement"}},
};
constexpr std::array value_types{
    std::pair{std::string_view{"u16"}, ValueType::u16},
    std::pair{std::string_view{"i16"}, ValueType::i16},
    std::pair{std::string_view{"u32"}, ValueType::u32},
    std::pair{std::string_view{"i32"}, ValueType::i32},
    std::pair{std::string_view{"f32"}, ValueType::f32},
};

// Raw register contents for an engineering value, or an error text when it does not fit.
std::vector<std::uint16_t> encode_initial_value(ValueType type, double value, double scale,
                                                std::string& problem) {
  const double scaled = value * scale;
  if (type == ValueType::f32) {
    if (!std::isfinite(scaled) || std::fabs(scaled) > FLT_MAX) {
      problem = fmt::format("value * scale = {} does not fit type f32", scaled);
      return {};
    }
    const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(scaled));
    return {static_cast<std::uint16_t>(bits >> 16), static_cast<std::uint16_t>(bits & 0xFFFF)};
  }
  std::int64_t min = 0;
  std::int64_t max = 0;
  switch (type) {
    case ValueType::u16:
      max = 0xFFFF;
      break;
    case ValueType::i16:
      min = -0x8000;
      max = 0x7FFF;
      break;
    case ValueType::u32:
      max = 0xFFFFFFFF;
      break;
    case ValueType::i32:
      min = -0x80000000LL;
      max = 0x7FFFFFFF;
      break;
    case ValueType::f32:
      break;
  }
  // Compare before rounding so huge values never reach llround (undefined result).
  if (!(scaled >= static_cast<double>(min) - 0.5 && scaled < static_cast<double>(max) + 0.5)) {
    problem = fmt::format("round(value * scale) = {} does not fit type {} ({}..{})", scaled,
                          to_string(type), min, max);
    return {};
  }
  const auto raw = static_cast<std::uint32_t>(static_cast<std::int64_t>(std::llround(scaled)));
  if (word_count(type) == 1) return {static_cast<std::uint16_t>(raw & 0xFFFF)};
  return {static_cast<std::uint16_t>(raw >> 16), static_cast<std::uint16_t>(raw & 0xFFFF)};
}

// Tracks which point names and addresses are taken, to reject duplicates and overlaps.
class AddressBook {
 public:
  // Returns the key of the point that already uses [first, last], if any.
  std::optional<std::string> claim(const std::string& space, unsigned first, unsigned last,
                                   const std::string& owner) {
    auto& used = spaces_[space];
    // Points never overlap each other, so the only candidate is the last one starting at or
    // before `last`.
    auto next = used.upper_bound(last);
    if (next != used.begin()) {
      auto previous = std::prev(next);
      if (previous->second.last >= first) return previous->second.owner;
    }
    used.emplace(first, Span{last, owner});
    return std::nullopt;
  }

 private:
  struct Span {
    unsigned last;
    std::string owner;
  };
  std::map<std::string, std::map<unsigned, Span>> spaces_;
};

std::string read_identity_string(TableReader& reader, std::string_view key, bool required) {
  std::string text = required ? reader.required_string(key) : reader.optional_string(key);
  if (required && text.empty())
    reader.fail(key, reader.table().get(key), "expected a non-empty string");
  if (text.size() > max_identity_length)
    reader.fail(key, reader.table().get(key),
                fmt::format("expected at most {} bytes (one FC43 response), got {}",
                            max_identity_length, text.size()));
  return text;
}

const RegisterSpec* find_register(const DeviceProfile& profile, const std::string& name) {
  for (const RegisterSpec& spec : profile.registers)
    if (spec.name == name) return &spec;
  return nullptr;
}

// Every register [meter] names exists; the clock is a writable 32-bit holding register; the
// event log's layout is covered by declared input registers.
void check_meter_registers(const DeviceProfile& profile, TableReader& top) {
  const MeterSpec& meter = profile.meter;
  if (!meter.declared) return;
  const toml::node* node = top.table().get("meter");
  auto missing = [&](const std::string& key, const std::string& name) {
    top.fail_at(fmt::format("meter.{}", key), node,
                fmt::format("names register \"{}\", which the profile does not declare", name));
  };
  for (const auto& [quantity, names] : meter.phases)
    for (const std::string& name : names)
      if (!find_register(profile, name)) missing(quantity, name);
  for (const auto& [quantity, name] : meter.single)
    if (!find_register(profile, name)) missing(quantity, name);
  if (auto clock = meter.single.find("clock"); clock != meter.single.end()) {
    const RegisterSpec& spec = *find_register(profile, clock->second);
    if (spec.table != RegisterTable::holding || !spec.writable || spec.type != ValueType::u32)
      top.fail_at(
          "meter.clock", node,
          fmt::format("register \"{}\" must be a writable u32 holding register", spec.name));
  }
  if (meter.event_log_entries > 0) {
    std::vector<std::string> names{"event_count"};
    for (unsigned n = 1; n <= meter.event_log_entries; ++n)
      for (const char* part : {"sequence", "code", "time"})
        names.push_back(fmt::format("event_{}_{}", n, part));
    for (const std::string& name : names)
      if (!find_register(profile, name)) missing("event_log_entries", name);
  }
}

}  // namespace

std::vector<std::uint16_t> encode_value(const RegisterSpec& spec, double value) {
  std::vector<std::uint16_t> words;
  if (spec.type == ValueType::f32) {
    const float scaled =
        static_cast<float>(std::clamp(value * spec.scale, -double{FLT_MAX}, double{FLT_MAX}));
    const auto bits = std::bit_cast<std::uint32_t>(scaled);
    words = {static_cast<std::uint16_t>(bits >> 16), static_cast<std::uint16_t>(bits & 0xFFFF)};
  } else {
    double min = 0, max = 0;
    switch (spec.type) {
      case ValueType::u16:
        max = 0xFFFF;
        break;
      case ValueType::i16:
        min = -0x8000;
        max = 0x7FFF;
        break;
      case ValueType::u32:
        max = 4294967295.0;
        break;
      case ValueType::i32:
        min = -2147483648.0;
        max = 2147483647.0;
        break;
      case ValueType::f32:
        break;
    }
    const double scaled =
        std::isfinite(value) ? std::clamp(std::round(value * spec.scale), min, max) : 0.0;
    const auto raw = static_cast<std::uint32_t>(static_cast<std::int64_t>(scaled));
    if (word_count(spec.type) == 1)
      words = {static_cast<std::uint16_t>(raw & 0xFFFF)};
    else
      words = {static_cast<std::uint16_t>(raw >> 16), static_cast<std::uint16_t>(raw & 0xFFFF)};
  }
  if (spec.word_order == WordOrder::little && words.size() == 2) std::swap(words[0], words[1]);
  return words;
}

double decode_value(const RegisterSpec& spec, const std::vector<std::uint16_t>& words) {
  if (words.size() != word_count(spec.type)) return 0.0;
  std::uint32_t raw = words[0];
  if (words.size() == 2) {
    const bool little = spec.word_order == WordOrder::little;
    raw = (std::uint32_t{words[little ? 1 : 0]} << 16) | words[little ? 0 : 1];
  }
  double value = 0;
  switch (spec.type) {
    case ValueType::u16:
      value = raw;
      break;
    case ValueType::i16:
      value = static_cast<std::int16_t>(raw);
      break;
    case ValueType::u32:
      value = raw;
      break;
    case ValueType::i32:
      value = static_cast<std::int32_t>(raw);
      break;
    case ValueType::f32:
      value = std::bit_cast<float>(raw);
      break;
  }
  return value / spec.scale;
}

DeviceProfile read_profile(const toml::table& document, const std::string& file) {
  DeviceProfile profile;
  profile.source = file;
  TableReader top(file, document, "");

  profile.schema = static_cast<int>(top.required_integer("schema", 1, 1));

  if (const toml::table* table = top.optional_table("device")) {
    TableReader reader(file, *table, "device");
    profile.kind = reader.required_string("kind");
    profile.name = reader.required_string("name");
    if (profile.name.empty())
      reader.fail("name", table->get("name"), "expected a non-empty string");
    profile.description = reader.optional_string("description");
    // 0 is the RTU broadcast address and 248..255 are reserved.
    profile.unit = static_cast<std::uint8_t>(reader.required_integer("unit", 1, 247));
    reader.finish("kind, name, description, unit");
  } else {
    top.fail("device", nullptr, "missing; expected a [device] table");
  }

  if (const toml::table* table = top.optional_table("identity")) {
    TableReader reader(file, *table, "identity");
    DeviceIdentity& identity = profile.identity;
    identity.vendor = read_identity_string(reader, "vendor", true);
    identity.product_code = read_identity_string(reader, "product_code", true);
    identity.revision = read_identity_string(reader, "revision", true);
    identity.vendor_url = read_identity_string(reader, "vendor_url", false);
    identity.product_name = read_identity_string(reader, "product_name", false);
    identity.model = read_identity_string(reader, "model", false);
    identity.serial_number = read_identity_string(reader, "serial_number", false);
    reader.finish("vendor, product_code, revision, vendor_url, product_name, model, serial_number");
  } else {
    top.fail("identity", nullptr, "missing; expected an [identity] table");
  }

  if (const toml::table* table = top.optional_table("serial")) {
    TableReader reader(file, *table, "serial");
    profile.serial = read_serial_settings(reader);
  }

  if (const toml::table* table = top.optional_table("limits")) {
    TableReader reader(file, *table, "limits");
    profile.limits.max_read_registers =
        static_cast<unsigned>(reader.optional_integer("max_read_registers", 1, 125, 125));
    profile.limits.max_read_bits =
        static_cast<unsigned>(reader.optional_integer("max_read_bits", 1, 2000, 2000));
    reader.finish("max_read_registers, max_read_bits");
  }

  AddressBook addresses;
  std::map<std::string, std::string> name_owners;  // point name -> key of its first use
  auto claim_name = [&](TableReader& reader, const std::string& owner, const std::string& name) {
    if (name.empty())
      reader.fail("name", reader.table().get("name"), "expected a non-empty string");
    auto [existing, inserted] = name_owners.emplace(name, owner);
    if (!inserted)
      reader.fail(
          "name", reader.table().get("name"),
          fmt::format("duplicate name \"{}\" (already used by {})", name, existing->second));
  };

  const auto register_tables_list = top.optional_array_of_tables("registers");
  for (std::size_t index = 0; index < register_tables_list.size(); ++index) {
    const std::string owner = fmt::format("registers[{}]", index);
    TableReader reader(file, *register_tables_list[index], owner);
    RegisterSpec spec;
    spec.table = reader.required_choice("table", register_tables);
    spec.address = static_cast<std::uint16_t>(reader.required_integer("address", 0, 0xFFFF));
    spec.name = reader.required_string("name");
    claim_name(reader, owner, spec.name);
    spec.type = reader.required_choice("type", value_types);
    spec.scale = reader.optional_number("scale", 1.0);
    if (!(spec.scale > 0))
      reader.fail("scale", register_tables_list[index]->get("scale"),
                  fmt::format("expected a number > 0, got {}", spec.scale));
    spec.unit = reader.optional_string("unit", spec.unit);
    spec.value = reader.required_number("value");
    spec.writable = reader.optional_bool("writable", false);
    spec.word_order = reader.optional_choice("word_order", word_orders, WordOrder::big);
    const toml::table& entry = *register_tables_list[index];
    if (entry.contains("word_order") && word_count(spec.type) == 1)
      reader.fail(
          "word_order", entry.get("word_order"),
          fmt::format("word_order applies to 32-bit types only, not {}", to_string(spec.type)));
    if (entry.contains("min") || entry.contains("max")) {
      spec.band_min = reader.required_number("min");
      spec.band_max = reader.required_number("max");
      if (!(*spec.band_min <= spec.value && spec.value <= *spec.band_max))
        reader.fail("value", entry.get("value"),
                    fmt::format("value {} lies outside the declared band {}..{}", spec.value,
                                *spec.band_min, *spec.band_max));
    }
    if (entry.contains("free_running")) {
      spec.free_running = std::string(reader.required_choice("free_running", free_running_kinds));
      if (!spec.band_min)
        reader.fail("free_running", entry.get("free_running"),
                    "a free-running value is live: declare its band (min, max)");
    }
    reader.finish(
        "table, address, name, type, scale, unit, value, writable, word_order, min, max, "
        "free_running");

    std::string problem;
    spec.initial_words = encode_initial_value(spec.type, spec.value, spec.scale, problem);
    if (spec.initial_words.empty())
      reader.fail("value", register_tables_list[index]->get("value"), problem);
    if (spec.word_order == WordOrder::little && spec.initial_words.size() == 2)
      std::swap(spec.initial_words[0], spec.initial_words[1]);

    const unsigned last = spec.address + word_count(spec.type) - 1u;
    if (last > 0xFFFF)
      reader.fail(
          "address", register_tables_list[index]->get("address"),
          fmt::format("a {} at {} runs past address 65535", to_string(spec.type), spec.address));
    const std::string described =
        fmt::format("{} \"{}\" at {}..{}", owner, spec.name, spec.address, last);
    if (auto other =
            addresses.claim(std::string{to_string(spec.table)}, spec.address, last, described))
      reader.fail("address", register_tables_list[index]->get("address"),
                  fmt::format("{} register \"{}\" at {}..{} overlaps {}", to_string(spec.table),
                              spec.name, spec.address, last, *other));
    profile.registers.push_back(std::move(spec));
  }

  auto read_bits = [&](std::string_view key, bool may_be_writable) {
    std::vector<BitSpec> bits;
    const auto tables = top.optional_array_of_tables(key);
    for (std::size_t index = 0; index < tables.size(); ++index) {
      const std::string owner = fmt::format("{}[{}]", key, index);
      TableReader reader(file, *tables[index], owner);
      BitSpec bit;
      bit.address = static_cast<std::uint16_t>(reader.required_integer("address", 0, 0xFFFF));
      bit.name = reader.required_string("name");
      claim_name(reader, owner, bit.name);
      bit.value = reader.required_bool("value");
      if (may_be_writable) bit.writable = reader.optional_bool("writable", false);
      reader.finish(may_be_writable ? "address, name, value, writable" : "address, name, value");
      if (auto other = addresses.claim(std::string{key}, bit.address, bit.address,
                                       fmt::format("{} \"{}\"", owner, bit.name)))
        reader.fail("address", tables[index]->get("address"),
                    fmt::format("address {} already used by {}", bit.address, *other));
      bits.push_back(std::move(bit));
    }
    return bits;
  };
  profile.coils = read_bits("coils", true);
  profile.discrete_inputs = read_bits("discrete_inputs", false);

  if (const toml::table* table = top.optional_table("iec62056")) {
    TableReader reader(file, *table, "iec62056");
    profile.iec62056 = read_iec62056(reader, profile.registers);
  }

  if (const toml::table* table = top.optional_table("defects")) {
    TableReader reader(file, *table, "defects");
    for (std::size_t index = 0; index < defect_table.size(); ++index)
      profile.defects.set(DefectId{index}, reader.optional_bool(defect_table[index].name, false));
    reader.finish(defect_names(defect_table));
  }

  if (const toml::table* table = top.optional_table("timing")) {
    TableReader reader(file, *table, "timing");
    profile.timing.response_delay =
        std::chrono::microseconds{reader.optional_integer("response_delay_us", 0, 10'000'000, 0)};
    profile.timing.max_response_time =
        std::chrono::milliseconds{reader.optional_integer("max_response_time_ms", 1, 60'000, 100)};
    profile.timing.clock_drift_limit_s_per_day =
        reader.optional_number("clock_drift_limit_s_per_day", 0.0);
    if (profile.timing.clock_drift_limit_s_per_day < 0.0)
      reader.fail("clock_drift_limit_s_per_day", table->get("clock_drift_limit_s_per_day"),
                  "expected a number >= 0 (0: not declared)");
    reader.finish("response_delay_us, max_response_time_ms, clock_drift_limit_s_per_day");
  }

  profile.power = read_power_spec(top);
  profile.meter = read_meter_spec(top);
  check_meter_registers(profile, top);

  top.finish(
      "schema, device, identity, serial, limits, registers, coils, discrete_inputs, iec62056, "
      "power, meter, timing, defects");
  return profile;
}

std::string_view to_string(RegisterTable table) noexcept {
  return table == RegisterTable::input ? "input" : "holding";
}

std::string_view to_string(ValueType type) noexcept {
  for (const auto& [name, value] : value_types)
    if (value == type) return name;
  return "?";
}

std::string_view to_string(WordOrder order) noexcept {
  for (const auto& [name, value] : word_orders)
    if (value == order) return name;
  return "?";
}

unsigned word_count(ValueType type) noexcept {
  return (type == ValueType::u16 || type == ValueType::i16) ? 1u : 2u;
}

DeviceProfile parse_profile(std::string_view toml_text, std::string_view source_name) {
  return read_profile(parse_profile_document(toml_text, source_name), std::string{source_name});
}

DeviceProfile load_profile(const std::filesystem::path& file) {
  return read_profile(read_profile_document(file), file.string());
}

nlohmann::ordered_json profile_to_json(const DeviceProfile& profile) {
  using json = nlohmann::ordered_json;
  json out;
  out["schema"] = profile.schema;
  out["device"] = {{"kind", profile.kind},
                   {"name", profile.name},
                   {"description", profile.description},
                   {"unit", profile.unit}};
  const DeviceIdentity& identity = profile.identity;
  out["identity"] = {{"vendor", identity.vendor},
                     {"product_code", identity.product_code},
                     {"revision", identity.revision},
                     {"vendor_url", identity.vendor_url},
                     {"product_name", identity.product_name},
                     {"model", identity.model},
                     {"serial_number", identity.serial_number}};
  // null: the device has no serial interface (no RTU side).
  out["serial"] = profile.serial ? to_json(*profile.serial) : nlohmann::ordered_json(nullptr);
  out["limits"] = {{"max_read_registers", profile.limits.max_read_registers},
                   {"max_read_bits", profile.limits.max_read_bits}};
  out["registers"] = json::array();
  for (const RegisterSpec& spec : profile.registers) {
    json raw;
    if (spec.type == ValueType::f32) {
      const bool little = spec.word_order == WordOrder::little;
      const std::uint32_t bits = (std::uint32_t{spec.initial_words[little ? 1 : 0]} << 16) |
                                 spec.initial_words[little ? 0 : 1];
      raw = static_cast<double>(std::bit_cast<float>(bits));
    } else {
      raw = std::llround(spec.value * spec.scale);
    }
    out["registers"].push_back(
        {{"table", to_string(spec.table)},
         {"address", spec.address},
         {"name", spec.name},
         {"type", to_string(spec.type)},
         {"scale", spec.scale},
         {"unit", spec.unit},
         {"value", spec.value},
         {"writable", spec.writable},
         {"word_order", to_string(spec.word_order)},
         {"band",
          spec.band_min ? json{{"min", *spec.band_min}, {"max", *spec.band_max}} : json(nullptr)},
         {"free_running", spec.free_running.empty() ? json(nullptr) : json(spec.free_running)},
         {"raw", raw},
         {"words", spec.initial_words}});
  }
  auto bits_to_json = [](const std::vector<BitSpec>& bits, bool with_writable) {
    json list = json::array();
    for (const BitSpec& bit : bits) {
      json entry = {{"address", bit.address}, {"name", bit.name}, {"value", bit.value}};
      if (with_writable) entry["writable"] = bit.writable;
      list.push_back(std::move(entry));
    }
    return list;
  };
  out["coils"] = bits_to_json(profile.coils, true);
  out["discrete_inputs"] = bits_to_json(profile.discrete_inputs, false);
  // null: the meter has no optical port.
  out["iec62056"] = profile.iec62056 ? to_json(*profile.iec62056) : nlohmann::ordered_json(nullptr);
  out["power"] = power_to_json(profile.power);
  out["meter"] = meter_spec_to_json(profile.meter);
  out["timing"] = {{"response_delay_us", profile.timing.response_delay.count()},
                   {"max_response_time_ms", profile.timing.max_response_time.count()},
                   {"clock_drift_limit_s_per_day", profile.timing.clock_drift_limit_s_per_day}};
  out["defects"] = defects_to_json(defect_table, profile.defects);
  return out;
}

}  // namespace hilbench::emu::meter
