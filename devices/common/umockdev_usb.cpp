// An emulated USB device through umockdev (see umockdev_usb.hpp); the recipe it follows is
// ../shared/reference/serial-emulation.md, "USB devices for libusb — verified 2026-12-01".
#include "common/umockdev_usb.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <umockdev.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <filesystem>
#include <hilbench/unique_fd.hpp>
#include <list>
#include <mutex>
#include <stdexcept>

namespace hilbench::emu {
namespace {

struct GObjectUnref {
  void operator()(gpointer object) const noexcept {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GErrorFree {
  void operator()(GError* error) const noexcept { g_error_free(error); }
};
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;

using Bytes = std::vector<std::uint8_t>;

template <class T>
GObjectPtr<T> take_ref(T* object) {
  if (object != nullptr) g_object_ref(object);
  return GObjectPtr<T>(object);
}

void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

Bytes device_descriptor(const UsbDescription& d) {
  Bytes out{18, 1};
  put16(out, 0x0200);                    // bcdUSB 2.0
  out.insert(out.end(), {0, 0, 0, 64});  // class per interface; EP0 max packet 64
  put16(out, d.vendor_id);
  put16(out, d.product_id);
  put16(out, d.bcd_device);
  out.insert(out.end(), {1, 2, 3, 1});  // iManufacturer, iProduct, iSerialNumber, configs
  return out;
}

Bytes configuration_descriptor(const UsbDescription& d) {
  Bytes out{9, 2};
  put16(out, 9 + 9 + 3 * 7);
  out.insert(out.end(), {1, 1, 0, 0x80, 50});  // 1 interface, value 1, bus powered, 100 mA
  out.insert(out.end(),
             {9, 4, 0, 0, 3, d.interface_class, d.interface_subclass, d.interface_protocol, 0});
  out.insert(out.end(), {7, 5, 0x01, 2});  // bulk OUT 1
  put16(out, d.bulk_max_packet);
  out.push_back(0);
  out.insert(out.end(), {7, 5, 0x82, 2});  // bulk IN 2
  put16(out, d.bulk_max_packet);
  out.push_back(0);
  out.insert(out.end(), {7, 5, 0x83, 3});  // interrupt IN 3, 2 bytes, 10 ms
  put16(out, 2);
  out.push_back(10);
  return out;
}

Bytes string_descriptor(const std::string& text) {
  Bytes out{static_cast<std::uint8_t>(2 + 2 * text.size()), 3};
  for (char c : text) put16(out, static_cast<std::uint8_t>(c));
  return out;
}

std::string hex(const Bytes& bytes) {
  std::string out;
  for (std::uint8_t b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::string attribute_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E || c == '\\')
      throw std::invalid_argument(fmt::format("USB string '{}': printable ASCII only", text));
    out += c;
  }
  return out;
}

constexpr int kBus = 1;
constexpr int kPort = 1;

/// One URB the host submitted and has not reaped yet.
struct Urb {
  GObjectPtr<UMockdevIoctlData> urb;
  GObjectPtr<UMockdevIoctlData> buffer;  // null for zero-length transfers
  GObjectPtr<UMockdevIoctlClient> client;
  std::uint8_t type = 0;
  std::uint8_t endpoint = 0;
  int length = 0;
};

}  // namespace

/// One plug-in of the device: a device number, a node, a handler and its URBs. Old
/// generations stay alive (answering ENODEV) until the object goes.
struct Generation {
  int devnum = 2;
  std::string node;  // "/dev/bus/usb/001/002"
  UniqueFd fifo;     // our end of the node: full = nothing to reap
  GObjectPtr<UMockdevIoctlBase> handler;
  std::list<Urb> waiting;  // IN URBs waiting for data
  std::deque<Urb> done;    // completed, not reaped
  bool gone = false;
};

struct UmockdevUsbDevice::Impl {
  UsbDescription description;
  UsbFunction& function;
  Bytes config;
  GObjectPtr<UMockdevTestbed> testbed;
  std::string root;
  std::string syspath;
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<Generation>> generations;
  Generation* current = nullptr;
  std::function<void()> unplugged_callback;
  int next_devnum = 2;

  Impl(UsbDescription d, UsbFunction& f)
      : description(std::move(d)), function(f), config(configuration_descriptor(description)) {}

