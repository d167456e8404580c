// SCPI / IEEE 488.2 codec: sans-io, bytes and text in, values out. Grammar references are
// to IEEE 488.2-1992 section 8 (response data) and SCPI-99 volume 2 (SYSTem:ERRor).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"

namespace hilbench::scpi {
namespace {

bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// At most this much of a device's text goes into an error message.
std::string excerpt(std::string_view text) {
  constexpr std::size_t limit = 60;
  std::string out;
  for (char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F) ? std::string(1, c) : fmt::format("\\x{:02X}", u);
  }
  if (text.size() > limit) out += "...";
  return fmt::format("\"{}\"", out);
}

bool starts_with_at(std::span<const std::uint8_t> buffer, std::size_t at, std::string_view what) {
  if (at + what.size() > buffer.size()) return false;
  return std::equal(what.begin(), what.end(), buffer.begin() + static_cast<std::ptrdiff_t>(at),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

}  // namespace

ScpiError::ScpiError(ErrorContext context, std::vector<ErrorEntry> entries,
                     const std::string& detail)
    : DeviceError(std::move(context), "scpi", entries.empty() ? 0 : entries.front().code, detail),
      entries_(entries.empty() ? std::vector<ErrorEntry>{{0, ""}} : std::move(entries)) {}

int esr::bit_for_error(int code) noexcept {
  if (code <= -100 && code >= -199) return command_error;
  if (code <= -200 && code >= -299) return execution_error;
  if (code <= -300 && code >= -399) return device_dependent_error;
  if (code <= -400 && code >= -499) return query_error;
  return 0;
}

Bytes encode_message(std::string_view text, std::string_view terminator) {
  if (terminator.empty()) throw ConfigError({}, "the message terminator must not be empty");
  if (text.find(terminator) != std::string_view::npos)
    throw ConfigError({}, fmt::format("program message {} contains the terminator", excerpt(text)));
  Bytes out(text.begin(), text.end());
  out.insert(out.end(), terminator.begin(), terminator.end());
  return out;
}

std::optional<std::size_t> find_response_end(std::span<const std::uint8_t> buffer,
                                             std::string_view terminator) {
  bool element_start = true;  // a block header is recognised only where an element begins
  std::size_t at = 0;
  while (at < buffer.size()) {
    if (starts_with_at(buffer, at, terminator)) return at + terminator.size();
    const std::uint8_t c = buffer[at];
    if (element_start && c == '#') {
      if (at + 1 >= buffer.size()) return std::nullopt;
      const std::uint8_t n = buffer[at + 1];
      if (!is_digit(n))
        throw ProtocolError({},
                            fmt::format("block header '#' followed by 0x{:02X}, not a digit", n));
      if (n == '0') {  // indefinite block: data up to the terminator
        at += 2;
        element_start = false;
        continue;
      }
      const std::size_t digits = n - '0';
      if (at + 2 + digits > buffer.size()) return std::nullopt;
      std::size_t length = 0;
      for (std::size_t i = 0; i < digits; ++i) {
        const std::uint8_t d = buffer[at + 2 + i];
        if (!is_digit(d))
          throw ProtocolError({}, fmt::format("block length field has 0x{:02X}, not a digit", d));
        length = length * 10 + (d - '0');
      }
      const std::size_t data_end = at + 2 + digits + length;
      if (data_end > buffer.size()) return std::nullopt;
      at = data_end;
      element_start = false;
      continue;
    }
    element_start = (c == ',' || c == ';');
    ++at;
  }
  return std::nullopt;
}

std::string strip_terminator(std::span<const std::uint8_t> message, std::string_view terminator) {
  std::string text(message.begin(), message.end());
  if (text.size() >= terminator.size() &&
      std::string_view(text).substr(text.size() - terminator.size()) == terminator)
    text.resize(text.size() - terminator.size());
  if (terminator == "\n" && !text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::vector<std::string> split_elements(std::string_view response) {
  std::vector<std::string> out;
  std::size_t start = 0;
  char quote = 0;
  std::size_t at = 0;
  while (at < response.size()) {
    const char c = response[at];
    if (quote) {
      if (c == quote) {
        if (at + 1 < response.size() && response[at + 1] == quote) {
          at += 2;  // doubled quote inside the string
          continue;
        }
        quote = 0;
      }
      ++at;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && at + 1 < response.size() &&
               trim(response.substr(start, at - start)).empty()) {
      const char n = response[at + 1];
      if (n == '0') {  // indefinite block: the rest of the message
        at = response.size();
        continue;
      }
      if (n >= '1' && n <= '9') {
        const std::size_t digits = static_cast<std::size_t>(n - '0');
        std::size_t length = 0;
        bool ok = at + 2 + digits <= response.size();
        for (std::size_t i = 0; ok && i < digits; ++i) {
          const char d = response[at + 2 + i];
          ok = d >= '0' && d <= '9';
          length = length * 10 + static_cast<std::size_t>(d - '0');
        }
        if (ok) {
          at = std::min(response.size(), at + 2 + digits + length);
          continue;
        }
      }
    } else if (c == ',') {
      out.emplace_back(trim(response.substr(start, at - start)));
      start = at + 1;
    }
    ++at;
  }
  out.emplace_back(trim(response.substr(start)));
  return out;
}

std::int64_t parse_nr1(std::string_view text) {
  const std::string_view t = trim(text);
  std::string_view digits = t;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) digits.remove_prefix(1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw ProtocolError({}, fmt::format("{} is not an NR1 integer", excerpt(text)));
  std::int64_t value = 0;
  const char* first = t.data() + (t.front() == '+' ? 1 : 0);
  const auto [end, error] = std::from_chars(first, t.data() + t.size(), value);
  if (error != std::errc{} || end != t.data() + t.size())
    throw ProtocolError({}, fmt::format("{} is out of the 64-bit integer range", excerpt(text)));
  return value;
}

double parse_number(std::string_view text) {
  const std::string_view t = trim(text);
  // Grammar check first (from_chars alone would accept "inf", "nan" and hex).
  std::size_t at = 0;
  if (at < t.size() && (t[at] == '+' || t[at] == '-')) ++at;
  std::size_t mantissa_digits = 0;
  while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at, ++mantissa_digits;
  if (at < t.size() && t[at] == '.') {
    ++at;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at, ++mantissa_digits;
  }
  bool ok = mantissa_digits > 0;
  if (ok && at < t.size() && (t[at] == 'e' || t[at] == 'E')) {
    ++at;
    if (at < t.size() && (t[at] == '+' || t[at] == '-')) ++at;
    std::size_t exponent_digits = 0;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at, ++exponent_digits;
    ok = exponent_digits > 0;
  }
  if (!ok || at != t.size())
    throw ProtocolError({}, fmt::format("{} is not an NR1/NR2/NR3 number", excerpt(text)));
  double value = 0;
  const char* first = t.data() + (t.front() == '+' ? 1 : 0);
  const auto [end, error] = std::from_chars(first, t.data() + t.size(), value);
  if (error != std::errc{} || end != t.data() + t.size() || !std::isfinite(value))
    throw ProtocolError({}, fmt::format("{} is out of the double range", excerpt(text)));
  return value;
}

std::string parse_string(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.size() < 2 || (t.front() != '"' && t.front() != '\'') || t.back() != t.front())
    throw ProtocolError({}, fmt::format("{} is not quoted string response data", excerpt(text)));
  const char quote = t.front();
  std::string out;
  for (std::size_t at = 1; at + 1 < t.size(); ++at) {
    if (t[at] == quote) {
      if (at + 2 < t.size() && t[at + 1] == quote) {
        out += quote;
        ++at;
        continue;
      }
      throw ProtocolError({}, fmt::format("{} has an unescaped quote inside", excerpt(text)));
    }
    out += t[at];
  }
  return out;
}

Bytes parse_block(std::span<const std::uint8_t> text) {
  if (text.size() < 2 || text[0] != '#' || !is_digit(text[1]))
    throw ProtocolError({}, "not an arbitrary block: it must start with # and a digit");
  if (text[1] == '0') return Bytes(text.begin() + 2, text.end());
  const std::size_t digits = text[1] - '0';
  if (text.size() < 2 + digits)
    throw ProtocolError({}, fmt::format("block header announces {} length digits, {} bytes follow",
                                        digits, text.size() - 2));
  std::size_t length = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (!is_digit(text[2 + i])) throw ProtocolError({}, "block length field is not digits");
    length = length * 10 + (text[2 + i] - '0');
  }
  const std::size_t have = text.size() - 2 - digits;
  if (have != length)
    throw ProtocolError({}, fmt::format("block announces {} data bytes, {} present", length, have));
  return Bytes(text.begin() + 2 + static_cast<std::ptrdiff_t>(digits), text.end());
}

ErrorEntry parse_error_entry(std::string_view text) {
  const std::string_view t = trim(text);
  const std::size_t comma = t.find(',');
  if (comma == std::string_view::npos)
    throw ProtocolError(
        {}, fmt::format("{} is not an error queue entry <code>,\"<message>\"", excerpt(text)));
  ErrorEntry entry;
  try {
    const std::int64_t code = parse_nr1(t.substr(0, comma));
    if (code < -32768 || code > 32767)
      throw ProtocolError({}, "error number outside -32768..32767");
    entry.code = static_cast<int>(code);
    entry.message = parse_string(t.substr(comma + 1));
  } catch (const ProtocolError& error) {
    throw ProtocolError({}, fmt::format("{} is not an error queue entry <code>,\"<message>\": {}",
                                        excerpt(text), error.detail()));
  }
  return entry;
}

Identity parse_identity(std::string_view text) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  const std::string_view t = trim(text);
  for (std::size_t at = 0; at <= t.size(); ++at) {
    if (at == t.size() || t[at] == ',') {
      fields.emplace_back(trim(t.substr(start, at - start)));
      start = at + 1;
    }
  }
  if (fields.size() != 4)
    throw ProtocolError({}, fmt::format("*IDN? answer {} has {} fields, IEEE 488.2 says 4 "
                                        "(manufacturer,model,serial,firmware)",
                                        excerpt(text), fields.size()));
  return Identity{fields[0], fields[1], fields[2], fields[3]};
}

}  // namespace hilbench::scpi
