#include "common/scpi_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <tuple>
#include <utility>

namespace hilbench::emu::scpi {

namespace {

// ESR bits (IEEE 488.2 11.5.1.1) and STB bits.
constexpr int esr_opc = 1 << 0;
constexpr int esr_qye = 1 << 2;
constexpr int esr_dde = 1 << 3;
constexpr int esr_exe = 1 << 4;
constexpr int esr_cme = 1 << 5;
constexpr int stb_eav = 1 << 2;
constexpr int stb_esb = 1 << 5;
constexpr int stb_mss = 1 << 6;

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// Splits at `separator` outside quoted strings.
std::vector<std::string_view> split_outside_quotes(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == separator) {
      parts.push_back(text.substr(start, at - start));
      start = at + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

int esr_bit(int code) {
  if (code <= -100 && code > -200) return esr_cme;
  if (code <= -200 && code > -300) return esr_exe;
  if (code <= -300 && code > -400) return esr_dde;
  if (code <= -400 && code > -500) return esr_qye;
  return 0;
}

// NRf: [+-] digits [. digits] [E [+-] digits]; returns the number of characters used.
std::optional<std::pair<double, std::size_t>> read_nrf(std::string_view text) {
  std::size_t at = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
  std::size_t digits = 0;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at, ++digits;
  if (at < text.size() && text[at] == '.') {
    ++at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    std::size_t exponent_at = at + 1;
    if (exponent_at < text.size() && (text[exponent_at] == '+' || text[exponent_at] == '-'))
      ++exponent_at;
    std::size_t exponent_digits = 0;
    while (exponent_at < text.size() && std::isdigit(static_cast<unsigned char>(text[exponent_at])))
      ++exponent_at, ++exponent_digits;
    if (exponent_digits > 0) at = exponent_at;
  }
  const std::string copy(text.substr(0, at));
  return std::pair{std::strtod(copy.c_str(), nullptr), at};
}

}  // namespace

std::string_view error::message(int code) noexcept {
  switch (code) {
    case 0:
      return "No error";
    case command_error:
      return "Command error";
    case syntax_error:
      return "Syntax error";
    case data_type_error:
      return "Data type error";
    case parameter_not_allowed:
      return "Parameter not allowed";
    case missing_parameter:
      return "Missing parameter";
    case undefined_header:
      return "Undefined header";
    case execution_error:
      return "Execution error";
    case settings_conflict:
      return "Settings conflict";
    case data_out_of_range:
      return "Data out of range";
    case illegal_parameter_value:
      return "Illegal parameter value";
    case queue_overflow:
      return "Queue overflow";
    default:
      return "Error";
  }
}

std::string format_nr3(double value) { return fmt::format("{:+.9E}", value); }

// ---- Call -----------------------------------------------------------------------------------

void Call::expect(std::size_t min, std::size_t max) const {
  if (parameters_.size() < min) throw CommandFailure(error::missing_parameter, header_);
  if (parameters_.size() > max) throw CommandFailure(error::parameter_not_allowed, header_);
}

double Call::number(std::size_t i, double min, double max, double fallback,
                    std::string_view unit) const {
  const std::string text = upper(trim(parameters_.at(i)));
  if (text == "MIN" || text == "MINIMUM") return min;
  if (text == "MAX" || text == "MAXIMUM") return max;
  if (text == "DEF" || text == "DEFAULT") return fallback;
  const auto nrf = read_nrf(text);
  if (!nrf) throw CommandFailure(error::data_type_error, fmt::format("{} {}", header_, text));
  double value = nrf->first;
  const std::string suffix{trim(std::string_view(text).substr(nrf->second))};
  if (!suffix.empty()) {
    const std::string want = upper(unit);
    double multiplier = 0;
    if (!want.empty() && suffix == want) {
      multiplier = 1;
    } else if (!want.empty() && suffix.size() == want.size() + 1 && suffix.ends_with(want)) {
      switch (suffix.front()) {
        case 'M':
          multiplier = 1e-3;
          break;
        case 'U':
          multiplier = 1e-6;
          break;
        case 'K':
          multiplier = 1e3;
          break;
        default:
          break;
      }
    }
    if (multiplier == 0)
      throw CommandFailure(error::data_type_error, fmt::format("{}: suffix {}", header_, suffix));
    value *= multiplier;
  }
  if (!std::isfinite(value) || value < min || value > max)
    throw CommandFailure(error::data_out_of_range, fmt::format("{} {}", header_, text));
  return value;
}

bool Call::boolean(std::size_t i) const {
  const std::string text = upper(trim(parameters_.at(i)));
  if (text == "ON" || text == "1") return true;
  if (text == "OFF" || text == "0") return false;
  throw CommandFailure(error::illegal_parameter_value, fmt::format("{} {}", header_, text));
}

std::string Call::keyword(std::size_t i) const { return upper(trim(parameters_.at(i))); }

// ---- Engine ----------------------------------------------------------------------------------

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  add("SYSTem:ERRor[:NEXT]?", [this](const Call& call) {
    call.expect(0, 0);
    return next_error();
  });
  add("SYSTem:ERRor:COUNt?", [this](const Call& call) {
    call.expect(0, 0);
    return std::to_string(queue_.size());
  });
  add("SYSTem:VERSion?", [](const Call& call) {
    call.expect(0, 0);
    return std::string("1999.0");
  });
}

void Engine::add(std::string_view pattern, Handler handler) {
  Entry entry;
  entry.handler = std::move(handler);
  std::size_t at = 0;
  while (at < pattern.size()) {
    Node node;
    if (pattern[at] == '[') {
      node.optional = true;
      ++at;
    }
    if (at < pattern.size() && pattern[at] == ':') ++at;
    std::string word;
    while (at < pattern.size() &&
           (std::isalnum(static_cast<unsigned char>(pattern[at])) || pattern[at] == '*'))
      word += pattern[at++];
    if (node.optional) {
      if (at >= pattern.size() || pattern[at] != ']')
        throw std::logic_error(fmt::format("SCPI pattern {}: unclosed [", pattern));
      ++at;
    }
    if (word.empty()) throw std::logic_error(fmt::format("SCPI pattern {}: empty node", pattern));
    for (char c : word)
      if (std::isupper(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '*')
        node.short_form += c;
      else
        break;
    node.long_form = upper(word);
    entry.nodes.push_back(std::move(node));
    if (at < pattern.size() && pattern[at] == ':') ++at;
    if (at < pattern.size() && pattern[at] == '?') {
      entry.query = true;
      ++at;
    }
  }
  entries_.push_back(std::move(entry));
}

const Engine::Entry* Engine::find(const std::vector<std::string>& mnemonics, bool query) const {
  for (const Entry& entry : entries_) {
    if (entry.query != query) continue;
    // match(i, j): mnemonics[i..] against nodes[j..], optional nodes may be skipped.
    std::function<bool(std::size_t, std::size_t)> match = [&](std::size_t i, std::size_t j) {
      if (j == entry.nodes.size()) return i == mnemonics.size();
      const Node& node = entry.nodes[j];
      if (i < mnemonics.size() &&
          (mnemonics[i] == node.short_form || mnemonics[i] == node.long_form) &&
          match(i + 1, j + 1))
        return true;
      return node.optional && match(i, j + 1);
    };
    if (match(0, 0)) return &entry;
  }
  return nullptr;
}

std::optional<std::string> Engine::handle(std::string_view message) {
  std::optional<std::string> response = handle_units(message);
  if (after_) after_();
  return response;
}

std::optional<std::string> Engine::handle_units(std::string_view message) {
  std::vector<std::string> responses;
  std::vector<std::string> path;  // the SCPI-99 current path (without the last node)
  for (std::string_view unit : split_outside_quotes(message, ';')) {
    if (trim(unit).empty()) continue;
    try {
      if (auto response = execute_unit(trim(unit), path)) responses.push_back(std::move(*response));
    } catch (const CommandFailure& failure) {
      queue_error(failure.code(), failure.what());
      // IEEE 488.2 6.1.6: after a command error the rest of the message is not executed
      if (esr_bit(failure.code()) == esr_cme) break;
    }
  }
  if (responses.empty()) return std::nullopt;
  std::string joined;
  for (const std::string& response : responses) joined += (joined.empty() ? "" : ";") + response;
  return joined;
}

std::optional<std::string> Engine::execute_unit(std::string_view unit,
                                                std::vector<std::string>& path) {
  std::size_t header_end = 0;
  while (header_end < unit.size() && !std::isspace(static_cast<unsigned char>(unit[header_end])))
    ++header_end;
  const std::string header = upper(unit.substr(0, header_end));
  std::vector<std::string> parameters;
  const std::string_view rest = trim(unit.substr(header_end));
  if (!rest.empty())
    for (std::string_view parameter : split_outside_quotes(rest, ','))
      parameters.emplace_back(trim(parameter));
  for (char c : header)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '*' || c == '?' ||
          c == '_'))
      throw CommandFailure(error::syntax_error, header);
  const Call call(header, parameters);

