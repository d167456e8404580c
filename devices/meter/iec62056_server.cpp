#include "meter/iec62056_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include "meter/defects.hpp"
#include "meter/profile.hpp"

namespace hilbench::emu::meter {
namespace {

constexpr std::uint8_t soh = 0x01, stx = 0x02, etx = 0x03, eot = 0x04, ack = 0x06, nak = 0x15;
constexpr std::array<unsigned, 7> mode_c_bauds{300, 600, 1200, 2400, 4800, 9600, 19200};
constexpr unsigned initial_baud = 300;
constexpr std::size_t max_buffer = 1024;

bool printable(char c) { return c >= 0x20 && c < 0x7F; }

Iec62056Server::Action reply_with(std::vector<std::uint8_t> bytes) {
  Iec62056Server::Action action;
  action.reply = std::move(bytes);
  return action;
}

constexpr std::array<std::pair<std::string_view, ReadoutSource>, 3> sources{{
    {"clock_time", ReadoutSource::clock_time},
    {"clock_date", ReadoutSource::clock_date},
    {"serial_number", ReadoutSource::serial_number},
}};

std::string_view source_name(ReadoutSource source) {
  for (const auto& [name, value] : sources)
    if (value == source) return name;
  return "register";
}

/// Parses "a:b:c" or "a-b-c" (two digits each) into three numbers.
std::optional<std::array<int, 3>> three_fields(std::string_view text, char separator) {
  if (text.size() != 8 || text[2] != separator || text[5] != separator) return std::nullopt;
  std::array<int, 3> out{};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string_view part = text.substr(i * 3, 2);
    const auto [end, error] = std::from_chars(part.data(), part.data() + 2, out[i]);
    if (error != std::errc{} || end != part.data() + 2) return std::nullopt;
  }
  return out;
}

}  // namespace

char mode_c_baud_character(unsigned baud) noexcept {
  for (std::size_t i = 0; i < mode_c_bauds.size(); ++i)
    if (mode_c_bauds[i] == baud) return static_cast<char>('0' + i);
  return '\0';
}

unsigned mode_c_baud_of(char character) noexcept {
  if (character < '0' || character > '6') return 0;
  return mode_c_bauds[static_cast<std::size_t>(character - '0')];
}

Iec62056Settings read_iec62056(TableReader& reader, const std::vector<RegisterSpec>& registers) {
  Iec62056Settings settings;
  const toml::table& table = reader.table();
  settings.manufacturer = reader.required_string("manufacturer");
  if (settings.manufacturer.size() != 3 ||
      !std::all_of(settings.manufacturer.begin(), settings.manufacturer.end(),
                   [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }))
    reader.fail("manufacturer", table.get("manufacturer"), "expected three letters");
  settings.identifier = reader.required_string("identifier");
  if (settings.identifier.empty() || settings.identifier.size() > 16 ||
      !std::all_of(settings.identifier.begin(), settings.identifier.end(), printable) ||
      settings.identifier.find_first_of("/!") != std::string::npos)
    reader.fail("identifier", table.get("identifier"),
                "expected 1..16 printable characters without / and !");
  settings.max_baud = static_cast<unsigned>(reader.optional_integer("max_baud", 300, 19200, 9600));
  settings.baud_character = mode_c_baud_character(settings.max_baud);
  if (settings.baud_character == '\0')
    reader.fail("max_baud", table.get("max_baud"),
                "expected a mode C baud rate: 300, 600, 1200, 2400, 4800, 9600 or 19200");
  settings.address = reader.optional_string("address");
  if (settings.address.size() > 32 ||
      !std::all_of(settings.address.begin(), settings.address.end(), printable) ||
      settings.address.find_first_of("/?!") != std::string::npos)
    reader.fail("address", table.get("address"),
                "expected at most 32 printable characters without / ? !");
  settings.password = reader.required_string("password");
  if (!std::all_of(settings.password.begin(), settings.password.end(), printable) ||
      settings.password.find_first_of("()") != std::string::npos)
    reader.fail("password", table.get("password"), "expected printable characters without ( )");
  const bool fast = std::islower(static_cast<unsigned char>(settings.manufacturer[2])) != 0;
  settings.reaction_time_ms = static_cast<unsigned>(
      reader.optional_integer("reaction_time_ms", fast ? 20 : 200, 1500, fast ? 20 : 200));
  settings.inactivity_timeout_ms =
      static_cast<unsigned>(reader.optional_integer("inactivity_timeout_ms", 500, 120000, 3000));

  const auto entries = reader.optional_array_of_tables("readout");
  if (entries.empty())
    reader.fail("readout", nullptr, "expected at least one [[iec62056.readout]]");
  for (std::size_t index = 0; index < entries.size(); ++index) {
    TableReader entry_reader(reader.file(), *entries[index],
                             fmt::format("iec62056.readout[{}]", index));
    ReadoutEntry entry;
    entry.obis = entry_reader.required_string("obis");
    if (entry.obis.empty() || entry.obis.size() > 16 ||
        !std::all_of(entry.obis.begin(), entry.obis.end(), printable) ||
        entry.obis.find_first_of("()*/!") != std::string::npos)
      entry_reader.fail("obis", entries[index]->get("obis"),
                        "expected 1..16 printable characters without ( ) * / !");
    const bool has_register = entries[index]->contains("register");
    const bool has_source = entries[index]->contains("source");
    if (has_register == has_source)
      entry_reader.fail("register", entries[index]->get("register"),
                        "expected either `register` (a register name) or `source`");
    std::string default_unit;
    int default_decimals = 0;
    if (has_register) {
      entry.register_name = entry_reader.required_string("register");
      const auto spec = std::find_if(registers.begin(), registers.end(),
                                     [&](const auto& r) { return r.name == entry.register_name; });
      if (spec == registers.end())
        entry_reader.fail("register", entries[index]->get("register"),
                          fmt::format("no register named \"{}\" in the map", entry.register_name));
      default_unit = spec->unit == "1" ? "" : spec->unit;
      default_decimals = std::max(0, static_cast<int>(std::lround(std::log10(spec->scale))));
    } else {
      entry.source = entry_reader.required_choice("source", sources);
    }
    entry.unit = entry_reader.optional_string("unit", default_unit);
    entry.decimals =
        static_cast<int>(entry_reader.optional_integer("decimals", 0, 9, default_decimals));
    entry_reader.finish("obis, register, source, unit, decimals");
    settings.readout.push_back(std::move(entry));
  }
  reader.finish(
      "manufacturer, identifier, max_baud, address, password, reaction_time_ms, "
      "inactivity_timeout_ms, readout");
  return settings;
}

