#pragma once
// Typed errors of the harness. Every error carries the device (transport name, e.g.
// "serial:/dev/ttyUSB0" or "tcp:127.0.0.1:5020"), the operation that failed, and the
// deadline budget when one applied, so a failed test says what, where and how long.
// The Python binding maps each class to the class of the same name in `hilbench`.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace hilbench {

struct ErrorContext {
  std::string device;     ///< transport or device name; empty if none applies
  std::string operation;  ///< e.g. "open", "read_exact(8)", "read_holding_registers(0, 10)"
  std::optional<std::chrono::nanoseconds> deadline;  ///< budget that ran out or applied
};

/// Base of every error the harness raises.
class HarnessError : public std::runtime_error {
 public:
  HarnessError(ErrorContext context, const std::string& detail);
  const std::string& device() const noexcept { return context_.device; }
  const std::string& operation() const noexcept { return context_.operation; }
  const std::optional<std::chrono::nanoseconds>& deadline() const noexcept {
    return context_.deadline;
  }
  /// The detail without the device/operation prefix.
  const std::string& detail() const noexcept { return detail_; }

 private:
  ErrorContext context_;
  std::string detail_;
};

/// The device did not answer (completely) before the deadline.
class DeviceTimeout : public HarnessError {
 public:
  using HarnessError::HarnessError;
};

/// The endpoint failed: cannot be opened, I/O error, peer closed the connection.
class TransportError : public HarnessError {
 public:
  using HarnessError::HarnessError;
};

/// A named port / host does not exist.
class PortNotFound : public TransportError {
 public:
  using TransportError::TransportError;
};

/// The peer went away (EOF, hang-up, reset) while the operation ran.
class ConnectionClosed : public TransportError {
 public:
  using TransportError::TransportError;
};

/// The bytes received break the protocol: bad CRC, bad MBAP header, wrong length,
/// an answer to another request.
class ProtocolError : public HarnessError {
 public:
  using HarnessError::HarnessError;
};

/// The device understood the request and answered with an error of its own protocol: a
/// Modbus exception response, a SCPI error-queue entry, an IEC 62056-21 error message. Each
/// protocol derives its own class (modbus::ModbusException) adding what only it knows.
class DeviceError : public HarnessError {
 public:
  DeviceError(ErrorContext context, std::string protocol, int code, const std::string& detail);
  const std::string& protocol() const noexcept { return protocol_; }  ///< e.g. "modbus"
  int code() const noexcept { return code_; }  ///< the device's own error code, as it sent it

 private:
  std::string protocol_;
  int code_;
};

/// A bench file, profile or argument is wrong.
class ConfigError : public HarnessError {
 public:
  using HarnessError::HarnessError;
};

/// The evidence journal cannot be written or read.
class JournalError : public HarnessError {
 public:
  using HarnessError::HarnessError;
};

}  // namespace hilbench
