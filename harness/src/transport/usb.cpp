#include "hilbench/transport/usb.hpp"

#include <fmt/format.h>
#include <libusb.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "hilbench/errors.hpp"

namespace hilbench {
namespace {

struct ContextExit {
  void operator()(libusb_context* context) const noexcept { libusb_exit(context); }
};
using ContextPtr = std::unique_ptr<libusb_context, ContextExit>;

struct HandleClose {
  void operator()(libusb_device_handle* handle) const noexcept { libusb_close(handle); }
};
using HandlePtr = std::unique_ptr<libusb_device_handle, HandleClose>;

struct DeviceListFree {
  void operator()(libusb_device** list) const noexcept { libusb_free_device_list(list, 1); }
};
using DeviceListPtr = std::unique_ptr<libusb_device*, DeviceListFree>;

struct ConfigFree {
  void operator()(libusb_config_descriptor* config) const noexcept {
    libusb_free_config_descriptor(config);
  }
};
using ConfigPtr = std::unique_ptr<libusb_config_descriptor, ConfigFree>;

std::string error_name(int code) {
  return fmt::format("{} ({})", libusb_error_name(code), libusb_strerror(code));
}

ContextPtr make_context(const std::string& operation) {
  libusb_context* raw = nullptr;
  const int rc = libusb_init(&raw);
  if (rc != 0)
    throw TransportError({"usb", operation, std::nullopt}, "libusb_init: " + error_name(rc));
  return ContextPtr(raw);
}

std::string port_path(libusb_device* device) {
  std::array<std::uint8_t, 8> ports{};
  const int count = libusb_get_port_numbers(device, ports.data(), static_cast<int>(ports.size()));
  // fmt, not "literal" + std::string: GCC 12 -O3 reports a false -Wrestrict on the latter.
  std::string path = fmt::format("{}", libusb_get_bus_number(device));
  for (int i = 0; i < count; ++i)
    path += fmt::format("{}{}", i == 0 ? '-' : '.', ports[static_cast<std::size_t>(i)]);
  return path;
}

std::string read_string(libusb_device_handle* handle, std::uint8_t index) {
  if (index == 0) return {};
  std::array<unsigned char, 256> text{};
  const int n =
      libusb_get_string_descriptor_ascii(handle, index, text.data(), static_cast<int>(text.size()));
  if (n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(n));
}

UsbDeviceInfo basic_info(libusb_device* device, const libusb_device_descriptor& descriptor) {
  UsbDeviceInfo info;
  info.vendor_id = descriptor.idVendor;
  info.product_id = descriptor.idProduct;
  info.bus = libusb_get_bus_number(device);
  info.address = libusb_get_device_address(device);
  info.path = port_path(device);
  return info;
}

void read_strings(libusb_device_handle* handle, const libusb_device_descriptor& descriptor,
                  UsbDeviceInfo& info) {
  info.serial = read_string(handle, descriptor.iSerialNumber);
  info.manufacturer = read_string(handle, descriptor.iManufacturer);
  info.product = read_string(handle, descriptor.iProduct);
}

std::string describe_device(const UsbDeviceInfo& info) {
  return fmt::format("{:04x}:{:04x} serial '{}' path {} (bus {} device {})", info.vendor_id,
                     info.product_id, info.serial, info.path, info.bus, info.address);
}

std::string list_seen(const std::vector<UsbDeviceInfo>& seen) {
  if (seen.empty()) return "no USB devices seen";
  std::string text = "devices seen:";
  for (const auto& info : seen) text += " [" + describe_device(info) + "]";
  return text;
}

bool matches_ids(const UsbQuery& query, const UsbDeviceInfo& info) {
  return (!query.vendor_id || *query.vendor_id == info.vendor_id) &&
         (!query.product_id || *query.product_id == info.product_id) &&
         (query.path.empty() || query.path == info.path);
}

int timeout_ms(Deadline deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  return static_cast<int>(std::clamp<long long>(left, 1, 24LL * 3600 * 1000));
}

}  // namespace

std::string describe(const UsbQuery& query) {
  std::vector<std::string> parts;
  if (query.vendor_id || query.product_id) {
    parts.push_back(fmt::format("{}:{}",
                                query.vendor_id ? fmt::format("{:04x}", *query.vendor_id) : "*",
                                query.product_id ? fmt::format("{:04x}", *query.product_id) : "*"));
  }
  if (!query.serial.empty()) parts.push_back("serial " + query.serial);
  if (!query.path.empty()) parts.push_back("path " + query.path);
  return parts.empty() ? std::string("any device") : fmt::format("{}", fmt::join(parts, " "));
}

std::vector<UsbDeviceInfo> list_usb_devices() {
  auto context = make_context("list_usb_devices");
  libusb_device** raw = nullptr;
  const ssize_t count = libusb_get_device_list(context.get(), &raw);
  if (count < 0)
    throw TransportError({"usb", "list_usb_devices", std::nullopt},
                         "libusb_get_device_list: " + error_name(static_cast<int>(count)));
  DeviceListPtr list(raw);
  std::vector<UsbDeviceInfo> seen;
  for (ssize_t i = 0; i < count; ++i) {
    libusb_device_descriptor descriptor{};
    if (libusb_get_device_descriptor(raw[i], &descriptor) != 0) continue;
    UsbDeviceInfo info = basic_info(raw[i], descriptor);
    libusb_device_handle* handle = nullptr;
    if (libusb_open(raw[i], &handle) == 0) {
      HandlePtr owned(handle);
      read_strings(handle, descriptor, info);
    }
    seen.push_back(std::move(info));
  }
  return seen;
}

struct UsbTransport::Impl {
  UsbSettings settings;
  ContextPtr context;
  HandlePtr handle;
  UsbDeviceInfo info;
  UsbEndpoints endpoints;
  int interface_number = 0;
  std::uint8_t interface_class = 0, interface_subclass = 0, interface_protocol = 0;
  bool claimed = false;
  bool reattach_driver = false;
  Bytes pending;  // bulk-in bytes received but not yet handed out by do_read
  std::size_t pending_at = 0;
  std::string name;

