#include "net/tls/peer_certificate.hpp"

#include <openssl/x509.h>

namespace mqhub::net::tls {

namespace {

// A name the authentication hook matches against device names must be unambiguous: with two CNs, or one
// that a NUL would cut short in C code, there is none.
std::string subject_common_name(X509* certificate) {
  X509_NAME* subject = X509_get_subject_name(certificate);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0)
    return {};
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, value);
  if (length < 0)
    return {};
  std::string name(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return name.find('\0') == std::string::npos ? name : std::string();
}

std::string sha256_fingerprint(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha256(), digest, &length) != 1)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * static_cast<size_t>(length));
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 0x0f];
  }
  return text;
}

}  // namespace

void read_peer_certificate(SSL* ssl, peer_identity& peer) {
  peer.certificate_presented = false;
  peer.certificate_verified = false;
  peer.certificate_error.clear();
  peer.certificate_subject_cn.clear();
  peer.certificate_fingerprint.clear();
  X509* certificate = SSL_get0_peer_certificate(ssl);  // also there on a resumed session
  if (certificate == nullptr)
    return;
  peer.certificate_presented = true;
  long result = SSL_get_verify_result(ssl);
  peer.certificate_verified = result == X509_V_OK;
  if (!peer.certificate_verified)
    peer.certificate_error = X509_verify_cert_error_string(result);
  peer.certificate_subject_cn = subject_common_name(certificate);
  peer.certificate_fingerprint = sha256_fingerprint(certificate);
}

}  // namespace mqhub::net::tls
