// The SCPI client (terminated responses, the SYST:ERR? drain after every message, the
// bounded error queue, resynchronisation after a timeout, *IDN? parsing) over a scripted
// in-memory transport that serves the fuzz input as the instrument's answers.
//
// Input: [flags][chunking] then the bytes the "instrument" sends.
//   flags bit 0: the transport closes when the script ends (else it falls silent);
//   bit 1: CR LF terminator (else LF); bits 2..3: which call sequence runs.
//   chunking: the read sizes the transport hands out (1..8, cycled).
// Every failure must be a typed HarnessError; anything else (std::out_of_range, a sanitizer
// report, an unbounded loop) is a bug.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"
#include "scripted_transport.hpp"

namespace scpi = hilbench::scpi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t chunking = data[1];
  const std::span<const std::uint8_t> script(data + 2, size - 2);

  std::vector<std::size_t> chunk_sizes;
  if (chunking != 0) {
    for (int shift = 0; shift < 8; shift += 2) chunk_sizes.push_back(1 + ((chunking >> shift) & 7));
  }
  auto transport =
      std::make_shared<hilbench::fuzz::ScriptedTransport>(script, chunk_sizes, (flags & 1) != 0);

  scpi::ClientOptions options;
  options.timeout = std::chrono::milliseconds(20);
  options.terminator = (flags & 2) ? "\r\n" : "\n";
  options.max_error_queue = 8;
  options.max_response_bytes = 4096;
  options.resync_quiet = std::chrono::microseconds(1);
  scpi::Client client(transport, options);
  client.set_exchange_sink([](const hilbench::Exchange&) {});

  const auto attempt = [](auto&& call) {
    try {
      call();
    } catch (const hilbench::HarnessError&) {
      // typed failure: what a hostile instrument may cause
    }
  };
  switch ((flags >> 2) & 3) {
    case 0:
      attempt([&] { client.identify(); });
      attempt([&] { client.query_number("MEAS:VOLT:DC?"); });
      break;
    case 1:
      attempt([&] { client.command("SOUR:VOLT 230"); });
      attempt([&] { client.event_status_register(); });
      attempt([&] { client.errors(); });
      break;
    case 2:
      attempt([&] { client.query_block("TRAC:DATA?"); });
      attempt([&] { client.status_byte(); });
      break;
    default:
      attempt([&] { client.reset(); });
      attempt([&] { client.operation_complete(); });
      attempt([&] { client.query("SYST:VERS?"); });
      break;
  }
  return 0;
}
