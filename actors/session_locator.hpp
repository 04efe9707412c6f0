#pragma once

#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/messages.hpp"
#include "cluster/shard_placement.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// Keeps one session per client id across the cluster (docs/architecture.md "Cluster"). Each client id
/// belongs to a node, by the placement of its hash; every CONNECT is reported to that node, which remembers
/// where the client was last, and when it connected elsewhere tells that node, whose directory ends the
/// session there (DISCONNECT 0x8E to its connection, its will published once), or, when the new CONNECT
/// resumes the session, moves it to the new node (session_handoff.cpp). A node where a client resumes and no
/// session moves is told so, for it waits to know. A node that restarts has the sessions it restored checked
/// by the owners of their client ids: a client that connected at another node while it was down has its
/// session there, and the copy it restored ends.
class session_locator : public caf::event_based_actor {
 public:
  session_locator(caf::actor_config& cfg, std::string node_name, std::vector<caf::actor> directories);

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "mqhub.cluster.locator"; }

 private:
  /// Reports a connect here to the node that keeps track of its client id.
  void report(cluster::client_arrival arrival);
  const std::string& owner_of(const std::string& client_id) const;
  /// Sends the entries of client ids another node owns now to that node.
  void hand_over_entries();
  /// Reports the sessions this node restored to the members it has not reported them to.
  void report_restored();
  /// Ends those of `restored` whose client connected at another member since.
  void end_stale(const cluster::restored_sessions& restored);
  /// Ends the session restored at `restored_at` when its client was last at another live node.
  void end_if_stale(const std::string& client_id, const std::string& restored_at, const std::string& last_at);
  void arrived(const cluster::client_arrival& arrival);
  /// Tells `node` that its client connected elsewhere.
  void tell(const std::string& node, cluster::client_taken_over taken);
  /// Tells `node`, where a client resumes, that its session moves from nowhere.
  void no_session_to_move(const std::string& node, const std::string& client_id);
  /// Null for a node that is not a member (any more).
  caf::actor gateway_of(const std::string& node) const;
  const caf::actor& directory_of(const std::string& client_id) const;

  std::string node_name_;
  std::vector<caf::actor> directories_;
  std::optional<cluster::shard_placement> placement_;
  std::map<std::string, caf::actor> gateways_;
  /// Of the client ids this node keeps track of: the node each was last connected at, and when.
  struct last_connect {
    std::string node;
    int64_t at_us = 0;
  };
  std::unordered_map<std::string, last_connect> last_;
  /// The client ids of the sessions this node restored at its start, the members they went to, and those an
  /// entry handed over here may find stale.
  std::vector<std::string> restored_ids_;
  std::set<std::string> reported_to_;
  std::unordered_set<std::string> restored_here_;
};

}  // namespace mqhub::actors
