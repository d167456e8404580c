// TLS probe: every fact comes from a real handshake with the endpoint (tls_probe.hpp).
// Sockets are non-blocking; every wait is a ppoll bounded by the earlier of the attempt's and
// the whole probe's deadline.
#include "hilbench/measure/security/tls_probe.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/opensslv.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>

#include "hilbench/errors.hpp"
#include "hilbench/measure/security/openssl_handles.hpp"
#include "hilbench/unique_fd.hpp"

namespace hilbench::security {
namespace {

using json = nlohmann::json;

struct ProtocolVersion {
  const char* name;
  int version;
  bool compiled;  ///< this OpenSSL build can speak it
};

constexpr ProtocolVersion protocol_versions[] = {
#ifdef OPENSSL_NO_SSL3
    {"SSLv3", SSL3_VERSION, false},
#else
    {"SSLv3", SSL3_VERSION, true},
#endif
    {"TLSv1.0", TLS1_VERSION, true},   {"TLSv1.1", TLS1_1_VERSION, true},
    {"TLSv1.2", TLS1_2_VERSION, true}, {"TLSv1.3", TLS1_3_VERSION, true},
};

constexpr const char* tls13_suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                        "TLS_AES_128_CCM_8_SHA256"};

constexpr const char* default_groups[] = {"x25519",    "x448",      "secp256r1", "secp384r1",
                                          "secp521r1", "ffdhe2048", "ffdhe3072", "ffdhe4096",
                                          "ffdhe6144", "ffdhe8192"};

/// Legacy families a baseline forbids, by OpenSSL cipher-string alias. A family this build
/// cannot offer (Debian's has no 3DES, RC4, single DES, IDEA, SEED or EXPORT suites) cannot
/// be found on a server by this probe: the result says so rather than implying "not accepted".
constexpr const char* legacy_families[] = {"3DES", "RC4",   "DES",   "IDEA", "SEED",
                                           "EXP",  "eNULL", "aNULL", "MD5"};

constexpr const char* all_ciphers_at_level_0 = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

/// The probe's own library context: default + legacy providers (RC4, single DES, ... live in
/// the legacy one), so loading them changes nothing outside the probe.
class ProbeLibrary {
 public:
  explicit ProbeLibrary(const ErrorContext& context) : library_(OSSL_LIB_CTX_new()) {
    if (!library_) throw HarnessError(context, "OSSL_LIB_CTX_new: " + take_openssl_error());
    default_.reset(OSSL_PROVIDER_load(library_.get(), "default"));
    if (!default_) throw HarnessError(context, "default provider: " + take_openssl_error());
    legacy_.reset(OSSL_PROVIDER_load(library_.get(), "legacy"));
    if (!legacy_) legacy_detail_ = take_openssl_error("legacy provider not available");
    ERR_clear_error();
  }
  OSSL_LIB_CTX* get() const noexcept { return library_.get(); }
  bool legacy_loaded() const noexcept { return legacy_ != nullptr; }
  const std::string& legacy_detail() const noexcept { return legacy_detail_; }

 private:
  LibCtxPtr library_;  // destroyed last: the providers below belong to it
  ProviderPtr default_;
  ProviderPtr legacy_;
  std::string legacy_detail_;
};

/// OpenSSL writes to its socket with write(): a peer that hung up mid-handshake would raise
/// SIGPIPE and kill the process. SIGPIPE is blocked on the probing thread while the probe runs;
/// any that arrived is drained before the thread's mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (::sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
};

enum class Outcome : std::uint8_t { established, refused, timed_out };

/// One connect + handshake. Members in this order so the SSL is freed before its socket.
struct Attempt {
  Outcome outcome = Outcome::refused;
  std::string detail;
  UniqueFd socket;
  SslCtxPtr context;
  SslPtr ssl;
};

using Configure = std::function<bool(SSL_CTX*, SSL*)>;  // false: cannot configure (skip)

class Prober {
 public:
  Prober(const TlsProbeOptions& options)
      : options_(options),
        name_(options.server_name.empty() ? options.host : options.server_name),
        context_{fmt::format("tls:{}:{}", options.host, options.port), "probe_tls",
                 std::chrono::duration_cast<Nanoseconds>(options.deadline)},
        deadline_(Deadline::after(options.deadline)),
        library_(context_) {
    resolve();
  }

