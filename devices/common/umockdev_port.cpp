// Emulated USB-serial adapters presented through umockdev (see umockdev_port.hpp).
//
// What works through this path (checked with libserialport 0.1.1, umockdev 0.17.16, Linux
// 6.x; harness under libumockdev-preload, tests in harness/tests/test_serial_transport.cpp):
// - sp_get_port_by_name / sp_list_ports find the port, transport USB; VID, PID, serial,
//   manufacturer, product, bus and address read back (they need the tty node's `device`
//   link to the usb-serial node, as a real ftdi_sio tree has it: libserialport climbs
//   /sys/class/tty/<tty>/device/../.. to the usb_device's attributes).
// - sp_open, baud rates, 8N1, 8N2 and flow-control settings; DTR/RTS/CTS/DSR/DCD/RI through
//   the modem-line model below; read/write/flush/drain.
// - Parity and 5/6/7 data bits are NOT carried: termios ioctls on the node go straight to
//   the pty (glibc's tcsetattr calls the kernel without passing the preload's ioctl()), and
//   the pty driver silently forces CS8 and no parity. sp_set_parity(EVEN) / sp_set_bits(7)
//   then usually fail with EINVAL (glibc re-reads the termios after TCSETS and reports the
//   change); in some tty states (e.g. after a 2-stop-bit session) sp_set_parity returns OK
//   and only a read-back shows no consistent parity. SerialTransport reads every setting
//   back, so both end in TransportError naming the setting. 7E1/8E1/8O1 devices cannot be
//   reached through this path. CSTOPB (2 stop bits) and any baud rate are kept.
// - Every read()/write()/ioctl() of the harness on the node is a socket round trip to this
//   process (about 60-130 us each on a 2-CPU VM; the preload's usleep(0) after each reply
//   costs a timer-slack sleep, so PR_SET_TIMERSLACK=1 in the harness halves it).
// - No baud-rate pacing: a pty moves bytes as fast as they are written. Modelling the whole
//   UART (termios, pacing, parity errors) needs a handler-only node (handle-read /
//   handle-write), left for the emulated-bench work.
//
// How the pieces fit (umockdev 0.17.16 semantics, from its source):
// - An attached UMockdevIoctlBase receives EVERY ioctl(), read() and write() the preloaded
//   process makes on the node. A "handle-ioctl" handler that returns FALSE makes umockdev
//   answer from its (empty) ioctl tree, i.e. ENOTTY — it is not a pass-through in 0.17.16
//   (newer umockdev forwards only termios ioctls). So the handler answers TIOCM* itself and
//   runs every other ioctl on the client's real fd (execute + complete). read()/write()
//   handlers are not connected: umockdev then lets the client do the real syscall.
// - The testbed never closes the pty masters it creates; the bench does, first thing on
//   destruction, so the harness sees a hang-up before the ioctl sockets go away.
// - The bench keeps one slave fd of each pty open itself, so the master behaves like a UART
//   that is always connected: no POLLHUP/EIO storm on device_fd() while no harness has the
//   port open (bytes written meanwhile wait in the tty buffer, as on a real adapter whose
//   port was not flushed).
#include "umockdev_port.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <umockdev.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <hilbench/unique_fd.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace hilbench::emu {
namespace {

struct GObjectUnref {
  void operator()(gpointer object) const noexcept {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer memory) const noexcept { g_free(memory); }
};
using GCharPtr = std::unique_ptr<gchar, GFree>;

struct GErrorFree {
  void operator()(GError* error) const noexcept { g_error_free(error); }
};
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;

std::string errno_text(int error) { return std::strerror(error); }

void make_raw(int fd, const std::string& what) {
  termios settings{};
  if (::tcgetattr(fd, &settings) != 0)
    throw std::runtime_error(fmt::format("{}: cannot read termios: {}", what, errno_text(errno)));
  ::cfmakeraw(&settings);
  if (::tcsetattr(fd, TCSANOW, &settings) != 0)
    throw std::runtime_error(fmt::format("{}: cannot set raw mode: {}", what, errno_text(errno)));
}

// The kernel's termios layouts (struct termios / struct termios2 of <asm/termbits.h>, which
// cannot be included beside glibc's <termios.h>): 36 and 44 bytes on every Linux ABI we run.
struct KernelTermios {
  std::uint32_t iflag, oflag, cflag, lflag;
  std::uint8_t line;
  std::uint8_t cc[19];
};
struct KernelTermios2 {
  KernelTermios base;
  std::uint32_t ispeed, ospeed;
};
static_assert(sizeof(KernelTermios) == 36 && sizeof(KernelTermios2) == 44);

#ifndef BOTHER
#define BOTHER 0010000
#endif
#ifndef CMSPAR
#define CMSPAR 010000000000
#endif
constexpr unsigned long kTcgets2 = _IOR('T', 0x2A, KernelTermios2);
constexpr unsigned long kTcsets2 = _IOW('T', 0x2B, KernelTermios2);
constexpr unsigned long kTcsetsw2 = _IOW('T', 0x2C, KernelTermios2);
constexpr unsigned long kTcsetsf2 = _IOW('T', 0x2D, KernelTermios2);
constexpr std::uint32_t kLineBits = CSIZE | PARENB | PARODD | CMSPAR | CSTOPB;

unsigned baud_of_code(std::uint32_t code) {
  static constexpr std::pair<std::uint32_t, unsigned> table[] = {
      {B50, 50},           {B75, 75},           {B110, 110},         {B134, 134},
      {B150, 150},         {B200, 200},         {B300, 300},         {B600, 600},
      {B1200, 1200},       {B1800, 1800},       {B2400, 2400},       {B4800, 4800},
      {B9600, 9600},       {B19200, 19200},     {B38400, 38400},     {B57600, 57600},
      {B115200, 115200},   {B230400, 230400},   {B460800, 460800},   {B500000, 500000},
      {B576000, 576000},   {B921600, 921600},   {B1000000, 1000000}, {B1152000, 1152000},
      {B1500000, 1500000}, {B2000000, 2000000}, {B2500000, 2500000}, {B3000000, 3000000},
      {B3500000, 3500000}, {B4000000, 4000000}};
  for (const auto& [c, baud] : table)
    if (c == code) return baud;
  return 0;
}

/// The UART state of one port: modem lines, recorded termios line bits, break. Shared
/// between the port (any thread) and the ioctl handler (umockdev's worker thread), which
/// may outlive the port by a few calls.
class LineModel {
 public:
  ModemLineState get() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  void set_device_lines(bool cts, bool dsr, bool dcd, bool ri) {
    std::lock_guard lock(mutex_);
    state_.cts = cts;
    state_.dsr = dsr;
    state_.dcd = dcd;
    state_.ri = ri;
  }

