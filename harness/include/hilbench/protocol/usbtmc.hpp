#pragma once
// USBTMC (USB Test & Measurement Class 1.0) and its USB488 subclass as a protocol layer over
// a UsbTransport's bulk endpoints — not inside the transport.
//
// - The codec (usbtmc_codec.cpp) is sans-io: Bulk-OUT headers (DEV_DEP_MSG_OUT with bTag,
//   its inverse, TransferSize, EOM, padding to 4 bytes; REQUEST_DEV_DEP_MSG_IN with the
//   transfer size and an optional TermChar), the Bulk-IN DEV_DEP_MSG_IN header decoder, and
//   GET_CAPABILITIES / status replies. Bad input is a DecodeError, never a crash (fuzzed:
//   fuzz/fuzz_usbtmc_header.cpp).
// - UsbtmcTransport is a *message transport*: each write() is one USBTMC message (EOM on its
//   last transfer); each read asks the device for a message (REQUEST_DEV_DEP_MSG_IN) and
//   hands its payload out as a byte stream, so the SCPI client runs over it unchanged.
//   read_message() returns one whole message and requires EOM.
// - Recovery: a bulk transfer that times out or stalls is aborted (INITIATE_ABORT_BULK_IN/
//   OUT + CHECK_ABORT_*_STATUS, with bTag), and where the device has no such transfer, the
//   interface is cleared (INITIATE_CLEAR + CHECK_CLEAR_STATUS, CLEAR_FEATURE(HALT)), so a
//   stuck instrument is recovered, not abandoned; the caller still gets DeviceTimeout /
//   ProtocolError. Recovery has its own budget (UsbtmcSettings::recovery_timeout): a timed
//   out read returns at most that long after its deadline. Recoveries are counted
//   (recoveries()) and their steps kept (last_recovery()) for the journal.
// - A reply whose bTag is not the request's, whose MsgID is wrong or whose TransferSize
//   exceeds what was asked for is a ProtocolError (after recovery).
// - Not thread-safe (one thread at a time, as every Transport).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "hilbench/transport/transport.hpp"
#include "hilbench/transport/usb.hpp"

namespace hilbench::usbtmc {

inline constexpr std::size_t header_size = 12;

namespace msg {
inline constexpr std::uint8_t dev_dep_msg_out = 1;
inline constexpr std::uint8_t request_dev_dep_msg_in = 2;
inline constexpr std::uint8_t dev_dep_msg_in = 2;
inline constexpr std::uint8_t trigger = 128;  ///< USB488
}  // namespace msg

/// Class-specific control requests (USBTMC 1.0 table 15, USB488 table 9).
namespace request {
inline constexpr std::uint8_t initiate_abort_bulk_out = 1;
inline constexpr std::uint8_t check_abort_bulk_out_status = 2;
inline constexpr std::uint8_t initiate_abort_bulk_in = 3;
inline constexpr std::uint8_t check_abort_bulk_in_status = 4;
inline constexpr std::uint8_t initiate_clear = 5;
inline constexpr std::uint8_t check_clear_status = 6;
inline constexpr std::uint8_t get_capabilities = 7;
inline constexpr std::uint8_t indicator_pulse = 64;
inline constexpr std::uint8_t read_status_byte = 128;
inline constexpr std::uint8_t ren_control = 160;
inline constexpr std::uint8_t go_to_local = 161;
inline constexpr std::uint8_t local_lockout = 162;
}  // namespace request

/// USBTMC_status values (USBTMC 1.0 table 16, USB488 table 10).
namespace status {
inline constexpr std::uint8_t success = 0x01;
inline constexpr std::uint8_t pending = 0x02;
inline constexpr std::uint8_t interrupt_in_busy = 0x20;
inline constexpr std::uint8_t failed = 0x80;
inline constexpr std::uint8_t transfer_not_in_progress = 0x81;
inline constexpr std::uint8_t split_not_in_progress = 0x82;
inline constexpr std::uint8_t split_in_progress = 0x83;
}  // namespace status

/// Malformed bytes from the device (the transport turns it into a ProtocolError).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// bTag sequence: 1..255, never 0.
std::uint8_t next_tag(std::uint8_t tag) noexcept;

/// DEV_DEP_MSG_OUT: header + payload + zero padding to a multiple of 4 bytes.
std::vector<std::uint8_t> encode_dev_dep_msg_out(std::uint8_t tag,
                                                 std::span<const std::uint8_t> payload, bool eom);
/// REQUEST_DEV_DEP_MSG_IN for at most `transfer_size` bytes; `term_char` enables TermChar.
std::vector<std::uint8_t> encode_request_dev_dep_msg_in(std::uint8_t tag,
                                                        std::uint32_t transfer_size,
                                                        std::optional<std::uint8_t> term_char);

/// A Bulk-IN DEV_DEP_MSG_IN header.
struct InHeader {
  std::uint8_t msg_id = 0;
  std::uint8_t tag = 0;
  std::uint32_t transfer_size = 0;  ///< payload bytes in this transfer (padding excluded)
  bool eom = false;                 ///< last transfer of the message
  bool term_char = false;           ///< the transfer ends with the TermChar
};
/// Decodes the first 12 bytes of a Bulk-IN transfer. Throws DecodeError when fewer than 12
/// bytes, the MsgID is not DEV_DEP_MSG_IN, the bTag and its inverse disagree, or reserved
/// bytes are not zero.
InHeader decode_in_header(std::span<const std::uint8_t> bytes);

/// GET_CAPABILITIES reply (USBTMC table 37 + USB488 table 8).
struct Capabilities {
  std::uint8_t status = 0;
  std::uint16_t bcd_usbtmc = 0;  ///< 0x0100 for USBTMC 1.0
  bool indicator_pulse = false, talk_only = false, listen_only = false;
  bool term_char = false;        ///< device supports TermChar
  std::uint16_t bcd_usb488 = 0;  ///< 0 when not a USB488 interface
  bool is_488_2 = false;         ///< USB488 interface caps D2
  bool ren_control = false;      ///< REN_CONTROL, GO_TO_LOCAL, LOCAL_LOCKOUT (D1)
  bool trigger = false;          ///< TRIGGER (D0)
  bool scpi = false, sr1 = false, rl1 = false, dt1 = false;  ///< USB488 device caps D3..D0
};
/// Throws DecodeError when shorter than 24 bytes.
Capabilities decode_capabilities(std::span<const std::uint8_t> bytes);

struct UsbtmcSettings {
  /// Largest payload asked for per REQUEST_DEV_DEP_MSG_IN and sent per DEV_DEP_MSG_OUT.
  std::uint32_t max_transfer = 64 * 1024;
  /// Budget for the abort/clear sequence after a timed-out or stalled transfer.
  Nanoseconds recovery_timeout = std::chrono::milliseconds(500);
  /// Budget for GET_CAPABILITIES at construction.
  Nanoseconds open_timeout = std::chrono::seconds(2);
};

/// A USBTMC interface as a message transport (see the file comment).
class UsbtmcTransport final : public Transport {
 public:
  /// Reads GET_CAPABILITIES. Throws ConfigError when the claimed interface is not USBTMC
  /// (class 0xFE, subclass 3) or lacks bulk endpoints; ProtocolError when the capabilities
  /// cannot be read; DeviceTimeout.
  explicit UsbtmcTransport(std::shared_ptr<UsbTransport> usb, UsbtmcSettings settings = {});

