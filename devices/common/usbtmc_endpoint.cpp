#include "common/usbtmc_endpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <future>

#include "common/umockdev_usb.hpp"
#include "common/usbtmc_function.hpp"

namespace hilbench::emu::scpi {
namespace {

bool has(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

constexpr auto engine_wait = std::chrono::seconds(2);

}  // namespace

struct UsbtmcEndpoint::Impl final : UsbFunction {
  asio::io_context& io;
  Engine& engine;
  UsbFaceOptions options;
  std::function<void(const std::string&)> log;
  usbtmc::UsbtmcFunction function;
  std::unique_ptr<UmockdevUsbDevice> device;
  asio::steady_timer replug_timer;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  bool unplug_armed = false;
  bool unplug_pending = false;
  bool last_was_measure = false;

  Impl(asio::io_context& context, Engine& e, UsbFaceOptions o,
       std::function<void(const std::string&)> l)
      : io(context),
        engine(e),
        options(std::move(o)),
        log(std::move(l)),
        function(usbtmc::FunctionOptions{
            usbtmc::UsbtmcDefects{has(options.defects, "usbtmc_tag_not_echoed"),
                                  has(options.defects, "usbtmc_eom_never_set"),
                                  has(options.defects, "usbtmc_stall_until_abort"),
                                  has(options.defects, "usbtmc_wrong_capabilities")},
            [this](const std::string& message) { return execute(message); },
            [this] { return status_byte(); }}),
        replug_timer(context),
        unplug_armed(has(options.defects, "usb_unplug_mid_read")) {}

  /// Runs `work` on the I/O thread (the engine's) and waits for it; nullopt if the loop is
  /// gone or does not answer in time (the process is stopping).
  template <class T>
  std::optional<T> on_io_thread(std::function<T()> work) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    asio::post(io, [promise, work = std::move(work)] { promise->set_value(work()); });
    if (result.wait_for(engine_wait) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  std::optional<std::string> execute(const std::string& message) {
    std::string upper(message);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    last_was_measure = upper.find("MEAS") != std::string::npos;
    auto reply = on_io_thread<std::optional<std::string>>(
        [this, message] { return engine.handle(message); });
    return reply ? *reply : std::nullopt;
  }

  std::uint8_t status_byte() {
    auto stb = on_io_thread<int>([this] { return engine.status_byte(); });
    return static_cast<std::uint8_t>(stb.value_or(0));
  }

  // UsbFunction (called under the device's lock, on umockdev's worker thread)
  std::optional<std::vector<std::uint8_t>> control(std::uint8_t request_type, std::uint8_t request,
                                                   std::uint16_t value, std::uint16_t index,
                                                   std::uint16_t length) override {
    return function.control(request_type, request, value, index, length);
  }
  bool bulk_out(std::span<const std::uint8_t> data) override { return function.bulk_out(data); }
  std::optional<std::vector<std::uint8_t>> bulk_in(std::size_t max_bytes) override {
    if (unplug_armed && last_was_measure && function.response_requested()) {
      unplug_armed = false;
      unplug_pending = true;  // the Bulk-IN URB waits: the device vanishes under it
      return std::nullopt;
    }
    return function.bulk_in(max_bytes);
  }
  std::optional<std::vector<std::uint8_t>> interrupt_in(std::size_t) override {
    return function.interrupt_in();
  }
  void plugged_in() override { function.reset(); }
  bool unplug_now() override {
    const bool now = unplug_pending;
    unplug_pending = false;
    return now;
  }

  void unplugged() {
    asio::post(io, [this, weak = std::weak_ptr<int>(alive)] {
      if (weak.expired()) return;
      log("usb: unplugged while a MEASure answer was being read (defect usb_unplug_mid_read)");
      device->unplug();
      replug_timer.expires_after(options.replug_after);
      replug_timer.async_wait([this, weak](std::error_code error) {
        if (error || weak.expired()) return;
        device->replug();
        log(fmt::format("usb: plugged in again as {}", device->device_path()));
      });
    });
  }
};

UsbtmcEndpoint::UsbtmcEndpoint(asio::io_context& io, Engine& engine, UsbFaceOptions options,
                               std::function<void(const std::string&)> log)
    : impl_(std::make_unique<Impl>(io, engine, std::move(options), std::move(log))) {
  UsbDescription description;
  description.manufacturer = impl_->options.manufacturer;
  description.product = impl_->options.product;
  description.serial = impl_->options.serial;
  impl_->device = std::make_unique<UmockdevUsbDevice>(description, *impl_);
  impl_->device->on_unplugged([impl = impl_.get()] { impl->unplugged(); });
}

UsbtmcEndpoint::~UsbtmcEndpoint() {
  impl_->alive.reset();
  impl_->device.reset();
}

nlohmann::ordered_json UsbtmcEndpoint::describe() const {
  const UmockdevUsbDevice& device = *impl_->device;
  const UsbDescription defaults;
  return {{"umockdev_dir", device.root_dir()},
          {"device_path", device.device_path()},
          {"vid", fmt::format("{:04x}", defaults.vendor_id)},
          {"pid", fmt::format("{:04x}", defaults.product_id)},
          {"serial", impl_->options.serial},
          {"bus", device.bus()},
          {"address", device.address()},
          {"path", device.port_path()},
          {"resource", fmt::format("USB0::0x{:04X}::0x{:04X}::{}::INSTR", defaults.vendor_id,
                                   defaults.product_id, impl_->options.serial)}};
}

}  // namespace hilbench::emu::scpi
