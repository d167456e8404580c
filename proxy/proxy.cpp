#include "proxy.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "hilbench/clock.hpp"

namespace hilbench::proxy {

using asio::ip::tcp;
using faults::FaultEngine;

namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
// One read's worth; also what one write hands over from the engine.
constexpr std::size_t buffer_bytes = 64 * 1024;
// With a plan, a direction stops reading while this much is held (a bandwidth fault must not
// buffer a fast sender without bound); TCP flow control then slows the sender.
constexpr std::size_t max_held_bytes = 4 * 1024 * 1024;

asio::steady_timer::time_point at_ns(std::int64_t monotonic) {
  return asio::steady_timer::time_point(std::chrono::nanoseconds(monotonic));
}

std::size_t count_entries(const char* directory) {
  std::error_code error;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error))
    ++n;
  return n;
}

bool is_reset(const std::error_code& error) {
  return error == asio::error::connection_reset || error == asio::error::broken_pipe;
}

}  // namespace

// One client connection and its upstream connection.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Proxy& proxy, std::uint64_t id, tcp::socket client)
      : proxy_(proxy),
        id_(id),
        client_(std::move(client)),
        upstream_(client_.get_executor()),
        event_timer_(client_.get_executor()),
        to_device_(Direction::tx, client_, upstream_),
        to_host_(Direction::rx, upstream_, client_) {}

  void start(const tcp::resolver::results_type& upstream) {
    std::error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    check_faults();
    if (closed_) return;
    asio::async_connect(upstream_, upstream,
                        [self = shared_from_this()](std::error_code error, const tcp::endpoint&) {
                          self->connected(error);
                        });
  }

  void set_engine(std::unique_ptr<FaultEngine> engine) {
    if (closed_) return;
    engine_ = std::move(engine);
    check_faults();
    arm_event_timer();
  }

  /// Drops the engine; what it held goes out now. Returns how many bytes that was.
  std::size_t drop_engine() {
    if (!engine_) return 0;
    std::size_t flushed = 0;
    for (Side* s : {&to_device_, &to_host_}) {
      const std::size_t n = engine_->held(s->direction);
      if (n > 0) {
        const std::size_t at = s->backlog.size();
        s->backlog.resize(at + n);
        engine_->copy_front(s->direction, std::span(s->backlog).subspan(at));
        engine_->release(s->direction, n, monotonic_ns());
        flushed += n;
      }
      s->release_timer.cancel();
    }
    engine_.reset();
    event_timer_.cancel();
    pump(to_device_);
    pump(to_host_);
    return flushed;
  }

  /// Bytes the engine holds back, both directions.
  std::size_t held() const {
    return engine_ ? engine_->held(Direction::tx) + engine_->held(Direction::rx) : 0;
  }

  /// Closes both sides (reset: with an RST instead of a FIN).
  void finish(bool reset_client, bool reset_upstream) {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    if (reset_client) client_.set_option(asio::socket_base::linger(true, 0), ignored);
    if (reset_upstream) upstream_.set_option(asio::socket_base::linger(true, 0), ignored);
    client_.close(ignored);
    upstream_.close(ignored);
    event_timer_.cancel();
    for (Side* s : {&to_device_, &to_host_}) {
      s->release_timer.cancel();
      s->close_timer.cancel();
    }
    proxy_.connection_closed(id_);  // may drop the last reference but a handler's
  }

 private:
  // One direction: reads `from`, writes `to`.
  struct Side {
    Side(Direction d, tcp::socket& source, tcp::socket& sink)
        : direction(d),
          from(&source),
          to(&sink),
          in(buffer_bytes),
          release_timer(source.get_executor()),
          close_timer(source.get_executor()) {}
    Direction direction;
    tcp::socket* from;
    tcp::socket* to;
    std::vector<std::uint8_t> in;       ///< the read buffer
    std::size_t in_flight = 0;          ///< no plan: bytes of `in` being written directly
    std::vector<std::uint8_t> out;      ///< being written (engine or backlog)
    std::vector<std::uint8_t> backlog;  ///< due now, after the write in flight
    bool reading = false;
    bool writing = false;
    bool eof = false;       ///< `from` half-closed
    bool shutting = false;  ///< passing the half-close on (maybe after slow_close's delay)
    bool shut = false;      ///< `to` half-closed
    asio::steady_timer release_timer;
    asio::steady_timer close_timer;
  };

  void connected(std::error_code error) {
    if (closed_) return;
    if (error) {
      proxy_.log()(fmt::format("connection {}: upstream: {}", id_, error.message()));
      finish(false, false);
      return;
    }
    std::error_code ignored;
    upstream_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    read(to_device_);
    read(to_host_);
  }

  // Connection faults whose time has come act on the sockets.
  void check_faults() {
    if (!engine_ || closed_) return;
    engine_->check_connection(monotonic_ns());
    if (engine_->closed()) fault_close();
  }

  void fault_close() {
    proxy_.log()(fmt::format("connection {}: {}", id_, *engine_->closed()));
    finish(engine_->closed_by_reset(), false);
  }

  void arm_event_timer() {
    if (!engine_ || closed_) return;
    const std::int64_t next = engine_->next_event_ns(monotonic_ns());
    if (next == never) {
      event_timer_.cancel();
      return;
    }
    event_timer_.expires_at(at_ns(next));
    event_timer_.async_wait([self = shared_from_this()](std::error_code error) {
      if (error || self->closed_) return;
      self->check_faults();
      self->pump(self->to_device_);  // a window edge may let a held close pass
      self->pump(self->to_host_);
      self->arm_event_timer();
    });
  }

  void read(Side& s) {
    if (closed_ || !connected_ || s.reading || s.eof || s.in_flight > 0) return;
    const std::size_t held = s.backlog.size() + (engine_ ? engine_->held(s.direction) : 0);
    if (held >= max_held_bytes) return;  // pump() reads again once it drained
    s.reading = true;
    s.from->async_read_some(asio::buffer(s.in),
                            [self = shared_from_this(), &s](std::error_code error, std::size_t n) {
                              s.reading = false;
                              if (self->closed_) return;
                              if (error == asio::error::eof) {
                                s.eof = true;
                                self->pump(s);
                              } else if (error) {
                                self->broken(*s.from, error);
                              } else {
                                self->received(s, n);
                              }
                            });
  }

  // A socket failed: both sides close; a reset from one side resets the other.
  void broken(const tcp::socket& culprit, const std::error_code& error) {
    proxy_.log()(fmt::format("connection {}: {}: {}", id_,
                             &culprit == &client_ ? "client" : "upstream", error.message()));
    const bool reset = is_reset(error);
    finish(reset && &culprit == &upstream_, reset && &culprit == &client_);
  }

  void received(Side& s, std::size_t n) {
    if (engine_) {
      const std::int64_t now = monotonic_ns();
      engine_->check_connection(now);
      if (engine_->closed()) {
        fault_close();
        return;
      }
      engine_->push(s.direction, std::span(s.in).first(n), now);
      pump(s);
      read(s);
    } else if (!s.writing && s.backlog.empty()) {
      // No plan: straight from the read buffer, which is not read into until written.
      s.in_flight = n;
      s.writing = true;
      asio::async_write(*s.to, asio::buffer(s.in.data(), n),
                        [self = shared_from_this(), &s](std::error_code error, std::size_t m) {
                          s.writing = false;
                          s.in_flight = 0;
                          self->written(s, error, m);
                        });
    } else {
      s.backlog.insert(s.backlog.end(), s.in.begin(),
                       s.in.begin() + static_cast<std::ptrdiff_t>(n));
      read(s);
    }
  }

  void write_out(Side& s) {
    s.writing = true;
    asio::async_write(*s.to, asio::buffer(s.out),
                      [self = shared_from_this(), &s](std::error_code error, std::size_t m) {
                        s.writing = false;
                        s.out.clear();
                        self->written(s, error, m);
                      });
  }

  void written(Side& s, const std::error_code& error, std::size_t n) {
    if (closed_) return;
    if (error) {
      broken(*s.to, error);
      return;
    }
    proxy_.count_relayed(s.direction, n);
    pump(s);
  }

  // Moves the direction on: writes what is due, waits for what is held, passes a close on.
  void pump(Side& s) {
    if (closed_ || !connected_ || s.writing) return;
    const std::int64_t now = monotonic_ns();
    if (!s.backlog.empty()) {
      s.out.swap(s.backlog);
      write_out(s);
      read(s);
      return;
    }
    if (engine_) {
      engine_->check_connection(now);
      if (engine_->closed()) {
        fault_close();
        return;
      }
      const std::size_t n = engine_->releasable(s.direction, now, buffer_bytes);
      if (n > 0) {
        s.out.resize(n);
        engine_->copy_front(s.direction, s.out);
        engine_->release(s.direction, n, now);
        write_out(s);
        read(s);
        return;
      }
      if (engine_->held(s.direction) > 0) {
        s.release_timer.expires_at(at_ns(engine_->next_release_ns(s.direction)));
        s.release_timer.async_wait([self = shared_from_this(), &s](std::error_code error) {
          if (!error) self->pump(s);
        });
        read(s);
        return;
      }
      if (engine_->close_if_drained(s.direction)) {
        fault_close();
        return;
      }
    }
    if (s.eof) {
      // A pulled cable passes no close either: it goes when the window ends (event timer)
      // or the plan is removed.
      if (!engine_ || !engine_->blocked(s.direction, now)) pass_close(s);
      return;
    }
    read(s);
  }

  // The source half-closed and everything before it went: half-close the sink.
  void pass_close(Side& s) {
    if (s.shutting) return;
    s.shutting = true;
    const auto delay =
        engine_ ? engine_->close_delay(s.direction, monotonic_ns()) : std::chrono::nanoseconds{0};
    if (delay.count() == 0) {
      shut(s);
      return;
    }
    s.close_timer.expires_after(delay);
    s.close_timer.async_wait([self = shared_from_this(), &s](std::error_code error) {
      if (!error && !self->closed_) self->shut(s);
    });
  }

  void shut(Side& s) {
    std::error_code ignored;
    s.to->shutdown(tcp::socket::shutdown_send, ignored);
    s.shut = true;
    if (to_device_.shut && to_host_.shut) finish(false, false);
  }

  Proxy& proxy_;
  std::uint64_t id_;
  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer event_timer_;  ///< the engine's next connection event
  Side to_device_;
  Side to_host_;
  std::unique_ptr<FaultEngine> engine_;
  bool connected_ = false;
  bool closed_ = false;
};

