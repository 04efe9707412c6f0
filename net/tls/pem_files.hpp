#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "net/tls/openssl_handles.hpp"

namespace mqhub::net::tls {

/// The first certificate of a PEM file; null, with `error` naming the file and the reason, when there is
/// none.
x509_ptr read_certificate(const std::filesystem::path& path, std::string& error);

/// The private key of a PEM file (unencrypted); null, with `error` set, when there is none.
evp_pkey_ptr read_private_key(const std::filesystem::path& path, std::string& error);

/// Creates `path` holding `content` with permissions `mode`, never replacing a file that is there: the
/// content goes to a temporary file in the same directory, which is then linked into place (link fails
/// when `path` exists), so a crash or a concurrent writer never leaves a partial or clobbered file.
/// Returns an error message, or an empty string on success.
std::string write_new_file(const std::filesystem::path& path, std::string_view content, mode_t mode);

/// `write_new_file` of a certificate in PEM (mode 0644).
std::string write_new_certificate_file(const std::filesystem::path& path, X509* certificate);

/// `write_new_file` of an unencrypted PKCS#8 PEM private key (mode 0600); no copy of it is left in memory.
std::string write_new_key_file(const std::filesystem::path& path, EVP_PKEY* key);

}  // namespace mqhub::net::tls
