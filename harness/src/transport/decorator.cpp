#include "hilbench/transport/decorator.hpp"

#include "hilbench/errors.hpp"

namespace hilbench {

TransportDecorator::TransportDecorator(std::shared_ptr<Transport> inner, std::string label)
    : inner_(std::move(inner)), label_(std::move(label)) {
  if (!inner_) throw ConfigError({label_, "wrap", std::nullopt}, "no transport to wrap");
}

std::string TransportDecorator::name() const { return label_ + "(" + inner_->name() + ")"; }

std::size_t TransportDecorator::do_read(std::span<std::uint8_t> buf, Deadline deadline) {
  return inner_->read_some(buf, deadline);
}

std::size_t TransportDecorator::do_write(std::span<const std::uint8_t> bytes, Deadline deadline) {
  return inner_->write_some(bytes, deadline);
}

void TransportDecorator::do_discard_input() { inner_->discard_input(); }

}  // namespace hilbench
