#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace mqhub::actors {

/// An immutable client id shared by reference count. A connection's id goes into every message it publishes
/// (message::publisher, for No Local): as a std::string copy that was an allocation and a free per message
/// for any id over 15 bytes, which most device ids are (issue 5: 9% of the CPU of pairwise QoS 0). One
/// allocation holds the count and the bytes, so holding one costs a connection 8 bytes, not 32.
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
  struct block {
    std::atomic<uint32_t> references;
    uint32_t size;
  };

  block* block_ = nullptr;  // null: the empty id
};

}  // namespace mqhub::actors