  /// "usbtmc:1209:0001:HB-dmm6".
  std::string name() const override;
  UsbTransport& usb() noexcept { return *usb_; }
  const std::shared_ptr<UsbTransport>& usb_transport() const noexcept { return usb_; }
  const Capabilities& capabilities() const noexcept { return capabilities_; }
  bool is_usb488() const noexcept;

  /// One whole message (until a transfer with EOM). Throws DeviceTimeout (after recovery)
  /// when the device sends nothing, or never ends the message, before the deadline.
  Bytes read_message(Deadline deadline);
  /// EOM of the last Bulk-IN transfer received.
  bool last_eom() const noexcept { return last_eom_; }

  /// USB488 READ_STATUS_BYTE (through the interrupt-IN endpoint when there is one).
  /// Throws DeviceError-free ProtocolError when unsupported or malformed.
  std::uint8_t read_status_byte(Deadline deadline);
  /// USB488 REN_CONTROL / GO_TO_LOCAL / LOCAL_LOCKOUT (ProtocolError if not offered).
  void ren_control(bool enable, Deadline deadline);
  void go_to_local(Deadline deadline);
  void local_lockout(Deadline deadline);
  /// INITIATE_CLEAR + CHECK_CLEAR_STATUS + halt cleared on both bulk endpoints.
  void clear(Deadline deadline);

  /// Number of abort/clear sequences run so far, and what the last one did ("abort_bulk_in
  /// tag 5: success; ..."): for journals and tests.
  std::size_t recoveries() const noexcept { return recoveries_; }
  const std::string& last_recovery() const noexcept { return last_recovery_; }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;

 private:
  /// One REQUEST_DEV_DEP_MSG_IN and the transfer(s) answering it; nullopt on timeout
  /// (after recovery).
  std::optional<Bytes> request_transfer(Deadline deadline);
  void abort_bulk_in(std::uint8_t tag);
  void abort_bulk_out(std::uint8_t tag);
  void clear_with(Deadline recovery);
  std::uint8_t take_tag() noexcept;
  Bytes class_request(std::uint8_t recipient, std::uint8_t code, std::uint16_t value,
                      std::uint16_t length, Deadline deadline);

  std::shared_ptr<UsbTransport> usb_;
  UsbtmcSettings settings_;
  Capabilities capabilities_;
  std::uint8_t tag_ = 0;
  std::uint8_t status_tag_ = 1;  // READ_STATUS_BYTE tags: 2..127
  Bytes pending_;
  std::size_t pending_at_ = 0;
  bool last_eom_ = true;
  std::size_t recoveries_ = 0;
  std::string last_recovery_;
};

}  // namespace hilbench::usbtmc