  ~Impl() {
    if (handle && claimed) {
      libusb_release_interface(handle.get(), interface_number);
      if (reattach_driver) libusb_attach_kernel_driver(handle.get(), interface_number);
    }
  }
};

UsbTransport::UsbTransport(UsbSettings settings) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.settings = std::move(settings);
  const UsbQuery& query = s.settings.query;
  const std::string wanted = "usb:" + describe(query);
  if (!query.vendor_id && !query.product_id && query.serial.empty() && query.path.empty())
    throw ConfigError({wanted, "open", std::nullopt},
                      "a USB device needs a VID:PID, a serial number or a bus/port path");
  s.context = make_context("open");
  libusb_device** raw = nullptr;
  const ssize_t count = libusb_get_device_list(s.context.get(), &raw);
  if (count < 0)
    throw TransportError({wanted, "open", std::nullopt},
                         "libusb_get_device_list: " + error_name(static_cast<int>(count)));
  DeviceListPtr list(raw);

  std::vector<UsbDeviceInfo> seen;
  std::vector<std::pair<libusb_device*, UsbDeviceInfo>> found;
  for (ssize_t i = 0; i < count; ++i) {
    libusb_device_descriptor descriptor{};
    if (libusb_get_device_descriptor(raw[i], &descriptor) != 0) continue;
    UsbDeviceInfo info = basic_info(raw[i], descriptor);
    const bool ids = matches_ids(query, info);
    if (ids || !query.serial.empty()) {
      libusb_device_handle* handle = nullptr;
      if (libusb_open(raw[i], &handle) == 0) {
        HandlePtr owned(handle);
        read_strings(handle, descriptor, info);
      }
    }
    if (ids && (query.serial.empty() || query.serial == info.serial))
      found.emplace_back(raw[i], info);
    seen.push_back(std::move(info));
  }
  if (found.empty())
    throw PortNotFound({wanted, "open", std::nullopt}, "no match; " + list_seen(seen));
  if (found.size() > 1)
    throw ConfigError({wanted, "open", std::nullopt},
                      fmt::format("{} devices match; {}", found.size(), list_seen(seen)));
  libusb_device* device = found.front().first;
  s.info = found.front().second;
  s.name =
      s.info.serial.empty()
          ? fmt::format("usb:{:04x}:{:04x}@{}", s.info.vendor_id, s.info.product_id, s.info.path)
          : fmt::format("usb:{:04x}:{:04x}:{}", s.info.vendor_id, s.info.product_id, s.info.serial);

