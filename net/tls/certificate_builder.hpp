#pragma once

#include <string>

#include "net/tls/openssl_handles.hpp"

namespace mqhub::net::tls {

/// A fresh EC P-256 key pair; null, with `error` set, when OpenSSL fails.
evp_pkey_ptr generate_key(std::string& error);

/// What a certificate is for; it decides its basicConstraints, keyUsage and extendedKeyUsage.
enum class certificate_role {
  authority,     // CA:TRUE, keyCertSign and cRLSign
  server,        // CA:FALSE, digitalSignature, serverAuth
  client,        // CA:FALSE, digitalSignature, clientAuth
  cluster_node,  // CA:FALSE, digitalSignature, serverAuth and clientAuth: a node dials and accepts its peers
};

struct certificate_request {
  std::string common_name;  // UTF-8
  certificate_role role = certificate_role::client;
  int valid_days = 825;
  GENERAL_NAMES* alt_names = nullptr;  // subjectAltName when set (not owned)
};

/// An X.509 v3 certificate for the public half of `key` with a random 127-bit serial, subject and
/// authority key identifiers, signed (SHA-256) by `issuer_key` as `issuer`; self-signed when `issuer` is
/// null (then `issuer_key` is `key`). Null, with `error` set, when OpenSSL refuses a part of it.
x509_ptr build_certificate(const certificate_request& request, EVP_PKEY* key, X509* issuer,
                           EVP_PKEY* issuer_key, std::string& error);

}  // namespace mqhub::net::tls
