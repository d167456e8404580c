#include "common/profile_reader.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

namespace hilbench::emu {

namespace {

std::string format_profile_error(const std::string& file, const std::string& key,
                                 const std::string& problem) {
  if (key.empty()) return fmt::format("{}: {}", file, problem);
  return fmt::format("{}: {}: {}", file, key, problem);
}

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

}  // namespace

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

ProfileError::ProfileError(std::string file, std::string key, const std::string& problem)
    : std::runtime_error(format_profile_error(file, key, problem)),
      file_(std::move(file)),
      key_(std::move(key)) {}

toml::table parse_profile_document(std::string_view toml_text, std::string_view source_name) {
  const std::string file{source_name};
  if (toml_text.size() > max_profile_bytes)
    throw ProfileError(
        file, "", fmt::format("larger than {} bytes: not a device profile", max_profile_bytes));
  try {
    return toml::parse(toml_text, file);
  } catch (const toml::parse_error& error) {
    throw ProfileError(file, "",
                       fmt::format("invalid TOML: {} (line {}, column {})", error.description(),
                                   error.source().begin.line, error.source().begin.column));
  }
}

toml::table read_profile_document(const std::filesystem::path& file) {
  std::error_code ignored;
  if (std::filesystem::is_directory(file, ignored))
    throw ProfileError(file.string(), "", "is a directory, expected a profile file");
  std::ifstream stream(file, std::ios::binary);
  if (!stream) throw ProfileError(file.string(), "", "cannot open the profile file");
  std::string text(max_profile_bytes + 1, '\0');
  stream.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (stream.bad()) throw ProfileError(file.string(), "", "cannot read the profile file");
  text.resize(static_cast<std::size_t>(stream.gcount()));
  return parse_profile_document(text, file.string());
}

}  // namespace hilbench::emu
