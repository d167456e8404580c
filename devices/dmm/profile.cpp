#include "dmm/profile.hpp"

#include <fmt/format.h>

namespace hilbench::emu::dmm {

Profile read_profile(const toml::table& document, const std::string& file) {
  Profile profile;
  TableReader top(file, document, "");
  profile.common = scpi::read_common_profile(top, file);
  if (const toml::table* table = top.optional_table("reading")) {
    TableReader reader(file, *table, "reading");
    Reading& r = profile.reading;
    r.dc_voltage_v = reader.optional_number("dc_voltage_v", 0.0);
    r.dc_current_a = reader.optional_number("dc_current_a", 0.0);
    r.noise_v = reader.optional_number("noise_v", 0.0);
    if (r.noise_v < 0) reader.fail("noise_v", table->get("noise_v"), "expected a number >= 0");
    r.noise_a = reader.optional_number("noise_a", 0.0);
    if (r.noise_a < 0) reader.fail("noise_a", table->get("noise_a"), "expected a number >= 0");
    r.seed = static_cast<std::uint64_t>(
        reader.optional_integer("seed", 0, std::numeric_limits<std::int64_t>::max(), 1));
    reader.finish("dc_voltage_v, dc_current_a, noise_v, noise_a, seed");
  }
  if (const toml::table* table = top.optional_table("defects")) {
    TableReader reader(file, *table, "defects");
    for (std::size_t index = 0; index < defect_table.size(); ++index)
      profile.defects.set(DefectId{index}, reader.optional_bool(defect_table[index].name, false));
    reader.finish(defect_names(defect_table));
  }
  top.finish("schema, device, identity, scpi, serial, reading, defects");
  return profile;
}

nlohmann::ordered_json profile_to_json(const Profile& profile) {
  nlohmann::ordered_json out = scpi::common_profile_json(profile.common);
  const Reading& r = profile.reading;
  out["reading"] = {{"dc_voltage_v", r.dc_voltage_v},
                    {"dc_current_a", r.dc_current_a},
                    {"noise_v", r.noise_v},
                    {"noise_a", r.noise_a},
                    {"seed", r.seed}};
  out["defects"] = defects_to_json(defect_table, profile.defects);
  return out;
}

}  // namespace hilbench::emu::dmm
