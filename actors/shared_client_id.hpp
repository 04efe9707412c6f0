#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>

namespace mqhub::actors {

/// An immutable client id shared by reference count. A connection's id goes into every message it publishes
/// (message::publisher, for No Local): as a std::string copy that was an allocation and a free per message
/// for any id over 15 bytes, which most device ids are. One allocation holds the count and the bytes, so
/// holding one costs a connection 8 bytes, not 32.
class shared_client_id {
 public:
  shared_client_id() = default;
  explicit shared_client_id(std::string_view id);
  shared_client_id(const shared_client_id& other) noexcept;
  shared_client_id(shared_client_id&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
  shared_client_id& operator=(shared_client_id other) noexcept;
  ~shared_client_id();

  std::string_view view() const;
  // NOLINTNEXTLINE(google-explicit-constructor): an id reads as one, e.g. as a lookup key
  operator std::string_view() const { return view(); }

 private:
  friend class prepaid_client_id;

  struct block {
    std::atomic<uint32_t> references;
    uint32_t size;
  };

  block* block_ = nullptr;  // null: the empty id
};

/// A connection's id, handing out references that it adds to the count 64 at a time. The connection's I/O
/// thread makes a message's reference, and another thread often drops it: a shard's in the durable modes, a
/// subscriber's once its PUBACK frees a QoS 1 message. One count per reference kept the count's cache line
/// moving between the two cores twice per message. The references not handed out go back when the id is
/// replaced or destroyed.
class prepaid_client_id {
 public:
  prepaid_client_id() = default;
  explicit prepaid_client_id(shared_client_id id) : id_(std::move(id)) {}
  prepaid_client_id(const prepaid_client_id&) = delete;
  prepaid_client_id& operator=(const prepaid_client_id&) = delete;
  prepaid_client_id& operator=(prepaid_client_id&& other) noexcept;
  ~prepaid_client_id() { give_back_unspent(); }

  /// A reference of its own, as a copy of id() would be.
  shared_client_id take();

  const shared_client_id& id() const { return id_; }
  std::string_view view() const { return id_.view(); }
  // NOLINTNEXTLINE(google-explicit-constructor): an id reads as one, e.g. as a lookup key
  operator std::string_view() const { return view(); }

 private:
  static constexpr uint32_t references_per_refill = 64;

  void give_back_unspent();

  shared_client_id id_;
  uint32_t prepaid_ = 0;  // references counted for id_ and not yet handed out
};

}  // namespace mqhub::actors
