#pragma once
// Serial port discovery through libserialport's port list: what a bench file needs to name a
// port by its USB adapter (serial number, VID:PID) instead of by an OS name that moves
// between boots (/dev/ttyUSB3).
//
// Contract
// - list_serial_ports() enumerates the ports the OS (or a umockdev testbed, under its
//   preload) shows right now; it opens none of them. Throws TransportError if the OS list
//   cannot be read.
// - find_serial_port() returns the one port matching every given criterion; none, or more
//   than one, is a PortNotFound / ConfigError whose message lists what was seen, so a lab
//   engineer can tell a missing adapter from an ambiguous bench file.
// - Thread-safety: both are safe to call from any thread (no shared state).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hilbench {

/// One port as libserialport reports it. USB fields are set for USB adapters only.
struct SerialPortInfo {
  std::string name;         ///< OS name, "/dev/ttyUSB0"
  std::string description;  ///< libserialport's human description
  std::string transport;    ///< "native" | "usb" | "bluetooth"
  std::optional<std::uint16_t> usb_vendor_id;
  std::optional<std::uint16_t> usb_product_id;
  std::string usb_serial;        ///< adapter serial number ("" if none)
  std::string usb_manufacturer;  ///< ("" if none)
  std::string usb_product;       ///< ("" if none)
  std::optional<int> usb_bus;
  std::optional<int> usb_address;
};

std::vector<SerialPortInfo> list_serial_ports();

/// What a bench file may say about a port; empty fields do not restrict.
struct SerialPortQuery {
  std::string usb_serial;                       ///< adapter serial number, exact
  std::optional<std::uint16_t> usb_vendor_id;   ///< e.g. 0x0403
  std::optional<std::uint16_t> usb_product_id;  ///< e.g. 0x6001
};

/// The OS name of the one port matching `query`. Throws PortNotFound if none matches,
/// ConfigError if several do (both messages list the ports seen) or the query is empty.
std::string find_serial_port(const SerialPortQuery& query);

/// "serial HB000001, 0403:6001": the query as a message fragment.
std::string describe(const SerialPortQuery& query);

}  // namespace hilbench