  const ErrorContext& context() const noexcept { return context_; }
  const ProbeLibrary& library() const noexcept { return library_; }
  const std::string& name() const noexcept { return name_; }

  /// Connects and handshakes with a fresh SSL_CTX set up by `configure`.
  Attempt attempt(const std::string& what, const Configure& configure) {
    Attempt result;
    const Deadline attempt_deadline = Deadline::after(options_.attempt_timeout).earliest(deadline_);
    result.context.reset(SSL_CTX_new_ex(library_.get(), nullptr, TLS_client_method()));
    if (!result.context) throw HarnessError(step(what), "SSL_CTX_new: " + take_openssl_error());
    SSL_CTX_set_security_level(result.context.get(), 0);
    SSL_CTX_set_verify(result.context.get(), SSL_VERIFY_NONE, nullptr);
    result.ssl.reset(SSL_new(result.context.get()));
    if (!result.ssl) throw HarnessError(step(what), "SSL_new: " + take_openssl_error());
    if (!configure(result.context.get(), result.ssl.get())) {
      result.detail = take_openssl_error("the probe's OpenSSL cannot offer this");
      return result;
    }
    result.socket = connect_socket(what, attempt_deadline);
    if (!result.socket) {
      result.outcome = Outcome::timed_out;
      result.detail = "no TCP connection within the attempt timeout";
      return result;
    }
    SSL_set_fd(result.ssl.get(), result.socket.get());
    if (!is_ip_address(name_)) SSL_set_tlsext_host_name(result.ssl.get(), name_.c_str());
    SSL_set_connect_state(result.ssl.get());
    ERR_clear_error();
    while (true) {
      const int status = SSL_do_handshake(result.ssl.get());
      if (status == 1) {
        result.outcome = Outcome::established;
        return result;
      }
      const int error = SSL_get_error(result.ssl.get(), status);
      short events = 0;
      if (error == SSL_ERROR_WANT_READ) events = POLLIN;
      if (error == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (events == 0) {
        result.outcome = Outcome::refused;
        result.detail =
            take_openssl_error(error == SSL_ERROR_SYSCALL ? "connection closed during the handshake"
                                                          : "handshake failed");
        return result;
      }
      if (!wait(result.socket.get(), events, attempt_deadline, what)) {
        result.outcome = Outcome::timed_out;
        result.detail = "no handshake within the attempt timeout";
        return result;
      }
    }
  }

 private:
  ErrorContext step(const std::string& what) const {
    ErrorContext context = context_;
    context.operation = "probe_tls: " + what;
    return context;
  }

  static bool is_ip_address(const std::string& name) {
    in6_addr address{};
    return ::inet_pton(AF_INET, name.c_str(), &address) == 1 ||
           ::inet_pton(AF_INET6, name.c_str(), &address) == 1;
  }

  void resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(options_.port);
    const int status = ::getaddrinfo(options_.host.c_str(), service.c_str(), &hints, &list);
    if (status != 0 || list == nullptr) {
      throw ConfigError(context_,
                        fmt::format("host must be a numeric address ({})", ::gai_strerror(status)));
    }
    std::memcpy(&address_, list->ai_addr, list->ai_addrlen);
    address_size_ = list->ai_addrlen;
    family_ = list->ai_family;
    ::freeaddrinfo(list);
  }

