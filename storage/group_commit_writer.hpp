#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/durability.hpp"
#include "storage/result.hpp"
#include "storage/write_batch.hpp"

namespace mqhub::storage {

/// Called exactly once per submitted batch with the outcome of its commit. Runs on the writer thread (or
/// inline in submit when the writer has stopped), so it must be short, must not throw and must not call the
/// blocking submit (the writer would wait for itself): post a message to an actor, set a promise. May be
/// empty when nothing waits for the commit.
using commit_callback = std::function<void(const status&)>;

struct group_commit_options {
  durability mode = durability::sync;
  /// Bytes of queued batches above which submit blocks and try_submit fails. A batch larger than the limit
  /// is still taken when the queue is empty, so no batch can wait forever.
  size_t max_queued_bytes = size_t{8} << 20;
};

/// What the writer has done so far.
struct group_commit_stats {
  uint64_t groups = 0;   // RocksDB writes (and fsyncs in sync mode)
  uint64_t batches = 0;  // batches committed or refused
  uint64_t bytes = 0;    // write_batch::byte_size() of the committed ones
  uint64_t largest_group = 0;
  uint64_t failed_batches = 0;

  double batches_per_group() const {
    return groups == 0 ? 0.0 : static_cast<double>(batches) / static_cast<double>(groups);
  }
};

/// A writer thread that commits batches from any thread in groups: it takes everything queued, writes it as
/// one atomic RocksDB write with `sync` set in sync mode (one fsync for the whole group) and then calls every
/// callback. While a group is being written the next one queues up, so the cost per fsync is shared by
/// whatever arrived meanwhile and throughput grows with load. Batches commit in submit order.
///
/// Back-pressure: submit blocks while the queue holds more than max_queued_bytes, which stalls the producer
/// (and so the network reads behind it); try_submit is the non-blocking form for actor threads.
class group_commit_writer {
 public:
  /// `db` must outlive the writer. Throws std::invalid_argument for durability::memory (nothing to write).
  group_commit_writer(database& db, group_commit_options options);
  /// Stops after committing everything queued.
  ~group_commit_writer();
  group_commit_writer(const group_commit_writer&) = delete;
  group_commit_writer& operator=(const group_commit_writer&) = delete;
  group_commit_writer(group_commit_writer&&) = delete;
  group_commit_writer& operator=(group_commit_writer&&) = delete;

  /// Queues `batch`, blocking while the queue is over its byte limit. After stop(), calls `done` inline with
  /// errc::shutting_down. Batches that add data while the store is over its size limit get errc::store_full,
  /// unless their deliveries already went out (write_batch::delivered).
  void submit(write_batch batch, commit_callback done);
  /// Queues `batch` unless that would block: returns false and leaves `batch` and `done` as they were when
  /// the queue is over its limit or the writer has stopped.
  bool try_submit(write_batch& batch, commit_callback& done);

  /// Commits what is queued, then ends the thread; later submits fail. Idempotent.
  void stop();

  group_commit_stats stats() const;
  durability mode() const { return options_.mode; }
  /// Whether the store was over its size limit when the last group was written: batches that add data are
  /// being refused (unless write_batch::delivered).
  bool over_size_limit() const { return over_size_limit_.load(std::memory_order_relaxed); }

 private:
  struct pending {
    write_batch batch;
    commit_callback done;
  };

  void run();
  std::vector<status> commit(const std::vector<pending>& group);
  bool has_room(size_t bytes) const {
    return queued_bytes_ == 0 || queued_bytes_ + bytes <= options_.max_queued_bytes;
  }

  database& db_;
  const group_commit_options options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;  // the writer waits for batches
  std::condition_variable room_;  // submitters wait for queue space
  std::vector<pending> queue_;
  size_t queued_bytes_ = 0;  // of queue_ and of the group being written
  bool stopping_ = false;
  group_commit_stats stats_;
  std::atomic<bool> over_size_limit_;
  std::thread thread_;
};

}  // namespace mqhub::storage
