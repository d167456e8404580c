// The Modbus client's framing (RTU: the length announced by a response head, t3.5 fallback,
// CRC, unit; TCP: MBAP length, transaction ids, late answers skipped) over a scripted
// in-memory transport that serves the fuzz input as the device's answers.
//
// Input: [flags][chunking][unit][count] then the bytes the "device" sends.
//   flags bit 0: RTU (else TCP); bit 1: the transport closes when the script ends (else it
//   falls silent); bits 2..3: which request sequence runs.
//   chunking: the read sizes the transport hands out (1..8, cycled), so every split of an
//   answer across reads is reachable.
// Every failure must be a typed HarnessError; anything else (std::length_error,
// std::out_of_range, a sanitizer report) is a bug.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/modbus.hpp"
#include "scripted_transport.hpp"

namespace modbus = hilbench::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t chunking = data[1];
  const std::uint8_t unit = data[2];
  const std::uint8_t count = data[3];
  const std::span<const std::uint8_t> script(data + 4, size - 4);

  std::vector<std::size_t> chunk_sizes;
  if (chunking != 0) {
    for (int shift = 0; shift < 8; shift += 2) chunk_sizes.push_back(1 + ((chunking >> shift) & 7));
  }
  auto transport =
      std::make_shared<hilbench::fuzz::ScriptedTransport>(script, chunk_sizes, (flags & 2) != 0);

  modbus::ClientOptions options;
  options.framing = (flags & 1) ? modbus::Framing::rtu : modbus::Framing::tcp;
  options.unit = unit == 0 ? 1 : unit;  // 0 is the RTU broadcast: no answer is read
  options.timeout = std::chrono::milliseconds(20);
  options.rtu_silence = std::chrono::microseconds(1);
  modbus::Client client(transport, options);
  client.set_exchange_sink([](const hilbench::Exchange&) {});

  const auto attempt = [](auto&& call) {
    try {
      call();
    } catch (const hilbench::HarnessError&) {
      // typed failure: what a hostile device may cause
    }
  };
  const std::uint16_t registers = static_cast<std::uint16_t>(1 + count % 125);
  switch ((flags >> 2) & 3) {
    case 0:
      attempt([&] { client.read_holding_registers(0, registers); });
      attempt([&] { client.read_device_identification(modbus::DeviceIdCategory::basic); });
      break;
    case 1:
      attempt([&] { client.read_device_identification(modbus::DeviceIdCategory::extended); });
      attempt([&] { client.read_holding_registers(100, registers); });
      break;
    case 2:
      attempt([&] { client.read_coils(0, static_cast<std::uint16_t>(1 + count * 7)); });
      attempt([&] { client.read_input_registers(0, registers); });
      attempt([&] { client.write_multiple_registers(0, {1, 2, 3}); });
      break;
    default:
      attempt([&] { client.transact(modbus::Pdu{static_cast<std::uint8_t>(count), {0, 1}}); });
      attempt([&] { client.write_single_coil(3, true); });
      attempt([&] { client.read_holding_registers(0, registers); });
      break;
  }
  return 0;
}
