// TcpTransport over real loopback sockets: the peer is a thread in this test.
#define BOOST_TEST_MODULE test_tcp_transport
#include <sys/socket.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/transport/tcp.hpp"
#include "loopback_socket.hpp"

using namespace std::chrono_literals;
using hilbench::Bytes;
using hilbench::Chunk;
using hilbench::Deadline;
using hilbench::Direction;
using hilbench::TcpSettings;
using hilbench::TcpTransport;
using hilbench::test::LoopbackListener;

namespace {

Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

TcpSettings loopback(std::uint16_t port) {
  TcpSettings settings;
  settings.host = "127.0.0.1";
  settings.port = port;
  settings.connect_timeout = 2s;
  return settings;
}

// Milliseconds since `start`, as a plain number Boost.Test can print.
double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

bool message_contains(const std::exception& error, const std::string& part) {
  const bool found = std::string(error.what()).find(part) != std::string::npos;
  if (!found) BOOST_TEST_MESSAGE("message '" << error.what() << "' lacks '" << part << "'");
  return found;
}

// Runs `serve` on the accepted connection in a thread; rethrows its failure on join.
class PeerThread {
 public:
  template <class Serve>
  PeerThread(LoopbackListener& listener, Serve serve)
      : done_(std::async(std::launch::async, [&listener, serve]() mutable {
          hilbench::UniqueFd peer = listener.accept();
          serve(peer);
        })) {}
  ~PeerThread() {
    if (done_.valid()) done_.wait();
  }
  void join() { done_.get(); }

 private:
  std::future<void> done_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(echo_round_trip_timestamps_every_chunk) {
  LoopbackListener listener;
  PeerThread echo(listener, [](hilbench::UniqueFd& peer) {
    while (true) {
      const Bytes got = hilbench::test::receive_exact(peer.get(), 1);
      if (got.empty()) return;  // client closed
      hilbench::test::send_all(peer.get(), got);
    }
  });

  std::vector<Chunk> chunks;
  const std::int64_t before_ns = hilbench::monotonic_ns();
  {
    TcpTransport transport(loopback(listener.port()));
    BOOST_TEST(transport.name() == "tcp:127.0.0.1:" + std::to_string(listener.port()));
    transport.set_chunk_sink([&chunks](const Chunk& chunk) { chunks.push_back(chunk); });
    transport.write(bytes_of("hello"), Deadline::after(1s));
    BOOST_TEST(text_of(transport.read_exact(5, Deadline::after(2s))) == "hello");
  }
  const std::int64_t after_ns = hilbench::monotonic_ns();
  echo.join();

  BOOST_REQUIRE(!chunks.empty());
  BOOST_TEST((chunks.front().direction == Direction::tx));
  BOOST_TEST(text_of(chunks.front().bytes) == "hello");
  std::string received;
  std::int64_t previous_ns = before_ns;
  for (const Chunk& chunk : chunks) {
    BOOST_TEST(chunk.monotonic_ns >= previous_ns);
    BOOST_TEST(chunk.monotonic_ns <= after_ns);
    previous_ns = chunk.monotonic_ns;
    if (chunk.direction == Direction::rx) received += text_of(chunk.bytes);
  }
  BOOST_TEST(received == "hello");
}

BOOST_AUTO_TEST_CASE(localhost_resolves_and_connects) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), "hi");
  });
  TcpSettings settings = loopback(listener.port());
  settings.host = "localhost";  // may resolve to ::1 first; the IPv4 address must then be tried
  TcpTransport transport(settings);
  BOOST_TEST(text_of(transport.read_exact(2, Deadline::after(2s))) == "hi");
  peer.join();
}

BOOST_AUTO_TEST_CASE(connect_refused_names_host_port_and_reason) {
  const LoopbackListener closed_port(/*listening=*/false);  // bound: nobody else can take it
  const std::string endpoint = "127.0.0.1:" + std::to_string(closed_port.port());
  BOOST_CHECK_EXCEPTION(TcpTransport{loopback(closed_port.port())}, hilbench::TransportError,
                        [&](const hilbench::TransportError& error) {
                          return message_contains(error, endpoint) &&
                                 message_contains(error, "Connection refused") &&
                                 error.operation() == "connect" &&
                                 dynamic_cast<const hilbench::PortNotFound*>(&error) == nullptr;
                        });
}

BOOST_AUTO_TEST_CASE(unresolvable_host_is_port_not_found) {
  TcpSettings settings = loopback(502);
  settings.host = "no-such-host.invalid";  // RFC 6761: guaranteed never to resolve
  BOOST_CHECK_EXCEPTION(TcpTransport{settings}, hilbench::PortNotFound,
                        [](const hilbench::PortNotFound& error) {
                          return message_contains(error, "no-such-host.invalid");
                        });
}

