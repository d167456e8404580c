#pragma once
// The meter's defect knobs: THE one list. Profile parsing ([defects]), --defect,
// --list-defects and the Python package (hilbench.profile.known_defects) derive from it;
// the server engine names a knob with meter_defect("name"), checked at compile time.
// Behaviour in detail: modbus_server.hpp.
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::meter {

inline constexpr std::array<DefectInfo, 35> defect_table{{
    {"illegal_address_returns_data",
     "reads of unmapped addresses return 0 and writes to them are acknowledged, instead of "
     "exception 02",
     "MODBUS-APP-7-02: an illegal data address is answered with exception 02"},
    {"illegal_function_silent",
     "unsupported function codes (and MEI types) get no reply, instead of exception 01",
     "MODBUS-APP-7-01: an unsupported function is answered with exception 01"},
    {"illegal_value_accepted",
     "out-of-range quantities and coil values are served or executed, instead of exception 03",
     "MODBUS-APP-7-03: an illegal data value is answered with exception 03"},
    {"bad_crc_answered", "RTU frames with a wrong CRC are served as if the CRC were right",
     "MODBUS-SL-CRC: a frame with a bad CRC is discarded without reply"},
    {"device_id_wrong_revision",
     "FC43/14 object 0x02 reports the revision with its last digit changed",
     "MODBUS-APP-6.21: the device identification matches the declared one"},
    {"tcp_register_skew",
     "over TCP, input registers the world does not drive (not free_running: the event log) read "
     "one count higher than over RTU",
     "HB-IOP-01: the same register reads the same over every interface"},
    // ---- issue 7: one knob per claim of the deeper suite (docs/mutation-matrix.md) ----
    {"range_crossing_answered",
     "reads that start inside a table and run past its end are answered (the missing "
     "addresses as 0); only the start address is checked",
     "MODBUS-APP-7-02: start address + quantity beyond the table gives 02"},
    {"quantity_zero_accepted",
     "reads and writes of quantity 0 are answered normally (byte count 0, or the echo)",
     "MODBUS-APP-7-03: quantity 0 gives 03"},
    {"byte_count_mismatch_accepted",
     "FC15/FC16 whose byte count disagrees with the quantity are executed when enough data "
     "follows",
     "MODBUS-APP-7-03: a write-multiple whose byte count does not match gives 03"},
    {"bit_byte_count_off_by_one",
     "FC1/FC2 reads of a multiple of 8 bits answer quantity / 8 + 1 data bytes (the byte "
     "count says so too)",
     "MODBUS-APP-RESP: the byte count of a bit read is ceil(quantity / 8)"},
    {"write_multiple_registers_not_stored",
     "FC16 is acknowledged but the values are not stored (configuration registers; the "
     "world's free_running ones, such as the clock, still are)",
     "MODBUS-APP-WRITE: an acknowledged write reads back"},
    {"word_order_swapped",
     "32-bit values the world does not drive (not free_running) are served in the other word "
     "order than the profile declares, on every interface",
     "HB-DATA-01: values are served in the declared type, word order and scaling"},
    {"live_value_out_of_band",
     "registers with a declared band the world does not drive (not free_running: the event "
     "log) read outside their band",
     "HB-DATA-01: live measurements lie within their declared band"},
    {"mbap_transaction_id_top_bit_cleared",
     "Modbus TCP answers echo the transaction id with bit 15 cleared (a 15-bit counter)",
     "MODBUS-TCP-MBAP: the answer echoes the request's transaction id"},
    {"mbap_unit_id_not_echoed",
     "Modbus TCP answers to unit 0xFF carry the device's own unit id instead of the echo",
     "MODBUS-TCP-MBAP: the answer echoes the request's unit id"},
    {"rtu_other_unit_answered",
     "RTU frames addressed to another unit are served and answered with the device's address",
     "MODBUS-SL-ADDR: a frame for another address gets no reply"},
    {"rtu_broadcast_answered", "RTU broadcast (address 0) writes are executed and answered",
     "MODBUS-SL-ADDR: a broadcast is never answered"},
    // ---- IEC 62056-21 mode C on the optical port (meter/iec62056_server.hpp) ----
    {"iec_identification_wrong_baud_character",
     "the identification announces one baud character higher than the device supports "
     "(/HBL6EM1 for a 9600-baud device); ACKs up to the real rate still work",
     "IEC62056-21-SIGNON: the identification is /XXXZ<identifier> as declared"},
    {"iec_bcc_error", "the data readout is sent with a wrong BCC (one bit flipped)",
     "IEC62056-21-BCC: the readout's BCC is the XOR of the block"},
    {"iec_ignores_baud_switch",
     "the optical port stays at 300 baud after the ACK instead of switching to the agreed rate",
     "IEC62056-21-BAUD: after the ACK the device answers at the agreed baud rate"},
    {"iec_password_not_checked", "programming mode opens with any P1 password",
     "IEC62056-21-PASSWORD: a wrong password is refused"},
    // ---- issue 10: robustness under link faults (suites/robustness) ----
    {"bad_crc_executed",
     "RTU frames with a wrong CRC are executed (a write takes effect) but not answered",
     "MODBUS-SL-CRC: a corrupted frame is discarded, not acted on"},
    {"stops_answering_after_noise",
     "after 3 malformed RTU frames in a row (bad CRC or too short) the serial side never "
     "answers again until the emulator restarts",
     "CRA-I.2(h): the device keeps answering after a burst of malformed frames"},
    {"tcp_wedged_by_partial_frame",
     "a Modbus TCP session that ends with part of a frame unread (the client left, or the "
     "server dropped a malformed or unfinished frame) leaves the TCP side silent for every "
     "later connection",
     "EN303645-5.9-2: the device recovers cleanly once a link fault is removed"},
    // ---- issue 6: the measurement model (meter/metrology.hpp) ----
    {"out_of_class_at_low_current",
     "active and reactive power and energy read 3 % high below 10 % of the base current Ib",
     "HB-METER-ACC: measured power within the accuracy class at every load point"},
    {"loses_energy_on_power_cut",
     "the energy registers fall back to their declared start values after a power cut",
     "HB-METER-NV: energy registers are kept across a power cut"},
    {"clock_drift_excessive", "the clock runs 1 % fast (864 s/day) instead of the profile's drift",
     "HB-METER-CLOCK: the clock drifts by at most 0.5 s/day"},
    // ---- issue 11: the metrology suite (suites/metrology) ----
    {"creeps_at_no_load",
     "with voltage applied and no current (below the starting current) the meter registers "
     "50 W per phase instead of the profile's creep_w",
     "IEC62053-21-NOLOAD: at most one test-output pulse with voltage and no current"},
    {"register_disagrees_with_test_output",
     "the active-import energy register advances 0.5 % slower than the test output (pulses) and "
     "the power the meter measures, as with a wrong register constant",
     "IEC62053-21-CONST: the register and the test output agree (meter constant)"},
    {"clock_set_slips_an_hour",
     "a clock set through the clock register lands one hour later than the value written",
     "HB-CLOCK-SET: the clock reads back what was set"},
    // ---- issue 11: protocol timing (suites/timing; meter/endpoints.hpp) ----
    {"rtu_reply_gap",
     "RTU answers pause 2.5 character times after their third byte (between t1.5 and t3.5, "
     "so a length-aware master still reads the whole answer)",
     "MODBUS-SL-T15: no gap inside an answer is longer than t1.5"},
    {"rtu_reply_without_silence",
     "RTU requests are framed after half a character of silence instead of t3.5, so the answer "
     "follows the request almost at once",
     "MODBUS-SL-T35: an answer starts after at least t3.5 of silence"},
    {"slow_response",
     "every Modbus answer (RTU and TCP) is held back by the profile's max_response_time_ms plus "
     "20 ms",
     "HB-TIMING-RESP: answers arrive within the declared response time"},
    {"iec_reaction_too_fast",
     "the optical port answers 5 ms after a request instead of after its reaction time (at least "
     "20 or 200 ms as the identification announces)",
     "IEC62056-21-REACTION: the device answers no sooner than its minimum reaction time"},
    // ---- issue 12: security (suites/security) ----
    {"universal_password",
     "besides the unit's own P1 password, programming mode also opens with 00000000, a "
     "universal default every unit of the model shares",
     "EN303645-5.1-1: no universal default password on any login surface"},
}};

/// The knob called `name`; an unknown name does not compile.
consteval DefectId meter_defect(std::string_view name) { return defect_id(defect_table, name); }

}  // namespace hilbench::emu::meter
