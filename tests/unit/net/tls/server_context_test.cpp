#include "net/tls/server_context.hpp"

#include <gtest/gtest.h>

#include "net/tls/hub_certificates.hpp"
#include "tests/unit/net/tls/tls_test_support.hpp"

namespace mqhub::net::tls {
namespace {

using testing::make_client_context;
using testing::run_handshake;
using testing::temp_dir;

class server_context : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
    ASSERT_EQ(issue_device_certificate(files_, "sensor-1", dir_.path()), "");
    context_ = make_server_context(settings_, error_);
    ASSERT_TRUE(context_) << error_;
  }

  SSL_CTX* server() { return context_->native_handle(); }

  temp_dir dir_;
  tls_files files_ = hub_tls_files(dir_.path());
  tls_settings settings_{files_.server_cert, files_.server_key, files_.ca_cert};
  std::string error_;
  std::shared_ptr<boost::asio::ssl::context> context_;
};

TEST_F(server_context, loads_the_hub_certificates) {
  EXPECT_EQ(error_, "");
  EXPECT_NE(SSL_CTX_get0_certificate(server()), nullptr);
}

TEST_F(server_context, refuses_a_key_that_is_not_the_certificates) {
  std::string error;
  auto context =
      make_server_context({files_.server_cert, dir_.path() / "sensor-1.key", files_.ca_cert}, error);
  EXPECT_FALSE(context);
  EXPECT_NE(error.find("private key " + (dir_.path() / "sensor-1.key").string()), std::string::npos) << error;
  EXPECT_NE(error.find("key values mismatch"), std::string::npos) << error;
}

TEST_F(server_context, names_the_file_it_cannot_load_and_why) {
  std::string error;
  EXPECT_FALSE(make_server_context({dir_.path() / "missing.pem", files_.server_key, files_.ca_cert}, error));
  EXPECT_NE(error.find("missing.pem"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(make_server_context({files_.server_key, files_.server_key, files_.ca_cert}, error));
  EXPECT_NE(error.find("certificate chain " + files_.server_key.string()), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(
      make_server_context({files_.server_cert, files_.server_key, dir_.path() / "no-ca.pem"}, error));
  EXPECT_NE(error.find("client CA " + (dir_.path() / "no-ca.pem").string()), std::string::npos) << error;
}

TEST_F(server_context, a_client_trusting_the_hub_ca_connects_with_tls_1_3_to_localhost) {
  ssl_ctx_ptr client = make_client_context(files_.ca_cert);
  auto h = run_handshake(server(), client.get());
  ASSERT_TRUE(h.ok) << h.server_failure << h.client_failure;
  EXPECT_EQ(SSL_version(h.server.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_get_verify_result(h.client.get()), X509_V_OK);  // server certificate and its SAN
}

TEST_F(server_context, tls_1_2_negotiates_ecdhe_with_an_aead_cipher) {
  ssl_ctx_ptr client = make_client_context(files_.ca_cert);
  SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
  auto h = run_handshake(server(), client.get());
  ASSERT_TRUE(h.ok) << h.server_failure << h.client_failure;
  EXPECT_EQ(SSL_version(h.server.get()), TLS1_2_VERSION);
  std::string cipher = SSL_get_cipher_name(h.server.get());
  EXPECT_EQ(cipher.rfind("ECDHE-ECDSA-", 0), 0u) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos || cipher.find("CHACHA20") != std::string::npos)
      << cipher;
}

TEST_F(server_context, refuses_a_tls_1_1_client) {
  // Issue 4: TLS 1.2 and 1.3 only. The client lowers its own security level to be able to offer TLS 1.1.
  ssl_ctx_ptr client = make_client_context(files_.ca_cert);
  SSL_CTX_set_min_proto_version(client.get(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(client.get(), TLS1_1_VERSION);
  SSL_CTX_set_cipher_list(client.get(), "DEFAULT:@SECLEVEL=0");
  auto h = run_handshake(server(), client.get());
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.server_failure, "unsupported protocol");
}

TEST_F(server_context, refuses_a_tls_1_2_client_offering_only_cbc_ciphers) {
  ssl_ctx_ptr client = make_client_context(files_.ca_cert);
  SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(client.get(), "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA");
  auto h = run_handshake(server(), client.get());
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.server_failure, "no shared cipher");
}

TEST_F(server_context, sets_no_compression_no_renegotiation_and_server_cipher_preference) {
  uint64_t options = SSL_CTX_get_options(server());
  EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0u);
  EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_NE(options & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
  EXPECT_EQ(options & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server()), TLS1_2_VERSION);
}

TEST_F(server_context, resumes_a_tls_1_2_session_from_its_cache) {
  ssl_ctx_ptr client =
      make_client_context(files_.ca_cert, dir_.path() / "sensor-1.pem", dir_.path() / "sensor-1.key");
  SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(client.get(), SSL_OP_NO_TICKET);  // resumption by session id, not by ticket
  auto first = run_handshake(server(), client.get());
  ASSERT_TRUE(first.ok) << first.server_failure << first.client_failure;
  ssl_session_ptr session{SSL_get1_session(first.client.get())};
  auto second = run_handshake(server(), client.get(), session.get());
  ASSERT_TRUE(second.ok) << second.server_failure << second.client_failure;
  EXPECT_EQ(SSL_session_reused(second.server.get()), 1);
}

TEST_F(server_context, resumes_a_tls_1_3_session_by_ticket) {
  ssl_ctx_ptr client =
      make_client_context(files_.ca_cert, dir_.path() / "sensor-1.pem", dir_.path() / "sensor-1.key");
  auto first = run_handshake(server(), client.get());
  ASSERT_TRUE(first.ok) << first.server_failure << first.client_failure;
  ssl_session_ptr session{SSL_get1_session(first.client.get())};
  ASSERT_EQ(SSL_SESSION_is_resumable(session.get()), 1);
  auto second = run_handshake(server(), client.get(), session.get());
  ASSERT_TRUE(second.ok) << second.server_failure << second.client_failure;
  EXPECT_EQ(SSL_session_reused(second.server.get()), 1);
}

}  // namespace
}  // namespace mqhub::net::tls
