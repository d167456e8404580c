#pragma once
// bytes <-> std::vector<uint8_t>, shared by the bindings.
//
// PyBytes is Bytes as a pybind11 argument or result type: pybind11 converts it from/to a
// Python `bytes` object while it holds the GIL (before and after the call), so a function
// bound with py::call_guard<py::gil_scoped_release>() never touches a Python object.
// Only `bytes` is accepted (not str, not a list of ints), as with py::bytes before.
#include <pybind11/pybind11.h>

#include <string_view>
#include <utility>

#include "hilbench/transport/transport.hpp"

namespace hilbench::python {

struct PyBytes {
  Bytes value;
};

inline pybind11::bytes to_bytes(const Bytes& bytes) {
  return pybind11::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline Bytes from_bytes(const pybind11::bytes& data) {
  const std::string_view view = data;
  return Bytes(view.begin(), view.end());
}

}  // namespace hilbench::python

namespace pybind11::detail {

template <>
struct type_caster<hilbench::python::PyBytes> {
  PYBIND11_TYPE_CASTER(hilbench::python::PyBytes, const_name("bytes"));

  bool load(handle source, bool /*convert*/) {
    if (!source || !PyBytes_Check(source.ptr())) return false;
    char* data = nullptr;
    Py_ssize_t size = 0;
    if (PyBytes_AsStringAndSize(source.ptr(), &data, &size) != 0) {
      PyErr_Clear();
      return false;
    }
    value.value.assign(data, data + size);
    return true;
  }

  static handle cast(const hilbench::python::PyBytes& source, return_value_policy /*policy*/,
                     handle /*parent*/) {
    return hilbench::python::to_bytes(source.value).release();
  }
};

}  // namespace pybind11::detail
