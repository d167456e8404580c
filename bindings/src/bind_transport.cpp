#include "bindings.hpp"

namespace hilbench::python {
void bind_transport(pybind11::module_& /*m*/) {}
}  // namespace hilbench::python
