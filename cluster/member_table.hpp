#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/shard_placement.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::cluster {

/// Who is in the cluster, as one node sees it: itself, the members it is connected to, and the addresses it
/// keeps dialling (its seeds and every member it has known), so that a restarted or partitioned node is
/// found again. Membership is the set of connected nodes; every change makes a new placement version.
class member_table {
 public:
  member_table(member_info self, const std::vector<std::string>& seeds);

  const member_info& self() const { return self_; }
  /// Sets where this node listens, once the cluster port is open.
  void set_self_address(std::string address);

  /// Adds a connected member (or updates its address); whether it is new.
  bool add(const member_info& member);
  /// Removes a member whose connection was lost; whether it was there. Its address stays to be dialled.
  bool remove(const std::string& name);
  bool contains(const std::string& name) const { return members_.count(name) != 0; }
  /// Remembers an address to dial until a member there is connected.
  void learn_address(const std::string& address);
  /// Records that `name` answered at `address`, which may differ from the address it gives for itself (a seed
  /// given as a host name, say): the address is not dialled while that member is connected.
  void alias(const std::string& address, const std::string& name) { names_[address] = name; }
  /// The node that answers at `address`, once one has.
  const std::string* name_at(const std::string& address) const;

  /// Every member, this node included, sorted by name.
  std::vector<member_info> members() const;
  /// The addresses to dial now: known ones that no connected member has, and not this node's own.
  std::vector<std::string> addresses_to_dial() const;

  /// Marks a member (or this node) as leaving: it stays connected, but owns no shard from now on. A member
  /// that is added again is no longer leaving.
  void set_leaving(const std::string& name);
  bool leaving(const std::string& name) const { return leaving_.count(name) != 0; }

  /// The shard placement of the current membership, without the members that are leaving (while one is
  /// left).
  shard_placement placement() const;
  uint64_t version() const { return version_; }

 private:
  member_info self_;
  std::map<std::string, std::string> members_;  // name -> address; this node not included
  std::set<std::string> addresses_;
  std::map<std::string, std::string> names_;  // address -> the node that answered there
  std::set<std::string> leaving_;
  uint64_t version_ = 1;
};

/// Splits "HOST:PORT" (an IPv6 host in brackets); nullopt when it is not that shape.
std::optional<std::pair<std::string, uint16_t>> split_address(const std::string& address);

}  // namespace mqhub::cluster