  /// false: the attempt deadline passed. Throws DeviceTimeout when the probe's deadline passed.
  bool wait(int fd, short events, Deadline attempt_deadline, const std::string& what) {
    while (true) {
      if (deadline_.expired()) throw DeviceTimeout(step(what), "the probe's deadline passed");
      const Nanoseconds remaining = attempt_deadline.remaining();
      if (remaining == Nanoseconds::zero()) return false;
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(remaining);
      const timespec timeout{static_cast<std::time_t>(seconds.count()),
                             static_cast<long>((remaining - seconds).count())};
      pollfd descriptor{fd, events, 0};
      const int ready = ::ppoll(&descriptor, 1, &timeout, nullptr);
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) {
        throw TransportError(step(what), fmt::format("poll: {}", std::strerror(errno)));
      }
    }
  }

  /// A connected non-blocking socket, or an empty one when the attempt deadline passed.
  UniqueFd connect_socket(const std::string& what, Deadline attempt_deadline) {
    UniqueFd fd(::socket(family_, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw TransportError(step(what), fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address_), address_size_) != 0) {
      if (errno != EINPROGRESS) {
        throw TransportError(step(what), fmt::format("connect: {}", std::strerror(errno)));
      }
      if (!wait(fd.get(), POLLOUT, attempt_deadline, what)) return {};
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
      if (error != 0) {
        throw TransportError(step(what), fmt::format("connect: {}", std::strerror(error)));
      }
    }
    return fd;
  }

  const TlsProbeOptions& options_;
  std::string name_;
  ErrorContext context_;
  Deadline deadline_;
  ProbeLibrary library_;
  sockaddr_storage address_{};
  socklen_t address_size_ = 0;
  int family_ = AF_INET;
};

Configure fixed_version(int version, std::function<bool(SSL_CTX*, SSL*)> more = {}) {
  return [version, more](SSL_CTX* context, SSL* ssl) {
    if (SSL_set_min_proto_version(ssl, version) != 1) return false;
    if (SSL_set_max_proto_version(ssl, version) != 1) return false;
    (void)context;
    return more ? more(context, ssl) : true;
  };
}

/// Every cipher suite the probe's OpenSSL can offer at `version` (OpenSSL names).
std::vector<std::string> offerable_ciphers(const ProbeLibrary& library, int version) {
  std::vector<std::string> names;
  SslCtxPtr context(SSL_CTX_new_ex(library.get(), nullptr, TLS_client_method()));
  if (!context) return names;
  SSL_CTX_set_security_level(context.get(), 0);
  if (SSL_CTX_set_cipher_list(context.get(), all_ciphers_at_level_0) != 1) return names;
  SslPtr ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_min_proto_version(ssl.get(), version) != 1 ||
      SSL_set_max_proto_version(ssl.get(), version) != 1) {
    return names;
  }
  STACK_OF(SSL_CIPHER)* supported = SSL_get1_supported_ciphers(ssl.get());
  if (supported == nullptr) return names;
  for (int i = 0; i < sk_SSL_CIPHER_num(supported); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(supported, i);
    if (std::strcmp(SSL_CIPHER_get_version(cipher), "TLSv1.3") == 0) continue;
    names.emplace_back(SSL_CIPHER_get_name(cipher));
  }
  sk_SSL_CIPHER_free(supported);
  ERR_clear_error();
  return names;
}

json offerable_families(const ProbeLibrary& library) {
  json families = json::object();
  SslCtxPtr context(SSL_CTX_new_ex(library.get(), nullptr, TLS_client_method()));
  for (const char* family : legacy_families) {
    const std::string list = std::string(family) + ":@SECLEVEL=0";
    families[family] = context && SSL_CTX_set_cipher_list(context.get(), list.c_str()) == 1;
  }
  ERR_clear_error();
  return families;
}

json cipher_entry(const SSL_CIPHER* cipher) {
  const char* standard = SSL_CIPHER_standard_name(cipher);
  return {{"name", standard != nullptr ? standard : SSL_CIPHER_get_name(cipher)},
          {"openssl_name", SSL_CIPHER_get_name(cipher)},
          {"bits", SSL_CIPHER_get_bits(cipher, nullptr)}};
}

/// The suites the server accepts at `version`, in the order it picks them.
json enumerate_ciphers(Prober& prober, const ProtocolVersion& version) {
  json accepted = json::array();
  const bool tls13 = version.version == TLS1_3_VERSION;
  std::vector<std::string> offered;
  if (tls13) {
    offered.assign(std::begin(tls13_suites), std::end(tls13_suites));
  } else {
    offered = offerable_ciphers(prober.library(), version.version);
  }
  while (!offered.empty()) {
    const std::string list = join(offered, ":");
    Attempt attempt =
        prober.attempt(fmt::format("{} cipher suites", version.name),
                       fixed_version(version.version, [&list, tls13](SSL_CTX*, SSL* ssl) {
                         if (tls13) return SSL_set_ciphersuites(ssl, list.c_str()) == 1;
                         return SSL_set_cipher_list(ssl, (list + ":@SECLEVEL=0").c_str()) == 1;
                       }));
    if (attempt.outcome != Outcome::established) break;
    const SSL_CIPHER* cipher = SSL_get_current_cipher(attempt.ssl.get());
    const std::string chosen = SSL_CIPHER_get_name(cipher);
    accepted.push_back(cipher_entry(cipher));
    const auto before = offered.size();
    std::erase(offered, chosen);
    if (offered.size() == before) break;  // the server chose a suite not offered: stop
  }
  return accepted;
}

