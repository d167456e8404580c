#include "bindings.hpp"

namespace hilbench::python {
void bind_journal(pybind11::module_& /*m*/) {}
}  // namespace hilbench::python
