#pragma once

#include <cstddef>
#include <functional>
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
  /// (MQTT-3.3.1-6, -7). `restored`: read back from the store, or a copy another node sent, rather than
  /// routed here since this process started.
  void set(message_ptr msg, bool restored = false);

  /// Calls `visit(const message_ptr&)` for each retained message whose topic matches the plain filter
  /// `filter`; topics starting with '$' are not matched by a leading wildcard.
  template <class Visit>
  void match(std::string_view filter, Visit&& visit) const;

  /// Calls `visit(const message_ptr&)` for every retained message routed here since this process started
  /// (see set).
  template <class Visit>
  void for_each_routed_here(Visit&& visit) const {
    visit_routed_here(root_, visit);
  }

  size_t size() const { return size_; }

 private:
  friend struct retained_store_test_access;

  // std::hash<std::string_view> is not transparent; this one lets a string_view find a std::string key
  // without allocating.
  struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct children;
  struct node {
    std::unique_ptr<children> kids;  // null for leaves, which are most nodes
    message_ptr msg;
    bool restored = false;
    bool empty() const { return !kids && !msg; }
  };
  struct children {
    std::unordered_map<std::string, node, string_hash, std::equal_to<>> map;
  };

  void clear(std::string_view topic);
  static size_t count_nodes(const node& n);
  size_t node_count() const { return count_nodes(root_); }

  template <class Visit>
  static void visit_all(const node& n, Visit& visit);
  template <class Visit>
  static void visit_routed_here(const node& n, Visit& visit) {
    if (n.msg && !n.restored)
      visit(n.msg);
    if (n.kids)
      for (const auto& [level, child] : n.kids->map)
        visit_routed_here(child, visit);
  }
  template <class Visit>
  static void match_levels(const node& n, std::string_view rest, bool at_root, Visit& visit);

  node root_;  // stands for no level: a topic's first level is a child of it
  size_t size_ = 0;
};

template <class Visit>
void retained_store::match(std::string_view filter, Visit&& visit) const {
  match_levels(root_, filter, true, visit);
}

template <class Visit>
void retained_store::visit_all(const node& n, Visit& visit) {
  if (n.msg) {
    visit(n.msg);
  }
  if (n.kids) {
    for (const auto& [level, child] : n.kids->map) {
      visit_all(child, visit);
    }
  }
}

// `rest` holds at least one more filter level (possibly an empty one) to match below `n`.
template <class Visit>
void retained_store::match_levels(const node& n, std::string_view rest, bool at_root, Visit& visit) {
  const auto slash = rest.find('/');
  const bool at_end = slash == std::string_view::npos;
  const auto level = rest.substr(0, slash);
  const auto tail = at_end ? std::string_view{} : rest.substr(slash + 1);
  // MQTT-4.7.2-1: a wildcard first level does not match topics starting with '$'.
  auto skipped = [at_root](std::string_view child_level) {
    return at_root && !child_level.empty() && child_level.front() == '$';
  };
  if (level == "#") {  // a valid filter has '#' only as its last level
    if (n.msg) {       // `sport/#` also matches `sport`
      visit(n.msg);
    }
    if (n.kids) {
      for (const auto& [child_level, child] : n.kids->map) {
        if (!skipped(child_level)) {
          visit_all(child, visit);
        }
      }
    }
    return;
  }
  auto descend = [&](const node& child) {
    if (!at_end) {
      match_levels(child, tail, false, visit);
    } else if (child.msg) {
      visit(child.msg);
    }
  };
  if (!n.kids) {
    return;
  }
  if (level == "+") {
    for (const auto& [child_level, child] : n.kids->map) {
      if (!skipped(child_level)) {
        descend(child);
      }
    }
  } else if (auto it = n.kids->map.find(level); it != n.kids->map.end()) {
    descend(it->second);
  }
}

}  // namespace mqhub::actors