std::string iso_time(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return {};
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

json certificate_facts(SSL* ssl, const std::string& name) {
  X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return nullptr;
  json facts;
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key != nullptr) {
    const char* type = EVP_PKEY_get0_type_name(key);
    facts["key_type"] = type != nullptr ? type : "unknown";
    facts["key_bits"] = EVP_PKEY_get_bits(key);
    facts["key_security_bits"] = EVP_PKEY_get_security_bits(key);
    char group[80] = {0};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       nullptr) == 1) {
      facts["curve"] = group;
    }
  }
  const int signature_nid = X509_get_signature_nid(cert.get());
  facts["signature_algorithm"] = OBJ_nid2ln(signature_nid);
  int digest_nid = 0, key_nid = 0, security_bits = 0;
  std::uint32_t flags = 0;
  if (X509_get_signature_info(cert.get(), &digest_nid, &key_nid, &security_bits, &flags) == 1) {
    facts["signature_digest"] = digest_nid != NID_undef ? OBJ_nid2sn(digest_nid) : "none";
    facts["signature_security_bits"] = security_bits;
  }
  facts["not_before"] = iso_time(X509_get0_notBefore(cert.get()));
  facts["not_after"] = iso_time(X509_get0_notAfter(cert.get()));
  facts["self_signed"] = X509_self_signed(cert.get(), 1) == 1;
  in6_addr ip{};
  const bool is_ip =
      ::inet_pton(AF_INET, name.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, name.c_str(), &ip) == 1;
  facts["host_name_match"] =
      is_ip ? X509_check_ip_asc(cert.get(), name.c_str(), 0) == 1
            : X509_check_host(cert.get(), name.c_str(), name.size(), 0, nullptr) == 1;
  facts["subject"] = name_text(X509_get_subject_name(cert.get()));
  facts["issuer"] = name_text(X509_get_issuer_name(cert.get()));
  facts["version"] = X509_get_version(cert.get()) + 1;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  facts["chain_length"] = chain != nullptr ? sk_X509_num(chain) : 1;
  ERR_clear_error();
  return facts;
}

