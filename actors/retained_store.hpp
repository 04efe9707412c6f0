#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "actors/message.hpp"

namespace mqhub::actors {

/// Retained messages of a shard (spec 3.3.1.3): one per topic, in a trie over topic levels so that a
/// wildcard subscription finds its matches without scanning every retained topic.
class retained_store {
 public:
  retained_store();
  ~retained_store();
  retained_store(retained_store&&) noexcept;
  retained_store& operator=(retained_store&&) noexcept;

  /// Stores `msg` under its topic, replacing the previous one; an empty payload clears the topic
  /// (MQTT-3.3.1-6, -7).
  void set(message_ptr msg);

  /// Calls `visit(const message_ptr&)` for each retained message whose topic matches the plain filter
  /// `filter`; topics starting with '$' are not matched by a leading wildcard.
  template <class Visit>
  void match(std::string_view filter, Visit&& visit) const;

  size_t size() const { return size_; }

 private:
  struct node;
  std::unique_ptr<node> root_;
  size_t size_ = 0;
};

}  // namespace mqhub::actors
