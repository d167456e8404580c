// Python face of the evidence journal (hilbench._core.Journal, verify_journal, ...).
// Adapts only: Python objects become nlohmann::json (py_json.hpp, with the key path of
// anything that is not JSON in the TypeError), everything else is the C++ core. Every call
// that touches the file system runs under py::call_guard<py::gil_scoped_release>(): its
// arguments are converted (JsonDict, HashInput) before the GIL is let go. The constructor
// is the exception: pybind11's instance set-up must run with the GIL, so it releases it by
// hand around the open alone.
//
// Errors: the core throws hilbench::JournalError and this file lets it propagate (it also
// throws one itself for use after close()). The translation to Python `hilbench.JournalError`
// is registered centrally in bind_errors.cpp for every class of hilbench/errors.hpp, which
// module.cpp runs first. Without that translator it would surface as RuntimeError (pybind11's
// default for std::runtime_error). Non-JSON data is a Python TypeError raised here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/evidence/journal.hpp"
#include "py_json.hpp"

namespace hilbench::python {
/// sha256_hex's argument: bytes, bytearray, memoryview, or str (hashed as UTF-8).
struct HashInput {
  std::string bytes;
};
}  // namespace hilbench::python

namespace pybind11::detail {
template <>
struct type_caster<hilbench::python::HashInput> {
  PYBIND11_TYPE_CASTER(hilbench::python::HashInput, const_name("bytes | str"));
  bool load(handle data, bool /*convert*/) {
    if (isinstance<str>(data) || isinstance<bytes>(data)) {
      value.bytes = data.cast<std::string>();  // str: UTF-8
      return true;
    }
    if (isinstance<bytearray>(data) || isinstance<memoryview>(data)) {
      auto copy = reinterpret_steal<object>(PyBytes_FromObject(data.ptr()));
      if (!copy) throw error_already_set();
      value.bytes = copy.cast<std::string>();
      return true;
    }
    throw type_error("sha256_hex() takes bytes or str, not " +
                     str(type::of(data).attr("__qualname__")).cast<std::string>());
  }
  static handle cast(const hilbench::python::HashInput&, return_value_policy, handle) {
    return none().release();  // argument only
  }
};
}  // namespace pybind11::detail

namespace py = pybind11;

namespace hilbench::python {
namespace {

using evidence::Journal;
using evidence::VerifyReport;

std::string report_repr(const VerifyReport& r) {
  std::string out = "VerifyReport(ok=" + std::string(r.ok ? "True" : "False") +
                    ", sealed=" + (r.sealed ? "True" : "False") +
                    ", records=" + std::to_string(r.records);
  if (r.first_bad_line)
    out += ", first_bad_line=" + std::to_string(*r.first_bad_line) +
           ", problem=" + py::repr(py::str(r.problem)).cast<std::string>();
  return out + ")";
}

/// The Python object: shares the Journal so close() cannot pull it from under a call that
/// runs without the GIL (the file closes when the last user lets go). The methods run
/// without the GIL, so the pointer itself is guarded by a mutex.
struct PyJournal {
  PyJournal(std::shared_ptr<Journal> opened, std::filesystem::path where)
      : journal(std::move(opened)), path(std::move(where)) {}

  std::shared_ptr<Journal> get() const {
    std::shared_ptr<Journal> current = peek();
    if (!current) throw JournalError({"journal:" + path.string(), "use", {}}, "journal is closed");
    return current;
  }
  std::shared_ptr<Journal> peek() const {
    std::lock_guard lock(mutex);
    return journal;
  }
  /// Bound with the GIL released: the destructor may close the file.
  void close() {
    std::shared_ptr<Journal> last;
    std::lock_guard lock(mutex);
    last = std::move(journal);
  }

