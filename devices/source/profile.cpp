#include "source/profile.hpp"

#include <fmt/format.h>

namespace hilbench::emu::source {

namespace {
double positive(TableReader& reader, std::string_view key) {
  const double value = reader.required_number(key);
  if (!(value > 0)) reader.fail(key, reader.table().get(key), "expected a number > 0");
  return value;
}
}  // namespace

Profile read_profile(const toml::table& document, const std::string& file) {
  Profile profile;
  TableReader top(file, document, "");
  profile.common = scpi::read_common_profile(top, file);
  if (const toml::table* table = top.optional_table("limits")) {
    TableReader reader(file, *table, "limits");
    profile.limits.max_voltage_v = positive(reader, "max_voltage_v");
    profile.limits.max_current_a = positive(reader, "max_current_a");
    reader.finish("max_voltage_v, max_current_a");
  } else {
    top.fail("limits", nullptr, "missing; expected a [limits] table");
  }
  if (const toml::table* table = top.optional_table("output")) {
    TableReader reader(file, *table, "output");
    profile.frequency_hz = reader.optional_number("frequency_hz", 50.0);
    if (profile.frequency_hz < 40.0 || profile.frequency_hz > 70.0)
      reader.fail("frequency_hz", table->get("frequency_hz"), "expected hertz in 40..70");
    reader.finish("frequency_hz");
  }
  if (const toml::table* table = top.optional_table("power_on")) {
    TableReader reader(file, *table, "power_on");
    auto within = [&](std::string_view key, double min, double max) {
      const double value = reader.optional_number(key, 0.0);
      if (value < min || value > max)
        reader.fail(key, table->get(key), fmt::format("expected a number in {}..{}", min, max));
      return value;
    };
    profile.power_on.voltage_v = within("voltage_v", 0.0, profile.limits.max_voltage_v);
    profile.power_on.current_a = within("current_a", 0.0, profile.limits.max_current_a);
    profile.power_on.phase_deg = within("phase_deg", -360.0, 360.0);
    profile.power_on.output = reader.optional_bool("output", false);
    reader.finish("voltage_v, current_a, phase_deg, output");
  }
  if (const toml::table* table = top.optional_table("defects")) {
    TableReader reader(file, *table, "defects");
    for (std::size_t index = 0; index < defect_table.size(); ++index)
      profile.defects.set(DefectId{index}, reader.optional_bool(defect_table[index].name, false));
    reader.finish(defect_names(defect_table));
  }
  top.finish("schema, device, identity, scpi, serial, limits, output, power_on, defects");
  return profile;
}

nlohmann::ordered_json profile_to_json(const Profile& profile) {
  nlohmann::ordered_json out = scpi::common_profile_json(profile.common);
  out["limits"] = {{"max_voltage_v", profile.limits.max_voltage_v},
                   {"max_current_a", profile.limits.max_current_a}};
  out["output"] = {{"frequency_hz", profile.frequency_hz}};
  out["power_on"] = {{"voltage_v", profile.power_on.voltage_v},
                     {"current_a", profile.power_on.current_a},
                     {"phase_deg", profile.power_on.phase_deg},
                     {"output", profile.power_on.output}};
  out["defects"] = defects_to_json(defect_table, profile.defects);
  return out;
}

}  // namespace hilbench::emu::source
