// SCPI client: one command or query at a time over any Transport, the error queue drained
// after each, the whole transaction journaled as one Exchange.
//
// Decisions the header leaves open:
// - Stale input (the late answer to an earlier query that timed out) is dropped before each
//   message is written, so it cannot be taken for this message's answer. After a timeout or
//   a protocol error the line is suspect: the next transaction waits until it has been quiet
//   for ClientOptions::resync_quiet, so a tail still travelling is dropped too (and shown in
//   that exchange's fields.discarded_hex).
// - A query that gets no answer before its deadline is followed by an error drain (own
//   deadline): an instrument answers an undefined or failing query with nothing and queues
//   the error, so when the drain finds one, the ScpiError (with the code) is what the caller
//   gets, not a bare timeout. When the drain cannot be parsed (a late answer arrived in its
//   place) or times out too, the original DeviceTimeout stands.
// - Errors in the queue after a query make the query throw ScpiError even though a response
//   arrived: the response text stays in the exchange (fields.response).
// - Transport errors are rethrown as the same type with the SCPI operation as context.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "hilbench/errors.hpp"
#include "hilbench/protocol/scpi.hpp"

namespace hilbench::scpi {
namespace {

constexpr std::string_view error_query = "SYST:ERR?";

void append(Bytes& out, std::span<const std::uint8_t> piece) {
  out.insert(out.end(), piece.begin(), piece.end());
}

std::string describe_entries(const std::vector<ErrorEntry>& entries) {
  std::string out;
  for (const ErrorEntry& entry : entries)
    out += fmt::format("{}{},\"{}\"", out.empty() ? "" : "; ", entry.code, entry.message);
  return out;
}

nlohmann::json entries_json(const std::vector<ErrorEntry>& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const ErrorEntry& entry : entries)
    out.push_back({{"code", entry.code}, {"message", entry.message}});
  return out;
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  if (!transport_) throw ConfigError({}, "scpi::Client needs a transport");
  if (options_.terminator.empty())
    throw ConfigError({}, "the message terminator must not be empty");
  if (options_.max_error_queue == 0) throw ConfigError({}, "max_error_queue must be at least 1");
}

void Client::command(std::string_view command) {
  transact(command, false, fmt::format("command({})", command));
}

std::string Client::query(std::string_view query) {
  return transact(query, true, fmt::format("query({})", query));
}

double Client::query_number(std::string_view query) {
  const std::string response = this->query(query);
  try {
    return parse_number(response);
  } catch (const ProtocolError& error) {
    throw ProtocolError({transport_->name(), fmt::format("query({})", query), std::nullopt},
                        error.detail());
  }
}

std::int64_t Client::query_integer(std::string_view query) {
  const std::string response = this->query(query);
  try {
    return parse_nr1(response);
  } catch (const ProtocolError& error) {
    throw ProtocolError({transport_->name(), fmt::format("query({})", query), std::nullopt},
                        error.detail());
  }
}

Bytes Client::query_block(std::string_view query) {
  const std::string response = this->query(query);
  try {
    return parse_block(
        std::span(reinterpret_cast<const std::uint8_t*>(response.data()), response.size()));
  } catch (const ProtocolError& error) {
    throw ProtocolError({transport_->name(), fmt::format("query({})", query), std::nullopt},
                        error.detail());
  }
}

Identity Client::identify() {
  const std::string response = query("*IDN?");
  try {
    return parse_identity(response);
  } catch (const ProtocolError& error) {
    throw ProtocolError({transport_->name(), "identify()", std::nullopt}, error.detail());
  }
}

void Client::reset() { command("*RST"); }
void Client::clear_status() { command("*CLS"); }
bool Client::operation_complete() { return query_integer("*OPC?") == 1; }

int Client::event_status_register() {
  const std::int64_t value = query_integer("*ESR?");
  if (value < 0 || value > 255)
    throw ProtocolError({transport_->name(), "query(*ESR?)", std::nullopt},
                        fmt::format("*ESR? answered {}, outside 0..255", value));
  return static_cast<int>(value);
}

int Client::status_byte() {
  const std::int64_t value = query_integer("*STB?");
  if (value < 0 || value > 255)
    throw ProtocolError({transport_->name(), "query(*STB?)", std::nullopt},
                        fmt::format("*STB? answered {}, outside 0..255", value));
  return static_cast<int>(value);
}

std::vector<ErrorEntry> Client::errors() {
  const ErrorContext context{transport_->name(), "errors()", options_.timeout};
  Exchange exchange;
  exchange.protocol = "scpi";
  exchange.transport = context.device;
  exchange.operation = context.operation;
  exchange.fields = {{"command", std::string(error_query)},
                     {"query", true},
                     {"response", nullptr},
                     {"error_queue", nlohmann::json::array()},
                     {"error_queries", 0}};
  try {
    prepare_line(exchange, Deadline::after(options_.timeout));
    std::vector<ErrorEntry> entries = drain(exchange, context);
    record(exchange, "ok", "");
    return entries;
  } catch (const DeviceTimeout& failure) {
    record(exchange, "timeout", failure.what());
    throw;
  } catch (const ProtocolError& failure) {
    record(exchange, "protocol_error", failure.what());
    throw;
  } catch (const TransportError& failure) {
    record(exchange, "transport_error", failure.what());
    throw;
  }
}

// ---- one transaction ----------------------------------------------------------------------

void Client::prepare_line(Exchange& exchange, Deadline deadline) {
  if (!line_suspect_) {
    transport_->discard_input();
    return;
  }
  // At most half the budget, so the message itself still has time after a quiet line.
  const Nanoseconds quiet = std::min(options_.resync_quiet, options_.timeout / 2);
  const auto drained = transport_->drain_until_quiet(quiet, quiet, deadline);
  if (!drained.bytes.empty())
    exchange.fields["discarded_hex"] = fmt::format("{:02x}", fmt::join(drained.bytes, ""));
  if (!drained.quiet)
    throw DeviceTimeout(
        {}, fmt::format("the line never fell quiet for {} ms ({} stray bytes)",
                        std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count(),
                        drained.bytes.size()));
  line_suspect_ = false;
}

void Client::record(Exchange& exchange, const char* outcome, const std::string& error) {
  const std::string_view what(outcome);
  line_suspect_ = what == "timeout" || what == "protocol_error";
  exchange.outcome = outcome;
  exchange.error = error;
  if (exchange_sink_) exchange_sink_(exchange);
}

Bytes Client::read_response(Deadline deadline, Exchange& exchange) {
  Bytes buffer;
  std::array<std::uint8_t, 4096> chunk{};
  while (true) {
    if (const auto end = find_response_end(buffer, options_.terminator)) {
      if (*end != buffer.size()) {
        // More than one response message: the device answered something it was not asked.
        append(exchange.response, buffer);
        throw ProtocolError({}, fmt::format("{} bytes after the response message's terminator",
                                            buffer.size() - *end));
      }
      append(exchange.response, buffer);
      return buffer;
    }
    if (buffer.size() >= options_.max_response_bytes) {
      append(exchange.response, buffer);
      throw ProtocolError(
          {}, fmt::format("no terminator within {} bytes", options_.max_response_bytes));
    }
    const std::size_t room = std::min(chunk.size(), options_.max_response_bytes - buffer.size());
    const std::size_t got = transport_->read_some(std::span(chunk.data(), room), deadline);
    if (got == 0) {
      append(exchange.response, buffer);
      throw DeviceTimeout(
          {}, fmt::format("no complete response message: {} bytes received", buffer.size()));
    }
    buffer.insert(buffer.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  }
}

std::vector<ErrorEntry> Client::drain(Exchange& exchange, const ErrorContext& context) {
  std::vector<ErrorEntry> entries;
  const Bytes request = encode_message(error_query, options_.terminator);
  // max_error_queue entries, plus the final 0,"No error" that says the queue is empty.
  for (std::size_t asked = 0; asked <= options_.max_error_queue; ++asked) {
    const Deadline deadline = Deadline::after(options_.timeout);
    append(exchange.request, request);
    transport_->write(request, deadline);
    exchange.fields["error_queries"] = asked + 1;
    const Bytes answer = read_response(deadline, exchange);
    const ErrorEntry entry = parse_error_entry(strip_terminator(answer, options_.terminator));
    if (entry.code == 0) return entries;
    entries.push_back(entry);
    exchange.fields["error_queue"] = entries_json(entries);
  }
  throw ProtocolError(
      context,
      fmt::format(
          "the error queue never empties: more than {} entries "
          "({} ...)",
          options_.max_error_queue,
          describe_entries({entries.begin(),
                            entries.begin() + std::min<std::ptrdiff_t>(3, std::ssize(entries))})));
}

std::string Client::transact(std::string_view message, bool is_query,
                             const std::string& operation) {
  const ErrorContext context{transport_->name(), operation, std::nullopt};
  const ErrorContext timed_context{transport_->name(), operation, options_.timeout};
  Exchange exchange;
  exchange.protocol = "scpi";
  exchange.transport = context.device;
  exchange.operation = operation;
  exchange.fields = {{"command", std::string(message)},
                     {"query", is_query},
                     {"response", nullptr},
                     {"error_queue", nlohmann::json::array()},
                     {"error_queries", 0}};
  std::string response;
  try {
    const Bytes request = encode_message(message, options_.terminator);
    const Deadline deadline = Deadline::after(options_.timeout);
    prepare_line(exchange, deadline);
    exchange.request = request;
    transport_->write(request, deadline);
    exchange.request_ns = monotonic_ns();
    if (is_query) {
      try {
        const Bytes answer = read_response(deadline, exchange);
        exchange.response_ns = monotonic_ns();
        response = strip_terminator(answer, options_.terminator);
        exchange.fields["response"] = response;
      } catch (const DeviceTimeout& timeout) {
        const DeviceTimeout in_context(timed_context, timeout.detail());
        if (!options_.check_errors) throw in_context;
        std::vector<ErrorEntry> entries;
        try {
          entries = drain(exchange, context);
        } catch (const HarnessError&) {
          throw in_context;  // the drain could not say why: the timeout is the finding
        }
        if (entries.empty()) throw in_context;
        throw ScpiError(
            context, entries,
            fmt::format("no response; the device reported {}", describe_entries(entries)));
      }
    }
    if (options_.check_errors) {
      const std::vector<ErrorEntry> entries = drain(exchange, context);
      if (!entries.empty())
        throw ScpiError(context, entries,
                        fmt::format("the device reported {}", describe_entries(entries)));
    }
    record(exchange, "ok", "");
    return response;
  } catch (const ScpiError& failure) {
    record(exchange, "device_error", failure.what());
    throw;
  } catch (const DeviceTimeout& failure) {
    const DeviceTimeout in_context(timed_context, failure.detail());
    record(exchange, "timeout", in_context.what());
    throw in_context;
  } catch (const ProtocolError& failure) {
    const ProtocolError in_context(context, failure.detail());
    record(exchange, "protocol_error", in_context.what());
    throw in_context;
  } catch (const ConnectionClosed& failure) {
    const ConnectionClosed in_context(context, failure.detail());
    record(exchange, "transport_error", in_context.what());
    throw in_context;
  } catch (const TransportError& failure) {
    const TransportError in_context(context, failure.detail());
    record(exchange, "transport_error", in_context.what());
    throw in_context;
  }
}

}  // namespace hilbench::scpi
