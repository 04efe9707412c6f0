#include "net/tls/peer_certificate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include <openssl/evp.h>

#include "net/tls/certificate_builder.hpp"
#include "net/tls/hub_certificates.hpp"
#include "net/tls/pem_files.hpp"
#include "net/tls/server_context.hpp"
#include "tests/unit/net/tls/tls_test_support.hpp"

namespace mqhub::net::tls {
namespace {

using testing::file_text;
using testing::make_client_context;
using testing::run_handshake;
using testing::temp_dir;

// What `openssl x509 -noout -fingerprint -sha256` prints, lowercase and without colons: SHA-256 of the DER
// bytes, here decoded from the PEM text by hand rather than through OpenSSL's X509 code.
std::string fingerprint_of_pem_file(const std::filesystem::path& path) {
  std::string pem = file_text(path);
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  size_t start = pem.find(begin) + begin.size();
  size_t end = pem.find("-----END CERTIFICATE-----");
  std::string base64;
  for (char c : pem.substr(start, end - start)) {
    if (c != '\n' && c != '\r')
      base64 += c;
  }
  std::string der(base64.size() / 4 * 3, '\0');
  int length =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(der.data()),
                      reinterpret_cast<const unsigned char*>(base64.data()), static_cast<int>(base64.size()));
  length -= static_cast<int>(std::count(base64.end() - 2, base64.end(), '='));  // DecodeBlock counts padding
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  EVP_Digest(der.data(), static_cast<size_t>(length), digest, &digest_length, EVP_sha256(), nullptr);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < digest_length; ++i) {
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

class peer_certificate : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
    ASSERT_EQ(issue_device_certificate(files_, "sensor-1", dir_.path()), "");
    // A CA the hub does not know, and a device certificate it signed.
    ASSERT_EQ(ensure_hub_certificates(other_, {}).error, "");
    ASSERT_EQ(issue_device_certificate(other_, "intruder", dir_.path()), "");
    std::string error;
    context_ = make_server_context({files_.server_cert, files_.server_key, files_.ca_cert}, error);
    ASSERT_TRUE(context_) << error;
  }

  // The server's view of a client presenting `name`.pem (none when empty).
  peer_identity connect_as(const std::string& name) {
    ssl_ctx_ptr client = name.empty() ? make_client_context(files_.ca_cert)
                                      : make_client_context(files_.ca_cert, dir_.path() / (name + ".pem"),
                                                            dir_.path() / (name + ".key"));
    auto h = run_handshake(context_->native_handle(), client.get());
    EXPECT_TRUE(h.ok) << h.server_failure << h.client_failure;
    peer_identity peer;
    read_peer_certificate(h.server.get(), peer);
    return peer;
  }

  temp_dir dir_;
  tls_files files_ = hub_tls_files(dir_.path() / "hub");
  tls_files other_ = hub_tls_files(dir_.path() / "other");
  std::shared_ptr<boost::asio::ssl::context> context_;
};

TEST_F(peer_certificate, a_hub_ca_signed_client_certificate_is_verified_with_its_cn_and_fingerprint) {
  peer_identity peer = connect_as("sensor-1");
  EXPECT_TRUE(peer.certificate_presented);
  EXPECT_TRUE(peer.certificate_verified);
  EXPECT_EQ(peer.certificate_error, "");
  EXPECT_EQ(peer.certificate_subject_cn, "sensor-1");
  EXPECT_EQ(peer.certificate_fingerprint, fingerprint_of_pem_file(dir_.path() / "sensor-1.pem"));
  EXPECT_EQ(peer.certificate_fingerprint.size(), 64u);
}

TEST_F(peer_certificate, a_certificate_from_another_ca_passes_the_handshake_unverified) {
  // Issue 4: any certificate is accepted at the TLS layer; the hook decides (by fingerprint, say).
  peer_identity peer = connect_as("intruder");
  EXPECT_TRUE(peer.certificate_presented);
  EXPECT_FALSE(peer.certificate_verified);
  EXPECT_NE(peer.certificate_error, "");
  EXPECT_EQ(peer.certificate_subject_cn, "intruder");
  EXPECT_EQ(peer.certificate_fingerprint, fingerprint_of_pem_file(dir_.path() / "intruder.pem"));
}

TEST_F(peer_certificate, a_self_signed_device_certificate_passes_the_handshake_unverified) {
  // A device may bring its own certificate, which the hub knows by its fingerprint.
  std::string error;
  evp_pkey_ptr key = generate_key(error);
  x509_ptr own =
      build_certificate({"own", certificate_role::client, 30, nullptr}, key.get(), nullptr, key.get(), error);
  ASSERT_TRUE(own) << error;
  ASSERT_EQ(write_new_certificate_file(dir_.path() / "own.pem", own.get()), "");
  ASSERT_EQ(write_new_key_file(dir_.path() / "own.key", key.get()), "");
  peer_identity peer = connect_as("own");
  EXPECT_TRUE(peer.certificate_presented);
  EXPECT_FALSE(peer.certificate_verified);
  EXPECT_EQ(peer.certificate_error, "self-signed certificate");
  EXPECT_EQ(peer.certificate_subject_cn, "own");
  EXPECT_EQ(peer.certificate_fingerprint, fingerprint_of_pem_file(dir_.path() / "own.pem"));
}

TEST_F(peer_certificate, no_client_certificate_is_not_presented) {
  peer_identity peer = connect_as("");
  EXPECT_FALSE(peer.certificate_presented);
  EXPECT_FALSE(peer.certificate_verified);
  EXPECT_EQ(peer.certificate_subject_cn, "");
  EXPECT_EQ(peer.certificate_fingerprint, "");
}

TEST_F(peer_certificate, reading_clears_what_an_earlier_connection_left) {
  peer_identity peer = connect_as("intruder");
  ssl_ctx_ptr client = make_client_context(files_.ca_cert);
  auto h = run_handshake(context_->native_handle(), client.get());
  ASSERT_TRUE(h.ok);
  read_peer_certificate(h.server.get(), peer);
  EXPECT_FALSE(peer.certificate_presented);
  EXPECT_EQ(peer.certificate_error, "");
  EXPECT_EQ(peer.certificate_subject_cn, "");
  EXPECT_EQ(peer.certificate_fingerprint, "");
}

TEST_F(peer_certificate, a_resumed_session_keeps_the_clients_certificate_and_verdict) {
  ssl_ctx_ptr client =
      make_client_context(files_.ca_cert, dir_.path() / "sensor-1.pem", dir_.path() / "sensor-1.key");
  auto first = run_handshake(context_->native_handle(), client.get());
  ASSERT_TRUE(first.ok);
  ssl_session_ptr session{SSL_get1_session(first.client.get())};
  auto second = run_handshake(context_->native_handle(), client.get(), session.get());
  ASSERT_TRUE(second.ok);
  ASSERT_EQ(SSL_session_reused(second.server.get()), 1);
  peer_identity peer;
  read_peer_certificate(second.server.get(), peer);
  EXPECT_TRUE(peer.certificate_presented);
  EXPECT_TRUE(peer.certificate_verified);
  EXPECT_EQ(peer.certificate_subject_cn, "sensor-1");
  EXPECT_EQ(peer.certificate_fingerprint, fingerprint_of_pem_file(dir_.path() / "sensor-1.pem"));
}

}  // namespace
}  // namespace mqhub::net::tls
