#include "net/tls/hub_certificates.hpp"

#include <set>
#include <system_error>

#include "net/tls/alt_names.hpp"
#include "net/tls/certificate_builder.hpp"
#include "net/tls/openssl_error.hpp"
#include "net/tls/pem_files.hpp"

namespace mqhub::net::tls {

namespace {

constexpr int ca_valid_days = 3650;
constexpr int server_valid_days = 825;  // the longest a TLS server certificate may be valid (CA/B forum)
constexpr size_t max_common_name_bytes = 64;  // ub-common-name (RFC 5280)

struct certificate_and_key {
  x509_ptr certificate;
  evp_pkey_ptr key;
};

bool file_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// A directory made here holds private keys: only the owner may look into it.
std::string ensure_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.empty() || std::filesystem::is_directory(dir, ec))
    return {};
  if (!std::filesystem::create_directories(dir, ec) && ec)
    return "cannot create " + dir.string() + ": " + ec.message();
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace,
                               ec);
  return ec ? "cannot restrict " + dir.string() + ": " + ec.message() : std::string();
}

std::string one_without_other(const std::filesystem::path& there, const std::filesystem::path& missing) {
  return there.string() + " exists without " + missing.string() + "; not replacing it";
}

certificate_and_key load_pair(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                              std::string& error) {
  certificate_and_key pair;
  pair.certificate = read_certificate(cert_path, error);
  if (pair.certificate)
    pair.key = read_private_key(key_path, error);
  if (!pair.certificate || !pair.key)
    return {};
  clear_openssl_errors();
  if (X509_check_private_key(pair.certificate.get(), pair.key.get()) != 1) {
    error = key_path.string() + " is not the key of " + cert_path.string() + ": " + openssl_error_text();
    return {};
  }
  return pair;
}

// The key first, so that a certificate on disk always has its key; a key whose certificate could not be
// written is removed again, so that the next attempt starts from nothing.
std::string write_pair(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                       const certificate_and_key& pair) {
  if (std::string error = write_new_key_file(key_path, pair.key.get()); !error.empty())
    return error;
  std::string error = write_new_certificate_file(cert_path, pair.certificate.get());
  if (!error.empty()) {
    std::error_code ec;
    std::filesystem::remove(key_path, ec);
  }
  return error;
}

// A new key pair and its certificate, written to `cert_path` and `key_path`.
certificate_and_key create_pair(const certificate_request& request, const certificate_and_key* issuer,
                                const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                                std::string& error) {
  certificate_and_key pair;
  pair.key = generate_key(error);
  if (!pair.key)
    return {};
  pair.certificate =
      issuer != nullptr
          ? build_certificate(request, pair.key.get(), issuer->certificate.get(), issuer->key.get(), error)
          : build_certificate(request, pair.key.get(), nullptr, pair.key.get(), error);
  if (!pair.certificate)
    return {};
  error = write_pair(cert_path, key_path, pair);
  return error.empty() ? std::move(pair) : certificate_and_key{};
}

}  // namespace

tls_files hub_tls_files(const std::filesystem::path& data_dir) {
  std::filesystem::path dir = data_dir / "tls";
  return {dir / "ca.pem", dir / "ca.key", dir / "server.pem", dir / "server.key"};
}

