#pragma once
// TCP transport over a real socket (IPv4 or IPv6), TCP_NODELAY on by default.
#include <cstdint>
#include <string>

#include "hilbench/transport/transport.hpp"
#include "hilbench/unique_fd.hpp"

namespace hilbench {

struct TcpSettings {
  std::string host;  ///< name or address; resolved with getaddrinfo
  std::uint16_t port = 502;
  Nanoseconds connect_timeout = std::chrono::seconds(3);
  bool no_delay = true;  ///< TCP_NODELAY: small request/response frames go out at once
};

class TcpTransport final : public Transport {
 public:
  /// Resolves and connects within settings.connect_timeout (the host-name lookup included).
  /// Throws PortNotFound (host does not resolve), TransportError (refused: names host:port),
  /// DeviceTimeout (no DNS answer or no answer to SYN in time).
  explicit TcpTransport(TcpSettings settings);
  ~TcpTransport() override;  ///< closes the socket

  std::string name() const override;
  const TcpSettings& settings() const noexcept { return settings_; }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline deadline) override;
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline deadline) override;
  void do_discard_input() override;
  bool peer_gone() override;  ///< EOF or reset pending on the socket (a peek, no wait)

 private:
  TcpSettings settings_;
  UniqueFd socket_;
};

}  // namespace hilbench
