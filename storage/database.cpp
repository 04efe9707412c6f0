#include "storage/database.hpp"

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>

#include <system_error>
#include <utility>

#include "storage/byte_codec.hpp"
#include "storage/transient_entries.hpp"

namespace mqhub::storage {

namespace {

error failure(const rocksdb::Status& s, std::string_view context) {
  const errc code = s.IsCorruption() ? errc::corruption : errc::io_error;
  return error{code, std::string(context) + ": " + s.ToString()};
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

// Refuses to let RocksDB create a fresh database over files that are not one: with create_if_missing, a
// directory whose CURRENT was lost would otherwise become an empty database, and the data in it be ignored.
status check_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto kind = std::filesystem::status(dir, ec).type();
  if (kind == std::filesystem::file_type::not_found) {
    return {};
  }
  if (ec) {
    return error{errc::io_error, "cannot read database directory " + dir.string() + ": " + ec.message()};
  }
  if (kind != std::filesystem::file_type::directory) {
    return error{errc::io_error, "database path " + dir.string() + " is not a directory"};
  }
  if (std::filesystem::exists(dir / "CURRENT", ec)) {
    return {};
  }
  if (!std::filesystem::is_empty(dir, ec) && !ec) {
    return error{errc::corruption,
                 "database directory " + dir.string() +
                     " is not empty but holds no RocksDB CURRENT file; refusing to create a "
                     "database over it"};
  }
  return {};
}

// RocksDB counts every key comparison in a thread-local perf context unless the thread says not to, and its
// flush threads sort the vector memtables: a comparison each step. Each background thread turns it off as it
// begins a job (the setting is per thread).
class no_perf_counting final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "mqhub.no_perf_counting"; }
  void OnFlushBegin(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& /*info*/) override {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  }
  void OnCompactionBegin(rocksdb::DB* /*db*/, const rocksdb::CompactionJobInfo& /*info*/) override {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  }
};

rocksdb::ColumnFamilyOptions column_options(column cf) {
  rocksdb::ColumnFamilyOptions options;
  if (cf == column::queues || cf == column::messages) {
    // Written at message rate (a put, state updates and a delete per delivery) and read only by recovery: an
    // append-only memtable costs O(1) per write where the default skip list pays a search; the flush sorts.
    options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    // Most rows are deleted within milliseconds; small memtables bound the memory they hold meanwhile.
    options.write_buffer_size = size_t{16} << 20;
  }
  return options;
}

}  // namespace

std::string database::encode_schema_version(uint64_t version) {
  std::string out;
  byte_writer(out).u64_be(version);
  return out;
}

result<std::unique_ptr<database>> database::open(const database_options& options) {
  if (auto checked = check_directory(options.directory); !checked) {
    return checked.failure();
  }
  const std::string path = options.directory.string();
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.allow_concurrent_memtable_write = false;  // one writer thread; and the vector memtables need it
  db_options.keep_log_file_num = 4;
  db_options.max_log_file_size = 1 << 20;
  db_options.listeners.push_back(std::make_shared<no_perf_counting>());

  // An existing database must be opened with every family it has, including ones a newer mqhub added.
  std::vector<std::string> existing;
  std::error_code ec;
  if (std::filesystem::exists(options.directory / "CURRENT", ec)) {
    auto s = rocksdb::DB::ListColumnFamilies(db_options, path, &existing);
    if (!s.ok()) {
      return failure(s, "cannot open database " + path);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < column_count; ++i) {
    descriptors.emplace_back(std::string(column_name(static_cast<column>(i))),
                             column_options(static_cast<column>(i)));
  }
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const auto& name : existing) {
    bool known = false;
    for (const auto& d : descriptors) {
      known = known || d.name == name;
    }
    if (!known) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  auto s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw_db);
  if (!s.ok()) {
    return failure(s, "cannot open database " + path);
  }
  std::unique_ptr<database> db(
      new database(options, std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles)));
  if (auto checked = db->check_schema(); !checked) {
    return checked.failure();
  }
  return db;
}

