#include "psu/profile.hpp"

#include <fmt/format.h>

namespace hilbench::emu::psu {

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
  if (const toml::table* table = top.optional_table("load")) {
    TableReader reader(file, *table, "load");
    profile.load_resistance_ohm = reader.optional_number("resistance_ohm", 1000.0);
    if (!(profile.load_resistance_ohm > 0))
      reader.fail("resistance_ohm", table->get("resistance_ohm"), "expected a number > 0");
    reader.finish("resistance_ohm");
  }
  if (const toml::table* table = top.optional_table("power_on")) {
    TableReader reader(file, *table, "power_on");
    profile.power_on_voltage_v = reader.optional_number("voltage_v", 0.0);
    if (profile.power_on_voltage_v < 0 || profile.power_on_voltage_v > profile.limits.max_voltage_v)
      reader.fail("voltage_v", table->get("voltage_v"),
                  fmt::format("expected volts in 0..{}", profile.limits.max_voltage_v));
    profile.power_on_output = reader.optional_bool("output", false);
    reader.finish("voltage_v, output");
  }
  if (const toml::table* table = top.optional_table("defects")) {
    TableReader reader(file, *table, "defects");
    for (std::size_t index = 0; index < defect_table.size(); ++index)
      profile.defects.set(DefectId{index}, reader.optional_bool(defect_table[index].name, false));
    reader.finish(defect_names(defect_table));
  }
  top.finish("schema, device, identity, scpi, serial, limits, load, power_on, defects");
  return profile;
}

nlohmann::ordered_json profile_to_json(const Profile& profile) {
  nlohmann::ordered_json out = scpi::common_profile_json(profile.common);
  out["limits"] = {{"max_voltage_v", profile.limits.max_voltage_v},
                   {"max_current_a", profile.limits.max_current_a}};
  out["load"] = {{"resistance_ohm", profile.load_resistance_ohm}};
  out["power_on"] = {{"voltage_v", profile.power_on_voltage_v},
                     {"output", profile.power_on_output}};
  out["defects"] = defects_to_json(defect_table, profile.defects);
  return out;
}

}  // namespace hilbench::emu::psu