  libusb_device_handle* handle = nullptr;
  if (const int rc = libusb_open(device, &handle); rc != 0) {
    throw TransportError(
        {s.name, "open", std::nullopt},
        "cannot open the device: " + error_name(rc) +
            (rc == LIBUSB_ERROR_ACCESS ? " (no permission on its /dev/bus/usb node)" : ""));
  }
  s.handle.reset(handle);

  libusb_config_descriptor* raw_config = nullptr;
  if (const int rc = libusb_get_active_config_descriptor(device, &raw_config); rc != 0)
    throw TransportError({s.name, "open", std::nullopt},
                         "no active configuration: " + error_name(rc));
  ConfigPtr config(raw_config);
  const libusb_interface_descriptor* chosen = nullptr;
  for (int i = 0; i < config->bNumInterfaces && chosen == nullptr; ++i) {
    const libusb_interface& interface = config->interface[i];
    if (interface.num_altsetting < 1) continue;
    const libusb_interface_descriptor& alt = interface.altsetting[0];
    if (s.settings.interface_number ? alt.bInterfaceNumber == *s.settings.interface_number
                                    : (alt.bInterfaceClass == 0xFE && alt.bInterfaceSubClass == 3))
      chosen = &alt;
  }
  if (chosen == nullptr && !s.settings.interface_number && config->bNumInterfaces > 0 &&
      config->interface[0].num_altsetting > 0)
    chosen = &config->interface[0].altsetting[0];
  if (chosen == nullptr)
    throw ConfigError({s.name, "open", std::nullopt},
                      fmt::format("interface {} not in the active configuration",
                                  s.settings.interface_number.value_or(0)));
  s.interface_number = chosen->bInterfaceNumber;
  s.interface_class = chosen->bInterfaceClass;
  s.interface_subclass = chosen->bInterfaceSubClass;
  s.interface_protocol = chosen->bInterfaceProtocol;
  for (int e = 0; e < chosen->bNumEndpoints; ++e) {
    const libusb_endpoint_descriptor& endpoint = chosen->endpoint[e];
    const int type = endpoint.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
    const bool in = (endpoint.bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0;
    if (type == LIBUSB_TRANSFER_TYPE_BULK && in && s.endpoints.bulk_in == 0) {
      s.endpoints.bulk_in = endpoint.bEndpointAddress;
      s.endpoints.bulk_in_max_packet = endpoint.wMaxPacketSize;
    } else if (type == LIBUSB_TRANSFER_TYPE_BULK && !in && s.endpoints.bulk_out == 0) {
      s.endpoints.bulk_out = endpoint.bEndpointAddress;
      s.endpoints.bulk_out_max_packet = endpoint.wMaxPacketSize;
    } else if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT && in && s.endpoints.interrupt_in == 0) {
      s.endpoints.interrupt_in = endpoint.bEndpointAddress;
    }
  }

  const int active = libusb_kernel_driver_active(handle, s.interface_number);
  if (active == 1) {
    if (!s.settings.detach_kernel_driver)
      throw TransportError({s.name, "claim", std::nullopt},
                           fmt::format("a kernel driver is bound to interface {} and detaching "
                                       "it is not allowed (detach_kernel_driver = false)",
                                       s.interface_number));
    if (const int rc = libusb_detach_kernel_driver(handle, s.interface_number); rc != 0)
      throw TransportError({s.name, "claim", std::nullopt},
                           fmt::format("cannot detach the kernel driver from interface {}: {}",
                                       s.interface_number, error_name(rc)));
    s.reattach_driver = true;
  }
  if (const int rc = libusb_claim_interface(handle, s.interface_number); rc != 0) {
    throw TransportError(
        {s.name, "claim", std::nullopt},
        fmt::format("cannot claim interface {}: {}{}", s.interface_number, error_name(rc),
                    rc == LIBUSB_ERROR_BUSY ? " (another program or driver holds it)" : ""));
  }
  s.claimed = true;
}

UsbTransport::~UsbTransport() = default;

