#pragma once
// An emulated USB device presented through umockdev, so libusb (and pyusb, PyVISA-py) in a
// process under libumockdev-preload with UMOCKDEV_DIR = root_dir() opens it as hardware
// (../shared/reference/serial-emulation.md, "USB devices for libusb").
//
// - One testbed of its own holds one USB device: sysfs attributes and the `descriptors`
//   blob (device, configuration, interface, endpoints) from UsbDescription, and the node
//   /dev/bus/usb/BBB/DDD. The node is a FIFO this object keeps full while nothing is
//   reapable and drains when a URB completes, so the host's libusb sleeps in poll() instead
//   of spinning on REAPURBNDELAY.
// - A usbdevfs ioctl handler (umockdev's worker thread) answers GET_CAPABILITIES (bulk
//   scatter-gather, no packet size limit: one URB per bulk transfer), GETDRIVER (none bound),
//   CLAIM/RELEASEINTERFACE, SETCONFIGURATION/SETINTERFACE/CLEAR_HALT/RESET (0), SUBMITURB,
//   REAPURBNDELAY, DISCARDURB (the URB ends with -ENOENT; libusb reports a timeout).
//   Standard control requests (GET_DESCRIPTOR for device, configuration and strings,
//   GET_STATUS, SET_*/CLEAR_FEATURE) are answered here; class requests and bulk/interrupt
//   data go to the UsbFunction. IN URBs wait until the function has data.
// - unplug(): pending URBs end with -ESHUTDOWN, every later ioctl on the old node gets
//   ENODEV (as the kernel does: the host's transfer fails with LIBUSB_ERROR_NO_DEVICE at
//   once), and the device leaves sysfs. replug(): back with the next device number.
// - Thread-safety: the function is called with this object's lock held, on umockdev's
//   worker thread; poke(), unplug() and replug() may be called from any thread.
// - Lifetime: a host holding the device open dies if the testbed goes away (umockdev 0.17):
//   destroy this object only after the host closed it, or as the process ends.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hilbench::emu {

struct UsbDescription {
  std::uint16_t vendor_id = 0x1209;  ///< pid.codes
  std::uint16_t product_id = 0x0001;
  std::uint16_t bcd_device = 0x0100;
  std::string manufacturer, product, serial;
  std::uint8_t interface_class = 0xFE, interface_subclass = 3, interface_protocol = 1;  ///< USB488
  std::uint16_t bulk_max_packet = 64;  ///< full speed
};

/// What the device does with data and class requests; called under the device's lock.
class UsbFunction {
 public:
  virtual ~UsbFunction() = default;
  /// A class or vendor control request; the reply (IN) or empty (OUT), nullopt to stall.
  virtual std::optional<std::vector<std::uint8_t>> control(std::uint8_t request_type,
                                                           std::uint8_t request,
                                                           std::uint16_t value, std::uint16_t index,
                                                           std::uint16_t length) = 0;
  /// One Bulk-OUT transfer; false stalls the endpoint.
  virtual bool bulk_out(std::span<const std::uint8_t> data) = 0;
  /// Data for a waiting Bulk-IN URB of `max_bytes`, or nullopt (it keeps waiting).
  virtual std::optional<std::vector<std::uint8_t>> bulk_in(std::size_t max_bytes) = 0;
  /// Data for a waiting interrupt-IN URB, or nullopt.
  virtual std::optional<std::vector<std::uint8_t>> interrupt_in(std::size_t max_bytes) = 0;
  /// Asked after each URB is taken in: true to unplug now (a defect knob).
  virtual bool unplug_now() { return false; }
  /// The device was (re-)plugged: a fresh link, nothing pending from before.
  virtual void plugged_in() {}
};

class UmockdevUsbDevice {
 public:
  /// Creates the testbed and plugs the device in (bus 1, device 2). Throws
  /// std::runtime_error on failure.
  UmockdevUsbDevice(UsbDescription description, UsbFunction& function);
  ~UmockdevUsbDevice();
  UmockdevUsbDevice(const UmockdevUsbDevice&) = delete;
  UmockdevUsbDevice& operator=(const UmockdevUsbDevice&) = delete;

  std::string root_dir() const;     ///< value for UMOCKDEV_DIR
  std::string device_path() const;  ///< "/dev/bus/usb/001/002" (changes on replug)
  int bus() const;
  int address() const;
  std::string port_path() const;  ///< "1-1"
  bool plugged() const;

  /// The function has new data: serve waiting IN URBs.
  void poke();
  /// Called (on umockdev's worker thread, without the lock) after the device unplugged itself
  /// because the function asked to; the owner decides when to replug().
  void on_unplugged(std::function<void()> callback);
  void unplug();
  void replug();

  struct Impl;  ///< implementation detail (public only for the ioctl callback's sake)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hilbench::emu