  void plug();
  void handle(Generation& generation, UMockdevIoctlClient* client);
  void submit(Generation& generation, UMockdevIoctlClient* client, bool& unplug);
  void serve_waiting(Generation& generation);
  void finish(Generation& generation, Urb urb, int status, const Bytes& data, std::size_t offset);
  void drop_disconnected(Generation& generation);
  void fail_all(Generation& generation);
  std::optional<Bytes> standard_control(std::uint8_t type, std::uint8_t request,
                                        std::uint16_t value, std::uint16_t index,
                                        std::uint16_t length);
};

namespace {

void fill(int fd) {
  std::array<char, 4096> block{};
  while (::write(fd, block.data(), block.size()) > 0) {
  }
}

void drain(int fd) {
  std::array<char, 4096> block{};
  while (::read(fd, block.data(), block.size()) > 0) {
  }
}

struct HandlerData {
  UmockdevUsbDevice::Impl* impl;
  Generation* generation;
};

gboolean on_ioctl(UMockdevIoctlBase*, UMockdevIoctlClient* client, gpointer user_data) {
  auto* data = static_cast<HandlerData*>(user_data);
  data->impl->handle(*data->generation, client);
  return TRUE;
}

void free_handler_data(gpointer data, GClosure*) { delete static_cast<HandlerData*>(data); }

}  // namespace

void UmockdevUsbDevice::Impl::plug() {
  const UsbDescription& d = description;
  auto generation = std::make_unique<Generation>();
  generation->devnum = next_devnum++;
  generation->node = fmt::format("/dev/bus/usb/{:03}/{:03}", kBus, generation->devnum);
  syspath = fmt::format("/sys/devices/pci0000:00/0000:00:14.0/usb{}/{}-{}", kBus, kBus, kPort);
  const std::string product_key =
      fmt::format("{:x}/{:x}/{:x}", d.vendor_id, d.product_id, d.bcd_device);
  const std::string text = fmt::format(
      "P: {}\n"
      "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\nE: DEVNAME={}\n"
      "E: PRODUCT={}\nE: TYPE=0/0/0\nE: BUSNUM={:03}\nE: DEVNUM={:03}\n"
      "A: idVendor={:04x}\\n\nA: idProduct={:04x}\\n\nA: bcdDevice={:04x}\\n\n"
      "A: serial={}\\n\nA: manufacturer={}\\n\nA: product={}\\n\n"
      "A: busnum={}\\n\nA: devnum={}\\n\nA: speed=12\\n\nA: bDeviceClass=00\\n\n"
      "A: bNumConfigurations=1\\n\nA: bConfigurationValue=1\\n\n"
      "H: descriptors={}{}\n\n",
      syspath.substr(4), generation->node, product_key, kBus, generation->devnum, d.vendor_id,
      d.product_id, d.bcd_device, attribute_text(d.serial), attribute_text(d.manufacturer),
      attribute_text(d.product), kBus, generation->devnum, hex(device_descriptor(d)), hex(config));

  // The node first (a FIFO, see the header), and the handler before the device appears.
  const std::filesystem::path node = std::filesystem::path(root) / generation->node.substr(1);
  std::filesystem::create_directories(node.parent_path());
  if (::mkfifo(node.c_str(), 0666) != 0 && errno != EEXIST)
    throw std::runtime_error(
        fmt::format("umockdev usb: mkfifo {}: {}", node.string(), std::strerror(errno)));
  generation->fifo = UniqueFd(::open(node.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (generation->fifo.get() < 0)
    throw std::runtime_error(
        fmt::format("umockdev usb: open {}: {}", node.string(), std::strerror(errno)));
  fill(generation->fifo.get());

  generation->handler.reset(umockdev_ioctl_base_new());
  g_signal_connect_data(
      generation->handler.get(), "handle-ioctl", reinterpret_cast<GCallback>(&on_ioctl),
      new HandlerData{this, generation.get()}, &free_handler_data, GConnectFlags{});
  GError* raw_error = nullptr;
  if (!umockdev_testbed_attach_ioctl(testbed.get(), generation->node.c_str(),
                                     generation->handler.get(), &raw_error)) {
    GErrorPtr error(raw_error);
    throw std::runtime_error(fmt::format("umockdev usb: cannot attach the ioctl handler to {}: {}",
                                         generation->node,
                                         error ? error->message : "unknown error"));
  }
  if (!umockdev_testbed_add_from_string(testbed.get(), text.c_str(), &raw_error)) {
    GErrorPtr error(raw_error);
    throw std::runtime_error(fmt::format("umockdev usb: cannot add the device: {}",
                                         error ? error->message : "unknown error"));
  }
  std::lock_guard lock(mutex);
  function.plugged_in();
  current = generation.get();
  generations.push_back(std::move(generation));
}

void UmockdevUsbDevice::Impl::finish(Generation& generation, Urb urb, int status, const Bytes& data,
                                     std::size_t offset) {
  usbdevfs_urb fields{};
  std::memcpy(&fields, urb.urb->data, sizeof fields);
  std::size_t n = 0;
  if (urb.buffer && !data.empty()) {
    const std::size_t room = static_cast<std::size_t>(std::max(urb.buffer->data_len, 0));
    n = std::min(data.size(), room > offset ? room - offset : 0);
    std::memcpy(urb.buffer->data + offset, data.data(), n);
  }
  fields.status = status;
  fields.actual_length = static_cast<int>(n);
  std::memcpy(urb.urb->data, &fields, sizeof fields);
  generation.done.push_back(std::move(urb));
  drain(generation.fifo.get());  // POLLOUT for the host: something to reap
}

void UmockdevUsbDevice::Impl::drop_disconnected(Generation& generation) {
  const auto closed = [](const Urb& urb) {
    return !umockdev_ioctl_client_get_connected(urb.client.get());
  };
  generation.waiting.remove_if(closed);
  std::erase_if(generation.done, closed);
}

void UmockdevUsbDevice::Impl::fail_all(Generation& generation) {
  generation.gone = true;
  while (!generation.waiting.empty()) {
    Urb urb = std::move(generation.waiting.front());
    generation.waiting.pop_front();
    finish(generation, std::move(urb), -ESHUTDOWN, {}, 0);
  }
  drain(generation.fifo.get());
}

void UmockdevUsbDevice::Impl::serve_waiting(Generation& generation) {
  for (auto it = generation.waiting.begin(); it != generation.waiting.end();) {
    const std::size_t max = static_cast<std::size_t>(std::max(it->length, 0));
    std::optional<Bytes> data = it->type == USBDEVFS_URB_TYPE_INTERRUPT ? function.interrupt_in(max)
                                                                        : function.bulk_in(max);
    if (!data) {
      ++it;
      continue;
    }
    Urb urb = std::move(*it);
    it = generation.waiting.erase(it);
    finish(generation, std::move(urb), 0, *data, 0);
  }
}

std::optional<Bytes> UmockdevUsbDevice::Impl::standard_control(std::uint8_t type,
                                                               std::uint8_t request,
                                                               std::uint16_t value,
                                                               std::uint16_t index,
                                                               std::uint16_t length) {
  (void)index;
  if ((type & 0x80) == 0) return Bytes{};  // SET_ADDRESS/CONFIGURATION/FEATURE, CLEAR_FEATURE
  Bytes reply;
  if (request == 0) {  // GET_STATUS
    reply = {0, 0};
  } else if (request == 6) {  // GET_DESCRIPTOR
    const int kind = value >> 8;
    const int which = value & 0xFF;
    if (kind == 1) {
      reply = device_descriptor(description);
    } else if (kind == 2 && which == 0) {
      reply = config;
    } else if (kind == 3) {
      switch (which) {
        case 0:
          reply = {4, 3, 0x09, 0x04};
          break;  // English (US)
        case 1:
          reply = string_descriptor(description.manufacturer);
          break;
        case 2:
          reply = string_descriptor(description.product);
          break;
        case 3:
          reply = string_descriptor(description.serial);
          break;
        default:
          return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  } else if (request == 8) {  // GET_CONFIGURATION
    reply = {1};
  } else if (request == 10) {  // GET_INTERFACE
    reply = {0};
  } else {
    return std::nullopt;
  }
  if (reply.size() > length) reply.resize(length);
  return reply;
}

void UmockdevUsbDevice::Impl::submit(Generation& generation, UMockdevIoctlClient* client,
                                     bool& unplug) {
  GError* raw_error = nullptr;
  GObjectPtr<UMockdevIoctlData> urb_data(umockdev_ioctl_data_resolve(
      umockdev_ioctl_client_get_arg(client), 0, sizeof(usbdevfs_urb), &raw_error));
  GErrorPtr error(raw_error);
  if (!urb_data || urb_data->data_len < static_cast<gint>(sizeof(usbdevfs_urb))) {
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return;
  }
  usbdevfs_urb fields{};
  std::memcpy(&fields, urb_data->data, sizeof fields);
  Urb urb;
  urb.type = fields.type;
  urb.endpoint = fields.endpoint;
  urb.length = fields.buffer_length;
  urb.client = take_ref(client);
  if (fields.buffer_length > 0) {
    GError* raw = nullptr;
    urb.buffer.reset(umockdev_ioctl_data_resolve(urb_data.get(), offsetof(usbdevfs_urb, buffer),
                                                 static_cast<gsize>(fields.buffer_length), &raw));
    GErrorPtr buffer_error(raw);
    if (!urb.buffer) {
      umockdev_ioctl_client_complete(client, -1, EFAULT);
      return;
    }
  }
  urb.urb = std::move(urb_data);
  umockdev_ioctl_client_complete(client, 0, 0);

  const bool in = (urb.endpoint & 0x80) != 0;
  if (urb.type == USBDEVFS_URB_TYPE_CONTROL) {
    if (!urb.buffer || urb.length < 8) {
      finish(generation, std::move(urb), -EPIPE, {}, 0);
      return;
    }
    const std::uint8_t* setup = urb.buffer->data;
    const std::uint8_t type = setup[0];
    const std::uint8_t request = setup[1];
    const auto value = static_cast<std::uint16_t>(setup[2] | (setup[3] << 8));
    const auto index = static_cast<std::uint16_t>(setup[4] | (setup[5] << 8));
    const auto length = static_cast<std::uint16_t>(setup[6] | (setup[7] << 8));
    std::optional<Bytes> reply = (type & 0x60) == 0
                                     ? standard_control(type, request, value, index, length)
                                     : function.control(type, request, value, index, length);
    if (!reply)
      finish(generation, std::move(urb), -EPIPE, {}, 0);
    else
      finish(generation, std::move(urb), 0, *reply, 8);
    serve_waiting(generation);  // a class request may have freed or dropped data
  } else if (urb.type == USBDEVFS_URB_TYPE_BULK && !in) {
    const std::span<const std::uint8_t> data =
        urb.buffer
            ? std::span<const std::uint8_t>(urb.buffer->data, static_cast<std::size_t>(urb.length))
            : std::span<const std::uint8_t>();
    const bool accepted = function.bulk_out(data);
    Bytes none;
    if (accepted) {
      usbdevfs_urb out_fields{};
      std::memcpy(&out_fields, urb.urb->data, sizeof out_fields);
      out_fields.status = 0;
      out_fields.actual_length = urb.length;
      std::memcpy(urb.urb->data, &out_fields, sizeof out_fields);
      generation.done.push_back(std::move(urb));
      drain(generation.fifo.get());
    } else {
      finish(generation, std::move(urb), -EPIPE, none, 0);
    }
    serve_waiting(generation);
  } else if ((urb.type == USBDEVFS_URB_TYPE_BULK || urb.type == USBDEVFS_URB_TYPE_INTERRUPT) &&
             in) {
    generation.waiting.push_back(std::move(urb));
    serve_waiting(generation);
  } else {
    finish(generation, std::move(urb), -EINVAL, {}, 0);
  }
  if (!generation.gone && function.unplug_now()) unplug = true;
}

void UmockdevUsbDevice::Impl::handle(Generation& generation, UMockdevIoctlClient* client) {
  const unsigned long request = umockdev_ioctl_client_get_request(client);
  bool unplugged = false;
  {
    std::lock_guard lock(mutex);
    drop_disconnected(generation);
    if (request == USBDEVFS_REAPURBNDELAY || request == USBDEVFS_REAPURB) {
      auto it = std::find_if(generation.done.begin(), generation.done.end(),
                             [&](const Urb& urb) { return urb.client.get() == client; });
      if (it == generation.done.end()) {
        if (generation.done.empty() && !generation.gone) fill(generation.fifo.get());
        umockdev_ioctl_client_complete(client, -1, generation.gone ? ENODEV : EAGAIN);
        return;
      }
      GError* raw_error = nullptr;
      GObjectPtr<UMockdevIoctlData> slot(umockdev_ioctl_data_resolve(
          umockdev_ioctl_client_get_arg(client), 0, sizeof(void*), &raw_error));
      GErrorPtr error(raw_error);
      if (!slot) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
      }
      Urb urb = std::move(*it);
      generation.done.erase(it);
      umockdev_ioctl_data_set_ptr(slot.get(), 0, urb.urb.get());
      if (generation.done.empty() && !generation.gone) fill(generation.fifo.get());
      umockdev_ioctl_client_complete(client, 0, 0);
      return;
    }
    if (generation.gone) {
      umockdev_ioctl_client_complete(client, -1, ENODEV);
      return;
    }
    switch (request) {
      case USBDEVFS_GET_CAPABILITIES: {
        GError* raw_error = nullptr;
        GObjectPtr<UMockdevIoctlData> caps(umockdev_ioctl_data_resolve(
            umockdev_ioctl_client_get_arg(client), 0, sizeof(std::uint32_t), &raw_error));
        GErrorPtr error(raw_error);
        if (!caps) {
          umockdev_ioctl_client_complete(client, -1, EFAULT);
          return;
        }
        const std::uint32_t value =
            USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
        std::memcpy(caps->data, &value, sizeof value);
        umockdev_ioctl_client_complete(client, 0, 0);
        return;
      }
      case USBDEVFS_GETDRIVER:
        umockdev_ioctl_client_complete(client, -1, ENODATA);  // no kernel driver bound
        return;
      case USBDEVFS_CLAIMINTERFACE:
      case USBDEVFS_RELEASEINTERFACE:
      case USBDEVFS_SETCONFIGURATION:
      case USBDEVFS_SETINTERFACE:
      case USBDEVFS_CLEAR_HALT:
      case USBDEVFS_RESET:
      case USBDEVFS_DISCONNECT_CLAIM:
        umockdev_ioctl_client_complete(client, 0, 0);
        return;
      case USBDEVFS_DISCARDURB: {
        UMockdevIoctlData* arg = umockdev_ioctl_client_get_arg(client);
        unsigned long address = 0;
        if (arg != nullptr && arg->data != nullptr &&
            arg->data_len >= static_cast<gint>(sizeof address))
          std::memcpy(&address, arg->data, sizeof address);
        auto it = std::find_if(generation.waiting.begin(), generation.waiting.end(),
                               [&](const Urb& urb) { return urb.urb->client_addr == address; });
        if (it == generation.waiting.end()) {
          umockdev_ioctl_client_complete(client, -1, EINVAL);
          return;
        }
        Urb urb = std::move(*it);
        generation.waiting.erase(it);
        finish(generation, std::move(urb), -ENOENT, {}, 0);
        umockdev_ioctl_client_complete(client, 0, 0);
        return;
      }
      case USBDEVFS_SUBMITURB:
        submit(generation, client, unplugged);
        if (unplugged) fail_all(generation);
        break;
      default:
        umockdev_ioctl_client_complete(client, -1, ENOTTY);
        return;
    }
  }
  if (unplugged) {
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex);
      callback = unplugged_callback;
    }
    if (callback) callback();
  }
}

UmockdevUsbDevice::UmockdevUsbDevice(UsbDescription description, UsbFunction& function)
    : impl_(std::make_unique<Impl>(std::move(description), function)) {
  impl_->testbed.reset(umockdev_testbed_new());
  if (!impl_->testbed) throw std::runtime_error("umockdev: cannot create a testbed");
  gchar* root = umockdev_testbed_get_root_dir(impl_->testbed.get());
  impl_->root = root != nullptr ? root : "";
  g_free(root);
  impl_->plug();
}

UmockdevUsbDevice::~UmockdevUsbDevice() {
  {
    std::lock_guard lock(impl_->mutex);
    // Pending transfers end as on an unplug, so a host still holding the device sees
    // "no device" instead of waiting for a testbed that is going away.
    for (auto& generation : impl_->generations)
      if (!generation->gone) impl_->fail_all(*generation);
  }
  impl_->testbed.reset();  // stops the worker thread, removes the testbed
}

std::string UmockdevUsbDevice::root_dir() const { return impl_->root; }

std::string UmockdevUsbDevice::device_path() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->current != nullptr ? impl_->current->node : std::string();
}

int UmockdevUsbDevice::bus() const { return kBus; }

int UmockdevUsbDevice::address() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->current != nullptr ? impl_->current->devnum : 0;
}

std::string UmockdevUsbDevice::port_path() const { return fmt::format("{}-{}", kBus, kPort); }

bool UmockdevUsbDevice::plugged() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->current != nullptr && !impl_->current->gone;
}

void UmockdevUsbDevice::poke() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->current != nullptr && !impl_->current->gone) impl_->serve_waiting(*impl_->current);
}

void UmockdevUsbDevice::on_unplugged(std::function<void()> callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->unplugged_callback = std::move(callback);
}

void UmockdevUsbDevice::unplug() {
  std::string node;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->current == nullptr) return;
    if (!impl_->current->gone) impl_->fail_all(*impl_->current);
    node = impl_->current->node;
    impl_->current = nullptr;
  }
  umockdev_testbed_remove_device(impl_->testbed.get(), impl_->syspath.c_str());
  std::error_code ignored;
  std::filesystem::remove(std::filesystem::path(impl_->root) / node.substr(1), ignored);
}

void UmockdevUsbDevice::replug() {
  bool present = false;
  {
    std::lock_guard lock(impl_->mutex);
    present = impl_->current != nullptr;
  }
  if (present) unplug();
  impl_->plug();
}

}  // namespace hilbench::emu
