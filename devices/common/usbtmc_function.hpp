#pragma once
// The emulated instruments' USBTMC 1.0 / USB488 device side, sans-io: Bulk-OUT transfers and
// class control requests in, Bulk-IN / interrupt-IN transfers and control replies out. Its
// own codec, written from the USBTMC and USB488 specifications independently of the
// harness's client (harness/src/protocol/usbtmc_*), so the harness is not tested against its
// own bugs. Program messages go to `execute` (the SCPI engine of the instrument: the same one
// its TCP face serves); response messages come back for Bulk-IN.
//
// What it implements
// - DEV_DEP_MSG_OUT (bTag/bTagInverse checked, payload collected until EOM, then executed;
//   a trailing LF is dropped), REQUEST_DEV_DEP_MSG_IN (TransferSize honoured, the reply's
//   bTag echoes the request's, EOM on the last transfer of a response, 4-byte alignment).
//   A bad header stalls Bulk-OUT (USBTMC 1.0 3.2.2.3): bulk_out returns false.
// - INITIATE/CHECK_ABORT_BULK_OUT/IN, INITIATE_CLEAR/CHECK_CLEAR_STATUS (the pending
//   response and any partial message are dropped), GET_CAPABILITIES, INDICATOR_PULSE,
//   USB488 READ_STATUS_BYTE (answered on interrupt-IN: 0x80|bTag, STB), REN_CONTROL,
//   GO_TO_LOCAL, LOCAL_LOCKOUT.
// - Defect knobs (UsbtmcDefects), each breaking one claim: bTag not echoed, EOM never set, a
//   response withheld until the host aborts the transfer, wrong capabilities.
//
// Not thread-safe: the USB presentation calls it under its own lock.
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hilbench::emu::usbtmc {

using Bytes = std::vector<std::uint8_t>;

struct UsbtmcDefects {
  bool tag_not_echoed = false;      ///< Bulk-IN header carries bTag+1
  bool eom_never_set = false;       ///< the last transfer of a response lacks EOM
  bool stall_until_abort = false;   ///< the first response is withheld until aborted
  bool wrong_capabilities = false;  ///< GET_CAPABILITIES says listen-only, no USB488/SCPI
};

struct FunctionOptions {
  UsbtmcDefects defects;
  std::function<std::optional<std::string>(const std::string&)> execute;  ///< program message
  std::function<std::uint8_t()> status_byte;                              ///< IEEE 488.2 STB
};

class UsbtmcFunction {
 public:
  explicit UsbtmcFunction(FunctionOptions options);

  /// One Bulk-OUT transfer; false: stall the endpoint (malformed header).
  bool bulk_out(std::span<const std::uint8_t> transfer);
  /// The next Bulk-IN transfer of at most `max_bytes`, or nullopt while there is nothing to
  /// send (no REQUEST_DEV_DEP_MSG_IN pending, no response yet, or a withheld response).
  std::optional<Bytes> bulk_in(std::size_t max_bytes);
  /// The next interrupt-IN notification (READ_STATUS_BYTE), or nullopt.
  std::optional<Bytes> interrupt_in();
  /// A class request (bmRequestType 0x21/0xA1/0xA2): the reply, or nullopt to stall.
  std::optional<Bytes> control(std::uint8_t request_type, std::uint8_t request, std::uint16_t value,
                               std::uint16_t index, std::uint16_t length);
  /// Forgets every message, request and response in flight (a re-plugged link). The defect
  /// knobs' one-shot state is kept.
  void reset();
  std::size_t messages_executed() const noexcept { return executed_; }
  /// The query that is being answered (for the unplug knob): true once a response exists and
  /// a REQUEST_DEV_DEP_MSG_IN waits for it.
  bool response_requested() const noexcept { return request_ && !response_.empty(); }

 private:
  FunctionOptions options_;
  Bytes message_;  // DEV_DEP_MSG_OUT payload collected until EOM
  std::optional<std::uint8_t> out_tag_;
  std::string response_;  // response bytes not yet sent
  struct Request {
    std::uint8_t tag;
    std::uint32_t size;
  };
  std::optional<Request> request_;
  std::optional<std::uint8_t> last_in_tag_;
  bool withheld_once_ = false;  // stall_until_abort: the first response waits for an abort
  bool withholding_ = false;
  std::deque<Bytes> interrupts_;
  std::size_t executed_ = 0;
  bool remote_enabled_ = false;
};

}  // namespace hilbench::emu::usbtmc
