#include "hilbench/transport/serial_ports.hpp"

#include <fmt/format.h>
#include <libserialport.h>

#include <memory>

#include "hilbench/errors.hpp"

namespace hilbench {
namespace {

struct PortListFree {
  void operator()(sp_port** list) const noexcept { sp_free_port_list(list); }
};

std::string text(const char* value) {
  return value != nullptr ? std::string(value) : std::string();
}

SerialPortInfo describe_port(sp_port* port) {
  SerialPortInfo info;
  info.name = text(sp_get_port_name(port));
  info.description = text(sp_get_port_description(port));
  switch (sp_get_port_transport(port)) {
    case SP_TRANSPORT_USB: {
      info.transport = "usb";
      int vendor = 0, product = 0, bus = 0, address = 0;
      if (sp_get_port_usb_vid_pid(port, &vendor, &product) == SP_OK) {
        info.usb_vendor_id = static_cast<std::uint16_t>(vendor);
        info.usb_product_id = static_cast<std::uint16_t>(product);
      }
      if (sp_get_port_usb_bus_address(port, &bus, &address) == SP_OK) {
        info.usb_bus = bus;
        info.usb_address = address;
      }
      info.usb_serial = text(sp_get_port_usb_serial(port));
      info.usb_manufacturer = text(sp_get_port_usb_manufacturer(port));
      info.usb_product = text(sp_get_port_usb_product(port));
      break;
    }
    case SP_TRANSPORT_BLUETOOTH:
      info.transport = "bluetooth";
      break;
    default:
      info.transport = "native";
  }
  return info;
}

bool matches(const SerialPortInfo& port, const SerialPortQuery& query) {
  if (!query.usb_serial.empty() && port.usb_serial != query.usb_serial) return false;
  if (query.usb_vendor_id && port.usb_vendor_id != query.usb_vendor_id) return false;
  if (query.usb_product_id && port.usb_product_id != query.usb_product_id) return false;
  return true;
}

std::string seen(const std::vector<SerialPortInfo>& ports) {
  if (ports.empty()) return "no serial ports at all";
  std::string out = "seen:";
  for (const auto& port : ports) {
    out += fmt::format(" {} ({}", port.name, port.transport);
    if (port.usb_vendor_id && port.usb_product_id)
      out += fmt::format(" {:04x}:{:04x}", *port.usb_vendor_id, *port.usb_product_id);
    if (!port.usb_serial.empty()) out += fmt::format(" serial {}", port.usb_serial);
    out += ")";
  }
  return out;
}

}  // namespace

std::vector<SerialPortInfo> list_serial_ports() {
  sp_port** raw = nullptr;
  if (sp_list_ports(&raw) != SP_OK) {
    throw TransportError({"serial", "list_ports", std::nullopt}, "cannot enumerate serial ports");
  }
  const std::unique_ptr<sp_port*, PortListFree> list(raw);
  std::vector<SerialPortInfo> ports;
  for (sp_port** port = list.get(); *port != nullptr; ++port) ports.push_back(describe_port(*port));
  return ports;
}

std::string describe(const SerialPortQuery& query) {
  std::string out;
  if (!query.usb_serial.empty()) out = fmt::format("serial {}", query.usb_serial);
  if (query.usb_vendor_id || query.usb_product_id) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}:{}",
                       query.usb_vendor_id ? fmt::format("{:04x}", *query.usb_vendor_id) : "*",
                       query.usb_product_id ? fmt::format("{:04x}", *query.usb_product_id) : "*");
  }
  return out;
}

std::string find_serial_port(const SerialPortQuery& query) {
  const std::string wanted = describe(query);
  if (wanted.empty()) {
    throw ConfigError({"serial", "find_port", std::nullopt},
                      "no criterion: give an adapter serial number and/or VID:PID");
  }
  const auto ports = list_serial_ports();
  std::vector<std::string> found;
  for (const auto& port : ports)
    if (matches(port, query)) found.push_back(port.name);
  if (found.empty()) {
    throw PortNotFound({"serial", "find_port", std::nullopt},
                       fmt::format("no USB serial adapter with {} ({})", wanted, seen(ports)));
  }
  if (found.size() > 1) {
    throw ConfigError({"serial", "find_port", std::nullopt},
                      fmt::format("{} adapters match {} ({}): add the adapter serial number",
                                  found.size(), wanted, fmt::join(found, ", ")));
  }
  return found.front();
}

}  // namespace hilbench