nlohmann::ordered_json to_json(const Iec62056Settings& settings) {
  nlohmann::ordered_json readout = nlohmann::ordered_json::array();
  for (const ReadoutEntry& entry : settings.readout)
    readout.push_back({{"obis", entry.obis},
                       {"register", entry.source == ReadoutSource::register_value
                                        ? nlohmann::ordered_json(entry.register_name)
                                        : nlohmann::ordered_json(nullptr)},
                       {"source", source_name(entry.source)},
                       {"unit", entry.unit},
                       {"decimals", entry.decimals}});
  return {{"manufacturer", settings.manufacturer},
          {"identifier", settings.identifier},
          {"max_baud", settings.max_baud},
          {"baud_character", std::string(1, settings.baud_character)},
          {"address", settings.address},
          {"password", settings.password},
          {"reaction_time_ms", settings.reaction_time_ms},
          {"inactivity_timeout_ms", settings.inactivity_timeout_ms},
          {"readout", std::move(readout)}};
}

// ---- the engine ---------------------------------------------------------------------------

Iec62056Server::Iec62056Server(Iec62056Settings settings, DefectSet defects, ValueSource values,
                               std::string serial_number)
    : settings_(std::move(settings)),
      defects_(defects),
      values_(std::move(values)),
      serial_number_(std::move(serial_number)) {}

std::uint8_t Iec62056Server::block_check(std::span<const std::uint8_t> bytes) noexcept {
  std::uint8_t out = 0;
  for (std::uint8_t byte : bytes) out ^= byte;
  return out;
}

std::chrono::system_clock::time_point Iec62056Server::now() const {
  using namespace std::chrono;
  if (clock_.read_s)
    return system_clock::time_point{
        duration_cast<system_clock::duration>(duration<double>(clock_.read_s()))};
  return system_clock::now() + clock_offset_;
}

void Iec62056Server::shift_clock(std::chrono::system_clock::duration by) {
  using namespace std::chrono;
  if (clock_.set_s)
    clock_.set_s(duration<double>((now() + by).time_since_epoch()).count());
  else
    clock_offset_ += by;
}

