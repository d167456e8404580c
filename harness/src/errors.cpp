#include "hilbench/errors.hpp"

#include <fmt/format.h>

namespace hilbench {
namespace {

std::string format_budget(std::chrono::nanoseconds budget) {
  using namespace std::chrono;
  if (budget >= seconds(1) && budget % milliseconds(1) == nanoseconds::zero())
    return fmt::format("{:.3f} s", duration<double>(budget).count());
  if (budget >= milliseconds(1))
    return fmt::format("{:.3f} ms", duration<double, std::milli>(budget).count());
  return fmt::format("{} us", duration_cast<microseconds>(budget).count());
}

std::string compose(const ErrorContext& context, const std::string& detail) {
  std::string message;
  if (!context.device.empty()) message += context.device + ": ";
  if (!context.operation.empty()) message += context.operation + ": ";
  message += detail;
  if (context.deadline) message += fmt::format(" (deadline {})", format_budget(*context.deadline));
  return message;
}

}  // namespace

HarnessError::HarnessError(ErrorContext context, const std::string& detail)
    : std::runtime_error(compose(context, detail)), context_(std::move(context)), detail_(detail) {}

DeviceError::DeviceError(ErrorContext context, std::string protocol, int code,
                         const std::string& detail)
    : HarnessError(std::move(context), detail), protocol_(std::move(protocol)), code_(code) {}

}  // namespace hilbench
