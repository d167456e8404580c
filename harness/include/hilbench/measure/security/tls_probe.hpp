#pragma once
// TLS probe: what a TLS endpoint of the DUT accepts, measured by handshaking with it.
//
// For host:port the probe finds (each by real handshakes over loopback or the bench network):
// - the protocol versions accepted, SSL 3.0 to TLS 1.3. A version this OpenSSL build cannot
//   speak (Debian builds without SSL 3.0) is reported "cannot_test" with the reason, never
//   as rejected;
// - per accepted version, the cipher suites the server accepts (offer all, remove the one the
//   server chose, repeat until the server refuses: server-preference order);
// - the key-exchange groups accepted (one group offered per handshake);
// - certificate facts of the leaf (key type and size, signature algorithm, validity dates,
//   self-signed, host-name match) and the chain length;
// - secure renegotiation (RFC 5746) support and TLS compression.
// The probe judges nothing: the result is plain data (JSON); a baseline given as data judges it
// (bindings/hilbench/security/tls_baseline.py).
//
// To reach legacy servers the probe lowers OpenSSL's security level to 0 and loads the legacy
// provider, both only inside its own library context and SSL_CTX: nothing global changes.
// Every connect and handshake has a deadline: `attempt_timeout` per handshake, `deadline` for the
// whole probe (a probe that runs out reports the DeviceTimeout with what it was doing).
// Thread-safety: a TlsProbe may be used by one thread at a time; separate probes are independent.
// Journaled: nothing by the probe itself; the Python face records the result.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hilbench/clock.hpp"

namespace hilbench::security {

struct TlsProbeOptions {
  std::string host;        ///< numeric address or name; loopback on an emulated bench
  std::uint16_t port = 0;  ///< TCP port of the TLS endpoint
  /// Name the certificate must match (SNI is sent when it is not an IP address);
  /// empty: `host`.
  std::string server_name;
  std::chrono::milliseconds attempt_timeout{2000};  ///< per connect + handshake
  std::chrono::milliseconds deadline{60000};        ///< the whole probe
  /// Groups to try one at a time (OpenSSL names). Empty: a built-in list of the TLS 1.2/1.3
  /// named groups OpenSSL supports (x25519, x448, NIST P-256/384/521, ffdhe2048..8192).
  std::vector<std::string> groups;
};

/// Probes one endpoint. Throws TransportError when the endpoint does not accept a TCP
/// connection at all (nothing to probe), DeviceTimeout when `deadline` passes.
///
/// Result (JSON object):
///   target            "host:port"; server_name
///   library           the OpenSSL version the probe ran with
///   offerable_cipher_families  {"3DES": bool, "RC4": bool, "eNULL": bool, ...}: whether this
///                     OpenSSL build can offer the family at all (false: cannot be detected)
///   protocols         {"SSLv3"|"TLSv1.0"|...|"TLSv1.3": {status: "accepted"|"rejected"|
///                      "cannot_test"|"timeout", detail, cipher_suites: [IANA-style OpenSSL
///                      names, server order] (accepted only)}}
///   groups            {"accepted": [...], "tested": [...], "version": version used}
///   certificate       {key_type, key_bits, curve (EC), signature_algorithm, not_before,
///                      not_after (ISO 8601 UTC), self_signed, host_name_match, subject, issuer,
///                      chain_length} or null when no handshake succeeded
///   secure_renegotiation  {status: "supported"|"not_supported"|"not_applicable"} (TLS <= 1.2)
///   compression       {status: "enabled"|"disabled"|"cannot_test", method?, detail}
nlohmann::json probe_tls(const TlsProbeOptions& options);

}  // namespace hilbench::security
