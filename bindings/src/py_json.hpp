#pragma once
// JSON <-> Python, in one place for every binding:
// - to_json(obj, where): Python data -> nlohmann::json; a TypeError names the key path of
//   anything that is not JSON ("data['x'][2]: set is not JSON ...").
// - to_python(json): nlohmann::json -> plain Python objects (dict, list, str, int, float,
//   bool, None; binary -> bytes). Exchange.fields reaches Python through it.
// - JsonDict: a pybind11 argument type converted with to_json while the GIL is held, so a
//   function bound with py::call_guard<py::gil_scoped_release>() gets plain JSON.
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace hilbench::python {

namespace py = pybind11;

/// Deep enough for any real record; stops self-referencing containers.
inline constexpr int max_json_depth = 256;

inline nlohmann::json to_json(const py::handle& obj, const std::string& where, int depth);

inline nlohmann::json list_to_json(const py::handle& obj, const std::string& where, int depth) {
  nlohmann::json out = nlohmann::json::array();
  std::size_t index = 0;
  for (const py::handle item : obj) {
    out.push_back(to_json(item, where + "[" + std::to_string(index) + "]", depth + 1));
    ++index;
  }
  return out;
}

inline nlohmann::json dict_to_json(const py::dict& dict, const std::string& where, int depth) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : dict) {
    if (!py::isinstance<py::str>(key)) {
      throw py::type_error(where + ": dict key " + py::repr(key).cast<std::string>() +
                           " is not a str (JSON object keys are strings)");
    }
    const auto name = key.cast<std::string>();
    out[name] = to_json(value, where + "[" + py::repr(key).cast<std::string>() + "]", depth + 1);
  }
  return out;
}

inline nlohmann::json int_to_json(const py::handle& obj, const std::string& where) {
  // Python ints are unbounded; a record holds what fits in 64 bits (signed or unsigned).
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
  if (overflow == 0) {
    if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
    return static_cast<std::int64_t>(value);
  }
  if (overflow > 0) {
    const unsigned long long big = PyLong_AsUnsignedLongLong(obj.ptr());
    if (!(big == static_cast<unsigned long long>(-1) && PyErr_Occurred()))
      return static_cast<std::uint64_t>(big);
    PyErr_Clear();
  }
  throw py::type_error(where + ": int " + py::repr(obj).cast<std::string>() +
                       " does not fit in 64 bits");
}

inline nlohmann::json to_json(const py::handle& obj, const std::string& where, int depth) {
  if (depth > max_json_depth)
    throw py::type_error(where.substr(0, 60) + "...: nested deeper than " +
                         std::to_string(max_json_depth) +
                         " levels (a container that contains itself?)");
  if (obj.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(obj)) return obj.cast<bool>();  // before int: bool is an int
  if (py::isinstance<py::int_>(obj)) return int_to_json(obj, where);
  if (py::isinstance<py::float_>(obj)) {
    const double v = obj.cast<double>();
    if (!std::isfinite(v))
      throw py::type_error(where + ": float " + py::repr(obj).cast<std::string>() +
                           " has no JSON representation");
    return v;
  }
  if (py::isinstance<py::str>(obj)) return obj.cast<std::string>();
  if (py::isinstance<py::dict>(obj))
    return dict_to_json(py::reinterpret_borrow<py::dict>(obj), where, depth);
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj))
    return list_to_json(obj, where, depth);
  throw py::type_error(where + ": " +
                       py::str(py::type::of(obj).attr("__qualname__")).cast<std::string>() +
                       " is not JSON (allowed: dict with str keys, list, tuple, str, int, "
                       "float, bool, None)");
}

/// nlohmann::json -> plain Python objects.
inline py::object to_python(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(value.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(value.get_ref<const std::string&>());
    case nlohmann::json::value_t::binary: {
      const auto& binary = value.get_binary();
      return py::bytes(reinterpret_cast<const char*>(binary.data()), binary.size());
    }
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& item : value) out.append(to_python(item));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [key, item] : value.items()) out[py::str(key)] = to_python(item);
      return out;
    }
  }
  return py::none();
}

/// A dict argument already converted to JSON (see the top of this file).
struct JsonDict {
  nlohmann::json value;
};

}  // namespace hilbench::python

namespace pybind11::detail {

template <>
struct type_caster<hilbench::python::JsonDict> {
  PYBIND11_TYPE_CASTER(hilbench::python::JsonDict, const_name("dict[str, Any]"));

  bool load(handle source, bool /*convert*/) {
    if (!source || !PyDict_Check(source.ptr())) return false;
    // Throws TypeError naming the key path of what is not JSON.
    value.value = hilbench::python::dict_to_json(reinterpret_borrow<dict>(source), "data", 0);
    return true;
  }
  static handle cast(const hilbench::python::JsonDict& source, return_value_policy, handle) {
    return hilbench::python::to_python(source.value).release();
  }
};

}  // namespace pybind11::detail
