// IEC 62056-21 mode C codec: sans-io, messages out, bytes in -> values. The tables and
// message layouts are from ../shared/reference/metrology-crypto.md §5.3 (mode C table).
// Note from that table: public code maps baud characters wrongly (j62056 maps '1'-'4' to
// 9600); mode_c_baud() below is the table, nothing else.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"

namespace hilbench::iec62056 {
namespace {

constexpr std::size_t max_address_length = 32;
constexpr std::size_t max_identifier_length = 16;
constexpr std::size_t max_value_length = 128;

constexpr std::array<int, 7> mode_c_bauds{300, 600, 1200, 2400, 4800, 9600, 19200};

bool is_printable(char c) { return c >= 0x20 && c < 0x7F; }

// At most this much of a device's text goes into an error message.
std::string excerpt(std::string_view text) {
  constexpr std::size_t limit = 60;
  std::string out;
  for (char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out += is_printable(c) ? std::string(1, c) : fmt::format("\\x{:02X}", u);
  }
  if (text.size() > limit) out += "...";
  return fmt::format("\"{}\"", out);
}

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Iec62056Error::Iec62056Error(ErrorContext context, int code, std::string text,
                             const std::string& detail)
    : DeviceError(std::move(context), std::string(protocol_name), code, detail),
      text_(std::move(text)) {}

LineSettings sign_on_settings(int baud) {
  LineSettings settings;
  settings.baud = baud;
  settings.data_bits = 7;
  settings.parity = Parity::even;
  settings.stop_bits = 1;
  return settings;
}

std::optional<int> mode_c_baud(char character) noexcept {
  if (character < '0' || character > '6') return std::nullopt;
  return mode_c_bauds[static_cast<std::size_t>(character - '0')];
}

std::optional<char> mode_c_character(int baud) noexcept {
  for (std::size_t i = 0; i < mode_c_bauds.size(); ++i)
    if (mode_c_bauds[i] == baud) return static_cast<char>('0' + i);
  return std::nullopt;
}

std::uint8_t bcc(std::span<const std::uint8_t> bytes) noexcept {
  std::uint8_t out = 0;
  for (std::uint8_t byte : bytes) out ^= byte;
  return out;
}

Bytes encode_request(std::string_view address) {
  if (address.size() > max_address_length)
    throw ConfigError({}, fmt::format("device address {} is longer than {} characters",
                                      excerpt(address), max_address_length));
  for (char c : address)
    if (!is_printable(c) || c == '/' || c == '?' || c == '!')
      throw ConfigError({}, fmt::format("device address {} holds a character the request "
                                        "cannot carry",
                                        excerpt(address)));
  // Built as text, then copied once: GCC 12 misreports vector::insert of a few bytes at -O2
  // (-Warray-bounds / -Wstringop-overflow false positives).
  std::string text = "/?";
  text.append(address);
  text.append("!\r\n");
  return Bytes(text.begin(), text.end());
}

Bytes encode_ack(char baud_character, char mode, char protocol_control) {
  for (char c : {baud_character, mode, protocol_control})
    if (c < '0' || c > '9')
      throw ConfigError({}, fmt::format("ACK characters must be '0'..'9', got {}",
                                        excerpt(std::string_view(&c, 1))));
  return {control::ack,
          static_cast<std::uint8_t>(protocol_control),
          static_cast<std::uint8_t>(baud_character),
          static_cast<std::uint8_t>(mode),
          '\r',
          '\n'};
}

Bytes encode_command(std::string_view command, std::optional<std::string_view> data) {
  if (command.size() != 2 || !std::isupper(static_cast<unsigned char>(command[0])) ||
      !std::isdigit(static_cast<unsigned char>(command[1])))
    throw ConfigError({}, fmt::format("command {} is not a letter and a digit (P1, R1, W1, B0)",
                                      excerpt(command)));
  std::string text(1, static_cast<char>(control::soh));
  text.append(command);
  if (data) {
    for (char c : *data)
      if (!is_printable(c))
        throw ConfigError({},
                          fmt::format("command data {} holds a control character", excerpt(*data)));
    text.push_back(static_cast<char>(control::stx));
    text.append(*data);
  }
  text.push_back(static_cast<char>(control::etx));
  Bytes out(text.begin(), text.end());
  out.push_back(bcc(std::span(out).subspan(1)));
  return out;
}

std::optional<std::size_t> find_line_end(std::span<const std::uint8_t> buffer) noexcept {
  for (std::size_t i = 1; i < buffer.size(); ++i)
    if (buffer[i - 1] == '\r' && buffer[i] == '\n') return i + 1;
  return std::nullopt;
}

Identification parse_identification(std::span<const std::uint8_t> message) {
  std::string_view text = as_text(message);
  if (text.ends_with("\r\n")) text.remove_suffix(2);
  if (text.empty() || text.front() != '/')
    throw ProtocolError({},
                        fmt::format("identification {} does not start with '/'", excerpt(text)));
  if (text.size() < 5)
    throw ProtocolError({}, fmt::format("identification {} is shorter than /XXXZ", excerpt(text)));
  if (text.size() > 5 + max_identifier_length)
    throw ProtocolError({}, fmt::format("identification {} is longer than /XXXZ + {} characters",
                                        excerpt(text), max_identifier_length));
  for (char c : text)
    if (!is_printable(c))
      throw ProtocolError(
          {}, fmt::format("identification {} holds a control character", excerpt(text)));
  Identification id;
  id.raw = std::string(text);
  id.manufacturer = std::string(text.substr(1, 3));
  for (char c : id.manufacturer)
    if (!std::isalpha(static_cast<unsigned char>(c)))
      throw ProtocolError({}, fmt::format("manufacturer {} of identification {} is not three "
                                          "letters",
                                          excerpt(id.manufacturer), excerpt(text)));
  id.reaction_20ms = std::islower(static_cast<unsigned char>(id.manufacturer[2])) != 0;
  id.baud_character = text[4];
  const auto baud = mode_c_baud(id.baud_character);
  if (!baud)
    throw ProtocolError(
        {}, fmt::format("baud character '{}' of identification {} is not a mode C one ('0'..'6'):"
                        " not a mode C device",
                        id.baud_character, excerpt(text)));
  id.max_baud = *baud;
  id.identifier = std::string(text.substr(5));
  return id;
}

std::optional<std::size_t> find_block_end(std::span<const std::uint8_t> buffer) {
  if (buffer.empty()) return std::nullopt;
  if (buffer[0] != control::soh && buffer[0] != control::stx)
    throw ProtocolError({}, fmt::format("a block starts with SOH or STX, got 0x{:02X}", buffer[0]));
  for (std::size_t i = 1; i < buffer.size(); ++i)
    if (buffer[i] == control::etx || buffer[i] == control::eot)
      return i + 1 < buffer.size() ? std::optional<std::size_t>(i + 2) : std::nullopt;
  return std::nullopt;
}

Block parse_block(std::span<const std::uint8_t> message) {
  const auto end = find_block_end(message);
  if (!end) throw ProtocolError({}, "incomplete block: no ETX/EOT followed by a BCC");
  if (*end != message.size())
    throw ProtocolError({}, fmt::format("{} bytes after the block's BCC", message.size() - *end));
  Block block;
  block.start = message[0];
  block.end = message[*end - 2];
  block.bcc_received = message[*end - 1];
  // After the first SOH or STX, up to and including ETX (metrology-crypto.md §5.3, BCC row).
  block.bcc_computed = bcc(message.subspan(1, *end - 2));
  std::string_view inside = as_text(message.subspan(1, *end - 3));
  if (block.start == control::soh) {
    if (inside.size() < 2 || !std::isupper(static_cast<unsigned char>(inside[0])) ||
        !std::isdigit(static_cast<unsigned char>(inside[1])))
      throw ProtocolError({}, fmt::format("command block {} does not start with a command such "
                                          "as P0",
                                          excerpt(inside)));
    block.command = std::string(inside.substr(0, 2));
    inside.remove_prefix(2);
    if (!inside.empty()) {
      if (static_cast<std::uint8_t>(inside.front()) != control::stx)
        throw ProtocolError({}, fmt::format("command {} is followed by {}, not STX", block.command,
                                            excerpt(inside)));
      inside.remove_prefix(1);
    }
  }
  if (inside.find(static_cast<char>(control::stx)) != std::string_view::npos ||
      inside.find(static_cast<char>(control::soh)) != std::string_view::npos)
    throw ProtocolError({}, "SOH or STX inside a block");
  block.data = std::string(inside);
  return block;
}

std::vector<DataSet> parse_data_block(std::string_view data) {
  std::vector<DataSet> sets;
  bool ended = false;
  std::size_t at = 0;
  while (at < data.size()) {
    std::size_t line_end = data.find("\r\n", at);
    if (line_end == std::string_view::npos) line_end = data.size();
    const std::string_view line = data.substr(at, line_end - at);
    at = std::min(data.size(), line_end + 2);
    if (line.empty()) continue;
    if (ended)
      throw ProtocolError({}, fmt::format("data line {} after the end line \"!\"", excerpt(line)));
    if (line == "!") {
      ended = true;
      continue;
    }
    std::size_t pos = 0;
    bool have_set = false;
    while (pos < line.size()) {
      const std::size_t open = line.find('(', pos);
      if (open == std::string_view::npos)
        throw ProtocolError({}, fmt::format("text {} outside brackets in data line {}",
                                            excerpt(line.substr(pos)), excerpt(line)));
      const std::string_view address = line.substr(pos, open - pos);
      for (char c : address)
        if (!is_printable(c) || c == ')' || c == '*' || c == '/' || c == '!')
          throw ProtocolError({},
                              fmt::format("address {} in data line {} holds {}", excerpt(address),
                                          excerpt(line), excerpt(std::string_view(&c, 1))));
      const std::size_t close = line.find(')', open + 1);
      if (close == std::string_view::npos)
        throw ProtocolError({}, fmt::format("unbalanced '(' in data line {}", excerpt(line)));
      const std::string_view inner = line.substr(open + 1, close - open - 1);
      if (inner.size() > max_value_length)
        throw ProtocolError({}, fmt::format("value longer than {} characters in data line {}",
                                            max_value_length, excerpt(line)));
      for (char c : inner)
        if (!is_printable(c) || c == '(')
          throw ProtocolError({}, fmt::format("value {} in data line {} holds {}", excerpt(inner),
                                              excerpt(line), excerpt(std::string_view(&c, 1))));
      Value value;
      const std::size_t star = inner.find('*');
      value.value = std::string(inner.substr(0, star));
      if (star != std::string_view::npos) value.unit = std::string(inner.substr(star + 1));
      if (!address.empty() || !have_set) {
        sets.push_back({std::string(address), {}});
        have_set = true;
      }
      sets.back().values.push_back(std::move(value));
      pos = close + 1;
    }
  }
  return sets;
}

std::optional<int> error_answer_code(std::string_view data) {
  if (data.ends_with("\r\n")) data.remove_suffix(2);
  if (data.size() < 4 || !data.starts_with("(ER") || data.back() != ')') return std::nullopt;
  const std::string_view digits = data.substr(3, data.size() - 4);
  if (digits.find_first_of("()") != std::string_view::npos) return std::nullopt;
  int code = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
  if (error != std::errc{} || end != digits.data() + digits.size() || digits.empty() || code < 0)
    return -1;
  return code;
}

std::optional<Value> Readout::find(std::string_view address) const {
  for (const DataSet& set : data_sets)
    if (set.address == address && !set.values.empty()) return set.values.front();
  return std::nullopt;
}

}  // namespace hilbench::iec62056
