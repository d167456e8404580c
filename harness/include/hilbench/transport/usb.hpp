#pragma once
// USB transport over libusb-1.0: one interface of one USB device, reached by VID:PID, serial
// number and/or bus/port path.
//
// Contract
// - Opening: a libusb context of its own (so a re-plugged device is found by a fresh
//   enumeration, and no state is shared between transports), the one device matching the
//   query (none: PortNotFound, several: ConfigError, both listing the devices seen), a device
//   handle, and the claimed interface; a kernel driver bound to it is detached first (and
//   re-attached on close). A claim the OS refuses (busy, no permission) is a TransportError
//   saying so. RAII: context, handle and claim are released in reverse order by the
//   destructor.
// - I/O: bulk_out / bulk_in / interrupt_in / control each take a Deadline (the libusb timeout
//   is the time left, at least 1 ms; an expired deadline does no transfer). libusb's event
//   handling is synchronous, on the calling thread (libusb's synchronous API): no thread of
//   ours, nothing runs after a call returns. Python binds every call with the GIL released.
// - Outcomes: a transfer returns what arrived and whether it timed out or the endpoint
//   stalled (UsbResult); a device that is gone (unplugged: LIBUSB_ERROR_NO_DEVICE) is a
//   ConnectionClosed naming the device, any other libusb error a TransportError with libusb's
//   name for it. Both mark the transport lost (connection_lost()).
// - Chunks: bulk and interrupt data are timestamped and go to the chunk sink (tx: bulk out,
//   rx: bulk/interrupt in), as for the other transports. Control transfers are not chunks.
// - As a plain Transport (read_some/write_some), it is a byte stream over the interface's
//   first bulk-in and bulk-out endpoints (raw USB devices, vendor dongles); USBTMC instruments
//   are reached through UsbtmcTransport (protocol/usbtmc.hpp), which frames messages.
// - Not thread-safe: one thread uses a transport at a time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hilbench/transport/transport.hpp"

namespace hilbench {

/// What a bench file may say about a USB device; empty fields do not restrict.
struct UsbQuery {
  std::optional<std::uint16_t> vendor_id;   ///< e.g. 0x1209
  std::optional<std::uint16_t> product_id;  ///< e.g. 0x0001
  std::string serial;                       ///< iSerialNumber string, exact
  std::string path;                         ///< bus/port path "1-2.3" (bus 1, ports 2, 3)
};

/// One USB device as enumeration sees it (identity fields shared with SerialPortInfo).
struct UsbDeviceInfo {
  std::uint16_t vendor_id = 0;
  std::uint16_t product_id = 0;
  std::string serial;        ///< "" when the device has none or it cannot be read
  std::string manufacturer;  ///< ""
  std::string product;       ///< ""
  int bus = 0;
  int address = 0;   ///< device number on the bus (changes on re-plug)
  std::string path;  ///< "1-2.3"
};

/// Every USB device visible now (opens each briefly to read its strings). Throws
/// TransportError when libusb cannot enumerate.
std::vector<UsbDeviceInfo> list_usb_devices();

/// "1209:0001 serial HB-dmm6 path 1-1": the query as a message fragment.
std::string describe(const UsbQuery& query);

struct UsbSettings {
  UsbQuery query;
  /// Interface to claim; nullopt: the first USBTMC interface (class 0xFE, subclass 3), else
  /// interface 0.
  std::optional<int> interface_number;
  bool detach_kernel_driver = true;                    ///< false: a bound kernel driver is an error
  Nanoseconds open_timeout = std::chrono::seconds(3);  ///< string descriptor reads
};

/// How a transfer ended.
struct UsbResult {
  enum class Status : std::uint8_t { ok, timeout, stall };
  Status status = Status::ok;
  Bytes data;  ///< received bytes (in transfers); for out transfers, empty
  std::size_t transferred = 0;
};

/// The endpoints of the claimed interface (0: none).
struct UsbEndpoints {
  std::uint8_t bulk_in = 0, bulk_out = 0, interrupt_in = 0;
  std::uint16_t bulk_in_max_packet = 64, bulk_out_max_packet = 64;
};

class UsbTransport final : public Transport {
 public:
  /// Finds, opens and claims (see the contract). Throws PortNotFound, ConfigError,
  /// TransportError.
  explicit UsbTransport(UsbSettings settings);
  ~UsbTransport() override;  ///< releases the interface, re-attaches a detached driver, closes

  /// "usb:1209:0001:HB-dmm6" (the serial as found; "@1-2" path when it has none).
  std::string name() const override;
  const UsbDeviceInfo& device() const noexcept;
  const UsbEndpoints& endpoints() const noexcept;
  int interface_number() const noexcept;
  /// The claimed interface's class, subclass and protocol (USBTMC: 0xFE, 3, 0 or 1 = USB488).
  std::uint8_t interface_class() const noexcept;
  std::uint8_t interface_subclass() const noexcept;
  std::uint8_t interface_protocol() const noexcept;

  /// Writes all of `bytes` in one transfer (bulk OUT). Status timeout/stall: `transferred`
  /// says how much went.
  UsbResult bulk_out(std::uint8_t endpoint, std::span<const std::uint8_t> bytes, Deadline deadline);
  /// One bulk IN transfer of at most `max_bytes` (it ends at a short packet).
  UsbResult bulk_in(std::uint8_t endpoint, std::size_t max_bytes, Deadline deadline);
  /// One interrupt IN transfer of at most `max_bytes`.
  UsbResult interrupt_in(std::uint8_t endpoint, std::size_t max_bytes, Deadline deadline);
  /// A control transfer: IN (request_type bit 7 set) reads up to `length` bytes, OUT sends
  /// `data`. A stalled request (the device refused it) is Status::stall.
  UsbResult control(std::uint8_t request_type, std::uint8_t request, std::uint16_t value,
                    std::uint16_t index, std::span<const std::uint8_t> data, std::uint16_t length,
                    Deadline deadline);
  /// CLEAR_FEATURE(ENDPOINT_HALT) on `endpoint` (USBTMC recovery after a clear/abort).
  void clear_halt(std::uint8_t endpoint, Deadline deadline);

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hilbench
