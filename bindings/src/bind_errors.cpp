#include "bindings.hpp"

namespace hilbench::python {
void bind_errors(pybind11::module_& /*m*/) {}
}  // namespace hilbench::python