std::string UsbTransport::name() const { return impl_->name; }
const UsbDeviceInfo& UsbTransport::device() const noexcept { return impl_->info; }
const UsbEndpoints& UsbTransport::endpoints() const noexcept { return impl_->endpoints; }
int UsbTransport::interface_number() const noexcept { return impl_->interface_number; }
std::uint8_t UsbTransport::interface_class() const noexcept { return impl_->interface_class; }
std::uint8_t UsbTransport::interface_subclass() const noexcept { return impl_->interface_subclass; }
std::uint8_t UsbTransport::interface_protocol() const noexcept { return impl_->interface_protocol; }

namespace {

enum class Kind : std::uint8_t { bulk, interrupt };

/// One bulk or interrupt transfer; throws for a lost device or an I/O error.
UsbResult transfer(UsbTransport& self, libusb_device_handle* handle, Kind kind,
                   std::uint8_t endpoint, std::span<std::uint8_t> buffer, bool in,
                   Deadline deadline, const std::string& operation) {
  UsbResult result;
  if (deadline.expired()) {
    result.status = UsbResult::Status::timeout;
    return result;
  }
  int transferred = 0;
  const int rc =
      kind == Kind::bulk
          ? libusb_bulk_transfer(handle, endpoint, buffer.data(), static_cast<int>(buffer.size()),
                                 &transferred, static_cast<unsigned>(timeout_ms(deadline)))
          : libusb_interrupt_transfer(handle, endpoint, buffer.data(),
                                      static_cast<int>(buffer.size()), &transferred,
                                      static_cast<unsigned>(timeout_ms(deadline)));
  result.transferred = static_cast<std::size_t>(std::max(transferred, 0));
  if (in)
    result.data.assign(buffer.begin(),
                       buffer.begin() + static_cast<std::ptrdiff_t>(result.transferred));
  switch (rc) {
    case 0:
      return result;
    case LIBUSB_ERROR_TIMEOUT:
      result.status = UsbResult::Status::timeout;
      return result;
    case LIBUSB_ERROR_PIPE:
      result.status = UsbResult::Status::stall;
      return result;
    case LIBUSB_ERROR_NO_DEVICE:
      throw ConnectionClosed({self.name(), operation, deadline.budget()},
                             "the USB device is gone (unplugged or reset)");
    default:
      throw TransportError({self.name(), operation, deadline.budget()}, error_name(rc));
  }
}

}  // namespace

UsbResult UsbTransport::bulk_out(std::uint8_t endpoint, std::span<const std::uint8_t> bytes,
                                 Deadline deadline) {
  Bytes copy(bytes.begin(), bytes.end());  // libusb's API takes a non-const buffer
  try {
    UsbResult result =
        transfer(*this, impl_->handle.get(), Kind::bulk, endpoint, copy, false, deadline,
                 fmt::format("bulk_out(0x{:02x}, {})", endpoint, bytes.size()));
    record_chunk(Direction::tx, bytes.first(result.transferred));
    return result;
  } catch (const TransportError&) {
    mark_lost();
    throw;
  }
}

UsbResult UsbTransport::bulk_in(std::uint8_t endpoint, std::size_t max_bytes, Deadline deadline) {
  Bytes buffer(max_bytes);
  try {
    UsbResult result =
        transfer(*this, impl_->handle.get(), Kind::bulk, endpoint, buffer, true, deadline,
                 fmt::format("bulk_in(0x{:02x}, {})", endpoint, max_bytes));
    record_chunk(Direction::rx, result.data);
    return result;
  } catch (const TransportError&) {
    mark_lost();
    throw;
  }
}

UsbResult UsbTransport::interrupt_in(std::uint8_t endpoint, std::size_t max_bytes,
                                     Deadline deadline) {
  Bytes buffer(max_bytes);
  try {
    UsbResult result =
        transfer(*this, impl_->handle.get(), Kind::interrupt, endpoint, buffer, true, deadline,
                 fmt::format("interrupt_in(0x{:02x}, {})", endpoint, max_bytes));
    record_chunk(Direction::rx, result.data);
    return result;
  } catch (const TransportError&) {
    mark_lost();
    throw;
  }
}

