#pragma once

#include <atomic>
#include <cstdint>

#include <caf/actor.hpp>

#include "storage/group_commit_writer.hpp"
#include "storage/write_batch.hpp"

namespace mqhub::actors {

/// The node's storage as the actors use it (docs/architecture.md): the group-commit writer and the message
/// id counter.
/// Absent in memory mode. Shared by every shard and session of the node.
class durable_store {
 public:
  durable_store(const storage::database& db, storage::group_commit_writer& writer, uint64_t first_message_id)
      : db_(db), writer_(writer), next_message_id_(first_message_id) {}

  /// A node-wide unique id for a message about to be stored. Ids ascend, so a queue recovered in key order
  /// keeps the order of each publisher's messages on each topic.
  uint64_t allocate_message_id() { return next_message_id_.fetch_add(1, std::memory_order_relaxed); }

  /// Commits `batch`; `reply_to` then gets commit_result{token, outcome}. Blocks while the writer's queue is
  /// full, which holds the calling actor back until the disk catches up.
  void commit(storage::write_batch batch, const caf::actor& reply_to, uint64_t token);
  /// Tells `reply_to` commit_result{token} once everything submitted before is committed.
  void barrier(const caf::actor& reply_to, uint64_t token) {
    commit(storage::write_batch{}, reply_to, token);
  }
  /// Commits `batch` where nothing waits for the outcome (state changes a restart can do without, like a
  /// delivery moving to inflight); a failure is logged.
  void commit(storage::write_batch batch);

  storage::durability mode() const { return writer_.mode(); }
  /// For reads (a session's queue beyond what it holds in memory); every write goes through commit.
  const storage::database& database() const { return db_; }
  /// Whether batches that add data are being refused for the store's size limit.
  bool full() const { return writer_.over_size_limit(); }

 private:
  const storage::database& db_;
  storage::group_commit_writer& writer_;
  std::atomic<uint64_t> next_message_id_;
};

}  // namespace mqhub::actors
