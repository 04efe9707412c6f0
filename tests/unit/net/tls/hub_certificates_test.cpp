#include "net/tls/hub_certificates.hpp"

#include <gtest/gtest.h>

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "net/tls/openssl_handles.hpp"
#include "tests/unit/net/tls/tls_test_support.hpp"

namespace mqhub::net::tls {
namespace {

using testing::file_text;
using testing::load_certificate;
using testing::temp_dir;

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

std::string common_name(X509* certificate) {
  char text[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, text, sizeof text);
  return text;
}

// X509_V_OK, or why `certificate` does not chain to `ca` for `purpose`.
int verify(X509* certificate, const std::filesystem::path& ca, int purpose) {
  x509_store_ptr store{X509_STORE_new()};
  X509_STORE_load_file(store.get(), ca.c_str());
  x509_store_ctx_ptr ctx{X509_STORE_CTX_new()};
  X509_STORE_CTX_init(ctx.get(), store.get(), certificate, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

// Days from now until the certificate's notAfter.
int days_left(X509* certificate) {
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(certificate));
  return days;
}

class hub_certificates : public ::testing::Test {
 protected:
  temp_dir dir_;
  tls_files files_ = hub_tls_files(dir_.path() / "data");
};

TEST_F(hub_certificates, files_live_in_the_tls_folder_of_the_data_dir) {
  // DESIGN §9: DATA_DIR/tls/ca.pem, ca.key, server.pem, server.key
  tls_files files = hub_tls_files("/var/lib/mqhub");
  EXPECT_EQ(files.ca_cert, "/var/lib/mqhub/tls/ca.pem");
  EXPECT_EQ(files.ca_key, "/var/lib/mqhub/tls/ca.key");
  EXPECT_EQ(files.server_cert, "/var/lib/mqhub/tls/server.pem");
  EXPECT_EQ(files.server_key, "/var/lib/mqhub/tls/server.key");
}

TEST_F(hub_certificates, first_call_creates_ca_and_server_certificate_with_private_modes) {
  ensure_outcome outcome = ensure_hub_certificates(files_, {});
  ASSERT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.created_ca);
  EXPECT_TRUE(outcome.created_server);
  EXPECT_EQ(mode_of(files_.ca_cert.parent_path()), 0700u);
  EXPECT_EQ(mode_of(files_.ca_key), 0600u);
  EXPECT_EQ(mode_of(files_.server_key), 0600u);
  EXPECT_EQ(mode_of(files_.ca_cert), 0644u);
  EXPECT_EQ(mode_of(files_.server_cert), 0644u);
}

TEST_F(hub_certificates, second_call_creates_nothing_and_keeps_the_files) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  std::string ca = file_text(files_.ca_cert);
  std::string ca_key = file_text(files_.ca_key);
  std::string server = file_text(files_.server_cert);
  std::string server_key = file_text(files_.server_key);

  ensure_outcome again = ensure_hub_certificates(files_, {"other.example"});
  EXPECT_EQ(again.error, "");
  EXPECT_FALSE(again.created_ca);
  EXPECT_FALSE(again.created_server);
  EXPECT_EQ(file_text(files_.ca_cert), ca);
  EXPECT_EQ(file_text(files_.ca_key), ca_key);
  EXPECT_EQ(file_text(files_.server_cert), server);
  EXPECT_EQ(file_text(files_.server_key), server_key);
}

TEST_F(hub_certificates, ca_is_a_self_signed_ten_year_authority_with_key_identifiers) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  x509_ptr ca = load_certificate(files_.ca_cert);
  ASSERT_TRUE(ca);
  EXPECT_EQ(common_name(ca.get()), "mqhub hub CA");
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(verify(ca.get(), files_.ca_cert, X509_PURPOSE_ANY), X509_V_OK);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  int critical = 0;
  auto* constraints =
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(ca.get(), NID_basic_constraints, &critical, nullptr));
  ASSERT_NE(constraints, nullptr);
  EXPECT_NE(constraints->ca, 0);
  EXPECT_EQ(critical, 1);
  BASIC_CONSTRAINTS_free(constraints);
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(ca.get()), nullptr);
  EXPECT_GE(days_left(ca.get()), 3649);
  EXPECT_LE(days_left(ca.get()), 3650);
  // A random positive serial of about 128 bits.
  bignum_ptr serial{ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.get()), nullptr)};
  EXPECT_FALSE(BN_is_negative(serial.get()));
  EXPECT_GT(BN_num_bits(serial.get()), 100);
  EXPECT_LE(BN_num_bits(serial.get()), 128);
}