  /// TIOCMGET: the bits as a real adapter reports them.
  int get_bits() const {
    std::lock_guard lock(mutex_);
    return (state_.dtr ? TIOCM_DTR : 0) | (state_.rts ? TIOCM_RTS : 0) |
           (state_.cts ? TIOCM_CTS : 0) | (state_.dsr ? TIOCM_DSR : 0) |
           (state_.dcd ? TIOCM_CAR : 0) | (state_.ri ? TIOCM_RNG : 0);
  }

  /// TIOCMSET/TIOCMBIS/TIOCMBIC: only the host-driven outputs (DTR, RTS) can be changed.
  void apply(unsigned long request, int bits) {
    {
      std::lock_guard lock(mutex_);
      const auto update = [&](bool& line, int mask) {
        if (request == TIOCMSET)
          line = (bits & mask) != 0;
        else if ((bits & mask) != 0)
          line = request == TIOCMBIS;
      };
      update(state_.dtr, TIOCM_DTR);
      update(state_.rts, TIOCM_RTS);
    }
    notify();
  }

  /// A successful TCSETS*: keep what the pty drops (data bits, parity) and the baud.
  void record_termios(std::uint32_t cflag, std::optional<std::uint32_t> other_speed) {
    {
      std::lock_guard lock(mutex_);
      recorded_cflag_ = cflag & kLineBits;
      const std::uint32_t code = cflag & (CBAUD | CBAUDEX);
      unsigned baud = code == BOTHER && other_speed ? *other_speed : baud_of_code(code);
      if (baud != 0) line_.baud = baud;
      switch (cflag & CSIZE) {
        case CS5:
          line_.data_bits = 5;
          break;
        case CS6:
          line_.data_bits = 6;
          break;
        case CS7:
          line_.data_bits = 7;
          break;
        default:
          line_.data_bits = 8;
          break;
      }
      if ((cflag & PARENB) == 0)
        line_.parity = "none";
      else if ((cflag & CMSPAR) != 0)
        line_.parity = (cflag & PARODD) != 0 ? "mark" : "space";
      else
        line_.parity = (cflag & PARODD) != 0 ? "odd" : "even";
      line_.stop_bits = (cflag & CSTOPB) != 0 ? 2 : 1;
    }
    notify();
  }