database::database(database_options options, std::unique_ptr<rocksdb::DB> db,
                   std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(std::move(options)), db_(std::move(db)), handles_(std::move(handles)) {}

database::~database() {
  for (auto* h : handles_) {
    db_->DestroyColumnFamilyHandle(h);
  }
  db_->Close();
}

status database::check_schema() {
  auto stored = get(column::meta, schema_version_key);
  if (!stored) {
    return stored.failure();
  }
  if (!stored->has_value()) {
    write_batch batch;
    batch.put(column::meta, std::string(schema_version_key), encode_schema_version(schema_version));
    const write_batch* one = &batch;
    return write_group({&one, 1}, true);
  }
  uint64_t version = 0;
  byte_reader reader(**stored);
  if (!reader.u64_be(version) || !reader.at_end()) {
    return error{errc::corruption, "database " + directory().string() + ": damaged schema version in meta"};
  }
  if (version != schema_version) {
    const char* why =
        version > schema_version ? "newer than this mqhub understands" : "older, and no migration exists";
    return error{errc::schema_mismatch, "database " + directory().string() + " has schema version " +
                                            std::to_string(version) + ", " + why +
                                            " (this mqhub uses version " + std::to_string(schema_version) +
                                            "); refusing to open it"};
  }
  return {};
}

status database::write(const write_batch& batch, bool sync) {
  if (!admits(batch)) {
    return error{errc::store_full,
                 "store size limit of " + std::to_string(options_.max_store_bytes) + " bytes reached"};
  }
  const write_batch* one = &batch;
  return write_group({&one, 1}, sync);
}

status database::write_group(std::span<const write_batch* const> batches, bool sync) {
  std::lock_guard lock(write_mutex_);
  rocksdb::WriteBatch merged;
  std::unordered_map<uint64_t, int64_t> deltas;
  const transient_entries transient(batches);
  for (const write_batch* batch : batches) {
    for (const auto& op : batch->operations()) {
      if (transient.skips(op)) {
        continue;
      }
      auto* cf = handle(op.cf);
      rocksdb::Status s;
      switch (op.kind) {
        case write_batch::op_kind::put:
        case write_batch::op_kind::insert:
          s = merged.Put(cf, slice(op.key), slice(op.value));
          break;
        case write_batch::op_kind::del:
          s = merged.Delete(cf, slice(op.key));
          break;
        case write_batch::op_kind::del_range:
          s = op.value.empty() ? rocksdb::Status::InvalidArgument("unbounded range delete")
                               : merged.DeleteRange(cf, slice(op.key), slice(op.value));
          break;
      }
      if (!s.ok()) {
        return failure(s, "cannot build write batch");
      }
    }
    for (const auto& change : batch->reference_changes()) {
      deltas[change.message_id] += change.delta;
    }
  }
  // After every put of the group, so a message put and released in the same group ends deleted.
  std::vector<std::pair<uint64_t, int64_t>> counts;
  counts.reserve(deltas.size());
  for (const auto& [id, delta] : deltas) {
    auto it = references_.find(id);
    const int64_t count = (it == references_.end() ? 0 : static_cast<int64_t>(it->second)) + delta;
    if (count <= 0) {
      merged.Delete(handle(column::messages), message_key(id));
    }
    counts.emplace_back(id, count);
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  // Perf counting costs a thread-local lookup per key comparison: a tenth of the writer's time.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  auto s = db_->Write(write_options, &merged);
  if (!s.ok()) {
    return failure(s, "cannot write to database " + directory().string());
  }
  for (const auto& [id, count] : counts) {
    if (count <= 0) {
      references_.erase(id);
    } else {
      references_[id] = static_cast<uint32_t>(count);
    }
  }
  return {};
}

bool database::over_size_limit() const {
  return options_.max_store_bytes != 0 && approximate_size() >= options_.max_store_bytes;
}

uint64_t database::approximate_size() const {
  uint64_t sst = 0;
  uint64_t memtables = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return sst + memtables;
}

result<std::optional<std::string>> database::get(column cf, std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), handle(cf), slice(key), &value);
  if (s.IsNotFound()) {
    return std::optional<std::string>();
  }
  if (!s.ok()) {
    return failure(s, "cannot read " + std::string(column_name(cf)));
  }
  return std::optional<std::string>(std::move(value));
}

template <class T, class Decode>
result<std::optional<T>> database::get_record(column cf, std::string_view key, Decode decode) const {
  auto raw_value = get(cf, key);
  if (!raw_value) {
    return raw_value.failure();
  }
  if (!raw_value->has_value()) {
    return std::optional<T>();
  }
  result<T> decoded = decode(**raw_value);
  if (!decoded) {
    return error{decoded.failure().code, decoded.failure().message + " in " + std::string(column_name(cf))};
  }
  return std::optional<T>(std::move(*decoded));
}

result<std::optional<session_record>> database::get_session(std::string_view client_id) const {
  return get_record<session_record>(column::sessions, session_key(client_id), decode_session_record);
}

result<std::optional<stored_message>> database::get_message(uint64_t message_id) const {
  return get_record<stored_message>(column::messages, message_key(message_id), decode_stored_message);
}

result<std::optional<queue_entry>> database::get_queue_entry(std::string_view client_id,
                                                             uint64_t sequence) const {
  return get_record<queue_entry>(column::queues, queue_key(client_id, sequence), decode_queue_entry);
}

result<std::optional<stored_message>> database::get_retained(std::string_view topic) const {
  return get_record<stored_message>(column::retained, retained_key(topic), decode_stored_message);
}

status database::scan(column cf, const key_range& range, const row_visitor& row) const {
  rocksdb::ReadOptions read_options;
  rocksdb::Slice upper = slice(range.end);
  if (!range.end.empty()) {
    read_options.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, handle(cf)));
  for (it->Seek(slice(range.begin)); it->Valid(); it->Next()) {
    if (!row(it->key().ToStringView(), it->value().ToStringView())) {
      break;
    }
  }
  if (!it->status().ok()) {
    return failure(it->status(), "cannot read " + std::string(column_name(cf)));
  }
  return {};
}

row_reader database::reader(column cf) const {
  return {std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), handle(cf))), cf};
}

row_reader::row_reader(std::unique_ptr<rocksdb::Iterator> it, column cf) : it_(std::move(it)), cf_(cf) {}
row_reader::row_reader(row_reader&&) noexcept = default;
row_reader& row_reader::operator=(row_reader&&) noexcept = default;
row_reader::~row_reader() = default;

result<std::optional<std::string_view>> row_reader::find(std::string_view key) {
  it_->Seek(slice(key));
  if (!it_->status().ok()) {
    return failure(it_->status(), "cannot read " + std::string(column_name(cf_)));
  }
  if (!it_->Valid() || it_->key().ToStringView() != key) {
    return std::optional<std::string_view>();
  }
  return std::optional<std::string_view>(it_->value().ToStringView());
}

uint32_t database::references(uint64_t message_id) const {
  std::lock_guard lock(write_mutex_);
  auto it = references_.find(message_id);
  return it == references_.end() ? 0 : it->second;
}

void database::reset_references(std::unordered_map<uint64_t, uint32_t> counts) {
  std::lock_guard lock(write_mutex_);
  references_ = std::move(counts);
}

}  // namespace mqhub::storage