ensure_outcome ensure_hub_certificates(const tls_files& files, const std::vector<std::string>& host_names) {
  ensure_outcome outcome;
  bool want_server = !files.server_cert.empty();
  general_names_ptr alt_names;
  if (want_server) {
    std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
    names.insert(names.end(), host_names.begin(), host_names.end());
    alt_names = make_alt_names(names, outcome.error);
    if (!alt_names)
      return outcome;
  }

  std::set<std::filesystem::path> dirs{files.ca_cert.parent_path(), files.ca_key.parent_path()};
  if (want_server) {
    dirs.insert(files.server_cert.parent_path());
    dirs.insert(files.server_key.parent_path());
  }
  for (const auto& dir : dirs) {
    if (outcome.error = ensure_directory(dir); !outcome.error.empty())
      return outcome;
  }

  bool has_ca_cert = file_exists(files.ca_cert);
  bool has_ca_key = file_exists(files.ca_key);
  if (has_ca_key && !has_ca_cert) {
    outcome.error = one_without_other(files.ca_key, files.ca_cert);
    return outcome;
  }
  certificate_and_key ca;
  if (!has_ca_cert) {
    ca = create_pair({"mqhub hub CA", certificate_role::authority, ca_valid_days, nullptr}, nullptr,
                     files.ca_cert, files.ca_key, outcome.error);
    if (!ca.certificate)
      return outcome;
    outcome.created_ca = true;
  }
  if (!want_server)
    return outcome;

  bool has_server_cert = file_exists(files.server_cert);
  bool has_server_key = file_exists(files.server_key);
  if (has_server_cert && has_server_key)
    return outcome;
  if (has_server_cert || has_server_key) {
    outcome.error = has_server_cert ? one_without_other(files.server_cert, files.server_key)
                                    : one_without_other(files.server_key, files.server_cert);
    return outcome;
  }
  if (!ca.certificate) {
    if (!has_ca_key) {
      outcome.error = "cannot create " + files.server_cert.string() + ": the hub CA key " +
                      files.ca_key.string() + " is missing";
      return outcome;
    }
    ca = load_pair(files.ca_cert, files.ca_key, outcome.error);
    if (!ca.certificate)
      return outcome;
  }
  certificate_and_key server =
      create_pair({"mqhub", certificate_role::server, server_valid_days, alt_names.get()}, &ca,
                  files.server_cert, files.server_key, outcome.error);
  outcome.created_server = static_cast<bool>(server.certificate);
  return outcome;
}

namespace {

std::string check_common_name(const std::string& common_name, const char* what) {
  if (common_name.empty())
    return std::string("the ") + what + " name is empty";
  if (common_name.size() > max_common_name_bytes)
    return std::string("the ") + what + " name '" + common_name + "' is longer than 64 bytes";
  if (common_name.find_first_of(std::string("/\0", 2)) != std::string::npos)
    return std::string("the ") + what + " name must not contain '/' or NUL";
  return {};
}

// A new pair for `request`, signed by the hub CA, into files that must not exist yet.
std::string issue_certificate(const tls_files& files, const certificate_request& request,
                              const std::filesystem::path& cert_path, const std::filesystem::path& key_path) {
  for (const auto& path : {cert_path, key_path}) {
    if (file_exists(path))
      return path.string() + " exists already; not replacing it";
  }
  std::string error;
  certificate_and_key ca = load_pair(files.ca_cert, files.ca_key, error);
  if (!ca.certificate)
    return "no hub CA to sign with: " + error;
  for (const auto& dir : {cert_path.parent_path(), key_path.parent_path()}) {
    if (error = ensure_directory(dir); !error.empty())
      return error;
  }
  create_pair(request, &ca, cert_path, key_path, error);
  return error;
}

}  // namespace

std::string issue_device_certificate(const tls_files& files, const std::string& common_name,
                                     const std::filesystem::path& out_dir, int valid_days) {
  if (std::string error = check_common_name(common_name, "device"); !error.empty())
    return error;
  if (valid_days < 1)
    return "a certificate must be valid for at least one day";
  return issue_certificate(files, {common_name, certificate_role::client, valid_days, nullptr},
                           out_dir / (common_name + ".pem"), out_dir / (common_name + ".key"));
}

std::string ensure_node_certificate(const tls_files& files, const std::string& node_name,
                                    const std::filesystem::path& cert_path,
                                    const std::filesystem::path& key_path) {
  bool has_cert = file_exists(cert_path);
  bool has_key = file_exists(key_path);
  if (has_cert && has_key)
    return {};
  if (has_cert || has_key)
    return has_cert ? one_without_other(cert_path, key_path) : one_without_other(key_path, cert_path);
  if (std::string error = check_common_name(node_name, "node"); !error.empty())
    return error;
  bool has_ca_cert = file_exists(files.ca_cert);
  bool has_ca_key = file_exists(files.ca_key);
  if (!has_ca_cert && !has_ca_key) {
    for (const auto& dir : {files.ca_cert.parent_path(), files.ca_key.parent_path()}) {
      if (std::string error = ensure_directory(dir); !error.empty())
        return error;
    }
    std::string error;
    create_pair({"mqhub cluster CA", certificate_role::authority, ca_valid_days, nullptr}, nullptr,
                files.ca_cert, files.ca_key, error);
    if (!error.empty())
      return error;
  }
  return issue_certificate(files, {node_name, certificate_role::cluster_node, server_valid_days, nullptr},
                           cert_path, key_path);
}

}  // namespace mqhub::net::tls
