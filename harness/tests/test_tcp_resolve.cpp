// Host-name lookup bounded by the connect deadline, against a DNS server that never answers.
//
// The test makes that server real: it moves itself into a private mount namespace (root; the
// CI machine runs as root) and bind-mounts a resolv.conf naming 127.0.0.1, where a UDP socket
// of its own reads queries and never replies, and an nsswitch.conf that sends host lookups
// to DNS only. Nothing outside this process sees either file. Its own executable, because
// unshare(CLONE_NEWNS) must happen while the process has a single thread.
#define BOOST_TEST_MODULE tcp_resolve
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "hilbench/errors.hpp"
#include "hilbench/transport/tcp.hpp"
#include "hilbench/unique_fd.hpp"

using namespace std::chrono_literals;
using hilbench::DeviceTimeout;
using hilbench::PortNotFound;
using hilbench::TcpSettings;
using hilbench::TcpTransport;
using hilbench::UniqueFd;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

void bind_over(const fs::path& source, const char* target) {
  if (::mount(source.c_str(), target, nullptr, MS_BIND, nullptr) != 0) {
    BOOST_FAIL("bind-mount over " << target << ": " << std::strerror(errno));
  }
}

/// A private mount namespace whose DNS is a UDP socket on 127.0.0.1:53 that never answers.
struct SilentDns {
  SilentDns() {
    if (::unshare(CLONE_NEWNS) != 0) {
      BOOST_FAIL("unshare(CLONE_NEWNS): " << std::strerror(errno)
                                          << " (this test needs root, as CI has)");
    }
    // Keep our bind mounts from propagating back to the host's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      BOOST_FAIL("make / private: " << std::strerror(errno));
    }
    dir = fs::temp_directory_path() / ("hilbench-dns-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write_text(dir / "resolv.conf", "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n");
    write_text(dir / "nsswitch.conf", "hosts: dns\n");
    bind_over(dir / "resolv.conf", "/etc/resolv.conf");
    bind_over(dir / "nsswitch.conf", "/etc/nsswitch.conf");

    server = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!server ||
        ::bind(server.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      BOOST_FAIL("bind 127.0.0.1:53: " << std::strerror(errno));
    }
  }
  ~SilentDns() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
  UniqueFd server;  // queries arrive here and are never answered
};

}  // namespace

// Once for the whole executable: a mount namespace is entered once, single-threaded.
BOOST_TEST_GLOBAL_FIXTURE(SilentDns);

BOOST_AUTO_TEST_SUITE(resolve)

BOOST_AUTO_TEST_CASE(a_lookup_that_never_answers_times_out_within_the_connect_deadline) {
  TcpSettings settings;
  settings.host = "meter.lab.invalid";
  settings.port = 502;
  settings.connect_timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  try {
    TcpTransport transport(settings);
    BOOST_FAIL("connected to a host no DNS server answered for");
  } catch (const DeviceTimeout& error) {
    const auto took = std::chrono::steady_clock::now() - started;
    BOOST_TEST_MESSAGE("gave up after " << std::chrono::duration<double>(took).count()
                                        << " s: " << error.what());
    // resolv.conf would hold getaddrinfo for 2 x 5 s; the deadline is 300 ms.
    BOOST_TEST((took >= 300ms));
    BOOST_TEST((took < 1s));
    BOOST_TEST(std::string(error.what()).find("meter.lab.invalid") != std::string::npos);
    BOOST_TEST((error.deadline().value_or(0ns) == 300ms));
  }
}

BOOST_AUTO_TEST_CASE(numeric_addresses_need_no_lookup) {
  // No DNS answers here, so this only passes if 127.0.0.1 is not looked up at all:
  // the refused connection (nothing listens on port 1) is the answer, at once.
  TcpSettings settings;
  settings.host = "127.0.0.1";
  settings.port = 1;
  settings.connect_timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(TcpTransport{settings}, hilbench::TransportError);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 100ms));
}

BOOST_AUTO_TEST_SUITE_END()
