// TCP connect scan against real loopback listeners.
#define BOOST_TEST_MODULE port_scan
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "hilbench/errors.hpp"
#include "hilbench/measure/security/port_scan.hpp"
#include "loopback_socket.hpp"

using hilbench::security::PortScanOptions;
using hilbench::security::scan_tcp_ports;

BOOST_AUTO_TEST_CASE(finds_the_listening_ports_and_not_the_closed_one) {
  hilbench::test::LoopbackListener a, b;
  hilbench::test::LoopbackListener closed(false);
  PortScanOptions options;
  options.host = "127.0.0.1";
  const auto low = std::min({a.port(), b.port(), closed.port()});
  const auto high = std::max({a.port(), b.port(), closed.port()});
  options.first_port = low;
  options.last_port = high;
  const auto result = scan_tcp_ports(options);
  BOOST_TEST((std::find(result.open.begin(), result.open.end(), a.port()) != result.open.end()));
  BOOST_TEST((std::find(result.open.begin(), result.open.end(), b.port()) != result.open.end()));
  BOOST_TEST(
      (std::find(result.open.begin(), result.open.end(), closed.port()) == result.open.end()));
  BOOST_TEST(result.scanned == static_cast<std::size_t>(high - low + 1));
}

BOOST_AUTO_TEST_CASE(refuses_any_address_but_loopback) {
  PortScanOptions options;
  for (const char* host : {"10.0.0.1", "192.168.1.10", "8.8.8.8", "localhost", "::2"}) {
    options.host = host;
    BOOST_CHECK_THROW(scan_tcp_ports(options), hilbench::ConfigError);
  }
  BOOST_TEST(hilbench::security::is_loopback_address("127.0.0.1"));
  BOOST_TEST(hilbench::security::is_loopback_address("127.8.9.10"));
  BOOST_TEST(hilbench::security::is_loopback_address("::1"));
}
