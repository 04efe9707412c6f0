#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/key_encoding.hpp"
#include "storage/records.hpp"
#include "storage/result.hpp"
#include "storage/write_batch.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
}  // namespace rocksdb

namespace mqhub::storage {

/// How to open the node's database.
struct database_options {
  std::filesystem::path directory;
  /// Node-wide size limit in bytes (SST files and memtables); 0 means none. Over it, batches that add data
  /// fail with errc::store_full and batches that only update or delete still commit.
  uint64_t max_store_bytes = 0;
  bool create_if_missing = true;
};

/// Point reads of many rows of one column family through one RocksDB iterator. The append-only memtables of
/// `queues` and `messages` copy and sort themselves for every point read, but only once per iterator.
class row_reader {
 public:
  row_reader(row_reader&&) noexcept;
  row_reader& operator=(row_reader&&) noexcept;
  ~row_reader();

  /// The value of `key`, if there is a row; the view holds until the next call.
  result<std::optional<std::string_view>> find(std::string_view key);

 private:
  friend class database;
  row_reader(std::unique_ptr<rocksdb::Iterator> it, column cf);

  std::unique_ptr<rocksdb::Iterator> it_;
  column cf_;
};

/// The node's RocksDB database with the column families of docs/architecture.md, typed reads, atomic batch
/// writes and the reference counts of stored messages.
///
/// Reference counts are derived state: the `queues` column family is the truth. Counts live in memory
/// (recovery rebuilds them from its queue scan), change only when a batch commits, under the write mutex and
/// in commit order, and the commit that takes a count to zero deletes the message row in the same atomic
/// write. A failed write leaves the counts as they were. A crash loses nothing: the rows of a lost batch and
/// its count changes are lost together.
class database {
 public:
  /// The layout this build reads and writes; stored in `meta`.
  static constexpr uint64_t schema_version = 1;

  /// Opens (or creates) the database. Never deletes or repairs anything: a damaged, locked, unreadable or
  /// newer-schema database is an error whose message carries RocksDB's status text, for the operator.
  static result<std::unique_ptr<database>> open(const database_options& options);

  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  database(database&&) = delete;
  database& operator=(database&&) = delete;

  /// Commits one batch on the calling thread: errc::store_full when it adds data over the size limit.
  status write(const write_batch& batch, bool sync);
  /// Commits batches as one atomic RocksDB write, applied in order (what the group-commit writer calls). Does
  /// not check the size limit: the caller filters with admits().
  status write_group(std::span<const write_batch* const> batches, bool sync);
  /// Whether the size limit lets `batch` commit.
  bool admits(const write_batch& batch) const { return !batch.adds_data() || !over_size_limit(); }
  /// Whether the store has reached max_store_bytes (never, without a limit).
  bool over_size_limit() const;
  /// Bytes in SST files and memtables, across column families.
  uint64_t approximate_size() const;

  result<std::optional<session_record>> get_session(std::string_view client_id) const;
  result<std::optional<stored_message>> get_message(uint64_t message_id) const;
  result<std::optional<queue_entry>> get_queue_entry(std::string_view client_id, uint64_t sequence) const;
  result<std::optional<stored_message>> get_retained(std::string_view topic) const;
  result<std::optional<std::string>> get(column cf, std::string_view key) const;

  /// Calls `row(key, value)` for every row of `range` in key order until it returns false.
  using row_visitor = std::function<bool(std::string_view key, std::string_view value)>;
  status scan(column cf, const key_range& range, const row_visitor& row) const;
  /// A reader for point reads of many rows of `cf` (see row_reader).
  row_reader reader(column cf) const;

  /// The number of queue entries that hold a message, as of the last commit.
  uint32_t references(uint64_t message_id) const;
  /// Replaces every count: recovery calls it with what its queue scan found.
  void reset_references(std::unordered_map<uint64_t, uint32_t> counts);

  const std::filesystem::path& directory() const { return options_.directory; }
  rocksdb::DB& raw() { return *db_; }
  rocksdb::ColumnFamilyHandle* handle(column cf) const { return handles_.at(static_cast<size_t>(cf)); }

  /// The `meta` value of a schema version.
  static std::string encode_schema_version(uint64_t version);

 private:
  database(database_options options, std::unique_ptr<rocksdb::DB> db,
           std::vector<rocksdb::ColumnFamilyHandle*> handles);
  status check_schema();
  template <class T, class Decode>
  result<std::optional<T>> get_record(column cf, std::string_view key, Decode decode) const;

  database_options options_;
  std::unique_ptr<rocksdb::DB> db_;
  // Ours first in `column` order, then the default family and any a newer mqhub added (RocksDB needs all).
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  mutable std::mutex write_mutex_;  // orders commits with their reference count changes
  std::unordered_map<uint64_t, uint32_t> references_;
};

}  // namespace mqhub::storage