  if (header.starts_with('*')) {
    auto response = common_command(header, call);
    return response;
  }
  const bool query = header.ends_with('?');
  std::string_view body(header);
  if (query) body.remove_suffix(1);
  const bool absolute = body.starts_with(':');
  if (absolute) body.remove_prefix(1);
  std::vector<std::string> mnemonics = absolute ? std::vector<std::string>{} : path;
  for (std::string_view node : split_outside_quotes(body, ':')) {
    if (node.empty()) throw CommandFailure(error::syntax_error, header);
    mnemonics.emplace_back(node);
  }
  const Entry* entry = find(mnemonics, query);
  if (!entry && !absolute && !path.empty()) {
    // Not found relative to the current path: SCPI instruments also try from the root.
    std::vector<std::string> from_root(mnemonics.begin() + static_cast<std::ptrdiff_t>(path.size()),
                                       mnemonics.end());
    entry = find(from_root, query);
    if (entry) mnemonics = std::move(from_root);
  }
  if (!entry) throw CommandFailure(error::undefined_header, header);
  path.assign(mnemonics.begin(), mnemonics.end() - 1);
  std::string response = entry->handler(call);
  if (query) return response;
  return std::nullopt;
}

std::optional<std::string> Engine::common_command(const std::string& header, const Call& call) {
  auto no_parameters = [&] { call.expect(0, 0); };
  if (header == "*IDN?") {
    no_parameters();
    return fmt::format("{},{},{},{}", options_.manufacturer, options_.model, options_.serial_number,
                       options_.firmware);
  }
  if (header == "*RST") {
    no_parameters();
    if (reset_) reset_();
    return std::nullopt;
  }
  if (header == "*CLS") {
    no_parameters();
    queue_.clear();
    esr_ = 0;
    return std::nullopt;
  }
  if (header == "*ESR?") {
    no_parameters();
    return std::to_string(std::exchange(esr_, 0));
  }
  if (header == "*ESE") {
    call.expect(1, 1);
    ese_ = static_cast<int>(call.number(0, 0, 255, 0, ""));
    return std::nullopt;
  }
  if (header == "*ESE?") {
    no_parameters();
    return std::to_string(ese_);
  }
  if (header == "*SRE") {
    call.expect(1, 1);
    sre_ = static_cast<int>(call.number(0, 0, 255, 0, "")) & ~stb_mss;
    return std::nullopt;
  }
  if (header == "*SRE?") {
    no_parameters();
    return std::to_string(sre_);
  }
  if (header == "*STB?") {
    no_parameters();
    return std::to_string(status_byte());
  }
  if (header == "*OPC") {
    no_parameters();
    esr_ |= esr_opc;
    return std::nullopt;
  }
  if (header == "*OPC?") {
    no_parameters();
    return std::string("1");
  }
  if (header == "*WAI") {
    no_parameters();
    return std::nullopt;
  }
  if (header == "*TST?") {
    no_parameters();
    return std::string("0");
  }
  throw CommandFailure(error::undefined_header, header);
}

void Engine::queue_error(int code, std::string_view detail) {
  std::string text{error::message(code)};
  if (!detail.empty()) text += fmt::format(";{}", detail);
  if (queue_.size() >= options_.error_queue_size) {
    queue_.back() = {error::queue_overflow, std::string(error::message(error::queue_overflow))};
  } else {
    queue_.emplace_back(code, std::move(text));
  }
  if (!options_.esr_ignores_errors) esr_ |= esr_bit(code);
}

std::string Engine::next_error() {
  int code = 0;
  std::string text{error::message(0)};
  if (!queue_.empty()) {
    std::tie(code, text) = queue_.front();
    queue_.pop_front();
  }
  std::string quoted;
  for (char c : text) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return fmt::format("{:+d},\"{}\"", code, quoted);
}

int Engine::status_byte() const noexcept {
  int stb = 0;
  if (!queue_.empty()) stb |= stb_eav;
  if ((esr_ & ese_) != 0) stb |= stb_esb;
  if ((stb & sre_) != 0) stb |= stb_mss;
  return stb;
}

}  // namespace hilbench::emu::scpi
