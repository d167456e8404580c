#include "common/defects.hpp"

#include <fmt/format.h>

namespace hilbench::emu {

std::optional<DefectId> find_defect(std::span<const DefectInfo> table, std::string_view name) {
  for (std::size_t index = 0; index < table.size(); ++index)
    if (table[index].name == name) return DefectId{index};
  return std::nullopt;
}

std::string defect_names(std::span<const DefectInfo> table) {
  std::string names;
  for (const DefectInfo& info : table)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", info.name);
  return names;
}

std::vector<std::string> active_defect_names(std::span<const DefectInfo> table,
                                             const DefectSet& defects) {
  std::vector<std::string> active;
  for (std::size_t index = 0; index < table.size(); ++index)
    if (defects.has(DefectId{index})) active.emplace_back(table[index].name);
  return active;
}

nlohmann::ordered_json defects_to_json(std::span<const DefectInfo> table,
                                       const DefectSet& defects) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (std::size_t index = 0; index < table.size(); ++index)
    out[std::string{table[index].name}] = defects.has(DefectId{index});
  return out;
}

nlohmann::ordered_json describe_defects(std::span<const DefectInfo> table) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const DefectInfo& info : table)
    out.push_back(
        {{"name", info.name}, {"description", info.description}, {"breaks", info.breaks}});
  return out;
}

}  // namespace hilbench::emu
