#include "net/tls/certificate_builder.hpp"

#include <array>
#include <climits>

#include <openssl/rand.h>

#include "net/tls/openssl_error.hpp"

namespace mqhub::net::tls {

namespace {

// notBefore lies this far in the past, so that a device whose clock is a little behind accepts the
// certificate at once.
constexpr long backdate_seconds = 3600;

bool set_random_serial(X509* certificate) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return false;
  bytes[0] &= 0x7f;  // a serial is a positive INTEGER (RFC 5280 4.1.2.2)
  bignum_ptr serial{BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr)};
  return serial && BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) != nullptr;
}

bool add_extension(X509* certificate, X509V3_CTX* context, int nid, const char* value) {
  x509_extension_ptr extension{X509V3_EXT_conf_nid(nullptr, context, nid, value)};
  return extension && X509_add_ext(certificate, extension.get(), -1) == 1;
}

bool add_role_extensions(X509* certificate, X509V3_CTX* context, certificate_role role) {
  switch (role) {
    case certificate_role::authority:
      return add_extension(certificate, context, NID_basic_constraints, "critical,CA:TRUE") &&
             add_extension(certificate, context, NID_key_usage, "critical,keyCertSign,cRLSign");
    case certificate_role::server:
      return add_extension(certificate, context, NID_basic_constraints, "critical,CA:FALSE") &&
             add_extension(certificate, context, NID_key_usage, "critical,digitalSignature") &&
             add_extension(certificate, context, NID_ext_key_usage, "serverAuth");
    case certificate_role::client:
      return add_extension(certificate, context, NID_basic_constraints, "critical,CA:FALSE") &&
             add_extension(certificate, context, NID_key_usage, "critical,digitalSignature") &&
             add_extension(certificate, context, NID_ext_key_usage, "clientAuth");
    case certificate_role::cluster_node:
      return add_extension(certificate, context, NID_basic_constraints, "critical,CA:FALSE") &&
             add_extension(certificate, context, NID_key_usage, "critical,digitalSignature") &&
             add_extension(certificate, context, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  return false;
}

}  // namespace

evp_pkey_ptr generate_key(std::string& error) {
  clear_openssl_errors();
  evp_pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  if (!key)
    error = "cannot generate an EC P-256 key: " + openssl_error_text();
  return key;
}

x509_ptr build_certificate(const certificate_request& request, EVP_PKEY* key, X509* issuer,
                           EVP_PKEY* issuer_key, std::string& error) {
  clear_openssl_errors();
  auto fail = [&](const char* what) {
    error = std::string("cannot ") + what + " of the certificate for '" + request.common_name +
            "': " + openssl_error_text();
    return nullptr;
  };
  if (request.common_name.size() > INT_MAX)
    return fail("set the subject");
  x509_ptr certificate{X509_new()};
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      !set_random_serial(certificate.get()))
    return fail("set the version and serial");

  X509_NAME* subject = X509_get_subject_name(certificate.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(request.common_name.data()),
                                 static_cast<int>(request.common_name.size()), -1, 0) != 1)
    return fail("set the subject");
  if (X509_set_issuer_name(certificate.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject) !=
      1)
    return fail("set the issuer");

  if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -backdate_seconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(certificate.get()), request.valid_days, 0, nullptr) == nullptr)
    return fail("set the validity");
  if (X509_set_pubkey(certificate.get(), key) != 1)
    return fail("set the public key");

  // The subject key identifier goes first: for a self-signed certificate the authority key identifier is
  // copied from it.
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer != nullptr ? issuer : certificate.get(), certificate.get(), nullptr,
                 nullptr, 0);
  if (!add_role_extensions(certificate.get(), &context, request.role) ||
      !add_extension(certificate.get(), &context, NID_subject_key_identifier, "hash") ||
      !add_extension(certificate.get(), &context, NID_authority_key_identifier, "keyid:always"))
    return fail("add the extensions");
  if (request.alt_names != nullptr && X509_add1_ext_i2d(certificate.get(), NID_subject_alt_name,
                                                        request.alt_names, 0, X509V3_ADD_DEFAULT) != 1)
    return fail("add the subject alternative names");

  if (X509_sign(certificate.get(), issuer_key, EVP_sha256()) <= 0)
    return fail("sign");
  return certificate;
}

}  // namespace mqhub::net::tls