Proxy::Proxy(asio::io_context& io, const tcp::endpoint& listen,
             tcp::resolver::results_type upstream, LineSink emit, const emu::Logger& log)
    : io_(io),
      acceptor_(io, listen, /*reuse_address=*/true),
      upstream_(std::move(upstream)),
      emit_(std::move(emit)),
      log_(&log) {
  accept_next();
}

Proxy::~Proxy() { stop(); }

void Proxy::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [id, connection] : connections_) open.push_back(connection);
  for (auto& connection : open) connection->finish(false, false);
}

void Proxy::accept_next() {
  acceptor_.async_accept([this](std::error_code error, tcp::socket client) {
    if (error == asio::error::operation_aborted) return;
    if (!error) {
      const std::uint64_t id = ++accepted_;
      auto connection = std::make_shared<Connection>(*this, id, std::move(client));
      connections_.emplace(id, connection);
      connection->set_engine(make_engine(id));
      connection->start(upstream_);
    } else {
      (*log_)(fmt::format("accept: {}", error.message()));
    }
    accept_next();
  });
}

std::unique_ptr<FaultEngine> Proxy::make_engine(std::uint64_t connection) {
  if (!plan_) return nullptr;
  // The proxy bounds the records of the whole plan itself (fault_applied).
  return std::make_unique<FaultEngine>(
      *plan_, plan_applied_ns_,
      [this, connection](const faults::AppliedFault& applied) {
        fault_applied(connection, applied);
      },
      std::numeric_limits<std::size_t>::max());
}

