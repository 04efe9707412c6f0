#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace mqhub::net::tls {

struct tls_settings {
  std::filesystem::path certificate_chain;  // PEM: the server certificate, then any intermediates
  std::filesystem::path private_key;        // PEM, unencrypted
  std::filesystem::path client_ca;          // PEM: CAs a client certificate is verified against; may be empty
};

/// The context of every TLS listener (issue 4): TLS 1.2 and 1.3 only, ECDHE with AES-GCM or
/// ChaCha20-Poly1305, server cipher preference, no compression or renegotiation, session resumption by cache
/// and by ticket. A client certificate is asked for but optional, and any certificate passes the handshake:
/// whether it chains to `client_ca` is read afterwards (`read_peer_certificate`) so that a device's own
/// self-signed certificate can still be matched by fingerprint. Null, with `error` naming the file and
/// OpenSSL's reason, when the material cannot be loaded or the key does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_settings& settings,
                                                               std::string& error);

}  // namespace mqhub::net::tls
