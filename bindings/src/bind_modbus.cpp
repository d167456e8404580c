#include "bindings.hpp"

namespace hilbench::python {
void bind_modbus(pybind11::module_& /*m*/) {}
}  // namespace hilbench::python
