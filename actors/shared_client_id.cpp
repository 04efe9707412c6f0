#include "actors/shared_client_id.hpp"

#include <cstring>
#include <new>
#include <utility>

namespace mqhub::actors {

shared_client_id::shared_client_id(std::string_view id) {
  if (id.empty())
    return;
  void* memory = ::operator new(sizeof(block) + id.size());
  block_ = new (memory) block{{1}, static_cast<uint32_t>(id.size())};
  std::memcpy(reinterpret_cast<char*>(block_ + 1), id.data(), id.size());
}

shared_client_id::shared_client_id(const shared_client_id& other) noexcept : block_(other.block_) {
  if (block_ != nullptr)
    block_->references.fetch_add(1, std::memory_order_relaxed);
}

shared_client_id& shared_client_id::operator=(shared_client_id other) noexcept {
  std::swap(block_, other.block_);
  return *this;
}

shared_client_id::~shared_client_id() {
  // Release: the last owner's free must see every other owner done with the bytes.
  if (block_ != nullptr && block_->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    block_->~block();
    ::operator delete(block_);
  }
}

std::string_view shared_client_id::view() const {
  if (block_ == nullptr)
    return {};
  return {reinterpret_cast<const char*>(block_ + 1), block_->size};
}

}  // namespace mqhub::actors