BOOST_AUTO_TEST_CASE(unanswered_connect_times_out_at_the_deadline) {
  // A listener with a full accept queue drops further SYNs: the connect gets no answer.
  LoopbackListener listener(/*listening=*/true, /*backlog=*/0);
  std::vector<hilbench::UniqueFd> fillers;
  for (int filler = 0; filler < 2; ++filler) {
    fillers.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const sockaddr_in address = hilbench::test::loopback_address(listener.port());
    ::connect(fillers.back().get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  }
  TcpSettings settings = loopback(listener.port());
  settings.connect_timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(TcpTransport{settings}, hilbench::DeviceTimeout,
                        [](const hilbench::DeviceTimeout& error) {
                          return error.deadline() == std::chrono::nanoseconds(300ms) &&
                                 message_contains(error, "no answer");
                        });
  const double elapsed_ms = milliseconds_since(started);
  BOOST_TEST(elapsed_ms >= 300.0);
  BOOST_TEST(elapsed_ms < 1300.0);
}

BOOST_AUTO_TEST_CASE(read_timeout_honours_the_deadline_and_counts_partial_bytes) {
  LoopbackListener listener;
  std::promise<void> client_done;
  auto client_done_future = client_done.get_future();
  PeerThread peer(listener, [&client_done_future](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), "ab");  // two of the four bytes asked for
    client_done_future.wait_for(hilbench::test::safety_timeout);
  });
  TcpTransport transport(loopback(listener.port()));
  const auto budget = 200ms;
  const double budget_ms = 200.0;
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(transport.read_exact(4, Deadline::after(budget)), hilbench::DeviceTimeout,
                        [&](const hilbench::DeviceTimeout& error) {
                          return message_contains(error, "2 of 4") &&
                                 error.deadline() == std::chrono::nanoseconds(budget);
                        });
  const double elapsed_ms = milliseconds_since(started);
  BOOST_TEST(elapsed_ms >= budget_ms);
  BOOST_TEST(elapsed_ms < budget_ms + 200.0);

  // An expired deadline returns at once.
  const auto again = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(transport.read_exact(1, Deadline::after(0ms)), hilbench::DeviceTimeout);
  BOOST_TEST(milliseconds_since(again) < 50.0);
  client_done.set_value();
  peer.join();
}

BOOST_AUTO_TEST_CASE(peer_close_is_connection_closed_after_buffered_bytes) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), "xy");
    connection.reset();  // orderly close after the data
  });
  TcpTransport transport(loopback(listener.port()));
  BOOST_TEST(text_of(transport.read_exact(2, Deadline::after(2s))) == "xy");
  BOOST_CHECK_THROW(transport.read_exact(1, Deadline::after(2s)), hilbench::ConnectionClosed);
  peer.join();
}

BOOST_AUTO_TEST_CASE(peer_reset_makes_reads_and_writes_fail_without_sigpipe) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    const linger abort_on_close{1, 0};  // close sends RST instead of FIN
    ::setsockopt(connection.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    connection.reset();
  });
  TcpTransport transport(loopback(listener.port()));
  peer.join();
  BOOST_CHECK_THROW(transport.read_exact(1, Deadline::after(2s)), hilbench::ConnectionClosed);
  // The process survives writing to the dead connection (MSG_NOSIGNAL) and gets an error.
  BOOST_CHECK_THROW(transport.write(bytes_of("late"), Deadline::after(1s)),
                    hilbench::ConnectionClosed);
}

BOOST_AUTO_TEST_CASE(discard_input_drops_buffered_bytes_without_blocking) {
  LoopbackListener listener;
  std::promise<void> stale_sent;
  auto stale_sent_future = stale_sent.get_future();
  PeerThread peer(listener, [&stale_sent](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), "stale");
    stale_sent.set_value();
    if (hilbench::test::receive_exact(connection.get(), 1).empty()) return;
    hilbench::test::send_all(connection.get(), "fresh");
  });
  TcpTransport transport(loopback(listener.port()));
  // Loopback queues sent bytes at the receiver before send() returns; wait for the stale
  // bytes, then see them discarded.
  stale_sent_future.wait();
  BOOST_TEST(text_of(transport.read_exact(1, Deadline::after(2s))) == "s");
  const auto started = std::chrono::steady_clock::now();
  transport.discard_input();
  transport.discard_input();  // nothing left: must not block either
  BOOST_TEST(milliseconds_since(started) < 50.0);
  transport.write(bytes_of("?"), Deadline::after(1s));
  BOOST_TEST(text_of(transport.read_exact(5, Deadline::after(2s))) == "fresh");
  peer.join();
}

BOOST_AUTO_TEST_CASE(read_until_silence_and_delimiter_work_over_tcp) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), "line one\r\nframe");
    hilbench::test::receive_exact(connection.get(),
                                  1);  // hold the connection until the client is done
  });
  TcpTransport transport(loopback(listener.port()));
  const std::string delimiter = "\r\n";
  const Bytes line = transport.read_until(bytes_of(delimiter), 64, Deadline::after(2s));
  BOOST_TEST(text_of(line) == "line one\r\n");
  const Bytes frame = transport.read_until_silence(20ms, 64, Deadline::after(2s));
  BOOST_TEST(text_of(frame) == "frame");
  transport.write(bytes_of("!"), Deadline::after(1s));
  peer.join();
}

// Reconnection needs to know a connection is gone, before or after an exchange noticed it.
BOOST_AUTO_TEST_CASE(connection_lost_is_seen_without_io_and_after_a_failed_read) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    hilbench::test::send_all(connection.get(), bytes_of("x"));  // unread data, then close
    connection.reset();
  });
  TcpTransport transport(loopback(listener.port()));
  peer.join();
  // The peer's data is still unread: the connection is not yet known lost by a peek...
  BOOST_TEST(text_of(transport.read_exact(1, Deadline::after(2s))) == "x");
  // ...and once it is consumed, the pending EOF shows without any read.
  BOOST_TEST(transport.connection_lost());
  BOOST_CHECK_THROW(transport.read_exact(1, Deadline::after(1s)), hilbench::ConnectionClosed);
  BOOST_TEST(transport.connection_lost());  // and stays lost
}

BOOST_AUTO_TEST_CASE(a_live_connection_is_not_lost) {
  LoopbackListener listener;
  PeerThread peer(listener, [](hilbench::UniqueFd& connection) {
    const Bytes got = hilbench::test::receive_exact(connection.get(), 1);  // until we close
    (void)got;
  });
  {
    TcpTransport transport(loopback(listener.port()));
    BOOST_TEST(!transport.connection_lost());
    transport.write(bytes_of("q"), Deadline::after(1s));
    BOOST_TEST(!transport.connection_lost());
  }
  peer.join();
}