TEST_F(hub_certificates, each_certificate_gets_its_own_random_serial) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  x509_ptr ca = load_certificate(files_.ca_cert);
  x509_ptr server = load_certificate(files_.server_cert);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(server.get())), 0);
}

TEST_F(hub_certificates, server_certificate_verifies_against_the_ca_for_tls_servers) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  x509_ptr server = load_certificate(files_.server_cert);
  ASSERT_TRUE(server);
  EXPECT_EQ(common_name(server.get()), "mqhub");
  EXPECT_EQ(verify(server.get(), files_.ca_cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_NE(X509_get_extended_key_usage(server.get()) & XKU_SSL_SERVER, 0u);
  EXPECT_EQ(X509_get_extended_key_usage(server.get()) & XKU_SSL_CLIENT, 0u);
  EXPECT_GE(days_left(server.get()), 824);
  EXPECT_LE(days_left(server.get()), 825);
}

TEST_F(hub_certificates, server_certificate_names_localhost_the_loopbacks_and_the_host_names) {
  ASSERT_EQ(
      ensure_hub_certificates(files_, {"mqhub.example.com", "10.1.2.3", "[fd00::7]", "localhost"}).error, "");
  x509_ptr server = load_certificate(files_.server_cert);
  ASSERT_TRUE(server);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "mqhub.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "fd00::7", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "other.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.1.2.4", 0), 0);
  // "localhost" given twice is named once; an IP literal is not a DNS name.
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(server.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 6);
  GENERAL_NAMES_free(names);
  EXPECT_EQ(X509_check_host(server.get(), "10.1.2.3", 0, 0, nullptr), 0);
}

TEST_F(hub_certificates, a_host_name_that_is_no_name_is_refused_before_anything_is_written) {
  ensure_outcome outcome = ensure_hub_certificates(files_, {"bad name,DNS:evil.example"});
  EXPECT_NE(outcome.error.find("bad name"), std::string::npos) << outcome.error;
  EXPECT_FALSE(outcome.created_ca);
  EXPECT_FALSE(std::filesystem::exists(files_.ca_key));
}

TEST_F(hub_certificates, an_empty_server_path_asks_for_the_ca_alone) {
  tls_files ca_only = files_;
  ca_only.server_cert.clear();
  ca_only.server_key.clear();
  ensure_outcome outcome = ensure_hub_certificates(ca_only, {});
  EXPECT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.created_ca);
  EXPECT_FALSE(outcome.created_server);
  EXPECT_FALSE(std::filesystem::exists(files_.server_cert));
  // The node's first start then signs its server certificate with that CA.
  ensure_outcome later = ensure_hub_certificates(files_, {});
  EXPECT_EQ(later.error, "");
  EXPECT_FALSE(later.created_ca);
  EXPECT_TRUE(later.created_server);
  x509_ptr server = load_certificate(files_.server_cert);
  EXPECT_EQ(verify(server.get(), files_.ca_cert, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST_F(hub_certificates, an_operator_provided_server_certificate_is_kept_without_a_ca_of_its_own) {
  // Issue 4: a server certificate signed elsewhere is used as it is; the hub CA still signs devices.
  tls_files elsewhere = hub_tls_files(dir_.path() / "elsewhere");
  ASSERT_EQ(ensure_hub_certificates(elsewhere, {}).error, "");
  std::filesystem::create_directories(files_.server_cert.parent_path());
  std::filesystem::copy_file(elsewhere.server_cert, files_.server_cert);
  std::filesystem::copy_file(elsewhere.server_key, files_.server_key);

  ensure_outcome outcome = ensure_hub_certificates(files_, {});
  EXPECT_EQ(outcome.error, "");
  EXPECT_TRUE(outcome.created_ca);
  EXPECT_FALSE(outcome.created_server);
  EXPECT_EQ(file_text(files_.server_cert), file_text(elsewhere.server_cert));
}

TEST_F(hub_certificates, a_server_certificate_without_its_key_is_an_error_and_is_kept) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  std::string server = file_text(files_.server_cert);
  std::filesystem::remove(files_.server_key);
  ensure_outcome outcome = ensure_hub_certificates(files_, {});
  EXPECT_NE(outcome.error.find("server.pem exists without"), std::string::npos) << outcome.error;
  EXPECT_EQ(file_text(files_.server_cert), server);
  EXPECT_FALSE(std::filesystem::exists(files_.server_key));
}

TEST_F(hub_certificates, a_ca_key_without_its_certificate_is_an_error_and_is_kept) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  std::string key = file_text(files_.ca_key);
  std::filesystem::remove(files_.ca_cert);
  ensure_outcome outcome = ensure_hub_certificates(files_, {});
  EXPECT_NE(outcome.error.find("ca.key exists without"), std::string::npos) << outcome.error;
  EXPECT_FALSE(outcome.created_ca);
  EXPECT_EQ(file_text(files_.ca_key), key);
}

TEST_F(hub_certificates, a_missing_server_certificate_needs_the_ca_key) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  std::filesystem::remove(files_.ca_key);
  std::filesystem::remove(files_.server_cert);
  std::filesystem::remove(files_.server_key);
  ensure_outcome outcome = ensure_hub_certificates(files_, {});
  EXPECT_NE(outcome.error.find("ca.key is missing"), std::string::npos) << outcome.error;
  EXPECT_FALSE(std::filesystem::exists(files_.server_cert));
}

