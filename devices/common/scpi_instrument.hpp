#pragma once
// What the SCPI instrument kinds (dmm, source, psu) share besides the engine
// (common/scpi_engine.hpp):
// - the common part of their profile schemas: [device] kind, name, description; [identity]
//   manufacturer, model, serial_number, firmware (the *IDN? fields, all required); [scpi]
//   error_queue_size (1..100, default 10); [serial] optional (common/serial_line.hpp: an
//   RS-232 port; absent = none). Each kind adds its own tables and [defects].
// - the raw-socket endpoint (SCPI over TCP, port 5025 style): LF-terminated program
//   messages (a CR before the LF is dropped), each response message sent with LF. Any number
//   of clients; one engine, one I/O thread. A message longer than max_message_bytes
//   disconnects its client.
// - serve(): endpoint set-up, the ready line, the stdin lifeline, signals (the process
//   contract of devices/README.md); with --usb also the USBTMC face; with a [serial] table
//   and a serial side (--serial-socket of the bench's presenter, --serial-fd) also SCPI over
//   the serial line (common/scpi_serial.hpp).
#include <asio.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "common/profile_reader.hpp"
#include "common/scpi_engine.hpp"
#include "common/serial_line.hpp"

namespace hilbench::emu::scpi {

struct CommonProfile {
  std::string source;  ///< file, for messages
  int schema = 1;
  std::string kind;
  std::string name;
  std::string description;
  std::string manufacturer, model, serial_number, firmware;
  std::size_t error_queue_size = 10;
  std::optional<SerialSettings> serial;  ///< [serial]: the instrument's RS-232 port, if any
};

/// Reads schema, [device], [identity] and [scpi] through `top` (the kind reads the rest and
/// calls top.finish). Throws ProfileError.
CommonProfile read_common_profile(TableReader& top, const std::string& file);
/// {"schema", "device": {kind, name, description}, "identity": {manufacturer, model,
/// serial_number, firmware}, "serial": {baud, data_bits, parity, stop_bits} or null,
/// "scpi": {"error_queue_size", "terminator"}}:
/// the kind appends its own keys and "defects".
nlohmann::ordered_json common_profile_json(const CommonProfile& profile);
/// Engine options from the profile (identity, queue size).
EngineOptions engine_options(const CommonProfile& profile);

class TcpEndpoint {
 public:
  static constexpr std::size_t max_message_bytes = 64 * 1024;
  TcpEndpoint(asio::io_context& io, Engine& engine, const asio::ip::tcp::endpoint& listen_on,
              std::function<void(const std::string&)> log);
  ~TcpEndpoint();
  TcpEndpoint(const TcpEndpoint&) = delete;
  TcpEndpoint& operator=(const TcpEndpoint&) = delete;
  asio::ip::tcp::endpoint local_endpoint() const;
  void close();

 private:
  class Session;
  void accept_next();
  asio::ip::tcp::acceptor acceptor_;
  Engine& engine_;
  std::function<void(const std::string&)> log_;
  std::vector<std::weak_ptr<Session>> sessions_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

/// Serves `engine` on TCP as device `name` of `kind` with the active `defects` (names, for
/// the ready line) until stdin closes or a signal arrives; returns the exit code. A profile
/// with [serial] is also served on the serial side options names (unless --no-serial).
/// With options.usb, the instrument also appears as a USBTMC device (common/usbtmc_endpoint.hpp)
/// whose USB strings come from `profile`'s identity; the ready line then carries "usb".
int serve(std::string_view kind, const CommonProfile& profile, Engine& engine,
          const std::vector<std::string>& defects, const EndpointOptions& options, Logger& log);

}  // namespace hilbench::emu::scpi
