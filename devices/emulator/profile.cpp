#include "profile.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace hilbench::emu {

namespace {

std::string format_profile_error(const std::string& file, const std::string& key,
                                 const std::string& problem) {
  if (key.empty()) return fmt::format("{}: {}", file, problem);
  return fmt::format("{}: {}: {}", file, key, problem);
}

// Longest identity string that still fits one FC43 response: PDU 253 bytes minus the
// 7-byte response header minus the object's id and length bytes.
constexpr std::size_t max_identity_length = 253 - 7 - 2;

std::string_view describe_type(toml::node_type type) {
  switch (type) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// What a node holds, for "got ..." in messages: the value for scalars, the type otherwise.
std::string describe_node(const toml::node& node) {
  if (auto text = node.value_exact<std::string>()) return fmt::format("string \"{}\"", *text);
  if (auto number = node.value_exact<std::int64_t>()) return fmt::format("integer {}", *number);
  if (auto number = node.value_exact<double>()) {
    // Show 1.0 as "1.0", so "got float 1.0" explains why an integer key rejected it.
    const bool integral = std::isfinite(*number) && std::floor(*number) == *number;
    return integral ? fmt::format("float {:.1f}", *number) : fmt::format("float {}", *number);
  }
  if (auto flag = node.value_exact<bool>()) return fmt::format("boolean {}", *flag);
  return std::string{describe_type(node.type())};
}

// Reads one TOML table of the profile: typed accessors that know the key path, and a
// finish() that rejects every key nobody asked for (strictness against typos).
class TableReader {
 public:
  TableReader(const std::string& file, const toml::table& table, std::string path)
      : file_(file), table_(table), path_(std::move(path)) {}

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string{key} : fmt::format("{}.{}", path_, key);
  }

  [[noreturn]] void fail(std::string_view key, const toml::node* node,
                         const std::string& problem) const {
    // A missing key is reported at its table's line (except for the document itself).
    if (!node && !path_.empty()) node = &table_;
    fail_at(key_path(key), node, problem);
  }

  [[noreturn]] void fail_at(const std::string& key, const toml::node* node,
                            const std::string& problem) const {
    std::string where = problem;
    if (node && node->source().begin.line > 0)
      where += fmt::format(" (line {})", node->source().begin.line);
    throw ProfileError(file_, key, where);
  }

  const toml::node* find(std::string_view key) {
    consumed_.insert(std::string{key});
    return table_.get(key);
  }

  const toml::node& require(std::string_view key, std::string_view expected) {
    const toml::node* node = find(key);
    if (!node) fail(key, nullptr, fmt::format("missing; expected {}", expected));
    return *node;
  }

  std::string required_string(std::string_view key) {
    return as_string(key, require(key, "a string"));
  }
  std::string optional_string(std::string_view key, std::string fallback = {}) {
    const toml::node* node = find(key);
    return node ? as_string(key, *node) : fallback;
  }

  std::int64_t required_integer(std::string_view key, std::int64_t min, std::int64_t max) {
    return as_integer(key, require(key, range_text(min, max)), min, max);
  }
  std::int64_t optional_integer(std::string_view key, std::int64_t min, std::int64_t max,
                                std::int64_t fallback) {
    const toml::node* node = find(key);
    return node ? as_integer(key, *node, min, max) : fallback;
  }

  // Numbers where TOML writers may reasonably write either 50 or 50.0.
  double required_number(std::string_view key) { return as_number(key, require(key, "a number")); }
  double optional_number(std::string_view key, double fallback) {
    const toml::node* node = find(key);
    return node ? as_number(key, *node) : fallback;
  }

  bool required_bool(std::string_view key) { return as_bool(key, require(key, "a boolean")); }
  bool optional_bool(std::string_view key, bool fallback) {
    const toml::node* node = find(key);
    return node ? as_bool(key, *node) : fallback;
  }

  template <class Enum, std::size_t N>
  Enum required_choice(std::string_view key,
                       const std::array<std::pair<std::string_view, Enum>, N>& choices) {
    const toml::node& node = require(key, choice_text(choices));
    const auto text = node.value_exact<std::string>();
    if (text) {
      for (const auto& [name, choice] : choices)
        if (*text == name) return choice;
    }
    fail(key, &node, fmt::format("expected {}, got {}", choice_text(choices), describe_node(node)));
  }

  const toml::table* optional_table(std::string_view key) {
    const toml::node* node = find(key);
    if (!node) return nullptr;
    if (!node->is_table())
      fail(key, node, fmt::format("expected a table, got {}", describe_node(*node)));
    return node->as_table();
  }

  // [[key]] arrays; every element must be a table.
  std::vector<const toml::table*> optional_array_of_tables(std::string_view key) {
    std::vector<const toml::table*> tables;
    const toml::node* node = find(key);
    if (!node) return tables;
    const toml::array* array = node->as_array();
    if (!array)
      fail(key, node,
           fmt::format("expected an array of tables ([[{}]]), got {}", key, describe_node(*node)));
    for (std::size_t index = 0; index < array->size(); ++index) {
      const toml::node& element = *array->get(index);
      if (!element.is_table())
        fail_at(fmt::format("{}[{}]", key_path(key), index), &element,
                fmt::format("expected a table, got {}", describe_node(element)));
      tables.push_back(element.as_table());
    }
    return tables;
  }

  // Every key of the table must have been asked for.
  void finish(std::string_view allowed_keys) const {
    for (const auto& [key, node] : table_) {
      if (!consumed_.contains(std::string{key.str()}))
        fail(key.str(), &node, fmt::format("unknown key; allowed keys: {}", allowed_keys));
    }
  }

  const std::string& file() const { return file_; }
  const toml::table& table() const { return table_; }

 private:
  static std::string range_text(std::int64_t min, std::int64_t max) {
    if (min == max) return fmt::format("the integer {}", min);
    return fmt::format("an integer in {}..{}", min, max);
  }

  template <class Enum, std::size_t N>
  static std::string choice_text(const std::array<std::pair<std::string_view, Enum>, N>& choices) {
    std::string text = "one of";
    for (std::size_t i = 0; i < N; ++i)
      text += fmt::format("{} \"{}\"", i == 0 ? "" : ",", choices[i].first);
    return text;
  }

  std::string as_string(std::string_view key, const toml::node& node) const {
    auto text = node.value_exact<std::string>();
    if (!text) fail(key, &node, fmt::format("expected a string, got {}", describe_node(node)));
    return *text;
  }

  std::int64_t as_integer(std::string_view key, const toml::node& node, std::int64_t min,
                          std::int64_t max) const {
    auto number = node.value_exact<std::int64_t>();
    if (!number || *number < min || *number > max)
      fail(key, &node,
           fmt::format("expected {}, got {}", range_text(min, max), describe_node(node)));
    return *number;
  }

  double as_number(std::string_view key, const toml::node& node) const {
    if (auto number = node.value_exact<std::int64_t>()) return static_cast<double>(*number);
    if (auto number = node.value_exact<double>()) {
      if (!std::isfinite(*number))
        fail(key, &node, fmt::format("expected a finite number, got {}", describe_node(node)));
      return *number;
    }
    fail(key, &node, fmt::format("expected a number, got {}", describe_node(node)));
  }

  bool as_bool(std::string_view key, const toml::node& node) const {
    auto flag = node.value_exact<bool>();
    if (!flag) fail(key, &node, fmt::format("expected a boolean, got {}", describe_node(node)));
    return *flag;
  }

  const std::string& file_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string> consumed_;
};

constexpr std::array register_tables{
    std::pair{std::string_view{"input"}, RegisterTable::input},
    std::pair{std::string_view{"holding"}, RegisterTable::holding},
};
constexpr std::array value_types{
    std::pair{std::string_view{"u16"}, ValueType::u16},
    std::pair{std::string_view{"i16"}, ValueType::i16},
    std::pair{std::string_view{"u32"}, ValueType::u32},
    std::pair{std::string_view{"i32"}, ValueType::i32},
    std::pair{std::string_view{"f32"}, ValueType::f32},
};
constexpr std::array parities{
    std::pair{std::string_view{"none"}, Parity::none},
    std::pair{std::string_view{"even"}, Parity::even},
    std::pair{std::string_view{"odd"}, Parity::odd},
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

SerialSettings read_serial(TableReader& reader) {
  SerialSettings serial;
  serial.baud = static_cast<unsigned>(reader.required_integer("baud", 50, 4'000'000));
  // Modbus RTU carries 8-bit bytes; 7 data bits exist only in Modbus ASCII.
  serial.data_bits = static_cast<unsigned>(reader.required_integer("data_bits", 8, 8));
  serial.parity = reader.required_choice("parity", parities);
  serial.stop_bits = static_cast<unsigned>(reader.required_integer("stop_bits", 1, 2));
  reader.finish("baud, data_bits, parity, stop_bits");
  return serial;
}

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

DeviceProfile parse_document(const toml::table& document, const std::string& file) {
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
    profile.serial = read_serial(reader);
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
    spec.unit = reader.optional_string("unit");
    spec.value = reader.required_number("value");
    spec.writable = reader.optional_bool("writable", false);
    reader.finish("table, address, name, type, scale, unit, value, writable");

    std::string problem;
    spec.initial_words = encode_initial_value(spec.type, spec.value, spec.scale, problem);
    if (spec.initial_words.empty())
      reader.fail("value", register_tables_list[index]->get("value"), problem);

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

  if (const toml::table* table = top.optional_table("defects")) {
    TableReader reader(file, *table, "defects");
    std::string known;
    for (Defect defect : all_defects) {
      known += fmt::format("{}{}", known.empty() ? "" : ", ", to_string(defect));
      profile.defects.set(defect, reader.optional_bool(to_string(defect), false));
    }
    reader.finish(known);
  }

  top.finish(
      "schema, device, identity, serial, limits, registers, coils, discrete_inputs, defects");
  return profile;
}

}  // namespace

ProfileError::ProfileError(std::string file, std::string key, const std::string& problem)
    : std::runtime_error(format_profile_error(file, key, problem)),
      file_(std::move(file)),
      key_(std::move(key)) {}

std::string_view to_string(RegisterTable table) noexcept {
  return table == RegisterTable::input ? "input" : "holding";
}

std::string_view to_string(ValueType type) noexcept {
  for (const auto& [name, value] : value_types)
    if (value == type) return name;
  return "?";
}

std::string_view to_string(Parity parity) noexcept {
  for (const auto& [name, value] : parities)
    if (value == parity) return name;
  return "?";
}

unsigned word_count(ValueType type) noexcept {
  return (type == ValueType::u16 || type == ValueType::i16) ? 1u : 2u;
}

unsigned SerialSettings::bits_per_character() const noexcept {
  return 1u + data_bits + (parity == Parity::none ? 0u : 1u) + stop_bits;
}

std::string_view to_string(Defect defect) noexcept {
  switch (defect) {
    case Defect::illegal_address_returns_data:
      return "illegal_address_returns_data";
    case Defect::illegal_function_silent:
      return "illegal_function_silent";
    case Defect::illegal_value_accepted:
      return "illegal_value_accepted";
    case Defect::bad_crc_answered:
      return "bad_crc_answered";
    case Defect::device_id_wrong_revision:
      return "device_id_wrong_revision";
    case Defect::tcp_register_skew:
      return "tcp_register_skew";
  }
  return "?";
}

std::optional<Defect> defect_from_name(std::string_view name) noexcept {
  for (Defect defect : all_defects)
    if (to_string(defect) == name) return defect;
  return std::nullopt;
}

std::vector<std::string> DefectSet::names() const {
  std::vector<std::string> active;
  for (Defect defect : all_defects)
    if (has(defect)) active.emplace_back(to_string(defect));
  return active;
}

DeviceProfile parse_profile(std::string_view toml_text, std::string_view source_name) {
  const std::string file{source_name};
  toml::table document;
  try {
    document = toml::parse(toml_text, file);
  } catch (const toml::parse_error& error) {
    const auto line = error.source().begin.line;
    throw ProfileError(file, "",
                       fmt::format("invalid TOML: {} (line {}, column {})", error.description(),
                                   line, error.source().begin.column));
  }
  return parse_document(document, file);
}

DeviceProfile load_profile(const std::filesystem::path& file) {
  std::error_code ignored;
  if (std::filesystem::is_directory(file, ignored))
    throw ProfileError(file.string(), "", "is a directory, expected a profile file");
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw ProfileError(file.string(), "", "cannot open the profile file");
  std::ostringstream text;
  text << stream.rdbuf();
  if (stream.bad()) throw ProfileError(file.string(), "", "cannot read the profile file");
  return parse_profile(text.str(), file.string());
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
  if (profile.serial) {
    out["serial"] = {{"baud", profile.serial->baud},
                     {"data_bits", profile.serial->data_bits},
                     {"parity", to_string(profile.serial->parity)},
                     {"stop_bits", profile.serial->stop_bits}};
  } else {
    out["serial"] = nullptr;
  }
  out["limits"] = {{"max_read_registers", profile.limits.max_read_registers},
                   {"max_read_bits", profile.limits.max_read_bits}};
  out["registers"] = json::array();
  for (const RegisterSpec& spec : profile.registers) {
    json raw;
    if (spec.type == ValueType::f32) {
      const std::uint32_t bits =
          (std::uint32_t{spec.initial_words[0]} << 16) | spec.initial_words[1];
      raw = static_cast<double>(std::bit_cast<float>(bits));
    } else {
      raw = std::llround(spec.value * spec.scale);
    }
    out["registers"].push_back({{"table", to_string(spec.table)},
                                {"address", spec.address},
                                {"name", spec.name},
                                {"type", to_string(spec.type)},
                                {"scale", spec.scale},
                                {"unit", spec.unit},
                                {"value", spec.value},
                                {"writable", spec.writable},
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
  json defects = json::object();
  for (Defect defect : all_defects)
    defects[std::string{to_string(defect)}] = profile.defects.has(defect);
  out["defects"] = std::move(defects);
  return out;
}

}  // namespace hilbench::emu
