#include "common/scpi_instrument.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <deque>
#include <optional>

#include "common/scpi_serial.hpp"
#include "common/usbtmc_endpoint.hpp"

namespace hilbench::emu::scpi {

namespace {

// *IDN? fields travel comma-separated in one line: no comma, no control characters.
std::string read_idn_field(TableReader& reader, std::string_view key) {
  std::string text = reader.required_string(key);
  if (text.empty()) reader.fail(key, reader.table().get(key), "expected a non-empty string");
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ',' || c == ';' || u < 0x20 || u == 0x7F)
      reader.fail(key, reader.table().get(key),
                  "expected printable text without ',' or ';' (an *IDN? field)");
  }
  return text;
}

}  // namespace

CommonProfile read_common_profile(TableReader& top, const std::string& file) {
  CommonProfile profile;
  profile.source = file;
  profile.schema = static_cast<int>(top.required_integer("schema", 1, 1));
  if (const toml::table* table = top.optional_table("device")) {
    TableReader reader(file, *table, "device");
    profile.kind = reader.required_string("kind");
    profile.name = reader.required_string("name");
    if (profile.name.empty())
      reader.fail("name", table->get("name"), "expected a non-empty string");
    profile.description = reader.optional_string("description");
    reader.finish("kind, name, description");
  } else {
    top.fail("device", nullptr, "missing; expected a [device] table");
  }
  if (const toml::table* table = top.optional_table("identity")) {
    TableReader reader(file, *table, "identity");
    profile.manufacturer = read_idn_field(reader, "manufacturer");
    profile.model = read_idn_field(reader, "model");
    profile.serial_number = read_idn_field(reader, "serial_number");
    profile.firmware = read_idn_field(reader, "firmware");
    reader.finish("manufacturer, model, serial_number, firmware");
  } else {
    top.fail("identity", nullptr, "missing; expected an [identity] table");
  }
  if (const toml::table* table = top.optional_table("scpi")) {
    TableReader reader(file, *table, "scpi");
    profile.error_queue_size =
        static_cast<std::size_t>(reader.optional_integer("error_queue_size", 1, 100, 10));
    reader.finish("error_queue_size");
  }
  if (const toml::table* table = top.optional_table("serial")) {
    TableReader reader(file, *table, "serial");
    profile.serial = read_serial_settings(reader);
  }
  return profile;
}

nlohmann::ordered_json common_profile_json(const CommonProfile& profile) {
  nlohmann::ordered_json out;
  out["schema"] = profile.schema;
  out["device"] = {
      {"kind", profile.kind}, {"name", profile.name}, {"description", profile.description}};
  out["identity"] = {{"manufacturer", profile.manufacturer},
                     {"model", profile.model},
                     {"serial_number", profile.serial_number},
                     {"firmware", profile.firmware}};
  out["serial"] = profile.serial ? nlohmann::ordered_json(to_json(*profile.serial))
                                 : nlohmann::ordered_json(nullptr);
  out["scpi"] = {{"error_queue_size", profile.error_queue_size}, {"terminator", "\n"}};
  return out;
}

EngineOptions engine_options(const CommonProfile& profile) {
  EngineOptions options;
  options.manufacturer = profile.manufacturer;
  options.model = profile.model;
  options.serial_number = profile.serial_number;
  options.firmware = profile.firmware;
  options.error_queue_size = profile.error_queue_size;
  return options;
}

// ---- TCP ------------------------------------------------------------------------------------

class TcpEndpoint::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, Engine& engine, std::function<void(const std::string&)> log)
      : socket_(std::move(socket)), engine_(engine), log_(std::move(log)) {}

  void start() { read_next(); }

  void close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    if (!reason.empty()) log_(fmt::format("tcp client disconnected: {}", reason));
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void read_next() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](std::error_code error, std::size_t count) {
                              self->on_read(error, count);
                            });
  }

  void on_read(std::error_code error, std::size_t count) {
    if (closed_) return;
    if (error) {
      close(error == asio::error::eof || error == asio::error::connection_reset ? ""
                                                                                : error.message());
      return;
    }
    for (std::size_t i = 0; i < count; ++i) {
      const char c = static_cast<char>(buffer_[i]);
      if (c != '\n') {
        message_ += c;
        continue;
      }
      if (!message_.empty() && message_.back() == '\r') message_.pop_back();
      if (auto response = engine_.handle(message_)) send(*response + "\n");
      message_.clear();
      if (closed_) return;
    }
    if (message_.size() > max_message_bytes) {
      close(fmt::format("program message longer than {} bytes", max_message_bytes));
      return;
    }
    read_next();
  }

  void send(std::string text) {
    replies_.push_back(std::move(text));
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(replies_.front()),
                      [self = shared_from_this()](std::error_code error, std::size_t) {
                        if (self->closed_) return;
                        if (error) {
                          self->close(error.message());
                          return;
                        }
                        self->replies_.pop_front();
                        self->writing_ = false;
                        if (!self->replies_.empty()) self->write_next();
                      });
  }

  asio::ip::tcp::socket socket_;
  Engine& engine_;
  std::function<void(const std::string&)> log_;
  std::array<std::uint8_t, 4096> buffer_{};
  std::string message_;
  std::deque<std::string> replies_;
  bool writing_ = false;
  bool closed_ = false;
};

