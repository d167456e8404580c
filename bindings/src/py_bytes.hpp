#pragma once
// bytes <-> std::vector<uint8_t>, shared by the bindings.
#include <pybind11/pybind11.h>

#include <string_view>

#include "hilbench/transport/transport.hpp"

namespace hilbench::python {

inline pybind11::bytes to_bytes(const Bytes& bytes) {
  return pybind11::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline Bytes from_bytes(const pybind11::bytes& data) {
  const std::string_view view = data;
  return Bytes(view.begin(), view.end());
}

}  // namespace hilbench::python
