#include "transmitter/profile.hpp"

#include <array>
#include <utility>

namespace hilbench::emu::transmitter {

namespace {

constexpr std::array<std::pair<std::string_view, Protocol>, 2> protocol_choices{{
    {"modbus-rtu", Protocol::modbus_rtu},
    {"ascii", Protocol::ascii},
}};
constexpr std::array<std::pair<std::string_view, FailureDirection>, 2> failure_choices{{
    {"low", FailureDirection::low},
    {"high", FailureDirection::high},
}};

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::ascii ? "ascii" : "modbus-rtu";
}

double non_negative(TableReader& reader, std::string_view key, double fallback) {
  const double value = reader.optional_number(key, fallback);
  if (!(value >= 0)) reader.fail(key, reader.table().get(key), "expected a number >= 0");
  return value;
}

}  // namespace

Profile read_profile(const toml::table& document, const std::string& file) {
  Profile profile;
  profile.source = file;
  TableReader top(file, document, "");
  profile.schema = static_cast<int>(top.required_integer("schema", 1, 1));

  auto table = [&](std::string_view key) -> const toml::table& {
    const toml::table* found = top.optional_table(key);
    if (!found) top.fail(key, nullptr, fmt::format("missing; expected a [{}] table", key));
    return *found;
  };

  {
    TableReader reader(file, table("device"), "device");
    reader.required_string("kind");  // dispatched on already
    profile.name = reader.required_string("name");
    profile.description = reader.optional_string("description");
    reader.finish("kind, name, description");
  }
  {
    TableReader reader(file, table("identity"), "identity");
    profile.identity.manufacturer = reader.required_string("manufacturer");
    profile.identity.model = reader.required_string("model");
    profile.identity.serial_number = reader.required_string("serial_number");
    profile.identity.firmware = reader.required_string("firmware");
    reader.finish("manufacturer, model, serial_number, firmware");
  }
  {
    const toml::table& range = table("range");
    TableReader reader(file, range, "range");
    profile.range.lower = reader.required_number("lower");
    profile.range.upper = reader.required_number("upper");
    profile.range.unit = reader.required_string("unit");
    if (!(profile.range.upper > profile.range.lower))
      reader.fail("upper", range.get("upper"),
                  fmt::format("expected a number > lower ({})", profile.range.lower));
    reader.finish("lower, upper, unit");
  }
  profile.process_value = profile.range.lower;
  if (const toml::table* process = top.optional_table("process")) {
    TableReader reader(file, *process, "process");
    profile.process_value = reader.optional_number("value", profile.range.lower);
    profile.sensor_fault = reader.optional_bool("sensor_fault", false);
    reader.finish("value, sensor_fault");
  }
  if (const toml::table* response = top.optional_table("response")) {
    TableReader reader(file, *response, "response");
    profile.response.dead_time_s = non_negative(reader, "dead_time_s", 0.0);
    profile.response.time_constant_s = non_negative(reader, "time_constant_s", 0.0);
    profile.response.hysteresis = non_negative(reader, "hysteresis", 0.0);
    profile.response.nonlinearity = reader.optional_number("nonlinearity", 0.0);
    reader.finish("dead_time_s, time_constant_s, hysteresis, nonlinearity");
  }
  if (const toml::table* accuracy = top.optional_table("accuracy")) {
    TableReader reader(file, *accuracy, "accuracy");
    auto declared = [&](std::string_view key) -> std::optional<double> {
      if (!accuracy->contains(key)) return std::nullopt;
      return non_negative(reader, key, 0.0);
    };
    Accuracy& out = profile.accuracy;
    out.measured_error_percent = declared("measured_error_percent");
    out.nonlinearity_percent = declared("nonlinearity_percent");
    out.hysteresis_percent = declared("hysteresis_percent");
    out.non_repeatability_percent = declared("non_repeatability_percent");
    reader.finish(
        "measured_error_percent, nonlinearity_percent, hysteresis_percent, "
        "non_repeatability_percent");
  }
  {
    const toml::table& loop = table("loop");
    TableReader reader(file, loop, "loop");
    Loop& out = profile.loop;
    out.saturation_low_ma = reader.required_number("saturation_low_ma");
    out.saturation_high_ma = reader.required_number("saturation_high_ma");
    out.failure_low_ma = reader.required_number("failure_low_ma");
    out.failure_high_ma = reader.required_number("failure_high_ma");
    out.failure = reader.optional_choice("failure", failure_choices, FailureDirection::low);
    if (!(out.saturation_low_ma > 0 && out.saturation_low_ma < 4.0))
      reader.fail("saturation_low_ma", loop.get("saturation_low_ma"), "expected 0 < mA < 4");
    if (!(out.saturation_high_ma > 20.0))
      reader.fail("saturation_high_ma", loop.get("saturation_high_ma"), "expected mA > 20");
    if (!(out.failure_low_ma >= 0 && out.failure_low_ma <= out.saturation_low_ma))
      reader.fail("failure_low_ma", loop.get("failure_low_ma"),
                  "expected 0 <= mA <= saturation_low_ma");
    if (!(out.failure_high_ma >= out.saturation_high_ma))
      reader.fail("failure_high_ma", loop.get("failure_high_ma"),
                  "expected mA >= saturation_high_ma");
    reader.finish(
        "saturation_low_ma, saturation_high_ma, failure_low_ma, failure_high_ma, "
        "failure");
  }
  if (const toml::table* interface = top.optional_table("interface")) {
    TableReader reader(file, *interface, "interface");
    profile.protocol = reader.optional_choice("protocol", protocol_choices, Protocol::modbus_rtu);
    profile.unit = static_cast<unsigned>(reader.optional_integer("unit", 1, 247, 1));
    reader.finish("protocol, unit");
  }
  {
    TableReader reader(file, table("serial"), "serial");
    profile.serial = read_serial_settings(reader);
  }
  if (const toml::table* defects = top.optional_table("defects")) {
    TableReader reader(file, *defects, "defects");
    for (std::size_t index = 0; index < defect_table.size(); ++index)
      profile.defects.set(DefectId{index}, reader.optional_bool(defect_table[index].name, false));
    reader.finish(defect_names(defect_table));
  }
  profile.power = read_power_spec(top);
  top.finish(
      "schema, device, identity, range, process, response, accuracy, loop, interface, serial, "
      "power, defects");
  return profile;
}

