#pragma once
// Defect knobs: deliberate misbehaviours of an emulated device, each making one conformance
// claim fail so every suite can be shown to fail. Each device kind declares its knobs in ONE
// constexpr table of DefectInfo; profile parsing ([defects]), --defect validation,
// --list-defects (and through it the Python package) all derive from that table.
#include <array>
#include <bitset>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hilbench::emu {

struct DefectInfo {
  std::string_view name;         ///< the knob's name in profiles and on the command line
  std::string_view description;  ///< what the device does wrong
  std::string_view breaks;       ///< the claim (requirement, spec rule) it makes fail
};

/// A knob of one kind: its index in that kind's table.
struct DefectId {
  std::size_t index = 0;
  auto operator<=>(const DefectId&) const = default;
};

inline constexpr std::size_t max_defects_per_kind = 64;

/// The set of active knobs (a tiny bit set; cheap to copy and test on every request).
class DefectSet {
 public:
  bool has(DefectId defect) const noexcept { return bits_.test(defect.index); }
  void set(DefectId defect, bool on = true) noexcept { bits_.set(defect.index, on); }

 private:
  std::bitset<max_defects_per_kind> bits_;
};

/// Looks a knob up by name at compile time: an unknown name does not compile.
template <std::size_t N>
consteval DefectId defect_id(const std::array<DefectInfo, N>& table, std::string_view name) {
  static_assert(N <= max_defects_per_kind);
  for (std::size_t index = 0; index < N; ++index)
    if (table[index].name == name) return DefectId{index};
  throw std::invalid_argument("unknown defect name");  // reached only in a constant expression
}

/// Runtime look-up (command line, profile): nullopt for an unknown name.
std::optional<DefectId> find_defect(std::span<const DefectInfo> table, std::string_view name);
/// "a, b, c": the known names, for messages.
std::string defect_names(std::span<const DefectInfo> table);
/// Names of the active knobs in table order (the ready line's "defects").
std::vector<std::string> active_defect_names(std::span<const DefectInfo> table,
                                             const DefectSet& defects);
/// {"name": on, ...} for every knob of the table (the dumped profile's "defects").
nlohmann::ordered_json defects_to_json(std::span<const DefectInfo> table, const DefectSet& defects);
/// [{"name", "description", "breaks"}, ...] (--list-defects).
nlohmann::ordered_json describe_defects(std::span<const DefectInfo> table);

/// Serves a control-channel request {"op": "set_defect", "name": KNOB, "on": true|false}
/// against one kind's table: computes the new set from `current`, hands it to `apply` (which
/// gives it to every part of the device that consults knobs; it takes effect from the next
/// request or world step), and replies {"event": "defects", "defects": [active names]}.
/// Throws std::invalid_argument for another op, an unknown knob or a bad type.
nlohmann::ordered_json handle_defect_request(std::span<const DefectInfo> table,
                                             const DefectSet& current,
                                             const nlohmann::json& request,
                                             const std::function<void(const DefectSet&)>& apply);

}  // namespace hilbench::emu