  /// TCGETS*: put the recorded line bits back over what the pty reports.
  std::uint32_t patch_cflag(std::uint32_t cflag) const {
    std::lock_guard lock(mutex_);
    if (!recorded_cflag_) return cflag;
    return (cflag & ~kLineBits) | *recorded_cflag_;
  }

  void set_break(bool on) {
    {
      std::lock_guard lock(mutex_);
      if (line_.break_on == on) return;
      line_.break_on = on;
    }
    notify();
  }

  HostLine host_line() const {
    std::lock_guard lock(mutex_);
    return line_;
  }

  void on_change(std::function<void()> callback) {
    std::lock_guard lock(callback_mutex_);
    callback_ = std::move(callback);
  }

 private:
  void notify() {
    std::lock_guard lock(callback_mutex_);
    if (callback_) callback_();
  }

  mutable std::mutex mutex_;
  ModemLineState state_;
  HostLine line_;
  std::optional<std::uint32_t> recorded_cflag_;
  std::mutex callback_mutex_;  // separate: a callback may read the state
  std::function<void()> callback_;
};

bool is_modem_line_request(unsigned long request) {
  return request == TIOCMGET || request == TIOCMSET || request == TIOCMBIS || request == TIOCMBIC;
}

/// Runs the ioctl on the client's real fd (the pty slave); its result, or -1/EIO.
std::pair<int, int> execute(UMockdevIoctlClient* client) {
  int client_errno = 0;
  GError* raw_error = nullptr;
  const int result = umockdev_ioctl_client_execute(client, &client_errno, &raw_error);
  if (raw_error != nullptr) {
    GErrorPtr error(raw_error);
    return {-1, EIO};
  }
  return {result, result < 0 ? client_errno : 0};
}

/// Runs the ioctl on the client's real fd (the pty slave) and hands back its result.
void pass_through(UMockdevIoctlClient* client) {
  const auto [result, error] = execute(client);
  umockdev_ioctl_client_complete(client, result, error);
}

/// The ioctl's pointer argument resolved to `size` bytes of the client's memory, or null.
GObjectPtr<UMockdevIoctlData> resolve(UMockdevIoctlClient* client, std::size_t size) {
  GError* raw_error = nullptr;
  GObjectPtr<UMockdevIoctlData> data(
      umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(client), 0, size, &raw_error));
  GErrorPtr error(raw_error);
  if (!data || data->data_len < static_cast<gint>(size)) return nullptr;
  return data;
}

/// TCSETS, TCSETSW, TCSETSF (36 bytes) and their termios2 forms (44 bytes): resolve and
/// copy the argument first (umockdev 0.17.16 cannot resolve it again after execute), run it
/// on the pty unchanged, and record the line bits when it succeeded.
void set_termios(UMockdevIoctlClient* client, LineModel& model, bool termios2) {
  auto data = resolve(client, termios2 ? sizeof(KernelTermios2) : sizeof(KernelTermios));
  if (!data) {
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return;
  }
  KernelTermios2 wanted{};
  std::memcpy(&wanted, data->data, termios2 ? sizeof(KernelTermios2) : sizeof(KernelTermios));
  const auto [result, error] = execute(client);
  if (result == 0)
    model.record_termios(wanted.base.cflag,
                         termios2 ? std::optional<std::uint32_t>(wanted.ospeed) : std::nullopt);
  umockdev_ioctl_client_complete(client, result, error);
}