nlohmann::ordered_json profile_to_json(const Profile& profile) {
  nlohmann::ordered_json out;
  out["schema"] = profile.schema;
  out["device"] = {
      {"kind", "transmitter"}, {"name", profile.name}, {"description", profile.description}};
  out["identity"] = {{"manufacturer", profile.identity.manufacturer},
                     {"model", profile.identity.model},
                     {"serial_number", profile.identity.serial_number},
                     {"firmware", profile.identity.firmware}};
  out["serial"] = to_json(profile.serial);
  out["range"] = {
      {"lower", profile.range.lower}, {"upper", profile.range.upper}, {"unit", profile.range.unit}};
  out["process"] = {{"value", profile.process_value}, {"sensor_fault", profile.sensor_fault}};
  out["response"] = {{"dead_time_s", profile.response.dead_time_s},
                     {"time_constant_s", profile.response.time_constant_s},
                     {"hysteresis", profile.response.hysteresis},
                     {"nonlinearity", profile.response.nonlinearity}};
  auto declared = [](const std::optional<double>& limit) {
    return limit ? nlohmann::ordered_json(*limit) : nlohmann::ordered_json(nullptr);
  };
  out["accuracy"] = {
      {"measured_error_percent", declared(profile.accuracy.measured_error_percent)},
      {"nonlinearity_percent", declared(profile.accuracy.nonlinearity_percent)},
      {"hysteresis_percent", declared(profile.accuracy.hysteresis_percent)},
      {"non_repeatability_percent", declared(profile.accuracy.non_repeatability_percent)}};
  out["loop"] = {{"saturation_low_ma", profile.loop.saturation_low_ma},
                 {"saturation_high_ma", profile.loop.saturation_high_ma},
                 {"failure_low_ma", profile.loop.failure_low_ma},
                 {"failure_high_ma", profile.loop.failure_high_ma},
                 {"failure", profile.loop.failure == FailureDirection::high ? "high" : "low"}};
  out["interface"] = {{"protocol", protocol_name(profile.protocol)}, {"unit", profile.unit}};
  const std::string& unit = profile.range.unit;
  auto reg = [](std::string_view table, int address, std::string_view name, std::string_view type,
                std::string_view reg_unit, bool writable) {
    return nlohmann::ordered_json{{"table", table}, {"address", address}, {"name", name},
                                  {"type", type},   {"unit", reg_unit},   {"writable", writable}};
  };
  out["modbus"] = {
      {"registers", nlohmann::ordered_json::array({
                        reg("input", 0, "process_value", "f32", unit, false),
                        reg("input", 2, "loop_current", "f32", "mA", false),
                        reg("input", 4, "status", "u16", "", false),
                        reg("holding", 0, "simulated_process_input", "f32", unit, true),
                        reg("holding", 2, "simulated_sensor_fault", "u16", "", true),
                    })}};
  out["power"] = power_to_json(profile.power);
  out["defects"] = defects_to_json(defect_table, profile.defects);
  return out;
}

}  // namespace hilbench::emu::transmitter
