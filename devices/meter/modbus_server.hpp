#pragma once
// The emulated device's Modbus server engine (sans-io): PDU in, PDU (or silence) out, plus
// RTU and MBAP framing. Written independently of the harness's client codec on purpose:
// the harness is tested against it, so they must not share bugs.
// Defect knobs from the profile change its behaviour so each conformance test can fail.
// Not thread-safe: one server per device, driven from the emulator's single I/O thread;
// the RTU and the TCP side share one server, so a write on one is seen on the other.
//
// Behaviour (Modbus Application Protocol v1.1b3 unless noted):
// - Function codes 1, 2, 3, 4, 5, 6, 15, 16 and 43/14 (read device identification).
//   Any other function code (or a 43 with another MEI type) -> exception 01.
// - Checks run in the order of the spec's state diagrams: quantity/value -> 03, then
//   address -> 02. A PDU whose length does not match its function -> 03.
// - Reads: every address of the range must be mapped and the range may not cut a 32-bit
//   register in half, else 02. Quantities: FC3/4 1..min(125, limits.max_read_registers),
//   FC1/2 1..min(2000, limits.max_read_bits), FC15 1..1968, FC16 1..123; FC15/16 byte count
//   must match the quantity and the PDU length.
// - Writes to registers or coils the profile does not mark writable -> 02 (the address is
//   not a writable data address; many meters answer 02, some 04). FC6 on one half of a
//   32-bit register -> 02. FC5 with a value other than 0xFF00/0x0000 -> 03.
// - FC43/14: conformity level 0x83 (basic, regular and extended objects, stream and
//   individual access). Objects: 0x00 vendor, 0x01 product code, 0x02 revision, 0x03..0x05
//   vendor URL, product name, model (when declared), 0x80 serial number (when declared).
//   Stream access (codes 1/2/3) starting at an object that does not exist in the category
//   restarts at object 0 (as the spec asks); individual access (code 4) to a missing object
//   -> 02; another read code -> 03. Answers that would exceed 253 PDU bytes are split:
//   more-follows 0xFF and the next object id, the client asks again from there.
// - Defects (the knobs of meter/defects.hpp):
//   illegal_address_returns_data: unmapped addresses read as 0 (32-bit halves are served
//     too); writes to unmapped addresses are acknowledged and discarded. Writes to mapped
//     read-only points still get 02.
//   illegal_function_silent: unsupported function codes (and MEI types) get no reply.
//   illegal_value_accepted: a read with an out-of-range quantity is answered with data:
//     min(quantity, what one byte count can carry) values, unmapped ones as 0, no address
//     check (a device that skips validation and dumps memory). Writes with an out-of-range
//     quantity are executed when the byte count is consistent; FC5 takes any non-zero
//     value as ON.
//   bad_crc_answered: RTU frames with a wrong CRC are served as if it were right.
//   device_id_wrong_revision: object 0x02 reports the revision with its last digit
//     changed (d -> (d + 1) mod 10; "1" appended if it has no digit).
//   tcp_register_skew: over TCP, input registers (FC4) read one count higher (raw + 1 of
//     each register, wrapping; +1.0 for f32) than over RTU.
//   range_crossing_answered: a read whose start address is mapped (a register's first
//     word) is served whatever its end; the addresses past the map read as 0.
//   quantity_zero_accepted: FC1-4 with quantity 0 answer byte count 0; FC15/16 with
//     quantity 0 (and byte count 0) are acknowledged.
//   byte_count_mismatch_accepted: FC15/16 are executed by their quantity whenever at least
//     the data it needs follows, whatever the byte count says.
//   bit_byte_count_off_by_one: FC1/2 of a multiple of 8 bits answer quantity/8 + 1 bytes.
//   write_multiple_registers_not_stored: FC16 is acknowledged, nothing is stored.
//   word_order_swapped: 32-bit registers are served in the other word order (everywhere).
//   live_value_out_of_band: registers with a declared band read 0 in every word (0xFFFF
//     when the band holds 0).
//   mbap_transaction_id_top_bit_cleared: TCP answers echo the transaction id & 0x7FFF.
//   mbap_unit_id_not_echoed: TCP answers carry the profile's unit, not the request's.
//   rtu_other_unit_answered: RTU frames for any address are served and answered.
//   rtu_broadcast_answered: RTU broadcasts are executed and answered.
// - Registers of a 32-bit type are stored in the profile's word order (big: high word at
//   the lower address; little: the other way round).
// - RTU: CRC-16/MODBUS (low byte first). Bad CRC -> silence; another unit address ->
//   silence; address 0 (broadcast) -> executed (writes take effect), never answered;
//   frames shorter than 4 bytes -> silence.
// - TCP (MBAP): protocol id must be 0 and the length field 2..254 (else the connection is
//   dropped by the endpoint); unit id must be the profile's unit or 0xFF, else silence.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/crc.hpp"
#include "meter/profile.hpp"