std::optional<std::string> Iec62056Server::value_text(const ReadoutEntry& entry) const {
  using namespace std::chrono;
  switch (entry.source) {
    case ReadoutSource::register_value: {
      const auto value = values_ ? values_(entry.register_name) : std::nullopt;
      if (!value) return std::nullopt;
      return fmt::format("{:.{}f}", *value, entry.decimals);
    }
    case ReadoutSource::clock_time: {
      const auto time = now();
      const hh_mm_ss clock{floor<seconds>(time - floor<days>(time))};
      return fmt::format("{:02}:{:02}:{:02}", clock.hours().count(), clock.minutes().count(),
                         clock.seconds().count());
    }
    case ReadoutSource::clock_date: {
      const year_month_day date{floor<days>(now())};
      return fmt::format("{:02}-{:02}-{:02}", static_cast<int>(date.year()) % 100,
                         static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    }
    case ReadoutSource::serial_number:
      return serial_number_;
  }
  return std::nullopt;
}

std::string Iec62056Server::data_line(const ReadoutEntry& entry) const {
  const std::string value = value_text(entry).value_or("");
  if (entry.unit.empty()) return fmt::format("{}({})", entry.obis, value);
  return fmt::format("{}({}*{})", entry.obis, value, entry.unit);
}

Iec62056Server::Bytes Iec62056Server::data_message(const std::string& data,
                                                   bool corrupt_bcc) const {
  // Built as text, then copied once (GCC 12 at -O3 misreports small vector inserts).
  std::string text(1, static_cast<char>(stx));
  text.append(data);
  text.push_back(static_cast<char>(etx));
  Bytes out(text.begin(), text.end());
  std::uint8_t check = block_check(std::span(out).subspan(1));
  if (corrupt_bcc) check ^= 0x01;
  out.push_back(check);
  return out;
}

Iec62056Server::Bytes Iec62056Server::error_message(int code) const {
  return data_message(fmt::format("(ER{:02})", code));
}

std::chrono::milliseconds Iec62056Server::reaction_time() const noexcept {
  if (defect(meter_defect("iec_reaction_too_fast"))) return std::chrono::milliseconds{5};
  return std::chrono::milliseconds{settings_.reaction_time_ms};
}

Iec62056Server::Bytes Iec62056Server::readout_message() const {
  std::string data;
  for (const ReadoutEntry& entry : settings_.readout) data += data_line(entry) + "\r\n";
  data += "!\r\n";
  return data_message(data, defect(meter_defect("iec_bcc_error")));
}

std::vector<Iec62056Server::Action> Iec62056Server::on_bytes(std::span<const std::uint8_t> bytes) {
  std::vector<Action> actions;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  if (buffer_.size() > max_buffer) buffer_.erase(buffer_.begin(), buffer_.end() - max_buffer);
  while (!buffer_.empty()) {
    const std::size_t before = buffer_.size();
    std::optional<Action> action;
    if (baud_ == initial_baud &&
        (state_ == State::idle || state_ == State::identified || buffer_.front() == '/')) {
      action = on_initial_byte_stream();
    } else {
      // Programming mode: frames SOH/STX ... ETX/EOT BCC.
      const auto start = std::find_if(buffer_.begin(), buffer_.end(),
                                      [](std::uint8_t b) { return b == soh || b == stx; });
      buffer_.erase(buffer_.begin(), start);
      if (buffer_.empty()) break;
      const auto end = std::find_if(buffer_.begin() + 1, buffer_.end(),
                                    [](std::uint8_t b) { return b == etx || b == eot; });
      if (end == buffer_.end() || end + 1 == buffer_.end()) break;  // incomplete
      const Bytes block(buffer_.begin(), end + 2);
      buffer_.erase(buffer_.begin(), end + 2);
      action = on_block(block);
    }
    if (action) actions.push_back(std::move(*action));
    if (buffer_.size() == before) break;  // waiting for more bytes
  }
  return actions;
}

std::optional<Iec62056Server::Action> Iec62056Server::on_initial_byte_stream() {
  // Drop what can start no message.
  const auto start = std::find_if(buffer_.begin(), buffer_.end(), [&](std::uint8_t b) {
    return b == '/' || (b == ack && state_ == State::identified);
  });
  buffer_.erase(buffer_.begin(), start);
  if (buffer_.empty()) return std::nullopt;
  if (buffer_.front() == '/') {
    const auto crlf =
        std::search(buffer_.begin(), buffer_.end(), std::begin("\r\n"), std::begin("\r\n") + 2);
    if (crlf == buffer_.end()) {
      if (buffer_.size() > 64) buffer_.erase(buffer_.begin());  // no request is that long
      return std::nullopt;
    }
    const std::string request(buffer_.begin(), crlf);
    buffer_.erase(buffer_.begin(), crlf + 2);
    if (!request.starts_with("/?") || !request.ends_with("!")) return Action{};
    const std::string address = request.substr(2, request.size() - 3);
    if (!address.empty() && address != settings_.address) return Action{};
    state_ = State::identified;
    char announced = settings_.baud_character;
    if (defect(meter_defect("iec_identification_wrong_baud_character")))
      announced = announced < '6' ? static_cast<char>(announced + 1) : '0';
    const std::string id =
        fmt::format("/{}{}{}\r\n", settings_.manufacturer, announced, settings_.identifier);
    return reply_with(Bytes(id.begin(), id.end()));
  }
  // ACK V Z Y CR LF, only after an identification.
  if (buffer_.size() < 6) return std::nullopt;
  const Bytes message(buffer_.begin(), buffer_.begin() + 6);
  buffer_.erase(buffer_.begin(), buffer_.begin() + 6);
  if (message[4] != '\r' || message[5] != '\n') return Action{};
  const char z = static_cast<char>(message[2]);
  const char y = static_cast<char>(message[3]);
  const unsigned baud = mode_c_baud_of(z);
  if (baud == 0 || z > settings_.baud_character || (y != '0' && y != '1')) {
    state_ = State::idle;
    return Action{};
  }
  const bool switches = !defect(meter_defect("iec_ignores_baud_switch"));
  const unsigned session_baud = switches ? baud : initial_baud;
  Action action;
  if (session_baud != baud_) action.switch_now = session_baud;
  if (y == '0') {
    action.reply = readout_message();
    if (session_baud != initial_baud) action.switch_after = initial_baud;
    state_ = State::idle;
    baud_ = initial_baud;
    return action;
  }
  const std::string text =
      fmt::format("{}P0{}({}){}", static_cast<char>(soh), static_cast<char>(stx), serial_number_,
                  static_cast<char>(etx));
  Bytes p0(text.begin(), text.end());
  p0.push_back(block_check(std::span(p0).subspan(1)));
  action.reply = std::move(p0);
  baud_ = session_baud;
  state_ = State::programming;
  return action;
}

std::optional<Iec62056Server::Action> Iec62056Server::on_block(const Bytes& block) {
  const std::uint8_t received = block.back();
  if (block_check(std::span(block).subspan(1, block.size() - 2)) != received)
    return reply_with({nak});
  if (block.front() != soh || block.size() < 5) return reply_with({nak});
  const std::string command(block.begin() + 1, block.begin() + 3);
  std::string data;
  if (block[3] == stx) data.assign(block.begin() + 4, block.end() - 2);
  auto back_to_initial = [&](Bytes reply) {
    state_ = State::idle;
    const bool changed = baud_ != initial_baud;
    baud_ = initial_baud;
    Action action = reply_with(std::move(reply));
    if (changed) {
      if (action.reply.empty())
        action.switch_now = initial_baud;
      else
        action.switch_after = initial_baud;
    }
    return action;
  };
  if (command == "B0") return back_to_initial({});
  if (command == "P1") {
    const bool right = data == "(" + settings_.password + ")" ||
                       defect(meter_defect("iec_password_not_checked")) ||
                       (defect(meter_defect("universal_password")) && data == "(00000000)");
    if (!right) return back_to_initial({nak});
    state_ = State::authorised;
    return reply_with({ack});
  }
  if (command != "R1" && command != "W1") return reply_with(error_message(4));
  if (state_ != State::authorised) return reply_with(error_message(4));
  const std::size_t open = data.find('(');
  const std::size_t close = data.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return reply_with(error_message(3));
  const std::string address = data.substr(0, open);
  const std::string value = data.substr(open + 1, close - open - 1);
  if (command == "R1") {
    for (const ReadoutEntry& entry : settings_.readout)
      if (entry.obis == address) return reply_with(data_message(data_line(entry)));
    return reply_with(error_message(1));
  }
  // W1: the clock only.
  using namespace std::chrono;
  const auto current = now();
  const auto today = floor<days>(current);
  if (address == "0.9.1") {
    const auto fields = three_fields(value, ':');
    if (!fields || (*fields)[0] > 23 || (*fields)[1] > 59 || (*fields)[2] > 59)
      return reply_with(error_message(3));
    const auto target = today + hours((*fields)[0]) + minutes((*fields)[1]) + seconds((*fields)[2]);
    shift_clock(target - floor<seconds>(current));
    return reply_with({ack});
  }
  if (address == "0.9.2") {
    const auto fields = three_fields(value, '-');
    if (!fields) return reply_with(error_message(3));
    const year_month_day date{year(2000 + (*fields)[0]), month(static_cast<unsigned>((*fields)[1])),
                              day(static_cast<unsigned>((*fields)[2]))};
    if (!date.ok()) return reply_with(error_message(3));
    shift_clock(sys_days(date) - today);
    return reply_with({ack});
  }
  return reply_with(error_message(2));
}

std::optional<unsigned> Iec62056Server::on_inactivity() {
  buffer_.clear();
  state_ = State::idle;
  if (baud_ == initial_baud) return std::nullopt;
  baud_ = initial_baud;
  return initial_baud;
}

}  // namespace hilbench::emu::meter
