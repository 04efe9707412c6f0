#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mqhub::net::tls {

/// A deleter calling an OpenSSL `*_free` function, so that every object is released on every path.
template <auto Free>
struct openssl_free {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using bignum_ptr = std::unique_ptr<BIGNUM, openssl_free<&BN_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_free<&BIO_free_all>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_free<&EVP_PKEY_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_free<&GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, openssl_free<&GENERAL_NAME_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_free<&SSL_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_free<&SSL_CTX_free>>;
using ssl_session_ptr = std::unique_ptr<SSL_SESSION, openssl_free<&SSL_SESSION_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_free<&X509_free>>;
using x509_extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_free<&X509_EXTENSION_free>>;
using x509_store_ptr = std::unique_ptr<X509_STORE, openssl_free<&X509_STORE_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_free<&X509_STORE_CTX_free>>;

}  // namespace mqhub::net::tls