namespace hilbench::emu::meter {

using Bytes = std::vector<std::uint8_t>;

enum class Interface : std::uint8_t { rtu, tcp };

namespace function_code {
inline constexpr std::uint8_t read_coils = 0x01;
inline constexpr std::uint8_t read_discrete_inputs = 0x02;
inline constexpr std::uint8_t read_holding_registers = 0x03;
inline constexpr std::uint8_t read_input_registers = 0x04;
inline constexpr std::uint8_t write_single_coil = 0x05;
inline constexpr std::uint8_t write_single_register = 0x06;
inline constexpr std::uint8_t write_multiple_coils = 0x0F;
inline constexpr std::uint8_t write_multiple_registers = 0x10;
inline constexpr std::uint8_t encapsulated_interface = 0x2B;
inline constexpr std::uint8_t mei_read_device_identification = 0x0E;
}  // namespace function_code

namespace exception_code {
inline constexpr std::uint8_t illegal_function = 0x01;
inline constexpr std::uint8_t illegal_data_address = 0x02;
inline constexpr std::uint8_t illegal_data_value = 0x03;
}  // namespace exception_code

/// Largest PDU of the Modbus spec (RTU ADU 256 - address - CRC).
inline constexpr std::size_t max_pdu_size = 253;
/// Device identification conformity level: extended identification, stream + individual.
inline constexpr std::uint8_t device_id_conformity_level = 0x83;

/// Serial-line timing of Modbus RTU (Modbus over Serial Line v1.02, 2.5.1.1).
struct RtuTiming {
  std::chrono::nanoseconds character_time;  ///< one character on the wire
  std::chrono::nanoseconds frame_silence;   ///< t3.5: silence that ends a frame
  std::chrono::nanoseconds character_gap;   ///< t1.5: longest gap inside a frame
};
/// Above 19200 baud the spec fixes t3.5 = 1750 us and t1.5 = 750 us.
RtuTiming rtu_timing(const SerialSettings& serial) noexcept;

/// Splits a TCP byte stream into MBAP frames (header + PDU). Validates each header as soon
/// as its bytes arrive, so a bad protocol id or length is reported without waiting.
class MbapStreamDecoder {
 public:
  enum class Status : std::uint8_t { incomplete, frame, malformed };
  struct Result {
    Status status = Status::incomplete;
    Bytes frame;          ///< the complete frame when status == frame
    std::string problem;  ///< why, when status == malformed
  };

  void append(std::span<const std::uint8_t> bytes);
  /// Takes the next complete frame out of the buffer. After `malformed` the stream cannot
  /// be resynchronised (MBAP has no frame delimiter): drop the connection.
  Result next();
  /// True when bytes of an unfinished frame are buffered.
  bool has_partial_frame() const noexcept { return buffered() > 0; }

 private:
  std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }
  Bytes buffer_;
  std::size_t consumed_ = 0;
};

class ModbusServer {
 public:
  /// The profile's defect set is the server's; copy the profile, set defects, then construct.
  explicit ModbusServer(DeviceProfile profile);

  const DeviceProfile& profile() const noexcept { return profile_; }
  /// The control channel switched knobs: they apply from the next request on.
  void set_defects(const DefectSet& defects) noexcept { profile_.defects = defects; }

  /// Answers one request PDU addressed to this device; nullopt = stay silent.
  std::optional<Bytes> handle_pdu(std::span<const std::uint8_t> pdu, Interface via);
  /// One complete RTU frame as delimited by t3.5 silence; nullopt = no reply (bad CRC,
  /// other address, broadcast, too short, or a silent defect).
  std::optional<Bytes> handle_rtu_frame(std::span<const std::uint8_t> frame);
  /// One MBAP frame (header + PDU); nullopt = no reply (malformed header, other unit).
  std::optional<Bytes> handle_tcp_frame(std::span<const std::uint8_t> frame);
  /// The TCP endpoint tells: a session ended with part of a frame unread. Only the
  /// defect tcp_wedged_by_partial_frame reacts (the TCP side then never answers again).
  void tcp_client_left_mid_frame() noexcept;

