#pragma once
// The meter's defect knobs: THE one list. Profile parsing ([defects]), --defect,
// --list-defects and the Python package (hilbench.profile.known_defects) derive from it;
// the server engine names a knob with meter_defect("name"), checked at compile time.
// Behaviour in detail: modbus_server.hpp.
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::meter {

inline constexpr std::array<DefectInfo, 6> defect_table{{
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
    {"tcp_register_skew", "over TCP, input registers read one count higher than over RTU",
     "HB-IOP-01: the same register reads the same over every interface"},
}};

/// The knob called `name`; an unknown name does not compile.
consteval DefectId meter_defect(std::string_view name) { return defect_id(defect_table, name); }

}  // namespace hilbench::emu::meter
