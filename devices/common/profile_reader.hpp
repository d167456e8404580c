#pragma once
// Strict reading of device profiles (TOML, toml++), shared by every device kind.
//
// A profile is evidence input (the suites compare what a device reports against what its
// profile declares), so a typo must stop the run instead of silently falling back to a
// default. Every error is a ProfileError naming the file, the key path in the form
// `registers[3].type` and what was expected; TableReader::finish() rejects every key
// nobody asked for.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
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

/// A profile is a hand-written description of one device: anything larger is not one (and
/// would be copied into every --dump-profile and journal). Same bound as the Python side's
/// bench and product files (bindings/hilbench/strict_toml.py).
inline constexpr std::size_t max_profile_bytes = std::size_t{1} << 20;

/// Reads and parses a profile file (not yet its schema); reads at most max_profile_bytes + 1
/// bytes, so a huge file is refused without being read whole. Throws ProfileError.
toml::table read_profile_document(const std::filesystem::path& file);
/// Parses profile text; `source_name` stands for the file in messages. Throws ProfileError,
/// also for text longer than max_profile_bytes.
toml::table parse_profile_document(std::string_view toml_text, std::string_view source_name);

/// What a node holds, for "got ..." in messages: the value for scalars, the type otherwise.
std::string describe_node(const toml::node& node);

// Reads one TOML table of a profile: typed accessors that know the key path, and a
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
    return as_choice(key, require(key, choice_text(choices)), choices);
  }
  template <class Enum, std::size_t N>
  Enum optional_choice(std::string_view key,
                       const std::array<std::pair<std::string_view, Enum>, N>& choices,
                       Enum fallback) {
    const toml::node* node = find(key);
    return node ? as_choice(key, *node, choices) : fallback;
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

  template <class Enum, std::size_t N>
  Enum as_choice(std::string_view key, const toml::node& node,
                 const std::array<std::pair<std::string_view, Enum>, N>& choices) const {
    if (const auto text = node.value_exact<std::string>()) {
      for (const auto& [name, choice] : choices)
        if (*text == name) return choice;
    }
    fail(key, &node, fmt::format("expected {}, got {}", choice_text(choices), describe_node(node)));
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

}  // namespace hilbench::emu
