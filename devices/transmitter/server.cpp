#include "transmitter/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "common/crc.hpp"

namespace hilbench::emu::transmitter {

namespace {

constexpr double lag_too_slow_factor = 50.0;
// Static-performance knobs, fractions of span (sized so each breaks its own declared limit of
// the stock profiles, devices/profiles/pt*-transmitter.toml, and no other).
constexpr double zero_offset_of_span = 0.009;
constexpr double bow_of_span = 0.003;
constexpr double extra_hysteresis_of_span = 0.0045;
constexpr double setting_spread_of_span = 0.0008;
constexpr double wrong_band_offset_ma = 0.1;  // inside the measurement band by this much

std::chrono::duration<double> seconds(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::duration<double>>(d);
}

}  // namespace

// ---- model ------------------------------------------------------------------------------

namespace {
double time_constant_s(const Profile& profile) {
  return profile.response.time_constant_s *
         (profile.defects.has(transmitter_defect("lag_too_slow")) ? lag_too_slow_factor : 1.0);
}
}  // namespace

void Model::set_defects(const DefectSet& defects, Clock::time_point now) {
  advance(now);
  profile_.defects = defects;
  time_constant_s_ = time_constant_s(profile_);
}

Model::Model(const Profile& profile, Clock::time_point power_up)
    : profile_(profile),
      dead_time_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(profile.response.dead_time_s))),
      time_constant_s_(time_constant_s(profile)),
      lagged_(profile.range.lower),
      input_(profile.range.lower),
      last_set_(profile.range.lower),
      at_(power_up),
      sensor_fault_(profile.sensor_fault) {
  set_input(profile.process_value, power_up);
}