/// TCGETS, TCGETS2: run on the pty first, then put the recorded line bits back.
void get_termios(UMockdevIoctlClient* client, const LineModel& model, bool termios2) {
  const auto [result, error] = execute(client);
  if (result == 0) {
    auto data = resolve(client, termios2 ? sizeof(KernelTermios2) : sizeof(KernelTermios));
    if (!data) {
      umockdev_ioctl_client_complete(client, -1, EFAULT);
      return;
    }
    KernelTermios settings{};
    std::memcpy(&settings, data->data, sizeof settings);
    settings.cflag = model.patch_cflag(settings.cflag);
    std::memcpy(data->data, &settings, sizeof settings);
  }
  umockdev_ioctl_client_complete(client, result, error);
}

/// The ioctl's argument as a value (TCSBRK's duration), not a pointer.
unsigned long argument_value(UMockdevIoctlClient* client) {
  UMockdevIoctlData* arg = umockdev_ioctl_client_get_arg(client);
  unsigned long value = 0;
  if (arg != nullptr && arg->data != nullptr && arg->data_len >= static_cast<gint>(sizeof value))
    std::memcpy(&value, arg->data, sizeof value);
  return value;
}

/// "handle-ioctl" of the port's UMockdevIoctlBase; runs on umockdev's worker thread.
gboolean handle_ioctl(UMockdevIoctlBase* /*handler*/, UMockdevIoctlClient* client,
                      gpointer user_data) {
  auto& model = **static_cast<std::shared_ptr<LineModel>*>(user_data);
  const unsigned long request = umockdev_ioctl_client_get_request(client);
  switch (request) {
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
      set_termios(client, model, false);
      return TRUE;
    case kTcsets2:
    case kTcsetsw2:
    case kTcsetsf2:
      set_termios(client, model, true);
      return TRUE;
    case TCGETS:
      get_termios(client, model, false);
      return TRUE;
    case kTcgets2:
      get_termios(client, model, true);
      return TRUE;
    case TIOCSBRK:
    case TIOCCBRK:
      // A pty has no break; the model keeps it (a real adapter asserts the line).
      model.set_break(request == TIOCSBRK);
      umockdev_ioctl_client_complete(client, 0, 0);
      return TRUE;
    case TCSBRK:
      // Argument 0: a timed break (~0.25 s on a real UART), modelled as on-then-off; any
      // other value: tcdrain. Both run on the pty too.
      if (argument_value(client) == 0) {
        model.set_break(true);
        model.set_break(false);
      }
      pass_through(client);
      return TRUE;
    default:
      break;
  }
  if (!is_modem_line_request(request)) {
    pass_through(client);
    return TRUE;
  }
  // Every TIOCM* request takes an int* argument.
  auto bits = resolve(client, sizeof(int));
  if (!bits) {
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return TRUE;
  }
  if (request == TIOCMGET) {
    const int value = model.get_bits();
    std::memcpy(bits->data, &value, sizeof value);
  } else {
    int value = 0;
    std::memcpy(&value, bits->data, sizeof value);
    model.apply(request, value);
  }
  umockdev_ioctl_client_complete(client, 0, 0);
  return TRUE;
}

void free_model_handle(gpointer data, GClosure* /*closure*/) {
  // Takes back the reference handed to g_signal_connect_data.
  std::unique_ptr<std::shared_ptr<LineModel>> owned(static_cast<std::shared_ptr<LineModel>*>(data));
}

bool is_hex4(const std::string& text) {
  return text.size() == 4 && std::all_of(text.begin(), text.end(),
                                         [](unsigned char c) { return std::isxdigit(c) != 0; });
}

