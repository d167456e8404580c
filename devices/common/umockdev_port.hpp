#pragma once
// Presents emulated serial ports to the harness as real-looking USB-serial adapters through
// umockdev, so the harness opens them with libserialport exactly as it opens hardware
// (../shared/reference/serial-emulation.md).
//
// - One UmockdevBench owns one umockdev testbed (a temp root with fake /sys and /dev). A
//   process that runs under libumockdev-preload with UMOCKDEV_DIR = root_dir() sees the
//   ports at device_path(); everyone else sees nothing. One testbed per harness process:
//   every emulated port of a bench lives in the same UmockdevBench.
// - Each port's tty node is backed by a pty; the emulator reads and writes the master side
//   (device_fd()). Modem-line ioctls (TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC), which a pty
//   lacks, are answered from a per-port ModemLines model by a handler running on
//   umockdev's worker thread; every other ioctl goes to the pty.
// - Thread-safety: modem-line accessors may be called from any thread.
// - Lifetime: ports must stay alive while the harness uses them; the destructor removes the
//   testbed (the harness then sees the port vanish: reads fail with a hang-up).
#include <memory>
#include <string>
#include <vector>

namespace hilbench::emu {

struct UsbSerialIdentity {
  std::string vendor_id = "0403";   ///< hex, 4 digits (FTDI)
  std::string product_id = "6001";  ///< hex, 4 digits (FT232R)
  std::string serial = "HB000001";
  std::string manufacturer = "hilbench";
  std::string product = "hilbench emulated port";
};

struct ModemLineState {
  bool dtr = false, rts = false;                        // driven by the harness (host side)
  bool cts = true, dsr = true, dcd = true, ri = false;  // driven by the emulated device
};

class PresentedPort {
 public:
  virtual ~PresentedPort() = default;
  virtual std::string tty_name() const = 0;     ///< "ttyUSB0"
  virtual std::string device_path() const = 0;  ///< "/dev/ttyUSB0" (inside the testbed)
  /// Master side of the backing pty (non-owning; valid while the bench lives). Raw mode.
  virtual int device_fd() const = 0;
  virtual ModemLineState modem_lines() const = 0;
  virtual void set_device_lines(bool cts, bool dsr, bool dcd, bool ri) = 0;
};

class UmockdevBench {
 public:
  UmockdevBench();  ///< creates the testbed; throws std::runtime_error on failure
  ~UmockdevBench();
  UmockdevBench(const UmockdevBench&) = delete;
  UmockdevBench& operator=(const UmockdevBench&) = delete;

  /// Adds a USB-serial adapter with one tty node; tty names must be unique ("ttyUSB0").
  PresentedPort& add_serial_port(const std::string& tty_name, const UsbSerialIdentity& identity);
  std::string root_dir() const;  ///< value for UMOCKDEV_DIR

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hilbench::emu