void Model::set_input(double value, Clock::time_point now) {
  advance(now);
  if (value != last_set_) {
    rising_ = value > last_set_;
    // Our own arithmetic on the standard's fixed mt19937_64 output (as FaultRng): the same
    // draws with any standard library.
    setting_offset_ = static_cast<double>(setting_draws_() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
  }
  last_set_ = value;
  pending_.push_back({now + dead_time_, value});
}

void Model::advance(Clock::time_point now) {
  auto follow = [this](Clock::time_point until) {
    if (until <= at_) return;
    const double dt = seconds(until - at_).count();
    lagged_ = time_constant_s_ > 0 ? input_ + (lagged_ - input_) * std::exp(-dt / time_constant_s_)
                                   : input_;
    at_ = until;
  };
  while (!pending_.empty() && pending_.front().effective <= now) {
    follow(pending_.front().effective);
    input_ = pending_.front().value;
    if (time_constant_s_ <= 0) lagged_ = input_;
    pending_.pop_front();
  }
  follow(now);
}

Output Model::output(Clock::time_point now) {
  advance(now);
  const Range& range = profile_.range;
  const Loop& loop = profile_.loop;
  const double span = range.upper - range.lower;
  const double x = (lagged_ - range.lower) / span;
  Output out;
  const DefectSet& knobs = profile_.defects;
  const double direction = rising_ ? 0.5 : -0.5;
  out.process_value = lagged_ + profile_.response.nonlinearity * 4.0 * x * (1.0 - x) +
                      direction * profile_.response.hysteresis;
  if (knobs.has(transmitter_defect("zero_offset"))) out.process_value += zero_offset_of_span * span;
  if (knobs.has(transmitter_defect("bowed_output")))
    out.process_value += bow_of_span * span * 4.0 * x * (1.0 - x);
  if (knobs.has(transmitter_defect("hysteresis_excessive")))
    out.process_value += direction * extra_hysteresis_of_span * span;
  if (knobs.has(transmitter_defect("not_repeatable")))
    out.process_value += setting_offset_ * setting_spread_of_span * span;
  if (sensor_fault_) {
    const bool high = loop.failure == FailureDirection::high;
    out.process_value = std::numeric_limits<double>::quiet_NaN();
    out.loop_current_ma = high ? loop.failure_high_ma : loop.failure_low_ma;
    if (profile_.defects.has(transmitter_defect("ne43_wrong_failure_band")))
      out.loop_current_ma = high ? loop.saturation_high_ma - wrong_band_offset_ma
                                 : loop.saturation_low_ma + wrong_band_offset_ma;
    out.failure = !profile_.defects.has(transmitter_defect("status_not_flagged"));
    out.failure_high = out.failure && high;
    return out;
  }
  const double ma = 4.0 + 16.0 * (out.process_value - range.lower) / span;
  out.loop_current_ma = std::clamp(ma, loop.saturation_low_ma, loop.saturation_high_ma);
  out.saturated = ma <= loop.saturation_low_ma || ma >= loop.saturation_high_ma;
  return out;
}

// ---- Modbus RTU -------------------------------------------------------------------------

namespace {

constexpr std::uint8_t fc_read_holding = 0x03;
constexpr std::uint8_t fc_read_input = 0x04;
constexpr std::uint8_t fc_write_single = 0x06;
constexpr std::uint8_t fc_write_multiple = 0x10;
constexpr std::uint8_t illegal_function = 0x01;
constexpr std::uint8_t illegal_address = 0x02;
constexpr std::uint8_t illegal_value = 0x03;
constexpr unsigned input_count = 5;
constexpr unsigned holding_count = 3;
constexpr unsigned max_read = 125;

std::uint16_t be16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

void put_f32(std::vector<std::uint16_t>& words, double value) {
  const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
  words.push_back(static_cast<std::uint16_t>(bits >> 16));
  words.push_back(static_cast<std::uint16_t>(bits & 0xFFFF));
}

Bytes with_crc(Bytes adu) {
  const std::uint16_t crc = crc16_modbus(adu);
  adu.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  adu.push_back(static_cast<std::uint8_t>(crc >> 8));
  return adu;
}

// A range [start, start + count) that does not cut a 32-bit pair starting at `pairs`.
bool cuts_pair(unsigned start, unsigned count, std::initializer_list<unsigned> pairs) {
  const unsigned end = start + count;
  for (unsigned pair : pairs)
    if ((start == pair + 1) || (end == pair + 1)) return true;
  return false;
}

}  // namespace

std::optional<Bytes> ModbusRtuEngine::handle_frame(std::span<const std::uint8_t> frame,
                                                   Clock::time_point now) {
  if (frame.size() < 4) return std::nullopt;
  const std::size_t body = frame.size() - 2;
  const std::uint16_t crc = static_cast<std::uint16_t>(frame[body] | (frame[body + 1] << 8));
  if (crc16_modbus(frame.first(body)) != crc) return std::nullopt;
  const unsigned unit = frame[0];
  if (unit != model_.profile().unit) return std::nullopt;  // another unit or broadcast
  const std::span<const std::uint8_t> pdu = frame.subspan(1, body - 1);
  const std::uint8_t function = pdu[0];
  auto exception = [&](std::uint8_t code) {
    return with_crc(
        {static_cast<std::uint8_t>(unit), static_cast<std::uint8_t>(function | 0x80), code});
  };

  if (function == fc_read_holding || function == fc_read_input) {
    if (pdu.size() != 5) return exception(illegal_value);
    const unsigned start = be16(pdu, 1);
    const unsigned count = be16(pdu, 3);
    if (count == 0 || count > max_read) return exception(illegal_value);
    const bool input = function == fc_read_input;
    const unsigned size = input ? input_count : holding_count;
    if (start + count > size || cuts_pair(start, count,
                                          input ? std::initializer_list<unsigned>{0, 2}
                                                : std::initializer_list<unsigned>{0}))
      return exception(illegal_address);
    std::vector<std::uint16_t> words;
    const Output out = model_.output(now);
    if (input) {
      put_f32(words, out.process_value);
      put_f32(words, out.loop_current_ma);
      words.push_back(static_cast<std::uint16_t>(
          (out.failure ? 1u : 0u) | (out.failure_high ? 2u : 0u) | (out.saturated ? 4u : 0u)));
    } else {
      put_f32(words, simulated_input_);
      words.push_back(simulated_fault_ ? 1 : 0);
    }
    Bytes reply{static_cast<std::uint8_t>(unit), function, static_cast<std::uint8_t>(count * 2)};
    for (unsigned index = start; index < start + count; ++index) {
      reply.push_back(static_cast<std::uint8_t>(words[index] >> 8));
      reply.push_back(static_cast<std::uint8_t>(words[index] & 0xFF));
    }
    return with_crc(std::move(reply));
  }
  if (function == fc_write_single) {
    if (pdu.size() != 5) return exception(illegal_value);
    const unsigned address = be16(pdu, 1);
    const unsigned value = be16(pdu, 3);
    if (address != 2) return exception(illegal_address);
    if (value > 1) return exception(illegal_value);
    simulated_fault_ = value == 1;
    model_.set_sensor_fault(simulated_fault_);
    return with_crc(Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(body)));
  }
  if (function == fc_write_multiple) {
    if (pdu.size() < 6) return exception(illegal_value);
    const unsigned start = be16(pdu, 1);
    const unsigned count = be16(pdu, 3);
    const unsigned byte_count = pdu[5];
    if (count == 0 || count > 123 || byte_count != count * 2 || pdu.size() != 6 + byte_count)
      return exception(illegal_value);
    if (start + count > holding_count || cuts_pair(start, count, {0}))
      return exception(illegal_address);
    std::vector<std::uint16_t> words;
    for (unsigned index = 0; index < count; ++index) words.push_back(be16(pdu, 6 + 2 * index));
    if (start + count == 3 && words.back() > 1) return exception(illegal_value);
    if (start == 0) {
      const auto bits = static_cast<std::uint32_t>(words[0]) << 16 | words[1];
      simulated_input_ = std::bit_cast<float>(bits);
      model_.set_input(simulated_input_, now);
    }
    if (start + count == 3) {
      simulated_fault_ = words.back() == 1;
      model_.set_sensor_fault(simulated_fault_);
    }
    return with_crc(Bytes(frame.begin(), frame.begin() + 6));
  }
  return exception(illegal_function);
}

