#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mqhub::storage {

/// What kind of failure a storage call met; the message carries the detail (RocksDB's status text, the key).
enum class errc {
  io_error,           // RocksDB could not read or write (permissions, disk full, locked by another process)
  corruption,         // a file or a stored value is damaged; the database is left as it is
  schema_mismatch,    // the database was written by a version of mqhub this one cannot read
  identity_mismatch,  // the database belongs to another node
  store_full,         // the node-wide size limit is reached; only batches that free space are accepted
  busy,               // the writer's queue is over its byte limit (try_submit only)
  shutting_down,      // the writer has stopped and takes no more batches
  invalid_argument,
};

/// A storage failure, ready to be logged as it is.
struct error {
  errc code = errc::io_error;
  std::string message;
};

/// The value of a storage call or the error that stopped it.
template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  result(error failure) : state_(std::move(failure)) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const { return state_.index() == 0; }
  T& operator*() { return std::get<0>(state_); }
  const T& operator*() const { return std::get<0>(state_); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }
  const error& failure() const { return std::get<1>(state_); }

 private:
  std::variant<T, error> state_;
};

/// Success or the error of a storage call that returns nothing.
class status {
 public:
  status() = default;
  status(error failure) : failure_(std::move(failure)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const error& failure() const { return failure_; }

 private:
  error failure_;
  bool ok_ = true;
};

}  // namespace mqhub::storage
