#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "net/tls/openssl_handles.hpp"
#include "tests/unit/net/tls/temp_dir.hpp"

namespace mqhub::net::tls::testing {

inline std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline x509_ptr load_certificate(const std::filesystem::path& path) {
  bio_ptr bio{BIO_new_file(path.c_str(), "r")};
  return x509_ptr{bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr};
}

/// A client context trusting `ca` for the server's certificate, presenting `certificate` and `key` when set.
inline ssl_ctx_ptr make_client_context(const std::filesystem::path& ca,
                                       const std::filesystem::path& certificate = {},
                                       const std::filesystem::path& key = {}) {
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
  SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!certificate.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str());
    SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM);
  }
  return ctx;
}

/// Both ends of one TLS connection after a handshake run in memory over a BIO pair.
struct handshake {
  ssl_ptr server;
  ssl_ptr client;
  bool ok = false;
  std::string server_failure;  // OpenSSL's reason when the server ended the handshake
  std::string client_failure;
};

inline std::string failure_reason(SSL* ssl, int rc) {
  int code = SSL_get_error(ssl, rc);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
    return {};
  unsigned long error = ERR_get_error();
  ERR_clear_error();
  const char* reason = error != 0 ? ERR_reason_error_string(error) : nullptr;
  return reason != nullptr ? reason : "ssl error " + std::to_string(code);
}

/// Runs a handshake between a server of `server_ctx` and a client of `client_ctx` that checks the server
/// name "localhost" and offers `session` for resumption when set. The client then reads what the server
/// sent after the handshake (TLS 1.3 session tickets).
inline handshake run_handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* session = nullptr) {
  handshake h;
  h.server.reset(SSL_new(server_ctx));
  h.client.reset(SSL_new(client_ctx));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(h.server.get(), server_bio, server_bio);
  SSL_set_bio(h.client.get(), client_bio, client_bio);
  SSL_set_accept_state(h.server.get());
  SSL_set_connect_state(h.client.get());
  SSL_set1_host(h.client.get(), "localhost");
  if (session != nullptr)
    SSL_set_session(h.client.get(), session);
  ERR_clear_error();
  bool server_done = false;
  bool client_done = false;
  for (int round = 0; round < 100 && !(server_done && client_done); ++round) {
    if (!client_done) {
      int rc = SSL_do_handshake(h.client.get());
      client_done = rc == 1;
      if (rc != 1 && !(h.client_failure = failure_reason(h.client.get(), rc)).empty())
        break;
    }
    if (!server_done) {
      int rc = SSL_do_handshake(h.server.get());
      server_done = rc == 1;
      if (rc != 1 && !(h.server_failure = failure_reason(h.server.get(), rc)).empty())
        break;
    }
  }
  if (h.server_failure.empty() && !h.client_failure.empty()) {
    // Let the server see the client's alert, so that a refusal is recorded on the side that made it.
    int rc = SSL_do_handshake(h.server.get());
    if (rc != 1)
      h.server_failure = failure_reason(h.server.get(), rc);
  }
  h.ok = server_done && client_done;
  if (h.ok) {
    char byte = 0;
    SSL_read(h.client.get(), &byte, 1);  // processes the session tickets; no application data waits
  }
  return h;
}

}  // namespace mqhub::net::tls::testing
