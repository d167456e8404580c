// IEC 62056-21 mode C client: sessions over any Transport, the baud switch through the
// transport's SerialLine, every session step journaled as one Exchange.
//
// Decisions the header leaves open:
// - "After the ACK both sides switch" (metrology-crypto.md §5.3, Baud switch row): the ACK is
//   written, then the client waits until its last character has crossed the wire (write
//   completion + its character count x the character time at the sign-on speed +
//   ClientOptions::baud_switch_margin) and only then reconfigures the line, so a UART that
//   still shifts the ACK out is not switched under it. The device answers no earlier than
//   its minimum reaction time after the ACK, which the margin must stay below.
// - The client also keeps the device's minimum reaction time itself: before each message it
//   sends, it waits until that long after the end of the device's last message.
// - After a failed session the line may still carry the rest of an answer (a meter that
//   ignored the baud switch keeps talking at 300 baud): the next session waits for a quiet
//   line first and journals what it dropped (fields.discarded_hex).
// - Every session ends with the line back at the sign-on settings (300 7E1): after a
//   readout or B0 the device is back in its initial state too.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <thread>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/iec62056.hpp"

namespace hilbench::iec62056 {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) {
  return fmt::format("{:02x}", fmt::join(bytes, ""));
}

bool same_line(const LineSettings& a, const LineSettings& b) {
  return a.baud == b.baud && a.data_bits == b.data_bits && a.parity == b.parity &&
         a.stop_bits == b.stop_bits;
}

nlohmann::json identification_json(const Identification& id) {
  return {{"raw", id.raw},
          {"manufacturer", id.manufacturer},
          {"baud_character", std::string(1, id.baud_character)},
          {"max_baud", id.max_baud},
          {"reaction_20ms", id.reaction_20ms},
          {"identifier", id.identifier}};
}

void sleep_until_ns(std::int64_t when_ns) {
  const std::int64_t now = monotonic_ns();
  if (when_ns > now) std::this_thread::sleep_for(Nanoseconds(when_ns - now));
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  if (!transport_) throw ConfigError({}, "iec62056::Client needs a transport");
  encode_request(options_.address);  // throws ConfigError for an address no request carries
  if (options_.max_baud < sign_on_baud)
    throw ConfigError({}, fmt::format("max_baud {} is below the sign-on baud rate {}",
                                      options_.max_baud, sign_on_baud));
  if (options_.max_message_bytes < 8) throw ConfigError({}, "max_message_bytes must be >= 8");
}

// ---- one session step, journaled --------------------------------------------------------

template <typename Body>
auto Client::run(const std::string& operation, const char* mode, Body&& body) {
  const ErrorContext context{transport_->name(), operation, std::nullopt};
  const ErrorContext timed{transport_->name(), operation, options_.reaction_time_max};
  Exchange exchange;
  exchange.protocol = std::string(protocol_name);
  exchange.transport = context.device;
  exchange.operation = operation;
  exchange.fields = {
      {"mode", mode},           {"address", options_.address}, {"identification", nullptr},
      {"baud_switch", nullptr}, {"bcc_ok", nullptr},           {"data_sets", 0},
      {"command", nullptr},     {"error_code", nullptr}};
  auto fail = [&](const char* outcome, const std::string& message, bool ends_session = true) {
    record(exchange, outcome, message);
    if (!ends_session) return;
    programming_ = false;
    try {
      restore_sign_on_line();
    } catch (const HarnessError&) {
      // The line stays suspect; the next session tries again.
    }
  };
  try {
    auto result = body(exchange);
    record(exchange, "ok", "");
    return result;
  } catch (const Iec62056Error& failure) {
    const Iec62056Error in_context(context, failure.code(), failure.text(), failure.detail());
    exchange.fields["error_code"] = failure.code();
    // A command the device refused (R1/W1 answered (ERxx) or NAK) leaves the programming
    // session open, as on the device; a refused sign-on or password ends it.
    fail("device_error", in_context.what(), std::string_view(mode) != "command");
    throw in_context;
  } catch (const DeviceTimeout& failure) {
    const DeviceTimeout in_context(timed, failure.detail());
    fail("timeout", in_context.what());
    throw in_context;
  } catch (const ProtocolError& failure) {
    const ProtocolError in_context(context, failure.detail());
    fail("protocol_error", in_context.what());
    throw in_context;
  } catch (const ConnectionClosed& failure) {
    const ConnectionClosed in_context(context, failure.detail());
    fail("transport_error", in_context.what());
    throw in_context;
  } catch (const TransportError& failure) {
    const TransportError in_context(context, failure.detail());
    fail("transport_error", in_context.what());
    throw in_context;
  }
}

