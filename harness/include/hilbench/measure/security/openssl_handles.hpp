#pragma once
// RAII owners of OpenSSL handles (one idea, one place): each frees its object exactly once
// with OpenSSL's own free function; movable, not copyable (std::unique_ptr underneath).
// Used by the TLS probe and by the emulated meter's TLS endpoint. Thread-safety: a handle is
// owned by one thread at a time, as OpenSSL requires of SSL objects.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace hilbench::security {

template <auto Free>
struct OpensslDeleter {
  template <class T>
  void operator()(T* object) const noexcept {
    Free(object);
  }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslDeleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free_all>>;
using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, OpensslDeleter<OSSL_LIB_CTX_free>>;
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, OpensslDeleter<OSSL_PROVIDER_unload>>;

/// The oldest error on this thread's OpenSSL error queue as text (the queue is cleared), or
/// `fallback` when the queue is empty.
inline std::string take_openssl_error(const std::string& fallback = "no OpenSSL error") {
  const unsigned long code = ERR_get_error();
  if (code == 0) return fallback;
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace hilbench::security
