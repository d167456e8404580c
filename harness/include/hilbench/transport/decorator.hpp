#pragma once
// TransportDecorator: a transport that wraps another one and, by default, passes everything
// through. Fault injection (FaultyTransport), latency or tracing decorators derive from it and
// override only the do_* primitives they change.
//
// - Reads and writes go through the wrapped transport's public primitives (read_some,
//   write_some), so the wrapped transport's chunk sink still records the wire, while this
//   transport's own sink records what the decorator passed on to its caller.
// - name() is label + "(" + wrapped name + ")", e.g. "pass(serial:/dev/ttyUSB0)": every error
//   this transport raises and every journaled exchange through it shows that a decorator sat
//   in the path (evidence must not pass faulted traffic off as the plain port). Errors raised
//   by the wrapped transport itself keep the wrapped name.
// - serial_line() is the wrapped transport's line (nullptr if it has none), so protocols keep
//   their character timing through the decorator.
// - Ownership: shares the wrapped transport (std::shared_ptr); the wrapped one may be used
//   directly too, but not from another thread at the same time (Transport is not
//   thread-safe).
#include <memory>
#include <string>

#include "hilbench/transport/transport.hpp"

namespace hilbench {

class TransportDecorator : public Transport {
 public:
  /// Throws ConfigError if `inner` is null.
  explicit TransportDecorator(std::shared_ptr<Transport> inner, std::string label = "pass");

  std::string name() const override;
  SerialLine* serial_line() noexcept override { return inner_->serial_line(); }

  const std::shared_ptr<Transport>& inner() const noexcept { return inner_; }
  const std::string& label() const noexcept { return label_; }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;
  bool peer_gone() override { return inner_->connection_lost(); }

 private:
  std::shared_ptr<Transport> inner_;
  std::string label_;
};

}  // namespace hilbench
