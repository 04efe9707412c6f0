#include "storage/group_commit_writer.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace mqhub::storage {

group_commit_writer::group_commit_writer(database& db, group_commit_options options)
    : db_(db), options_(options), over_size_limit_(db.over_size_limit()) {
  if (options_.mode == durability::memory) {
    throw std::invalid_argument("group_commit_writer: durability memory stores nothing");
  }
  thread_ = std::thread([this] { run(); });
}

group_commit_writer::~group_commit_writer() {
  stop();
}

void group_commit_writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  room_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void group_commit_writer::submit(write_batch batch, commit_callback done) {
  std::unique_lock lock(mutex_);
  const size_t bytes = batch.byte_size();
  room_.wait(lock, [&] { return stopping_ || has_room(bytes); });
  if (stopping_) {
    lock.unlock();
    if (done) {
      done(error{errc::shutting_down, "storage writer has stopped"});
    }
    return;
  }
  queued_bytes_ += bytes;
  queue_.push_back({std::move(batch), std::move(done)});
  lock.unlock();
  work_.notify_one();
}

bool group_commit_writer::try_submit(write_batch& batch, commit_callback& done) {
  std::unique_lock lock(mutex_);
  const size_t bytes = batch.byte_size();
  if (stopping_ || !has_room(bytes)) {
    return false;
  }
  queued_bytes_ += bytes;
  queue_.push_back({std::move(batch), std::move(done)});
  lock.unlock();
  work_.notify_one();
  return true;
}

group_commit_stats group_commit_writer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void group_commit_writer::run() {
  std::vector<pending> group;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stopping, and everything queued before is committed
    }
    group.swap(queue_);
    lock.unlock();
    std::vector<status> outcomes = commit(group);
    lock.lock();
    // Counted until the group is written, so the limit also bounds what the writer holds.
    for (const auto& p : group) {
      queued_bytes_ -= p.batch.byte_size();
    }
    room_.notify_all();
    lock.unlock();
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i].done) {
        group[i].done(outcomes[i]);
      }
    }
    group.clear();
    lock.lock();
  }
}

std::vector<status> group_commit_writer::commit(const std::vector<pending>& group) {
  std::vector<const write_batch*> admitted;
  std::vector<status> outcomes(group.size());
  admitted.reserve(group.size());
  // Once per group: the size is a RocksDB property lookup per column family.
  const bool full = db_.over_size_limit();
  over_size_limit_.store(full, std::memory_order_relaxed);
  for (size_t i = 0; i < group.size(); ++i) {
    const auto& batch = group[i].batch;
    if (!full || !batch.adds_data() || batch.delivered()) {
      admitted.push_back(&batch);
    } else {
      outcomes[i] = error{errc::store_full, "store size limit reached"};
    }
  }
  status written;
  if (!admitted.empty()) {
    written = db_.write_group(admitted, options_.mode == durability::sync);
  }
  uint64_t committed_bytes = 0;
  uint64_t failed = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    if (outcomes[i].ok()) {
      outcomes[i] = written;
    }
    if (outcomes[i].ok()) {
      committed_bytes += group[i].batch.byte_size();
    } else {
      ++failed;
    }
  }
  std::lock_guard lock(mutex_);
  stats_.groups += admitted.empty() ? 0 : 1;
  stats_.batches += group.size();
  stats_.bytes += committed_bytes;
  stats_.failed_batches += failed;
  stats_.largest_group = std::max<uint64_t>(stats_.largest_group, group.size());
  return outcomes;
}

}  // namespace mqhub::storage
