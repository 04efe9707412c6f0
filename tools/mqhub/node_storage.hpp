#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/durable_store.hpp"
#include "net/node_services.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/recovery.hpp"
#include "tools/mqhub/node_options.hpp"

namespace mqhub::node {

/// The node's storage in durable modes (docs/architecture.md): the database, what was recovered from it,
/// the group-commit writer and the actors' view of both.
class node_storage {
 public:
  /// Opens the database under the data dir, claims it for the node (storage/node_identity.hpp; a node
  /// given no name takes the recorded one, else `fallback_name`) and recovers it. A database that cannot be
  /// opened or read, or that belongs to another node, stops the start: the error says why and nothing is
  /// deleted.
  static std::unique_ptr<node_storage> open(const node_options& options, const std::string& fallback_name,
                                            std::string& error);

  ~node_storage();
  node_storage(const node_storage&) = delete;
  node_storage& operator=(const node_storage&) = delete;
  node_storage(node_storage&&) = delete;
  node_storage& operator=(node_storage&&) = delete;

  const std::shared_ptr<actors::durable_store>& store() const { return store_; }
  /// The name of the node this data belongs to.
  const std::string& node_name() const { return node_name_; }

  /// Hands the recovered sessions to their directories and the retained messages to their shards, waits
  /// until all are in place, then publishes the wills of sessions that expired while the node was down.
  void restore(caf::actor_system& system, const net::node_services& services);

  /// Waits until every session has handled what it was sent, so that the last session updates are queued
  /// for the writer, before the actors are stopped.
  void drain(caf::actor_system& system, const net::node_services& services);

  /// Commits what is queued and closes the database; after the actors are gone.
  void close();

 private:
  node_storage() = default;

  std::unique_ptr<storage::database> database_;
  std::unique_ptr<storage::group_commit_writer> writer_;
  std::shared_ptr<actors::durable_store> store_;
  std::optional<storage::recovered_state> recovered_;
  std::string node_name_;
};

}  // namespace mqhub::node
