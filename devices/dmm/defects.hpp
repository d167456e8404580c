#pragma once
// The DMM's defect knobs: THE one list. Profile parsing ([defects]), --defect,
// --list-defects and the Python package (hilbench.profile.known_defects) derive from it.
#include <array>

#include "common/defects.hpp"

namespace hilbench::emu::dmm {

inline constexpr std::array<DefectInfo, 8> defect_table{{
    {"error_queue_fills_silently",
     "errors are queued but never flagged in *ESR? (the CME/EXE/DDE/QYE bits stay 0)",
     "IEEE 488.2 11.5.1: an error sets its class bit in the Standard Event Status Register"},
    {"idn_wrong_firmware", "*IDN? reports a firmware level other than the declared one",
     "IEEE 488.2 4.1.3.6 identity as declared: *IDN? reports the profile's manufacturer, "
     "model, serial number and firmware"},
    {"reading_offset",
     "DC readings are 0.5 % high (a calibration gone wrong), far outside the declared noise",
     "reference accuracy: a reference DMM reads the declared value within its declared noise"},
    // The USB face (--usb; common/usbtmc_endpoint.hpp).
    {"usbtmc_tag_not_echoed", "USBTMC Bulk-IN replies carry bTag + 1 instead of the request's bTag",
     "USBTMC 1.0 3.3: a DEV_DEP_MSG_IN header echoes the bTag of its REQUEST_DEV_DEP_MSG_IN"},
    {"usbtmc_eom_never_set", "the last Bulk-IN transfer of a response lacks EOM",
     "USBTMC 1.0 3.3.1: the last transfer of a message sets EOM"},
    {"usbtmc_stall_until_abort",
     "the first response is withheld (Bulk-IN never completes) until the host aborts it",
     "USBTMC 1.0 4.2.1.4: a stuck Bulk-IN transfer is recovered by INITIATE_ABORT_BULK_IN"},
    {"usbtmc_wrong_capabilities",
     "GET_CAPABILITIES says listen-only, no USB488, no SCPI (the instrument does answer queries)",
     "USBTMC 1.0 4.2.1.8 / USB488 4.2.2: GET_CAPABILITIES states what the interface does"},
    {"usb_unplug_mid_read",
     "the device vanishes while the first MEASure answer is read, back 300 ms later",
     "hot-unplug: a transfer in flight ends with a typed error naming the device, and the "
     "device is found again after it is re-plugged"},
}};

consteval DefectId dmm_defect(std::string_view name) { return defect_id(defect_table, name); }

}  // namespace hilbench::emu::dmm