json probe_groups(Prober& prober, const TlsProbeOptions& options, int version) {
  std::vector<std::string> candidates = options.groups;
  if (candidates.empty()) candidates.assign(std::begin(default_groups), std::end(default_groups));
  json accepted = json::array();
  json tested = json::array();
  for (const auto& group : candidates) {
    Attempt attempt = prober.attempt(
        "group " + group, fixed_version(version, [&group, version](SSL_CTX*, SSL* ssl) {
          if (version != TLS1_3_VERSION &&
              SSL_set_cipher_list(ssl, "kECDHE:kDHE:@SECLEVEL=0") != 1) {
            return false;
          }
          return SSL_set1_groups_list(ssl, group.c_str()) == 1;
        }));
    if (attempt.outcome == Outcome::refused && attempt.socket.get() < 0) continue;  // not ours
    tested.push_back(group);
    if (attempt.outcome != Outcome::established) continue;
    const int negotiated = SSL_get_negotiated_group(attempt.ssl.get());
    // TLS 1.2 with a DHE suite uses the server's own DH parameters: no group was negotiated.
    if (negotiated != 0 || version == TLS1_3_VERSION) accepted.push_back(group);
  }
  return {{"accepted", accepted},
          {"tested", tested},
          {"version", version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"}};
}

json probe_compression(Prober& prober, const std::optional<ProtocolVersion>& legacy_version) {
  if (!legacy_version) {
    return {{"status", "not_applicable"}, {"detail", "TLS 1.3 has no compression"}};
  }
  STACK_OF(SSL_COMP)* methods = SSL_COMP_get_compression_methods();
  if (methods == nullptr || sk_SSL_COMP_num(methods) == 0) {
    return {{"status", "cannot_test"},
            {"detail", "the probe's OpenSSL build has no compression method to offer"}};
  }
  Attempt attempt =
      prober.attempt("compression", fixed_version(legacy_version->version, [](SSL_CTX*, SSL* ssl) {
                       SSL_clear_options(ssl, SSL_OP_NO_COMPRESSION);
                       return SSL_set_cipher_list(ssl, all_ciphers_at_level_0) == 1;
                     }));
  if (attempt.outcome != Outcome::established) {
    return {{"status", "cannot_test"}, {"detail", attempt.detail}};
  }
  const COMP_METHOD* method = SSL_get_current_compression(attempt.ssl.get());
  if (method == nullptr) return {{"status", "disabled"}, {"detail", "server chose null"}};
  return {{"status", "enabled"}, {"method", SSL_COMP_get_name(method)}, {"detail", ""}};
}

}  // namespace

json probe_tls(const TlsProbeOptions& options) {
  const SigpipeBlock no_sigpipe;
  Prober prober(options);
  json result;
  result["target"] = fmt::format("{}:{}", options.host, options.port);
  result["server_name"] = prober.name();
  result["library"] = OpenSSL_version(OPENSSL_VERSION);
  result["legacy_provider"] = prober.library().legacy_loaded();
  result["offerable_cipher_families"] = offerable_families(prober.library());

  json protocols = json::object();
  std::optional<ProtocolVersion> highest, highest_legacy;
  for (const auto& version : protocol_versions) {
    json entry;
    if (!version.compiled) {
      entry = {{"status", "cannot_test"},
               {"detail", fmt::format("the probe's OpenSSL ({}) is built without {}",
                                      OPENSSL_VERSION_TEXT, version.name)}};
      protocols[version.name] = entry;
      continue;
    }
    Attempt attempt =
        prober.attempt(version.name, fixed_version(version.version, [&version](SSL_CTX*, SSL* ssl) {
                         if (version.version == TLS1_3_VERSION) return true;
                         return SSL_set_cipher_list(ssl, all_ciphers_at_level_0) == 1;
                       }));
    switch (attempt.outcome) {
      case Outcome::established:
        entry = {{"status", "accepted"}, {"detail", SSL_get_version(attempt.ssl.get())}};
        highest = version;
        if (version.version != TLS1_3_VERSION) {
          highest_legacy = version;
          result["secure_renegotiation"] = {
              {"status", SSL_get_secure_renegotiation_support(attempt.ssl.get()) == 1
                             ? "supported"
                             : "not_supported"},
              {"version", version.name}};
        }
        if (!result.contains("certificate") || version.version == TLS1_3_VERSION ||
            version.version == TLS1_2_VERSION) {
          result["certificate"] = certificate_facts(attempt.ssl.get(), prober.name());
        }
        break;
      case Outcome::refused:
        entry = {{"status", attempt.socket ? "rejected" : "cannot_test"},
                 {"detail", attempt.detail}};
        break;
      case Outcome::timed_out:
        entry = {{"status", "timeout"}, {"detail", attempt.detail}};
        break;
    }
    protocols[version.name] = entry;
  }
  for (const auto& version : protocol_versions) {
    if (protocols[version.name]["status"] == "accepted") {
      protocols[version.name]["cipher_suites"] = enumerate_ciphers(prober, version);
    }
  }
  result["protocols"] = protocols;
  if (!result.contains("certificate")) result["certificate"] = nullptr;
  if (!result.contains("secure_renegotiation")) {
    result["secure_renegotiation"] = {{"status", "not_applicable"}, {"version", nullptr}};
  }
  const bool has_13 = highest && highest->version == TLS1_3_VERSION;
  const bool has_12 = protocols["TLSv1.2"]["status"] == "accepted";
  if (has_13 || has_12) {
    result["groups"] = probe_groups(prober, options, has_13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  } else {
    result["groups"] = {
        {"accepted", json::array()}, {"tested", json::array()}, {"version", nullptr}};
  }
  result["compression"] = probe_compression(prober, highest_legacy);
  return result;
}

}  // namespace hilbench::security