/// A sysfs text attribute for umockdev's format: no line breaks, backslashes escaped.
std::string attribute_text(const std::string& field, const std::string& value) {
  if (value.find_first_of("\n\r") != std::string::npos)
    throw std::invalid_argument(fmt::format("USB {} must be one line: {:?}", field, value));
  std::string escaped;
  for (const char c : value) {
    if (c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// "ttyUSB0" -> 0: the minor number a real usb-serial tty gets.
int tty_minor(const std::string& tty_name) {
  const auto digits = tty_name.find_last_not_of("0123456789");
  if (digits == std::string::npos || digits + 1 == tty_name.size() || tty_name.size() > 32)
    throw std::invalid_argument(fmt::format("tty name {:?} must look like ttyUSB0", tty_name));
  if (!std::all_of(tty_name.begin(), tty_name.begin() + static_cast<std::ptrdiff_t>(digits) + 1,
                   [](unsigned char c) { return std::isalpha(c) != 0; }))
    throw std::invalid_argument(fmt::format("tty name {:?} must look like ttyUSB0", tty_name));
  return std::stoi(tty_name.substr(digits + 1));
}

/// USB descriptors (device, configuration, interface, two bulk endpoints) of an FT232R-like
/// adapter as one hex string, so libusb enumerates the adapter with the right VID:PID too.
std::string usb_descriptors_hex(const std::string& vendor_id, const std::string& product_id) {
  const auto byte = [](const std::string& hex4, int index) {
    return static_cast<unsigned>(
        std::stoul(hex4.substr(static_cast<std::size_t>(index) * 2, 2), nullptr, 16));
  };
  const unsigned descriptor[] = {
      // device: USB 2.0, class per interface, EP0 64 bytes, bcdDevice 6.00, strings 1/2/3
      18, 1, 0x00, 0x02, 0, 0, 0, 64, byte(vendor_id, 1), byte(vendor_id, 0), byte(product_id, 1),
      byte(product_id, 0), 0x00, 0x06, 1, 2, 3, 1,
      // configuration: total 32 bytes, 1 interface, bus powered, 90 mA
      9, 2, 32, 0, 1, 1, 0, 0x80, 45,
      // interface 0: vendor specific, two endpoints, string 2
      9, 4, 0, 0, 2, 0xff, 0xff, 0xff, 2,
      // bulk IN 0x81 and bulk OUT 0x02, 64 bytes
      7, 5, 0x81, 2, 64, 0, 0, 7, 5, 0x02, 2, 64, 0, 0};
  std::string hex;
  for (const unsigned value : descriptor) hex += fmt::format("{:02X}", value);
  return hex;
}

/// The umockdev description of one adapter, laid out as the kernel's ftdi_sio driver lays
/// out sysfs: usb_device / usb_interface / usb-serial port / tty.
std::string describe_adapter(const std::string& tty_name, int minor, int usb_port,
                             const UsbSerialIdentity& identity) {
  if (!is_hex4(identity.vendor_id) || !is_hex4(identity.product_id))
    throw std::invalid_argument(fmt::format("USB vendor/product ids must be 4 hex digits: {}:{}",
                                            identity.vendor_id, identity.product_id));
  const std::string vid = lower(identity.vendor_id);
  const std::string pid = lower(identity.product_id);
  const std::string serial = attribute_text("serial", identity.serial);
  const std::string manufacturer = attribute_text("manufacturer", identity.manufacturer);
  const std::string product = attribute_text("product", identity.product);
  const int busnum = 1;
  const int devnum = usb_port + 1;  // address 1 is the root hub
  const std::string usb_device =
      fmt::format("/devices/pci0000:00/0000:00:14.0/usb{}/{}-{}", busnum, busnum, usb_port);
  const std::string interface = fmt::format("{}/{}-{}:1.0", usb_device, busnum, usb_port);
  const std::string product_key =
      fmt::format("{:x}/{:x}/600", std::stoul(vid, nullptr, 16), std::stoul(pid, nullptr, 16));

  std::string text;
  text += fmt::format(
      "P: {}\n"
      "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\nE: "
      "DEVNAME=/dev/bus/usb/{:03}/{:03}\n"
      "E: PRODUCT={}\nE: TYPE=0/0/0\nE: BUSNUM={:03}\nE: DEVNUM={:03}\n"
      "A: idVendor={}\nA: idProduct={}\nA: bcdDevice=0600\nA: serial={}\n"
      "A: manufacturer={}\nA: product={}\nA: busnum={}\nA: devnum={}\n"
      "A: speed=12\nA: bDeviceClass=00\nA: bNumConfigurations=1\nA: bConfigurationValue=1\n"
      "H: descriptors={}\n\n",
      usb_device, busnum, devnum, product_key, busnum, devnum, vid, pid, serial, manufacturer,
      product, busnum, devnum, usb_descriptors_hex(vid, pid));
  text += fmt::format(
      "P: {}\n"
      "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nE: DRIVER=ftdi_sio\n"
      "E: PRODUCT={}\nE: TYPE=0/0/0\nE: INTERFACE=255/255/255\n"
      "A: bInterfaceNumber=00\nA: bAlternateSetting= 0\nA: bInterfaceClass=ff\n"
      "A: bInterfaceSubClass=ff\nA: bInterfaceProtocol=ff\nA: bNumEndpoints=02\n"
      "A: interface={}\n\n",
      interface, product_key, product);
  text += fmt::format(
      "P: {}/{}\n"
      "E: SUBSYSTEM=usb-serial\nE: DRIVER=ftdi_sio\n"
      "A: port_number=0\nA: latency_timer=1\n\n",
      interface, tty_name);
  text += fmt::format(
      "P: {}/{}/tty/{}\n"
      "N: {}\n"
      "E: SUBSYSTEM=tty\nE: DEVNAME=/dev/{}\nE: MAJOR=188\nE: MINOR={}\n"
      "E: ID_BUS=usb\nE: ID_VENDOR_ID={}\nE: ID_MODEL_ID={}\nE: ID_SERIAL_SHORT={}\n"
      "E: ID_USB_DRIVER=ftdi_sio\nE: ID_USB_INTERFACE_NUM=00\n"
      "A: dev=188:{}\n"
      "L: device=../../../{}\n",
      interface, tty_name, tty_name, tty_name, tty_name, minor, vid, pid, identity.serial, minor,
      tty_name);
  return text;
}

/// Takes the pty master out of the testbed. umockdev keeps the fd number in its table and
/// never closes it (0.17.16 and later); we need to close the master to hang the line up.
/// The number is left pointing at /dev/null, so a umockdev that did close it would close
/// nothing of ours.
UniqueFd take_master(UMockdevTestbed* testbed, const std::string& device_path) {
  const int testbed_master = umockdev_testbed_get_dev_fd(testbed, device_path.c_str());
  if (testbed_master < 0)
    throw std::runtime_error(fmt::format("umockdev: {} has no pty master", device_path));
  UniqueFd master(::fcntl(testbed_master, F_DUPFD_CLOEXEC, 0));
  UniqueFd placeholder(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (master.get() < 0 || placeholder.get() < 0 ||
      ::dup3(placeholder.get(), testbed_master, O_CLOEXEC) < 0)
    throw std::runtime_error(fmt::format("umockdev: cannot take the pty master of {}: {}",
                                         device_path, errno_text(errno)));
  return master;
}

class UmockdevPort final : public PresentedPort {
 public:
  UmockdevPort(std::string tty_name, UniqueFd master, UniqueFd slave_keeper,
               std::shared_ptr<LineModel> lines, GObjectPtr<UMockdevIoctlBase> handler)
      : tty_name_(std::move(tty_name)),
        master_(std::move(master)),
        slave_keeper_(std::move(slave_keeper)),
        lines_(std::move(lines)),
        handler_(std::move(handler)) {}

  std::string tty_name() const override { return tty_name_; }
  std::string device_path() const override { return "/dev/" + tty_name_; }
  int device_fd() const override { return master_.get(); }
  ModemLineState modem_lines() const override { return lines_->get(); }
  void set_device_lines(bool cts, bool dsr, bool dcd, bool ri) override {
    lines_->set_device_lines(cts, dsr, dcd, ri);
  }
  HostLine host_line() const override { return lines_->host_line(); }
  void on_host_change(std::function<void()> callback) override {
    lines_->on_change(std::move(callback));
  }

  /// Hangs the line up: the harness's next poll sees POLLHUP, reads fail.
  void hang_up() noexcept {
    lines_->on_change({});
    slave_keeper_.reset();
    master_.reset();
  }

 private:
  std::string tty_name_;
  UniqueFd master_;
  UniqueFd slave_keeper_;
  std::shared_ptr<LineModel> lines_;
  GObjectPtr<UMockdevIoctlBase> handler_;
};

}  // namespace

struct UmockdevBench::Impl {
  GObjectPtr<UMockdevTestbed> testbed;
  std::vector<std::unique_ptr<UmockdevPort>> ports;
};

UmockdevBench::UmockdevBench() : impl_(std::make_unique<Impl>()) {
  // Also sets UMOCKDEV_DIR in this process (umockdev does; the destructor unsets it).
  impl_->testbed.reset(umockdev_testbed_new());
  if (!impl_->testbed) throw std::runtime_error("umockdev: cannot create a testbed");
}

UmockdevBench::~UmockdevBench() {
  // Hang up first, while umockdev still serves the harness's ioctl sockets: the harness's
  // transports see the port vanish instead of blocking on a socket nobody answers.
  for (auto& port : impl_->ports) port->hang_up();
  impl_->testbed.reset();  // removes the testbed directory, stops the worker thread
  impl_->ports.clear();
}

PresentedPort& UmockdevBench::add_serial_port(const std::string& tty_name,
                                              const UsbSerialIdentity& identity) {
  const int minor = tty_minor(tty_name);
  const auto same_name = [&](const auto& port) { return port->tty_name() == tty_name; };
  if (std::any_of(impl_->ports.begin(), impl_->ports.end(), same_name))
    throw std::invalid_argument(fmt::format("umockdev: port {} already exists", tty_name));
  const int usb_port = static_cast<int>(impl_->ports.size()) + 1;
  const std::string description = describe_adapter(tty_name, minor, usb_port, identity);
  UMockdevTestbed* testbed = impl_->testbed.get();
  const std::string device_path = "/dev/" + tty_name;

  GError* raw_error = nullptr;
  if (!umockdev_testbed_add_from_string(testbed, description.c_str(), &raw_error)) {
    GErrorPtr error(raw_error);
    throw std::runtime_error(fmt::format("umockdev: cannot add {}: {}", tty_name,
                                         error ? error->message : "unknown error"));
  }

  UniqueFd master = take_master(testbed, device_path);
  make_raw(master.get(), device_path);
  // TIOCGPTPEER opens the slave without a path (the preload would redirect /dev paths).
  UniqueFd slave_keeper(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave_keeper.get() < 0)
    throw std::runtime_error(
        fmt::format("umockdev: cannot open the slave of {}: {}", device_path, errno_text(errno)));

  auto lines = std::make_shared<LineModel>();
  GObjectPtr<UMockdevIoctlBase> handler(umockdev_ioctl_base_new());
  auto handler_data = std::make_unique<std::shared_ptr<LineModel>>(lines);
  g_signal_connect_data(handler.get(), "handle-ioctl", reinterpret_cast<GCallback>(&handle_ioctl),
                        handler_data.release(), &free_model_handle, GConnectFlags{});
  if (!umockdev_testbed_attach_ioctl(testbed, device_path.c_str(), handler.get(), &raw_error)) {
    GErrorPtr error(raw_error);
    throw std::runtime_error(fmt::format("umockdev: cannot attach the ioctl handler to {}: {}",
                                         device_path, error ? error->message : "unknown error"));
  }

  impl_->ports.push_back(std::make_unique<UmockdevPort>(
      tty_name, std::move(master), std::move(slave_keeper), std::move(lines), std::move(handler)));
  return *impl_->ports.back();
}

std::string UmockdevBench::root_dir() const {
  // A newly allocated copy (transfer full): freed here, the caller gets a std::string.
  const GCharPtr root(umockdev_testbed_get_root_dir(impl_->testbed.get()));
  return root ? std::string(root.get()) : std::string();
}

}  // namespace hilbench::emu