TEST_F(hub_certificates, issued_device_certificate_verifies_against_the_ca_for_tls_clients) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  std::filesystem::path out = dir_.path() / "devices";
  ASSERT_EQ(issue_device_certificate(files_, "sensor-1", out), "");
  x509_ptr device = load_certificate(out / "sensor-1.pem");
  ASSERT_TRUE(device);
  EXPECT_EQ(common_name(device.get()), "sensor-1");
  EXPECT_EQ(verify(device.get(), files_.ca_cert, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(X509_get_extended_key_usage(device.get()) & XKU_SSL_CLIENT, 0u);
  EXPECT_EQ(X509_get_extended_key_usage(device.get()) & XKU_SSL_SERVER, 0u);
  EXPECT_EQ(X509_check_ca(device.get()), 0);
  EXPECT_EQ(mode_of(out / "sensor-1.key"), 0600u);
  EXPECT_GE(days_left(device.get()), 824);

  bio_ptr bio{BIO_new_file((out / "sensor-1.key").c_str(), "r")};
  evp_pkey_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(device.get(), key.get()), 1);
}

TEST_F(hub_certificates, device_validity_is_configurable) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  ASSERT_EQ(issue_device_certificate(files_, "short", dir_.path(), 30), "");
  x509_ptr device = load_certificate(dir_.path() / "short.pem");
  EXPECT_GE(days_left(device.get()), 29);
  EXPECT_LE(days_left(device.get()), 30);
  EXPECT_NE(issue_device_certificate(files_, "never", dir_.path(), 0), "");
}

TEST_F(hub_certificates, device_common_name_is_utf8_up_to_64_bytes) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  EXPECT_EQ(issue_device_certificate(files_, std::string(64, 'a'), dir_.path()), "");
  EXPECT_EQ(issue_device_certificate(files_, "capteur-\xc3\xa9t\xc3\xa9", dir_.path()), "");
  x509_ptr device = load_certificate(dir_.path() / "capteur-\xc3\xa9t\xc3\xa9.pem");
  ASSERT_TRUE(device);
  unsigned char* utf8 = nullptr;
  X509_NAME* subject = X509_get_subject_name(device.get());
  int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(
                                     subject, X509_NAME_get_index_by_NID(subject, NID_commonName, -1))));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(length)),
            "capteur-\xc3\xa9t\xc3\xa9");
  OPENSSL_free(utf8);
}

TEST_F(hub_certificates, device_names_that_cannot_be_a_file_or_a_common_name_are_refused) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  EXPECT_NE(issue_device_certificate(files_, "", dir_.path()), "");
  EXPECT_NE(issue_device_certificate(files_, std::string(65, 'a'), dir_.path()), "");
  EXPECT_NE(issue_device_certificate(files_, "../escape", dir_.path()), "");
  EXPECT_NE(issue_device_certificate(files_, std::string("nul\0name", 8), dir_.path()), "");
  EXPECT_NE(issue_device_certificate(files_, "bad-\xff-utf8", dir_.path()), "");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "bad-\xff-utf8.key"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "nul.pem"));
}

TEST_F(hub_certificates, issuing_never_replaces_a_device_file) {
  ASSERT_EQ(ensure_hub_certificates(files_, {}).error, "");
  ASSERT_EQ(issue_device_certificate(files_, "sensor-1", dir_.path()), "");
  std::string first = file_text(dir_.path() / "sensor-1.pem");
  std::string error = issue_device_certificate(files_, "sensor-1", dir_.path());
  EXPECT_NE(error.find("exists already"), std::string::npos) << error;
  EXPECT_EQ(file_text(dir_.path() / "sensor-1.pem"), first);
}

TEST_F(hub_certificates, issuing_without_a_hub_ca_says_so) {
  std::string error = issue_device_certificate(files_, "sensor-1", dir_.path());
  EXPECT_NE(error.find("no hub CA"), std::string::npos) << error;
  EXPECT_NE(error.find("ca.pem"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "sensor-1.key"));
}

}  // namespace
}  // namespace mqhub::net::tls
