#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman_actor.hpp>

#include "cluster/member_table.hpp"

namespace mqhub::cluster {

/// Keeps this node connected to every other member, through CAF's middleman (over TLS when the actor system
/// has the OpenSSL manager): it dials its seeds and every address it learns, says hello to the membership
/// actor of each node it reaches, and monitors them. A member whose connection is lost (a killed node, a
/// partition) leaves at once; its address is dialled again every `dial_interval`, so that it rejoins when it
/// is back. A joining node learns every member from the one it reached, and that one tells the others.
///
/// It starts dialling once told where its own node listens: (caf::publish_atom, "HOST:PORT").
class membership_actor : public caf::event_based_actor {
 public:
  /// The other members' gateways (see hello_atom), by member name.
  using gateway_map = std::map<std::string, caf::actor>;
  /// Called on every membership change with the members (this node included), their placement and the
  /// other members' gateways.
  using change_listener =
      std::function<void(const std::vector<member_info>&, const shard_placement&, const gateway_map&)>;

  /// `gateway`: this node's, which the others learn in the hello (may be null where nothing is forwarded).
  membership_actor(caf::actor_config& config, std::string node_name, const std::vector<std::string>& seeds,
                   caf::io::middleman_actor connector, change_listener on_change,
                   std::chrono::milliseconds dial_interval, caf::actor gateway = {});

  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "mqhub.cluster.membership"; }

 private:
  void dial_all();
  void dial(const std::string& address);
  void dial_failed(const std::string& address, const caf::error& why);
  bool from_this_node();
  void greeted(const std::string& address, const caf::actor& remote, const member_info& responder,
               const std::vector<member_info>& members, const caf::actor& gateway);
  void admit(const member_info& member, const caf::actor& handle, const caf::actor& gateway);
  void lost(const caf::down_msg& down);
  void changed();

  member_table table_;
  caf::io::middleman_actor connector_;
  change_listener on_change_;
  std::chrono::milliseconds dial_interval_;
  caf::actor gateway_;
  std::map<std::string, caf::actor> handles_;  // member name -> its membership actor
  gateway_map gateways_;
  std::set<std::string> dialling_;
  std::map<std::string, std::string> failures_;  // address -> the last failure logged, to log each once
  std::map<std::string, int> idle_rounds_;       // address -> dial rounds it has had no member
  std::map<std::string, int> timeouts_;          // address -> dials in a row that timed out
  std::map<std::string, uint64_t> not_before_;   // address -> the round it may be dialled again in
  uint64_t round_ = 0;
  std::minstd_rand random_{std::random_device{}()};
};

}  // namespace mqhub::cluster