UsbResult UsbTransport::control(std::uint8_t request_type, std::uint8_t request,
                                std::uint16_t value, std::uint16_t index,
                                std::span<const std::uint8_t> data, std::uint16_t length,
                                Deadline deadline) {
  UsbResult result;
  if (deadline.expired()) {
    result.status = UsbResult::Status::timeout;
    return result;
  }
  const bool in = (request_type & LIBUSB_ENDPOINT_IN) != 0;
  Bytes buffer = in ? Bytes(length) : Bytes(data.begin(), data.end());
  const int rc = libusb_control_transfer(impl_->handle.get(), request_type, request, value, index,
                                         buffer.data(), static_cast<std::uint16_t>(buffer.size()),
                                         static_cast<unsigned>(timeout_ms(deadline)));
  const std::string operation =
      fmt::format("control(0x{:02x}, {}, 0x{:04x}, {})", request_type, request, value, index);
  if (rc >= 0) {
    result.transferred = static_cast<std::size_t>(rc);
    if (in) result.data.assign(buffer.begin(), buffer.begin() + rc);
    return result;
  }
  switch (rc) {
    case LIBUSB_ERROR_TIMEOUT:
      result.status = UsbResult::Status::timeout;
      return result;
    case LIBUSB_ERROR_PIPE:
      result.status = UsbResult::Status::stall;
      return result;
    case LIBUSB_ERROR_NO_DEVICE:
      mark_lost();
      throw ConnectionClosed({name(), operation, deadline.budget()},
                             "the USB device is gone (unplugged or reset)");
    default:
      mark_lost();
      throw TransportError({name(), operation, deadline.budget()}, error_name(rc));
  }
}

void UsbTransport::clear_halt(std::uint8_t endpoint, Deadline deadline) {
  const int rc = libusb_clear_halt(impl_->handle.get(), endpoint);
  if (rc == 0) return;
  if (rc == LIBUSB_ERROR_NO_DEVICE) {
    mark_lost();
    throw ConnectionClosed(
        {name(), fmt::format("clear_halt(0x{:02x})", endpoint), deadline.budget()},
        "the USB device is gone (unplugged or reset)");
  }
  throw TransportError({name(), fmt::format("clear_halt(0x{:02x})", endpoint), deadline.budget()},
                       error_name(rc));
}

std::size_t UsbTransport::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  Impl& s = *impl_;
  if (s.endpoints.bulk_in == 0)
    throw ConfigError({name(), "read", std::nullopt}, "the interface has no bulk-in endpoint");
  if (s.pending_at >= s.pending.size()) {
    // Whole packets, so a device sending more than buf holds is no overflow.
    const std::size_t packet = std::max<std::size_t>(s.endpoints.bulk_in_max_packet, 1);
    const std::size_t want =
        ((std::max<std::size_t>(buf.size(), 1) + packet - 1) / packet) * packet;
    Bytes buffer(want);
    const UsbResult result = transfer(*this, s.handle.get(), Kind::bulk, s.endpoints.bulk_in,
                                      buffer, true, deadline, "read");
    if (result.status == UsbResult::Status::stall)
      throw TransportError({name(), "read", deadline.budget()}, "bulk-in endpoint stalled");
    s.pending = result.data;
    s.pending_at = 0;
  }
  const std::size_t n = std::min(buf.size(), s.pending.size() - s.pending_at);
  std::copy_n(s.pending.begin() + static_cast<std::ptrdiff_t>(s.pending_at), n, buf.begin());
  s.pending_at += n;
  return n;
}

std::size_t UsbTransport::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  Impl& s = *impl_;
  if (s.endpoints.bulk_out == 0)
    throw ConfigError({name(), "write", std::nullopt}, "the interface has no bulk-out endpoint");
  Bytes copy(bytes.begin(), bytes.end());
  const UsbResult result = transfer(*this, s.handle.get(), Kind::bulk, s.endpoints.bulk_out, copy,
                                    false, deadline, "write");
  if (result.status == UsbResult::Status::stall)
    throw TransportError({name(), "write", deadline.budget()}, "bulk-out endpoint stalled");
  return result.transferred;
}

void UsbTransport::do_discard_input() {
  impl_->pending.clear();
  impl_->pending_at = 0;
}

}  // namespace hilbench