void Client::record(Exchange& exchange, const char* outcome, const std::string& error) {
  const std::string_view what(outcome);
  if (what == "timeout" || what == "protocol_error" || what == "transport_error")
    line_suspect_ = true;
  exchange.outcome = outcome;
  exchange.error = error;
  if (exchange.response_ns == 0 && !exchange.response.empty())
    exchange.response_ns = monotonic_ns();
  if (exchange_sink_) exchange_sink_(exchange);
}

// ---- building blocks --------------------------------------------------------------------

void Client::restore_sign_on_line() {
  SerialLine* line = transport_->serial_line();
  if (line && !same_line(line->line_settings(), sign_on_settings()))
    line->reconfigure(sign_on_settings());
}

void Client::prepare_line(Exchange& exchange) {
  restore_sign_on_line();
  if (!line_suspect_) {
    transport_->discard_input();
    return;
  }
  const auto drained = transport_->drain_until_quiet(options_.resync_quiet, options_.resync_quiet,
                                                     Deadline::after(options_.resync_budget));
  if (!drained.bytes.empty()) exchange.fields["discarded_hex"] = hex(drained.bytes);
  if (!drained.quiet)
    throw DeviceTimeout(
        {},
        fmt::format(
            "the line never fell quiet for {} ms ({} stray bytes)",
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.resync_quiet).count(),
            drained.bytes.size()));
  line_suspect_ = false;
}

void Client::wait_reaction_time() {
  if (last_received_ns_ != 0) sleep_until_ns(last_received_ns_ + device_reaction_min_.count());
}

void Client::send(Exchange& exchange, const Bytes& message, std::size_t redact_from,
                  std::size_t redact_count) {
  wait_reaction_time();
  transport_->write(message, Deadline::after(options_.reaction_time_max));
  const std::int64_t written = monotonic_ns();
  if (exchange.request_ns == 0) exchange.request_ns = written;
  Bytes journaled = message;
  for (std::size_t i = redact_from; i < redact_from + redact_count && i < journaled.size(); ++i)
    journaled[i] = '*';
  exchange.request.insert(exchange.request.end(), journaled.begin(), journaled.end());
  // The message is on the wire until its last character has been shifted out.
  const SerialLine* line = transport_->serial_line();
  const Nanoseconds wire = line ? line->character_time() * static_cast<std::int64_t>(message.size())
                                : Nanoseconds::zero();
  last_sent_end_ns_ = written + wire.count();
}

