// C++ errors → Python exception classes with the same names and hierarchy:
//   HarnessError ─┬─ DeviceTimeout
//                 ├─ TransportError ─┬─ PortNotFound
//                 │                  └─ ConnectionClosed
//                 ├─ ProtocolError
//                 ├─ DeviceError (protocol, code) ─┬─ ModbusException (function, code_name)
//                 │                                ├─ ScpiError (message, entries)
//                 │                                └─ Iec62056Error (text)
//                 ├─ ConfigError
//                 └─ JournalError
// Every instance carries .device, .operation, .deadline_s (float seconds or None), .detail.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "hilbench/protocol/scpi.hpp"

namespace py = pybind11;

namespace hilbench::python {
namespace {

struct PythonErrorClasses {
  PyObject* harness = nullptr;
  PyObject* timeout = nullptr;
  PyObject* transport = nullptr;
  PyObject* not_found = nullptr;
  PyObject* closed = nullptr;
  PyObject* protocol = nullptr;
  PyObject* device_error = nullptr;
  PyObject* modbus_exception = nullptr;
  PyObject* scpi_error = nullptr;
  PyObject* iec62056_error = nullptr;
  PyObject* config = nullptr;
  PyObject* journal = nullptr;
};

// Module-lifetime references: the classes live as attributes of the module as well.
PythonErrorClasses classes;

PyObject* make_class(py::module_& m, const char* name, PyObject* base, const char* doc) {
  const std::string qualified = std::string("hilbench._core.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

void raise(PyObject* cls, const HarnessError& error, const py::dict& extra = {}) {
  py::object instance = py::reinterpret_borrow<py::object>(cls)(py::str(error.what()));
  instance.attr("device") = py::str(error.device());
  instance.attr("operation") = py::str(error.operation());
  instance.attr("detail") = py::str(error.detail());
  if (error.deadline()) {
    instance.attr("deadline_s") = std::chrono::duration<double>(*error.deadline()).count();
  } else {
    instance.attr("deadline_s") = py::none();
  }
  for (auto item : extra) instance.attr(item.first) = item.second;
  PyErr_SetObject(cls, instance.ptr());
}

}  // namespace

void bind_errors(py::module_& m) {
  classes.harness =
      make_class(m, "HarnessError", PyExc_Exception,
                 "Base of every hilbench error; has device, operation, deadline_s, detail.");
  classes.timeout = make_class(m, "DeviceTimeout", classes.harness,
                               "The device did not answer (completely) before the deadline.");
  classes.transport = make_class(m, "TransportError", classes.harness,
                                 "The endpoint failed: cannot be opened, I/O error, peer gone.");
  classes.not_found = make_class(m, "PortNotFound", classes.transport,
                                 "The named serial port or host does not exist.");
  classes.closed = make_class(m, "ConnectionClosed", classes.transport,
                              "The peer went away while the operation ran.");
  classes.protocol = make_class(m, "ProtocolError", classes.harness,
                                "The bytes received break the protocol (CRC, header, length).");
  classes.device_error = make_class(
      m, "DeviceError", classes.harness,
      "The device answered with an error of its protocol; has protocol (e.g. 'modbus') and "
      "code (the device's own error code).");
  classes.modbus_exception = make_class(
      m, "ModbusException", classes.device_error,
      "The device answered with a Modbus exception response; adds function and code_name.");
  classes.scpi_error = make_class(
      m, "ScpiError", classes.device_error,
      "The instrument reported an error through its SCPI error queue; protocol 'scpi', code = "
      "the first SCPI error number, message its text, entries every (code, message) drained.");
  classes.iec62056_error =
      make_class(m, "Iec62056Error", classes.device_error,
                 "The meter answered an IEC 62056-21 session with an error: (ERxx) (code xx), NAK "
                 "(code -2) or a break B0 (code -3); protocol 'iec62056-21', text what it sent.");
  classes.config =
      make_class(m, "ConfigError", classes.harness, "A bench file, profile or argument is wrong.");
  classes.journal = make_class(m, "JournalError", classes.harness,
                               "The evidence journal cannot be written or read.");

  py::register_exception_translator([](std::exception_ptr pointer) {
    if (!pointer) return;
    try {
      std::rethrow_exception(pointer);
    } catch (const modbus::ModbusException& e) {
      py::dict extra;
      extra["protocol"] = e.protocol();
      extra["code"] = e.code();
      extra["function"] = e.function();
      extra["code_name"] = modbus::exception_name(static_cast<std::uint8_t>(e.code()));
      raise(classes.modbus_exception, e, extra);
    } catch (const scpi::ScpiError& e) {
      py::dict extra;
      extra["protocol"] = e.protocol();
      extra["code"] = e.code();
      extra["message"] = py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
          e.message().data(), static_cast<Py_ssize_t>(e.message().size()), "replace"));
      py::list entries;
      for (const scpi::ErrorEntry& entry : e.entries()) {
        entries.append(py::make_tuple(
            entry.code,
            py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
                entry.message.data(), static_cast<Py_ssize_t>(entry.message.size()), "replace"))));
      }
      extra["entries"] = entries;
      raise(classes.scpi_error, e, extra);
    } catch (const iec62056::Iec62056Error& e) {
      py::dict extra;
      extra["protocol"] = e.protocol();
      extra["code"] = e.code();
      extra["text"] = py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
          e.text().data(), static_cast<Py_ssize_t>(e.text().size()), "replace"));
      raise(classes.iec62056_error, e, extra);
    } catch (const DeviceError& e) {
      py::dict extra;
      extra["protocol"] = e.protocol();
      extra["code"] = e.code();
      raise(classes.device_error, e, extra);
    } catch (const DeviceTimeout& e) {
      raise(classes.timeout, e);
    } catch (const PortNotFound& e) {
      raise(classes.not_found, e);
    } catch (const ConnectionClosed& e) {
      raise(classes.closed, e);
    } catch (const TransportError& e) {
      raise(classes.transport, e);
    } catch (const ProtocolError& e) {
      raise(classes.protocol, e);
    } catch (const ConfigError& e) {
      raise(classes.config, e);
    } catch (const JournalError& e) {
      raise(classes.journal, e);
    } catch (const HarnessError& e) {
      raise(classes.harness, e);
    }
  });
}

}  // namespace hilbench::python
