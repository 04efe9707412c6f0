#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mqhub::actors {

/// Who subscribed and with which options. `subscriber` is a shard-local number for a session.
struct subscription_entry {
  uint64_t subscriber = 0;
  uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint32_t subscription_id = 0;  // 0: none
};

/// The shared subscription a member was chosen for: `$share/{group}/{filter}`.
struct shared_match {
  std::string_view group;
  std::string_view filter;
};

/// The subscription index of a shard: a trie over topic levels holding plain subscriptions and shared
/// subscription groups (`$share/{group}/{filter}` is stored under `filter`, in group `group`).
class subscription_trie {
 public:
  subscription_trie();
  ~subscription_trie();
  subscription_trie(subscription_trie&&) noexcept;
  subscription_trie& operator=(subscription_trie&&) noexcept;

  /// Adds or replaces the subscription of `entry.subscriber` to `filter` (a valid plain filter) and returns
  /// true when it did not exist before (for retain handling 1). `group` is empty for a non-shared
  /// subscription.
  bool insert(std::string_view filter, std::string_view group, const subscription_entry& entry);

  /// Removes the subscription; returns false when there was none. Empty nodes are pruned.
  bool erase(std::string_view filter, std::string_view group, uint64_t subscriber);

  /// Calls `on_plain(const subscription_entry&)` for every plain subscription matching `topic` and
  /// `on_shared(const subscription_entry&)` (or `on_shared(const subscription_entry&, shared_match)`) once
  /// per matching shared group, with the member chosen round-robin (so this is non-const). Topics starting
  /// with '$' are not matched by a leading wildcard. The callbacks must not modify the trie. Recursion depth
  /// is the topic's level count.
  template <class OnPlain, class OnShared>
  void match(std::string_view topic, OnPlain&& on_plain, OnShared&& on_shared);

  /// As above, but a shared group passes over members for which `available(entry)` is false (offline
  /// sessions, see docs/architecture.md) unless none is available.
  template <class OnPlain, class OnShared, class Available>
  void match(std::string_view topic, OnPlain&& on_plain, OnShared&& on_shared, Available&& available);

  /// Number of subscriptions (plain plus shared memberships).
  size_t size() const { return size_; }

 private:
  friend struct subscription_trie_test_access;

  // std::hash<std::string_view> is not transparent; this one lets a string_view find a std::string key
  // without allocating.
  struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct shared_group {
    std::string name;
    std::string filter;
    std::vector<subscription_entry> members;
    size_t next = 0;  // member that gets the next message
  };
  struct plain_index;
  struct children;
  struct node {
    std::unique_ptr<children> literal;  // null for leaves, which are most nodes
    std::unique_ptr<node> plus;
    std::unique_ptr<node> hash;  // a '#' node never has children
    std::vector<subscription_entry> plain;
    std::vector<shared_group> groups;
    // Only for filters with many subscribers (one broadcast topic for a million devices), where a linear
    // search per insert or erase would be quadratic.
    std::unique_ptr<plain_index> index;
    bool empty() const { return !literal && !plus && !hash && plain.empty() && groups.empty(); }
  };
  struct children {
    std::unordered_map<std::string, node, string_hash, std::equal_to<>> map;
  };
  struct plain_index {
    std::unordered_map<uint64_t, size_t> position;  // subscriber -> index in node::plain
  };

  static node& child_for_insert(node& parent, std::string_view level);
  static bool insert_plain(node& n, const subscription_entry& entry);
  static bool erase_plain(node& n, uint64_t subscriber);
  static size_t count_nodes(const node& n);
  size_t node_count() const { return count_nodes(root_); }

  template <class OnPlain, class OnShared>
  static void visit(node& n, OnPlain& on_plain, OnShared& on_shared);
  template <class OnPlain, class OnShared>
  static void reached(node& n, std::string_view rest, bool at_end, OnPlain& on_plain, OnShared& on_shared);
  template <class OnPlain, class OnShared>
  static void match_levels(node& n, std::string_view rest, bool dollar_first, OnPlain& on_plain,
                           OnShared& on_shared);

  node root_;
  size_t size_ = 0;
};

}  // namespace mqhub::actors

#include "actors/subscription_trie_match.hpp"
