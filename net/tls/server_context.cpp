#include "net/tls/server_context.hpp"

#include <openssl/ssl.h>
#include <boost/system/system_error.hpp>

#include "net/tls/openssl_error.hpp"

namespace mqhub::net::tls {

namespace {

// TLS 1.2: forward secrecy and AEAD only (Mozilla "intermediate" without the DHE suites). TLS 1.3 suites
// are all AEAD; listed to pin the order.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* tls13_ciphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* groups = "X25519:P-256:P-384";

// A resumed session must come from this server's own cache; OpenSSL refuses resumption with client
// verification on unless it is set.
constexpr unsigned char session_id_context[] = "mqhub";
constexpr long session_cache_size = 20480;
constexpr long session_timeout_seconds = 3600;

// Verification never fails the handshake: the result stays in SSL_get_verify_result for the
// authentication hook, which may accept a certificate the hub CA did not sign by its fingerprint.
int accept_any_certificate(int /*preverify_ok*/, X509_STORE_CTX* /*context*/) {
  return 1;
}

std::string failure(const char* what, const std::filesystem::path& file) {
  return std::string(what) + " " + file.string() + ": " + openssl_error_text();
}

std::string configure(SSL_CTX* ctx, const tls_settings& settings) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    return "cannot require TLS 1.2: " + openssl_error_text();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle device keeps no 34 KiB record buffers: a hub holds many connections that rarely speak.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET | SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, tls13_ciphersuites) != 1 || SSL_CTX_set1_groups_list(ctx, groups) != 1)
    return "cannot set the cipher suites: " + openssl_error_text();

  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, session_cache_size);
  SSL_CTX_set_timeout(ctx, session_timeout_seconds);
  if (SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1) != 1)
    return "cannot set the session id context: " + openssl_error_text();

  if (SSL_CTX_use_certificate_chain_file(ctx, settings.certificate_chain.c_str()) != 1)
    return failure("cannot load the certificate chain", settings.certificate_chain);
  if (SSL_CTX_use_PrivateKey_file(ctx, settings.private_key.c_str(), SSL_FILETYPE_PEM) != 1)
    return failure("cannot load the private key", settings.private_key);
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return settings.private_key.string() + " is not the key of " + settings.certificate_chain.string() +
           ": " + openssl_error_text();
  }

  // No list of acceptable CAs goes to the client: some clients (Go's, for one) would then withhold a
  // certificate the hub CA did not sign, which a device may still be allowed in with by its fingerprint.
  if (!settings.client_ca.empty() &&
      SSL_CTX_load_verify_locations(ctx, settings.client_ca.c_str(), nullptr) != 1)
    return failure("cannot load the client CA", settings.client_ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_certificate);
  return {};
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_settings& settings,
                                                               std::string& error) {
  std::shared_ptr<boost::asio::ssl::context> context;
  try {
    context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  } catch (const boost::system::system_error& e) {
    error = std::string("cannot create a TLS context: ") + e.what();
    return nullptr;
  }
  clear_openssl_errors();
  error = configure(context->native_handle(), settings);
  return error.empty() ? context : nullptr;
}

}  // namespace mqhub::net::tls
