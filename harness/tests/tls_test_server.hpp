#pragma once
// Test support: a real OpenSSL server on a loopback port, in process, for the TLS probe's
// tests. A thread accepts connections and handshakes each (blocking, with a socket timeout
// so a broken test fails instead of hanging); the SSL_CTX is configured by the test.
// Certificates are made in memory (EVP_PKEY_Q_keygen + a self-signed X509).
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "hilbench/measure/security/openssl_handles.hpp"
#include "loopback_socket.hpp"

namespace hilbench::test {

struct TestKeyPair {
  security::EvpPkeyPtr key;
  security::X509Ptr cert;
};

/// A self-signed certificate for `common_name` (also its subjectAltName, an IP or a DNS
/// name), valid from `not_before_days` to `not_after_days` relative to now.
inline TestKeyPair make_certificate(const std::string& key_type, const std::string& common_name,
                                    long not_before_days = -1, long not_after_days = 30,
                                    unsigned rsa_bits = 2048) {
  TestKeyPair pair;
  if (key_type == "RSA") {
    pair.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits)));
  } else {
    pair.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  }
  if (!pair.key) throw std::runtime_error("keygen: " + security::take_openssl_error());
  pair.cert.reset(X509_new());
  X509* cert = pair.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_days * 86400L);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_days * 86400L);
  X509_set_pubkey(cert, pair.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  const bool ip = common_name.find_first_not_of("0123456789.") == std::string::npos;
  const std::string san = (ip ? "IP:" : "DNS:") + common_name;
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san.c_str());
  if (extension == nullptr) throw std::runtime_error("subjectAltName");
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (X509_sign(cert, pair.key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("sign: " + security::take_openssl_error());
  }
  return pair;
}

/// Serves TLS handshakes on 127.0.0.1:port() until destroyed.
class TlsTestServer {
 public:
  /// `configure` sets versions, ciphers, ... on the server's SSL_CTX; the key pair is loaded
  /// first.
  TlsTestServer(const TestKeyPair& pair, const std::function<void(SSL_CTX*)>& configure)
      : context_(SSL_CTX_new(TLS_server_method())) {
    if (!context_) throw std::runtime_error("SSL_CTX_new");
    if (SSL_CTX_use_certificate(context_.get(), pair.cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(context_.get(), pair.key.get()) != 1) {
      throw std::runtime_error("server key pair: " + security::take_openssl_error());
    }
    configure(context_.get());
    ::signal(SIGPIPE, SIG_IGN);  // a probe that hangs up mid-handshake must not end the test
    thread_ = std::thread([this] { serve(); });
  }
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;
  ~TlsTestServer() {
    stop_ = true;
    thread_.join();
  }

  std::uint16_t port() const noexcept { return listener_.port(); }
  int handshakes() const noexcept { return handshakes_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd descriptor{listener_.fd(), POLLIN, 0};
      if (::poll(&descriptor, 1, 20) <= 0) continue;
      UniqueFd client(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) continue;
      const timeval timeout{5, 0};
      ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      security::SslPtr ssl(SSL_new(context_.get()));
      SSL_set_fd(ssl.get(), client.get());
      if (SSL_accept(ssl.get()) == 1) {
        ++handshakes_;
        SSL_shutdown(ssl.get());
      }
      ERR_clear_error();
    }
  }

  security::SslCtxPtr context_;
  LoopbackListener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

}  // namespace hilbench::test