  mutable std::mutex mutex;
  std::shared_ptr<Journal> journal;
  const std::filesystem::path path;
};

}  // namespace

void bind_journal(py::module_& m) {
  m.attr("JOURNAL_SCHEMA_VERSION") = evidence::journal_schema_version;

  py::class_<VerifyReport>(m, "VerifyReport",
                           "Result of verify_journal: the first broken link, if any.")
      .def_readonly("ok", &VerifyReport::ok, "chain intact (and sealed, when sealing was required)")
      .def_readonly("sealed", &VerifyReport::sealed)
      .def_readonly("records", &VerifyReport::records, "valid records before the first problem")
      .def_readonly("first_bad_line", &VerifyReport::first_bad_line,
                    "1-based line of the first problem, or None")
      .def_readonly("problem", &VerifyReport::problem, "what is wrong there; '' when ok")
      .def_readonly("head_hash", &VerifyReport::head_hash, "hash of the last valid record")
      .def("__bool__", [](const VerifyReport& r) { return r.ok; })
      .def("__repr__", &report_repr);

  py::class_<PyJournal>(m, "Journal",
                        "Append-only, SHA-256 chained JSON Lines evidence journal.\n\n"
                        "Opening an existing journal verifies it and continues its chain. One "
                        "writer at a time: a second Journal on the same file raises "
                        "JournalError. Leaving a `with` block closes the file but does not "
                        "seal: call seal() to state that the run completed.")
      .def(py::init([](const std::filesystem::path& path) {
             py::gil_scoped_release release;
             return std::make_unique<PyJournal>(std::make_shared<Journal>(path), path);
           }),
           py::arg("path"))
      .def(
          "append",
          [](const PyJournal& self, const std::string& type, const JsonDict& data) {
            const Journal::Appended appended = self.get()->append(type, data.value);
            return std::make_tuple(appended.seq, appended.hash);
          },
          py::arg("type"), py::arg("data"), py::call_guard<py::gil_scoped_release>(),
          "Appends one record; returns (seq, hash) once it is durable.")
      .def(
          "seal",
          [](const PyJournal& self) {
            const Journal::Appended appended = self.get()->seal();
            return std::make_tuple(appended.seq, appended.hash);
          },
          py::call_guard<py::gil_scoped_release>(),
          "Appends the journal_sealed record and closes the file (idempotent); returns "
          "(seq, hash).")
      .def("close", &PyJournal::close, py::call_guard<py::gil_scoped_release>(),
           "Closes the file without sealing (idempotent); the journal takes no more records "
           "through this object.")
      .def_property_readonly("closed", [](const PyJournal& self) { return !self.peek(); })
      .def_property_readonly("next_seq",
                             [](const PyJournal& self) { return self.get()->next_seq(); })
      .def_property_readonly("head_hash",
                             [](const PyJournal& self) { return self.get()->head_hash(); })
      .def_property_readonly("path", [](const PyJournal& self) { return self.path; })
      .def("__repr__",
           [](const PyJournal& self) {
             std::string out =
                 "Journal(" + py::repr(py::str(self.path.string())).cast<std::string>();
             if (const auto journal = self.peek())
               return out + ", next_seq=" + std::to_string(journal->next_seq()) + ")";
             return out + ", closed)";
           })
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__",
          [](PyJournal& self, const py::object&, const py::object&, const py::object&) {
            self.close();
            return false;
          },
          py::call_guard<py::gil_scoped_release>(),
          "Closes without sealing: an unsealed journal says the run did not finish cleanly.");

  m.def(
      "verify_journal",
      [](const std::filesystem::path& path, bool require_seal) {
        return evidence::verify_journal(path, require_seal);
      },
      py::arg("path"), py::arg("require_seal") = true, py::call_guard<py::gil_scoped_release>(),
      "Walks the chain and reports the first broken link.");

  m.def(
      "canonical_json",
      [](const py::handle& obj) {
        const nlohmann::json value = to_json(obj, "obj", 0);
        return evidence::canonical_json(value);
      },
      py::arg("obj"),
      "The canonical serialisation the journal hashes (sorted keys, compact, ASCII).");

  m.def(
      "sha256_hex", [](const HashInput& data) { return evidence::sha256_hex(data.bytes); },
      py::arg("data"), py::call_guard<py::gil_scoped_release>(),
      "Hex SHA-256 of bytes, or of a str encoded as UTF-8.");
}

}  // namespace hilbench::python