TcpEndpoint::TcpEndpoint(asio::io_context& io, Engine& engine,
                         const asio::ip::tcp::endpoint& listen_on,
                         std::function<void(const std::string&)> log)
    : acceptor_(io), engine_(engine), log_(std::move(log)) {
  acceptor_.open(listen_on.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(listen_on);
  acceptor_.listen();
  accept_next();
}

TcpEndpoint::~TcpEndpoint() { close(); }

asio::ip::tcp::endpoint TcpEndpoint::local_endpoint() const { return acceptor_.local_endpoint(); }

void TcpEndpoint::close() {
  std::error_code ignored;
  acceptor_.close(ignored);
  for (auto& weak : sessions_)
    if (auto session = weak.lock()) session->close("");
  sessions_.clear();
}

void TcpEndpoint::accept_next() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code error,
                                                                    asio::ip::tcp::socket socket) {
    if (alive.expired() || !acceptor_.is_open()) return;
    if (error) {
      log_(fmt::format("tcp accept failed: {}", error.message()));
      return;
    }
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(std::move(socket), engine_, log_);
    std::erase_if(sessions_, [](const auto& weak) { return weak.expired(); });
    sessions_.push_back(session);
    session->start();
    accept_next();
  });
}

// ---- the process ----------------------------------------------------------------------------

int serve(std::string_view kind, const CommonProfile& profile, Engine& engine,
          const std::vector<std::string>& defects, const EndpointOptions& options, Logger& log) {
  const std::string& name = profile.name;
  const bool serves_serial = profile.serial.has_value() && !options.no_serial;
  if (options.no_tcp && !options.usb && !serves_serial) {
    log("a SCPI instrument serves TCP, USB (--usb) and/or, with a [serial] table, a serial "
        "port; this one would serve nothing");
    return exit_code::usage;
  }
  asio::io_context io;
  auto shut_down = [&](const std::string& why) {
    log(fmt::format("stopping: {}", why));
    io.stop();
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code error, int signal_number) {
    if (!error) shut_down(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  std::optional<TcpEndpoint> tcp;
  std::optional<UsbtmcEndpoint> usb;
  hilbench::emu::SerialEndpoint serial_port;  // declared before the session that uses its fd
  std::optional<SerialSession> serial;
  nlohmann::ordered_json ready;
  ready["event"] = "ready";
  ready["pid"] = ::getpid();
  ready["name"] = name;
  ready["kind"] = kind;
  try {
    if (options.no_tcp) {
      ready["tcp"] = nullptr;
    } else {
      const asio::ip::tcp::endpoint listen_on{asio::ip::make_address(options.tcp_host),
                                              static_cast<std::uint16_t>(options.tcp_port)};
      tcp.emplace(io, engine, listen_on, [&log](const std::string& message) { log(message); });
      const auto bound = tcp->local_endpoint();
      ready["tcp"] = {{"host", bound.address().to_string()}, {"port", bound.port()}};
    }
  } catch (const std::exception& error) {
    log(fmt::format("cannot set up the endpoints: {}", error.what()));
    return exit_code::failure;
  }
  if (serves_serial) {
    try {
      serial_port = open_serial_endpoint(options, *profile.serial, name);
      serial.emplace(io, engine, serial_port.device_fd, serial_port.presenter_link,
                     [&log](const std::string& message) { log(message); });
      ready["serial"] = serial_port.description;
      ready["serial"]["protocol"] = "scpi";
    } catch (const std::exception& error) {
      log(fmt::format("cannot set up the serial endpoint: {}", error.what()));
      return exit_code::failure;
    }
  } else {
    ready["serial"] = nullptr;
  }
  if (options.usb) {
    try {
      usb.emplace(io, engine,
                  UsbFaceOptions{profile.manufacturer, profile.model, profile.serial_number,
                                 defects, std::chrono::milliseconds{300}},
                  [&log](const std::string& message) { log(message); });
      ready["usb"] = usb->describe();
    } catch (const std::exception& error) {
      log(fmt::format("cannot present the USB device: {}", error.what()));
      return exit_code::failure;
    }
  } else {
    ready["usb"] = nullptr;
  }
  ready["defects"] = defects;
  // The SCPI kinds' knobs shape their engine and USB function when they are built (the USB
  // side on umockdev's worker thread): switching them live would race, so they are refused.
  StdinWatch stdin_watch(
      io, [&] { shut_down("stdin closed"); }, log,
      [&](const nlohmann::json&) -> nlohmann::ordered_json {
        throw std::invalid_argument(fmt::format(
            "{}: the knobs of a {} are fixed when its emulator starts; restart it with --defect",
            name, kind));
      });
  if (!write_ready_line(ready)) {
    log("cannot write the ready line to stdout");
    return exit_code::failure;
  }
  log(fmt::format("ready: {}", ready.dump()));
  try {
    io.run();
  } catch (const std::exception& error) {
    log(fmt::format("I/O loop failed: {}", error.what()));
    return exit_code::failure;
  }
  if (tcp) tcp->close();
  if (serial) serial->close();
  usb.reset();
  return exit_code::ok;
}

}  // namespace hilbench::emu::scpi
