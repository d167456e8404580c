// TLS probe against a real OpenSSL server on loopback (tls_test_server.hpp).
#define BOOST_TEST_MODULE tls_probe
#include <boost/test/unit_test.hpp>

#include "hilbench/errors.hpp"
#include "hilbench/measure/security/tls_probe.hpp"
#include "tls_test_server.hpp"

using hilbench::security::probe_tls;
using hilbench::security::TlsProbeOptions;
using hilbench::test::make_certificate;
using hilbench::test::TlsTestServer;
using nlohmann::json;

namespace {

TlsProbeOptions options_for(std::uint16_t port) {
  TlsProbeOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.groups = {"x25519", "secp256r1", "secp384r1", "ffdhe2048"};
  return options;
}

std::vector<std::string> suite_names(const json& protocol) {
  std::vector<std::string> names;
  for (const auto& suite : protocol.at("cipher_suites")) names.push_back(suite.at("name"));
  return names;
}

}  // namespace

BOOST_AUTO_TEST_CASE(strong_server_tls12_and_13_only) {
  const auto pair = make_certificate("EC", "127.0.0.1");
  TlsTestServer server(pair, [](SSL_CTX* context) {
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(context, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384");
    SSL_CTX_set_ciphersuites(context, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    SSL_CTX_set1_groups_list(context, "x25519:secp256r1");
  });
  const json result = probe_tls(options_for(server.port()));
  const json& protocols = result.at("protocols");
  BOOST_TEST(protocols.at("SSLv3").at("status") == "cannot_test");  // Debian: no SSL 3.0
  BOOST_TEST(protocols.at("TLSv1.0").at("status") == "rejected");
  BOOST_TEST(protocols.at("TLSv1.1").at("status") == "rejected");
  BOOST_TEST(protocols.at("TLSv1.2").at("status") == "accepted");
  BOOST_TEST(protocols.at("TLSv1.3").at("status") == "accepted");
  const auto tls12 = suite_names(protocols.at("TLSv1.2"));
  BOOST_TEST(tls12.size() == 2u);
  BOOST_TEST((std::find(tls12.begin(), tls12.end(), "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") !=
              tls12.end()));
  const auto tls13 = suite_names(protocols.at("TLSv1.3"));
  BOOST_TEST(tls13.size() == 2u);
  const json& groups = result.at("groups").at("accepted");
  BOOST_TEST(groups == json({"x25519", "secp256r1"}));
  const json& cert = result.at("certificate");
  BOOST_TEST(cert.at("key_type") == "EC");
  BOOST_TEST(cert.at("key_bits") == 256);
  BOOST_TEST(cert.at("self_signed") == true);
  BOOST_TEST(cert.at("host_name_match") == true);
  BOOST_TEST(cert.at("signature_digest") == "SHA256");
  BOOST_TEST(result.at("secure_renegotiation").at("status") == "supported");
}

BOOST_AUTO_TEST_CASE(weak_server_tls10_with_null_cipher_and_expired_rsa_certificate) {
  const auto pair = make_certificate("RSA", "meter.example", -60, -1);
  TlsTestServer server(pair, [](SSL_CTX* context) {
    SSL_CTX_set_security_level(context, 0);
    SSL_CTX_set_min_proto_version(context, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(context, TLS1_VERSION);
    SSL_CTX_set_cipher_list(context, "NULL-SHA:AES128-SHA:@SECLEVEL=0");
  });
  const json result = probe_tls(options_for(server.port()));
  const json& protocols = result.at("protocols");
  BOOST_TEST(protocols.at("TLSv1.0").at("status") == "accepted");
  BOOST_TEST(protocols.at("TLSv1.2").at("status") == "rejected");
  BOOST_TEST(protocols.at("TLSv1.3").at("status") == "rejected");
  const auto suites = suite_names(protocols.at("TLSv1.0"));
  BOOST_TEST(suites.size() == 2u);
  BOOST_TEST((std::find(suites.begin(), suites.end(), "TLS_RSA_WITH_NULL_SHA") != suites.end()));
  const json& cert = result.at("certificate");
  BOOST_TEST(cert.at("key_type") == "RSA");
  BOOST_TEST(cert.at("key_bits") == 2048);
  BOOST_TEST(cert.at("host_name_match") == false);  // made for meter.example, probed by IP
  BOOST_TEST(cert.at("not_after").get<std::string>().size() == 20u);  // 2026-01-02T03:04:05Z
  BOOST_TEST(result.at("groups").at("version").is_null());
  BOOST_TEST(result.at("offerable_cipher_families").at("eNULL") == true);
  BOOST_TEST(result.at("compression").at("status") != "enabled");
}

BOOST_AUTO_TEST_CASE(no_listener_is_a_transport_error) {
  hilbench::test::LoopbackListener closed(false);  // bound, not listening: refuses
  BOOST_CHECK_THROW(probe_tls(options_for(closed.port())), hilbench::TransportError);
}

BOOST_AUTO_TEST_CASE(silent_server_times_out_within_the_deadline) {
  hilbench::test::LoopbackListener silent;  // accepts (backlog) but never speaks TLS
  TlsProbeOptions options = options_for(silent.port());
  options.attempt_timeout = std::chrono::milliseconds(100);
  options.deadline = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(probe_tls(options), hilbench::DeviceTimeout);
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(2)));
}

BOOST_AUTO_TEST_CASE(host_names_are_refused_numeric_addresses_only) {
  TlsProbeOptions options = options_for(1);
  options.host = "localhost";
  BOOST_CHECK_THROW(probe_tls(options), hilbench::ConfigError);
}