Bytes Client::read_answer(Exchange& exchange, bool line_message) {
  Bytes buffer;
  std::array<std::uint8_t, 512> chunk{};
  // First byte: within the longest reaction time after our message has crossed the wire.
  const Nanoseconds first_budget =
      Nanoseconds(std::max<std::int64_t>(0, last_sent_end_ns_ - monotonic_ns())) +
      options_.reaction_time_max;
  Deadline deadline = Deadline::after(first_budget);
  while (true) {
    const std::size_t got = transport_->read_some(chunk, deadline);
    if (got == 0) {
      exchange.response.insert(exchange.response.end(), buffer.begin(), buffer.end());
      if (buffer.empty())
        throw DeviceTimeout(
            {}, fmt::format(
                    "no answer within the reaction time ({} ms)",
                    std::chrono::duration_cast<std::chrono::milliseconds>(first_budget).count()));
      throw DeviceTimeout(
          {},
          fmt::format(
              "the answer stopped after {} bytes (gap longer than {} ms): {}", buffer.size(),
              std::chrono::duration_cast<std::chrono::milliseconds>(options_.inter_character_max)
                  .count(),
              hex(std::span(buffer).first(std::min<std::size_t>(buffer.size(), 32)))));
    }
    buffer.insert(buffer.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    deadline = Deadline::after(options_.inter_character_max);
    std::optional<std::size_t> end;
    try {
      if (line_message) {
        if (buffer[0] != '/')
          throw ProtocolError({}, fmt::format("the identification starts with 0x{:02X}, not '/'"
                                              " (line settings disagree?)",
                                              buffer[0]));
        end = find_line_end(buffer);
      } else if (buffer[0] == control::ack || buffer[0] == control::nak) {
        end = 1;
      } else if (buffer[0] == control::stx || buffer[0] == control::soh) {
        end = find_block_end(buffer);
      } else {
        throw ProtocolError({},
                            fmt::format("an answer starts with STX, SOH, ACK or NAK, got 0x{:02X}"
                                        " (did the device switch baud rate?)",
                                        buffer[0]));
      }
    } catch (const ProtocolError&) {
      exchange.response.insert(exchange.response.end(), buffer.begin(), buffer.end());
      throw;
    }
    if (end) {
      exchange.response.insert(exchange.response.end(), buffer.begin(), buffer.end());
      last_received_ns_ = monotonic_ns();
      exchange.response_ns = last_received_ns_;
      if (*end != buffer.size())
        throw ProtocolError({}, fmt::format("{} bytes after the message", buffer.size() - *end));
      return buffer;
    }
    if (buffer.size() >= options_.max_message_bytes) {
      exchange.response.insert(exchange.response.end(), buffer.begin(), buffer.end());
      throw ProtocolError(
          {}, fmt::format("no end of message within {} bytes", options_.max_message_bytes));
    }
  }
}

Identification Client::sign_on(Exchange& exchange) {
  programming_ = false;
  prepare_line(exchange);
  last_received_ns_ = 0;
  device_reaction_min_ = reaction_time_min_standard;
  send(exchange, encode_request(options_.address));
  const Bytes answer = read_answer(exchange, /*line_message=*/true);
  const Identification id = parse_identification(answer);
  device_reaction_min_ = id.reaction_time_min();
  exchange.fields["identification"] = identification_json(id);
  return id;
}

void Client::acknowledge(Exchange& exchange, const Identification& id, char mode) {
  SerialLine* line = transport_->serial_line();
  int baud = sign_on_baud;
  if (line) {
    baud = std::min(id.max_baud, options_.max_baud);
    while (!mode_c_character(baud)) baud /= 2;  // max_baud between table entries
  }
  const char character = *mode_c_character(baud);
  send(exchange, encode_ack(character, mode));
  if (!line || baud == line->line_settings().baud) return;
  // Switch after the ACK's last character has left the UART (see the file comment).
  sleep_until_ns(last_sent_end_ns_ + options_.baud_switch_margin.count());
  const int from = line->line_settings().baud;
  line->reconfigure(sign_on_settings(baud));
  exchange.fields["baud_switch"] = {{"from", from},
                                    {"to", baud},
                                    {"baud_character", std::string(1, character)},
                                    {"switched_ns", monotonic_ns()}};
  last_sent_end_ns_ = monotonic_ns();
}

// ---- sessions ---------------------------------------------------------------------------

Identification Client::identify() {
  return run("identify()", "identification", [&](Exchange& exchange) {
    Identification id = sign_on(exchange);
    return id;
  });
}

Readout Client::readout() {
  return run("readout()", "readout", [&](Exchange& exchange) {
    Readout readout;
    readout.identification = sign_on(exchange);
    acknowledge(exchange, readout.identification, '0');
    const SerialLine* line = transport_->serial_line();
    readout.baud = line ? line->line_settings().baud : sign_on_baud;
    readout.message = read_answer(exchange);
    const Block block = parse_block(readout.message);
    exchange.fields["bcc_ok"] = block.bcc_ok();
    if (block.start != control::stx)
      throw ProtocolError({},
                          fmt::format("the readout starts with 0x{:02X}, not STX", block.start));
    if (!block.bcc_ok())
      throw ProtocolError({},
                          fmt::format("readout BCC mismatch: received 0x{:02X}, computed 0x{:02X}",
                                      block.bcc_received, block.bcc_computed));
    if (const auto code = error_answer_code(block.data))
      throw Iec62056Error({}, *code, block.data.substr(1, block.data.find(')') - 1),
                          fmt::format("the device answered the readout with {}", block.data));
    if (block.end != control::etx)
      throw ProtocolError({}, "the readout ends with EOT: partial blocks are not supported");
    readout.data_sets = parse_data_block(block.data);
    if (block.data.find("!\r\n") == std::string::npos && !block.data.ends_with("!"))
      throw ProtocolError({}, "the readout has no end line \"!\"");
    exchange.fields["data_sets"] = readout.data_sets.size();
    restore_sign_on_line();  // the device is back in its initial state
    return readout;
  });
}

namespace {

/// Checks an answer that must be ACK; NAK, (ERxx) and B0 become Iec62056Error, anything
/// else a ProtocolError.
void expect_ack(const Bytes& answer, Exchange& exchange, std::string_view step) {
  if (answer.size() == 1 && answer[0] == control::ack) return;
  if (answer.size() == 1 && answer[0] == control::nak)
    throw Iec62056Error({}, Iec62056Error::nak_code, "NAK",
                        fmt::format("the device refused {} with NAK", step));
  const Block block = parse_block(answer);
  exchange.fields["bcc_ok"] = block.bcc_ok();
  if (!block.bcc_ok())
    throw ProtocolError({}, fmt::format("BCC mismatch in the answer to {}", step));
  if (block.start == control::soh && block.command == "B0")
    throw Iec62056Error({}, Iec62056Error::break_code, "B0",
                        fmt::format("the device ended the session (B0) after {}", step));
  if (const auto code = error_answer_code(block.data))
    throw Iec62056Error({}, *code, block.data.substr(1, block.data.find(')') - 1),
                        fmt::format("the device answered {} with {}", step, block.data));
  throw ProtocolError({}, fmt::format("the device answered {} with a block, not ACK", step));
}

}  // namespace

std::string Client::open_programming(std::string_view password) {
  return run("open_programming()", "programming", [&](Exchange& exchange) {
    exchange.fields["command"] = "P1";
    const Identification id = sign_on(exchange);
    acknowledge(exchange, id, '1');
    const Bytes p0 = read_answer(exchange);
    const Block operand = parse_block(p0);
    exchange.fields["bcc_ok"] = operand.bcc_ok();
    if (!operand.bcc_ok()) throw ProtocolError({}, "BCC mismatch in the P0 message");
    if (operand.start != control::soh || operand.command != "P0")
      throw ProtocolError({},
                          fmt::format("expected the password request SOH P0, got {}",
                                      operand.command.empty() ? "an STX block" : operand.command));
    std::string data = "(" + std::string(password) + ")";
    const Bytes p1 = encode_command("P1", data);
    // Journal the command, not the secret: the password's characters become '*'.
    send(exchange, p1, 5, password.size());
    expect_ack(read_answer(exchange), exchange, "the password (P1)");
    programming_ = true;
    std::string seed = operand.data;
    if (seed.size() >= 2 && seed.front() == '(' && seed.back() == ')')
      seed = seed.substr(1, seed.size() - 2);
    return seed;
  });
}

DataSet Client::read_register(std::string_view address) {
  return run(fmt::format("read_register({})", address), "command", [&](Exchange& exchange) {
    exchange.fields["command"] = "R1";
    if (!programming_) throw ConfigError({}, "R1 needs an open programming session");
    send(exchange, encode_command("R1", std::string(address) + "()"));
    const Bytes answer = read_answer(exchange);
    if (answer.size() == 1) expect_ack(answer, exchange, "R1");  // NAK: throws
    const Block block = parse_block(answer);
    exchange.fields["bcc_ok"] = block.bcc_ok();
    if (!block.bcc_ok()) throw ProtocolError({}, "BCC mismatch in the R1 answer");
    if (block.start != control::stx) expect_ack(answer, exchange, "R1");  // B0: throws
    if (const auto code = error_answer_code(block.data))
      throw Iec62056Error({}, *code, block.data.substr(1, block.data.find(')') - 1),
                          fmt::format("the device answered R1 {} with {}", address, block.data));
    std::vector<DataSet> sets = parse_data_block(block.data);
    exchange.fields["data_sets"] = sets.size();
    if (sets.size() != 1)
      throw ProtocolError({}, fmt::format("the R1 answer holds {} data sets, not 1", sets.size()));
    if (!sets[0].address.empty() && sets[0].address != address)
      throw ProtocolError(
          {}, fmt::format("asked for {}, the device answered {}", address, sets[0].address));
    sets[0].address = std::string(address);
    return sets[0];
  });
}

void Client::write_register(std::string_view address, std::string_view value) {
  run(fmt::format("write_register({})", address), "command", [&](Exchange& exchange) {
    exchange.fields["command"] = "W1";
    if (!programming_) throw ConfigError({}, "W1 needs an open programming session");
    send(exchange, encode_command("W1", fmt::format("{}({})", address, value)));
    expect_ack(read_answer(exchange), exchange, fmt::format("W1 {}", address));
    return 0;
  });
}

void Client::end_programming() {
  run("end_programming()", "command", [&](Exchange& exchange) {
    exchange.fields["command"] = "B0";
    programming_ = false;
    send(exchange, encode_command("B0", std::nullopt));
    // No answer: the device goes back to its initial state. Wait for B0 to leave the wire.
    sleep_until_ns(last_sent_end_ns_ + options_.baud_switch_margin.count());
    restore_sign_on_line();
    return 0;
  });
}

}  // namespace hilbench::iec62056