// ---- ASCII ------------------------------------------------------------------------------

namespace {

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

}  // namespace

std::string AsciiEngine::handle_line(std::string line, Clock::time_point now) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  auto reply = [](const std::string& text) { return text + "\r\n"; };
  if (line.size() > max_line) return reply("ERR 3");
  const Profile& profile = model_.profile();
  if (line == "ID?")
    return reply(fmt::format("ID {},{},{},{}", profile.identity.manufacturer,
                             profile.identity.model, profile.identity.serial_number,
                             profile.identity.firmware));
  if (line == "PV?") {
    const Output out = model_.output(now);
    return reply(std::isnan(out.process_value)
                     ? fmt::format("PV NAN {}", profile.range.unit)
                     : fmt::format("PV {:.6g} {}", out.process_value, profile.range.unit));
  }
  if (line == "MA?") return reply(fmt::format("MA {:.4f}", model_.output(now).loop_current_ma));
  if (line == "ST?") {
    const Output out = model_.output(now);
    return reply(!out.failure ? "ST OK" : out.failure_high ? "ST FAIL HIGH" : "ST FAIL LOW");
  }
  if (line.starts_with("SIM PV ")) {
    const auto value = parse_number(std::string_view(line).substr(7));
    if (!value) return reply("ERR 2");
    model_.set_input(*value, now);
    return reply("OK");
  }
  if (line == "SIM FAULT ON" || line == "SIM FAULT OFF") {
    model_.set_sensor_fault(line.ends_with("ON"));
    return reply("OK");
  }
  if (line.starts_with("SIM ")) return reply("ERR 2");
  return reply("ERR 1");
}

}  // namespace hilbench::emu::transmitter
