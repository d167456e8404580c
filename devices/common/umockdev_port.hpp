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
//   (device_fd()). A handler on umockdev's worker thread makes the node a UART model:
//   modem-line ioctls (TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC), which a pty lacks, are answered
//   from a per-port ModemLines model; TCSETS*/TCSETS2* are executed on the pty and their
//   data bits, parity, stop bits and baud recorded, and TCGETS/TCGETS2 answer the recorded
//   bits back (the pty forces CS8 and no parity); TIOCSBRK/TIOCCBRK/TCSBRK 0 record break.
//   Every other ioctl goes to the pty. glibc's termios calls bypass ioctl(): a harness only
//   gets 7E1/8E1 through the handler with the termios shim preloaded beside umockdev's
//   (devices/common/termios_shim.c).
// - Thread-safety: every accessor may be called from any thread; the change callback runs on
//   umockdev's worker thread.
// - Lifetime: ports must stay alive while the harness uses them; the destructor removes the
//   testbed (the harness then sees the port vanish: reads fail with a hang-up).
#include <functional>
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

/// The host side's line settings as the harness last set them through termios.
struct HostLine {
  unsigned baud = 9600;
  unsigned data_bits = 8;
  std::string parity = "none";  ///< none | odd | even | mark | space
  unsigned stop_bits = 1;
  bool break_on = false;  ///< the host holds the line in break (TIOCSBRK)
  bool operator==(const HostLine&) const = default;
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
  /// The termios settings and break state the harness last asked for.
  virtual HostLine host_line() const = 0;
  /// Called (on umockdev's worker thread) after the host changed its line settings, its
  /// modem-control outputs or break. Must be thread-safe and quick (e.g. post to a loop).
  /// Replaces the previous callback; an empty function removes it.
  virtual void on_host_change(std::function<void()> callback) = 0;
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