  /// Current contents of one register word / bit as the RTU side sees it (for tests and
  /// inspection); nullopt when unmapped.
  std::optional<std::uint16_t> register_word(RegisterTable table, std::uint16_t address) const;
  std::optional<bool> coil(std::uint16_t address) const;
  std::optional<bool> discrete_input(std::uint16_t address) const;

  // ---- the device around the engine (meter/kind.cpp: power, measurement, clock) --------
  /// Asked before every RTU/TCP frame: false = the device is off, no reply of any kind.
  void set_gate(std::function<bool()> gate) { gate_ = std::move(gate); }
  /// Called for each holding register a successful FC6/FC16 wrote (after the write).
  void on_register_write(std::function<void(const RegisterSpec&)> hook) {
    on_write_ = std::move(hook);
  }
  /// Stores an engineering value in the register called `name` (its type, scale, word
  /// order; clamped to the type); false when no register has that name.
  bool set_value(std::string_view name, double value);
  /// The engineering value the register called `name` holds now.
  std::optional<double> value(std::string_view name) const;
  /// Volatile state back to the profile's values (writable holding registers and coils):
  /// what a power cut does to a device that keeps its settings in RAM.
  void restore_volatile();

 private:
  std::optional<Bytes> dispatch_pdu(std::span<const std::uint8_t> pdu, Interface via);
  const RegisterSpec* register_spec(std::string_view name) const;
  struct RegisterCell {
    std::size_t spec_index;  ///< into profile_.registers
    unsigned word_index;     ///< 0 = high word of a 32-bit value
    std::uint16_t value;
  };
  struct BitCell {
    bool value;
    bool writable;
  };
  using RegisterMap = std::map<std::uint16_t, RegisterCell>;
  using BitMap = std::map<std::uint16_t, BitCell>;

  std::optional<Bytes> read_bits(std::span<const std::uint8_t> pdu, const BitMap& bits,
                                 unsigned max_quantity);
  std::optional<Bytes> read_registers(std::span<const std::uint8_t> pdu, RegisterTable table,
                                      Interface via);
  std::optional<Bytes> write_single_coil(std::span<const std::uint8_t> pdu);
  std::optional<Bytes> write_single_register(std::span<const std::uint8_t> pdu);
  std::optional<Bytes> write_multiple_coils(std::span<const std::uint8_t> pdu);
  std::optional<Bytes> write_multiple_registers(std::span<const std::uint8_t> pdu);
  std::optional<Bytes> read_device_identification(std::span<const std::uint8_t> pdu);
  std::optional<Bytes> unsupported(std::uint8_t function) const;

  /// True when [first, first + quantity) is fully mapped and cuts no register in half.
  bool whole_registers(const RegisterMap& map, unsigned first, unsigned quantity) const;
  /// The word a client reads at `address`, with the TCP skew defect applied when asked.
  std::uint16_t served_word(const RegisterMap& map, std::uint16_t address, bool skewed) const;
  RegisterMap& registers_of(RegisterTable table) noexcept {
    return table == RegisterTable::input ? input_registers_ : holding_registers_;
  }
  const RegisterMap& registers_of(RegisterTable table) const noexcept {
    return table == RegisterTable::input ? input_registers_ : holding_registers_;
  }
  bool defect(DefectId which) const noexcept { return profile_.defects.has(which); }
  /// Identification objects (id, value) in id order, as this device reports them.
  std::vector<std::pair<std::uint8_t, std::string>> identification_objects() const;

  std::function<bool()> gate_;
  std::function<void(const RegisterSpec&)> on_write_;
  DeviceProfile profile_;
  std::size_t malformed_in_a_row_ = 0;  ///< RTU frames with a bad CRC or too short
  bool serial_wedged_ = false;          ///< defect stops_answering_after_noise has struck
  bool tcp_wedged_ = false;             ///< defect tcp_wedged_by_partial_frame has struck
  RegisterMap holding_registers_;
  RegisterMap input_registers_;
  BitMap coils_;
  BitMap discrete_inputs_;
};

}  // namespace hilbench::emu::meter
