#include "tools/mqhub/node_cluster.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "actors/messages.hpp"
#include "cluster/membership_actor.hpp"
#include "cluster/wire_types.hpp"
#include "net/tls/hub_certificates.hpp"

namespace mqhub::node {

namespace {

// How often a node dials the members it lost and seeds it has not reached.
constexpr std::chrono::milliseconds dial_interval{1000};

}  // namespace

bool cluster_enabled(const node_options& options) {
  return options.cluster_port != 0;
}

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0')
    return "mqhub";
  return name.data();
}

std::string configure_cluster(const node_options& options, const std::string& node_name,
                              caf::actor_system_config& config) {
  // A CA of its own, not the hub CA: the hub CA signs device certificates too, and CAF checks only that a
  // peer's certificate chains to the CA, so a device could otherwise join the cluster.
  auto dir = net::tls::hub_tls_files(options.data_dir).ca_cert.parent_path();
  net::tls::tls_files cluster_ca{dir / "cluster-ca.pem", dir / "cluster-ca.key", {}, {}};
  std::filesystem::path cert = options.cluster_cert, key = options.cluster_key;
  if (cert.empty() != key.empty())
    return "--cluster-cert and --cluster-key go together";
  if (!options.cluster_ca.empty() && cert.empty())
    return "--cluster-ca needs this node's --cluster-cert and --cluster-key, signed by it";
  if (cert.empty()) {
    cert = dir / "node.pem";
    key = dir / "node.key";
    if (auto error = net::tls::ensure_node_certificate(cluster_ca, node_name, cert, key); !error.empty())
      return "cannot make the node certificate: " + error;
  }
  std::filesystem::path ca =
      options.cluster_ca.empty() ? cluster_ca.ca_cert : std::filesystem::path(options.cluster_ca);
  for (const auto& file : {cert, key, ca}) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
      return "cannot read " + file.string() + ": no such file";
  }
  // Set, they make CAF require a certificate the CA signed on both ends of every link.
  config.openssl_certificate = cert.string();
  config.openssl_key = key.string();
  config.openssl_cafile = ca.string();
  // A silent peer (a partition rather than a killed process) is dropped after the timeout.
  config.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  config.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(5)});
  config.load<caf::io::middleman>();
  config.load<caf::openssl::manager>();
  cluster::register_wire_types(config);
  return {};
}

cluster_membership start_cluster(caf::actor_system& system, const node_options& options,
                                 const std::string& node_name, std::vector<caf::actor> listeners,
                                 const caf::actor& gateway) {
  cluster_membership result;
  std::string host = options.cluster_advertise.empty() ? options.bind : options.cluster_advertise;
  if (host == "0.0.0.0" || host == "::")
    host = host_name();
  result.actor = system.spawn<cluster::membership_actor>(
      node_name, options.join, system.openssl_manager().actor_handle(),
      [listeners = std::move(listeners)](const std::vector<cluster::member_info>&,
                                         const cluster::shard_placement& placement,
                                         const cluster::membership_actor::gateway_map& gateways) {
        for (const auto& actor : listeners)
          caf::anon_send(actor, actors::cluster_view{placement, gateways});
      },
      dial_interval, gateway);
  auto port = caf::openssl::publish(result.actor, options.cluster_port, options.bind.c_str(), true);
  if (!port) {
    result.error = "cannot listen on " + options.bind + ":" + std::to_string(options.cluster_port) + ": " +
                   system.render(port.error());
    caf::anon_send_exit(result.actor, caf::exit_reason::user_shutdown);
    result.actor = nullptr;
    return result;
  }
  auto bracketed = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  caf::anon_send(result.actor, caf::publish_atom::value, bracketed + ":" + std::to_string(*port));
  result.ready_line = "listening cluster " + options.bind + ":" + std::to_string(*port);
  return result;
}

}  // namespace mqhub::node