void Proxy::fault_applied(std::uint64_t connection, const faults::AppliedFault& applied) {
  ++plan_faults_;
  if (plan_faults_ > FaultEngine::default_max_records) {
    ++plan_suppressed_;
    return;
  }
  nlohmann::ordered_json line{{"event", "fault_applied"}, {"connection", connection}};
  line.update(faults::to_json(applied));
  emit_(line);
}

nlohmann::ordered_json Proxy::control(const nlohmann::json& request) {
  const auto op = request.find("op");
  if (op == request.end() || !op->is_string())
    throw std::invalid_argument(
        R"(a control request names its "op": apply_plan, remove_plan or stats)");
  const std::string name = op->get<std::string>();
  if (name == "apply_plan") return apply_plan(request);
  if (name == "remove_plan") return remove_plan();
  if (name == "stats") return stats();
  throw std::invalid_argument(
      fmt::format(R"(unknown op "{}"; expected apply_plan, remove_plan or stats)", name));
}

nlohmann::ordered_json Proxy::apply_plan(const nlohmann::json& request) {
  const auto plan = request.find("plan");
  if (plan == request.end() || !plan->is_object())
    throw std::invalid_argument(R"(apply_plan: "plan" must be a fault plan object)");
  faults::FaultPlan parsed = faults::parse_fault_plan(*plan, "apply_plan");  // ConfigError: the key
  if (plan_)
    throw std::invalid_argument("apply_plan: a plan is already applied (remove_plan first)");
  plan_ = std::move(parsed);
  plan_applied_ns_ = monotonic_ns();
  plan_faults_ = 0;
  plan_suppressed_ = 0;
  // A snapshot: a connection a fault closes at once leaves the map meanwhile.
  const std::vector<std::pair<std::uint64_t, std::shared_ptr<Connection>>> open(
      connections_.begin(), connections_.end());
  for (const auto& [id, connection] : open) connection->set_engine(make_engine(id));
  return {{"event", "plan_applied"}, {"plan", faults::to_json(*plan_)}};
}

nlohmann::ordered_json Proxy::remove_plan() {
  if (!plan_) throw std::invalid_argument("remove_plan: no plan is applied");
  std::size_t flushed = 0;
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [id, connection] : connections_) open.push_back(connection);
  for (auto& connection : open) flushed += connection->drop_engine();
  plan_.reset();
  return {{"event", "plan_removed"},
          {"faults_applied", plan_faults_},
          {"suppressed", plan_suppressed_},
          {"held_bytes_flushed", flushed}};
}

nlohmann::ordered_json Proxy::stats() const {
  std::size_t held = 0;
  for (const auto& [id, connection] : connections_) held += connection->held();
  return {{"event", "stats"},
          {"connections", connections_.size()},
          {"accepted", accepted_},
          {"plan", plan_.has_value()},
          {"held_bytes", held},
          {"bytes", {{"to_device", to_device_bytes_}, {"to_host", to_host_bytes_}}},
          {"fds", count_entries("/proc/self/fd")},
          {"threads", count_entries("/proc/self/task")}};
}

}  // namespace hilbench::proxy
