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

nlohmann::ordered_json handle_defect_request(std::span<const DefectInfo> table,
                                             const DefectSet& current,
                                             const nlohmann::json& request,
                                             const std::function<void(const DefectSet&)>& apply) {
  const auto op = request.find("op");
  if (op == request.end() || !op->is_string() || op->get<std::string>() != "set_defect")
    throw std::invalid_argument(R"(expected {"op": "set_defect", "name": KNOB, "on": true|false})");
  const auto name = request.find("name");
  const auto on = request.find("on");
  if (name == request.end() || !name->is_string())
    throw std::invalid_argument("set_defect: \"name\" must be a knob name (string)");
  if (on == request.end() || !on->is_boolean())
    throw std::invalid_argument("set_defect: \"on\" must be true or false");
  const auto defect = find_defect(table, name->get<std::string>());
  if (!defect)
    throw std::invalid_argument(
        fmt::format("set_defect: unknown defect \"{}\"; expected one of: {}",
                    name->get<std::string>(), defect_names(table)));
  DefectSet next = current;
  next.set(*defect, on->get<bool>());
  apply(next);
  return {{"event", "defects"}, {"defects", active_defect_names(table, next)}};
}

}  // namespace hilbench::emu
