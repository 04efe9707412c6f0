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

prepaid_client_id& prepaid_client_id::operator=(prepaid_client_id&& other) noexcept {
  if (this != &other) {
    give_back_unspent();
    id_ = std::move(other.id_);
    prepaid_ = std::exchange(other.prepaid_, 0);
  }
  return *this;
}

shared_client_id prepaid_client_id::take() {
  shared_client_id taken;
  if (id_.block_ == nullptr)
    return taken;
  if (prepaid_ == 0) {
    id_.block_->references.fetch_add(references_per_refill, std::memory_order_relaxed);
    prepaid_ = references_per_refill;
  }
  --prepaid_;
  taken.block_ = id_.block_;
  return taken;
}

void prepaid_client_id::give_back_unspent() {
  // Never the last reference (id_ holds one); release, as any owner's drop, for the one that frees it.
  if (prepaid_ > 0)
    id_.block_->references.fetch_sub(std::exchange(prepaid_, 0), std::memory_order_release);
}

}  // namespace mqhub::actors
