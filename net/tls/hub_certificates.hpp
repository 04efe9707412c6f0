#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mqhub::net::tls {

/// Where the hub's TLS material is kept.
struct tls_files {
  std::filesystem::path ca_cert, ca_key, server_cert, server_key;
};

/// DATA_DIR/tls/ca.pem, ca.key, server.pem and server.key.
tls_files hub_tls_files(const std::filesystem::path& data_dir);

struct ensure_outcome {
  bool created_ca = false;
  bool created_server = false;
  std::string error;  // empty when everything needed is there
};

/// Creates what is missing of the hub's TLS material, never replacing a file (issue 4):
/// - the directories of the files (a new one with mode 0700);
/// - when neither CA file exists, a hub CA: EC P-256, self-signed, CN "mqhub hub CA", 10 years;
/// - when neither server file exists, a server certificate signed by the hub CA: CN "mqhub", subjectAltName
///   localhost, 127.0.0.1, ::1 and `host_names` (IP literals as IP entries), serverAuth, 825 days.
/// Keys are written with mode 0600. An empty `server_cert` path asks for the CA alone. A server pair
/// that is there is used as it is, whoever signed it. One file of a pair without the other, or a server
/// certificate to make while the CA key is missing, is an error.
ensure_outcome ensure_hub_certificates(const tls_files& files, const std::vector<std::string>& host_names);

/// Issues a device (client) certificate signed by the hub CA: out_dir/NAME.pem and out_dir/NAME.key (0600),
/// CN = `common_name`, clientAuth, `valid_days` long. `common_name` must be non-empty UTF-8 of at most 64
/// bytes without '/' or NUL; existing files are not replaced. Returns an error message, or empty on success.
std::string issue_device_certificate(const tls_files& files, const std::string& common_name,
                                     const std::filesystem::path& out_dir, int valid_days = 825);

/// Makes sure a cluster node has its certificate: `cert_path` and `key_path` are used as they are when both
/// exist; otherwise they are issued by the CA of `files` (the cluster CA, made first, CN "mqhub cluster CA",
/// when neither of its files exists), CN = `node_name`, serverAuth and clientAuth, 825 days. Returns an error
/// message, or empty on success.
std::string ensure_node_certificate(const tls_files& files, const std::string& node_name,
                                    const std::filesystem::path& cert_path,
                                    const std::filesystem::path& key_path);

}  // namespace mqhub::net::tls
