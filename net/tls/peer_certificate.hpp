#pragma once

#include <openssl/ssl.h>

#include "net/access_policy.hpp"

namespace mqhub::net::tls {

/// Fills the certificate fields of `peer` from a completed handshake on `ssl` (the client's certificate,
/// seen from the server): whether one was presented, whether it chains to the client CA (and if not, why),
/// its subject CN (UTF-8; empty when absent, repeated or holding a NUL) and its SHA-256 fingerprint.
void read_peer_certificate(SSL* ssl, peer_identity& peer);

}  // namespace mqhub::net::tls
