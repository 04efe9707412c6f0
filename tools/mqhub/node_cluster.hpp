#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "tools/mqhub/node_options.hpp"

namespace mqhub::node {

/// Whether the node takes part in a cluster: it has a cluster port (which --join needs).
bool cluster_enabled(const node_options& options);

/// Prepares the actor system for the cluster, before it starts: the node's certificate (made by the cluster
/// CA when missing), mutual TLS for every cluster link, CAF's middleman and OpenSSL manager, and the wire
/// types. Returns an error message, or empty.
std::string configure_cluster(const node_options& options, const std::string& node_name,
                              caf::actor_system_config& config);

/// The node's cluster membership, listening on the cluster port and dialling the --join seeds.
struct cluster_membership {
  caf::actor actor;
  std::string ready_line;  // "listening cluster ADDR:PORT"
  std::string error;       // set when it could not start
};
/// `listeners` hear of every membership change (actors::cluster_view); `gateway` is what the other nodes send
/// to (actors::cluster_gateway).
cluster_membership start_cluster(caf::actor_system& system, const node_options& options,
                                 const std::string& node_name, std::vector<caf::actor> listeners,
                                 const caf::actor& gateway);

/// This machine's host name, the name of a node that was given none.
std::string host_name();

}  // namespace mqhub::node
