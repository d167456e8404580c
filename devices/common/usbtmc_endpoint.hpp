#pragma once
// The USB face of a SCPI instrument kind: the instrument appears as a USBTMC/USB488 device
// (VID:PID 1209:0001, serial = the profile's serial number) in a umockdev testbed of its own
// (common/umockdev_usb.hpp), its device side speaking USBTMC through common/usbtmc_function
// and executing program messages on the same SCPI engine as the TCP face. Engine calls are
// posted to the instrument's I/O thread (the engine is not thread-safe), so both faces share
// one instrument state.
//
// Defect knobs (names in the kind's defect table; the kind lists which it has):
//   usbtmc_tag_not_echoed, usbtmc_eom_never_set, usbtmc_stall_until_abort,
//   usbtmc_wrong_capabilities — see UsbtmcDefects;
//   usb_unplug_mid_read — while the answer to the first MEASure query is being read the
//   device vanishes (the host's pending Bulk-IN ends with "no device"), and comes back
//   `replug_after` later with the next device number.
#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/scpi_engine.hpp"

namespace hilbench::emu::scpi {

struct UsbFaceOptions {
  std::string manufacturer, product, serial;  ///< USB strings (from [identity])
  std::vector<std::string> defects;           ///< active knob names
  std::chrono::milliseconds replug_after{300};
};

class UsbtmcEndpoint {
 public:
  /// Presents the device; throws std::runtime_error when umockdev cannot.
  UsbtmcEndpoint(asio::io_context& io, Engine& engine, UsbFaceOptions options,
                 std::function<void(const std::string&)> log);
  ~UsbtmcEndpoint();
  UsbtmcEndpoint(const UsbtmcEndpoint&) = delete;
  UsbtmcEndpoint& operator=(const UsbtmcEndpoint&) = delete;

  /// The ready line's "usb" object: umockdev_dir, device_path, vid, pid, serial, bus,
  /// address, path, resource (VISA resource string).
  nlohmann::ordered_json describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hilbench::emu::scpi
