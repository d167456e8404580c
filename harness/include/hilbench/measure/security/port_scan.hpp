#pragma once
// Exposed services: a TCP connect scan of the DUT's address over a port range.
//
// Loopback only (127.0.0.0/8 or ::1): any other address is refused with a ConfigError before a
// packet is sent, so the harness can never scan someone else's network. Up to `parallel`
// non-blocking connects are in flight at once; each has `attempt_timeout`, the whole scan
// `deadline` (DeviceTimeout when it passes). A port is "open" when the connect completes,
// "closed" when refused; a timeout counts as "filtered". Connections are closed at once
// without sending anything.
// Thread-safety: the function keeps no state; journaled: nothing (the Python face records it).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hilbench::security {

struct PortScanOptions {
  std::string host;  ///< numeric loopback address
  std::uint16_t first_port = 1;
  std::uint16_t last_port = 1024;  ///< inclusive
  std::size_t parallel = 256;
  std::chrono::milliseconds attempt_timeout{500};
  std::chrono::milliseconds deadline{30000};
};

struct PortScanResult {
  std::vector<std::uint16_t> open;      ///< ascending
  std::vector<std::uint16_t> filtered;  ///< no answer within attempt_timeout, ascending
  std::size_t scanned = 0;
};

PortScanResult scan_tcp_ports(const PortScanOptions& options);

/// True for 127.0.0.0/8 and ::1 (numeric only).
bool is_loopback_address(const std::string& host);

}  // namespace hilbench::security
