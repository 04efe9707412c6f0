#include <cstdio>
#include <filesystem>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "net/tls/hub_certificates.hpp"
#include "tools/mqhub/node.hpp"
#include "tools/mqhub/node_options.hpp"

namespace {

// `mqhub issue-cert --data-dir DIR --cn NAME --out DIR`: a device certificate signed by the hub CA, which is
// created first when the node has not made it yet. argv[0] here is "issue-cert".
int issue_cert(int argc, char** argv) {
  std::string data_dir = mqhub::node::node_options{}.data_dir;
  std::string common_name;
  std::string out_dir;
  int valid_days = 825;
  CLI::App app{"mqhub issue-cert: writes NAME.pem and NAME.key, a device certificate signed by the hub CA"};
  app.add_option("--data-dir", data_dir, "the node's data directory (the hub CA is in its tls/ folder)")
      ->capture_default_str();
  app.add_option("--cn", common_name, "the device name: the certificate's common name and file names")
      ->required();
  app.add_option("--out", out_dir, "directory to write NAME.pem and NAME.key to")->required();
  app.add_option("--days", valid_days, "days the certificate is valid")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help, or the error already printed
  }

  mqhub::net::tls::tls_files files = mqhub::net::tls::hub_tls_files(data_dir);
  // The CA alone: the server certificate is left for the node, which knows the host names it needs.
  mqhub::net::tls::tls_files ca_only{files.ca_cert, files.ca_key, {}, {}};
  mqhub::net::tls::ensure_outcome outcome = mqhub::net::tls::ensure_hub_certificates(ca_only, {});
  if (!outcome.error.empty()) {
    std::fprintf(stderr, "mqhub issue-cert: %s\n", outcome.error.c_str());
    return 1;
  }
  if (outcome.created_ca)
    std::fprintf(stderr, "created the hub CA %s (clients trust this file)\n", files.ca_cert.c_str());
  if (std::string error = mqhub::net::tls::issue_device_certificate(files, common_name, out_dir, valid_days);
      !error.empty()) {
    std::fprintf(stderr, "mqhub issue-cert: %s\n", error.c_str());
    return 1;
  }
  std::filesystem::path out(out_dir);
  std::printf("%s\n%s\n", (out / (common_name + ".pem")).c_str(), (out / (common_name + ".key")).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "issue-cert")
    return issue_cert(argc - 1, argv + 1);
  mqhub::node::node_options options;
  if (int code = mqhub::node::parse_options(argc, argv, options); code >= 0)
    return code;
  // Logs go to stderr; stdout carries only the readiness lines that scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mqhub"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  return mqhub::node::run_node(options);
}
