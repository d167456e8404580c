// Python face of the evidence journal (hilbench._core.Journal, verify_journal, ...).
// Adapts only: Python objects become nlohmann::json here (with the key path of anything
// that is not JSON in the TypeError), everything else is the C++ core. The GIL is released
// around every call that touches the file system.
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
#include <string>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/evidence/journal.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

using evidence::Journal;
using evidence::VerifyReport;

/// Deep enough for any real record; stops self-referencing containers.
constexpr int max_depth = 256;

nlohmann::json to_json(const py::handle& obj, const std::string& where, int depth);

nlohmann::json list_to_json(const py::handle& obj, const std::string& where, int depth) {
  nlohmann::json out = nlohmann::json::array();
  std::size_t index = 0;
  for (const py::handle item : obj) {
    out.push_back(to_json(item, where + "[" + std::to_string(index) + "]", depth + 1));
    ++index;
  }
  return out;
}

nlohmann::json dict_to_json(const py::dict& dict, const std::string& where, int depth) {
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

nlohmann::json int_to_json(const py::handle& obj, const std::string& where) {
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

nlohmann::json to_json(const py::handle& obj, const std::string& where, int depth) {
  if (depth > max_depth)
    throw py::type_error(where.substr(0, 60) + "...: nested deeper than " +
                         std::to_string(max_depth) + " levels (a container that contains itself?)");
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
/// runs without the GIL (the file closes when the last user lets go).
struct PyJournal {
  std::shared_ptr<Journal> journal;
  std::filesystem::path path;

  std::shared_ptr<Journal> get() const {
    if (!journal) throw JournalError({"journal:" + path.string(), "use", {}}, "journal is closed");
    return journal;
  }
  void close() {
    std::shared_ptr<Journal> last = std::move(journal);
    py::gil_scoped_release release;  // the destructor may close the file
    last.reset();
  }
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
             return PyJournal{std::make_shared<Journal>(path), path};
           }),
           py::arg("path"))
      .def(
          "append",
          [](const PyJournal& self, const std::string& type, const py::dict& data) {
            const nlohmann::json payload = dict_to_json(data, "data", 0);
            const auto journal = self.get();
            Journal::Appended appended;
            {
              py::gil_scoped_release release;
              appended = journal->append(type, payload);
            }
            return py::make_tuple(appended.seq, appended.hash);
          },
          py::arg("type"), py::arg("data"),
          "Appends one record; returns (seq, hash) once it is durable.")
      .def(
          "seal",
          [](const PyJournal& self) {
            const auto journal = self.get();
            Journal::Appended appended;
            {
              py::gil_scoped_release release;
              appended = journal->seal();
            }
            return py::make_tuple(appended.seq, appended.hash);
          },
          "Appends the journal_sealed record and closes the file (idempotent); returns "
          "(seq, hash).")
      .def("close", &PyJournal::close,
           "Closes the file without sealing (idempotent); the journal takes no more records "
           "through this object.")
      .def_property_readonly("closed", [](const PyJournal& self) { return !self.journal; })
      .def_property_readonly("next_seq",
                             [](const PyJournal& self) { return self.get()->next_seq(); })
      .def_property_readonly("head_hash",
                             [](const PyJournal& self) { return self.get()->head_hash(); })
      .def_property_readonly("path", [](const PyJournal& self) { return self.path; })
      .def("__repr__",
           [](const PyJournal& self) {
             std::string out =
                 "Journal(" + py::repr(py::str(self.path.string())).cast<std::string>();
             if (self.journal)
               return out + ", next_seq=" + std::to_string(self.journal->next_seq()) + ")";
             return out + ", closed)";
           })
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__",
          [](PyJournal& self, const py::object&, const py::object&, const py::object&) {
            self.close();
            return false;
          },
          "Closes without sealing: an unsealed journal says the run did not finish cleanly.");

  m.def(
      "verify_journal",
      [](const std::filesystem::path& path, bool require_seal) {
        py::gil_scoped_release release;
        return evidence::verify_journal(path, require_seal);
      },
      py::arg("path"), py::arg("require_seal") = true,
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
      "sha256_hex",
      [](const py::object& data) {
        std::string bytes;
        if (py::isinstance<py::str>(data))
          bytes = data.cast<std::string>();  // UTF-8
        else if (py::isinstance<py::bytes>(data))
          bytes = data.cast<std::string>();
        else if (py::isinstance<py::bytearray>(data) || py::isinstance<py::memoryview>(data)) {
          auto copy = py::reinterpret_steal<py::object>(PyBytes_FromObject(data.ptr()));
          if (!copy) throw py::error_already_set();
          bytes = copy.cast<std::string>();
        } else
          throw py::type_error(
              "sha256_hex() takes bytes or str, not " +
              py::str(py::type::of(data).attr("__qualname__")).cast<std::string>());
        py::gil_scoped_release release;
        return evidence::sha256_hex(bytes);
      },
      py::arg("data"), "Hex SHA-256 of bytes, or of a str encoded as UTF-8.");
}

}  // namespace hilbench::python
