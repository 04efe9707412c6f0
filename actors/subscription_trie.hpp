#pragma once

#include <cstddef>
#include <cstdint>
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

/// The subscription index of a shard: a trie over topic levels holding plain subscriptions and shared
/// subscription groups (`$share/{group}/{filter}` is stored under `filter`, in group `group`).
class subscription_trie {
 public:
  subscription_trie();
  ~subscription_trie();
  subscription_trie(subscription_trie&&) noexcept;
  subscription_trie& operator=(subscription_trie&&) noexcept;

  /// Adds or replaces the subscription of `entry.subscriber` to `filter` (a valid plain filter) and returns
  /// true when it did not exist before (for retain handling 1). `group` is empty for a non-shared subscription.
  bool insert(std::string_view filter, std::string_view group, const subscription_entry& entry);

  /// Removes the subscription; returns false when there was none. Empty nodes are pruned.
  bool erase(std::string_view filter, std::string_view group, uint64_t subscriber);

  /// Calls `on_plain(const subscription_entry&)` for every plain subscription matching `topic` and
  /// `on_shared(const subscription_entry&)` once per matching shared group, with the member chosen
  /// round-robin (so this is non-const). Topics starting with '$' are not matched by a leading wildcard.
  template <class OnPlain, class OnShared>
  void match(std::string_view topic, OnPlain&& on_plain, OnShared&& on_shared);

  /// Number of subscriptions (plain plus shared memberships).
  size_t size() const { return size_; }

 private:
  struct shared_group {
    std::string name;
    std::vector<subscription_entry> members;
    size_t next = 0;
  };
  struct node {
    std::unordered_map<std::string, std::unique_ptr<node>, std::hash<std::string_view>, std::equal_to<>> children;
    std::vector<subscription_entry> plain;
    std::vector<shared_group> groups;
    bool empty() const { return children.empty() && plain.empty() && groups.empty(); }
  };
  template <class OnPlain, class OnShared>
  static void visit(node& n, OnPlain& on_plain, OnShared& on_shared);
  template <class OnPlain, class OnShared>
  static void match_levels(node& n, std::string_view rest, bool at_end, bool dollar_first, OnPlain& on_plain,
                           OnShared& on_shared);

  std::unique_ptr<node> root_;
  size_t size_ = 0;
};

}  // namespace mqhub::actors
