#include "actors/subscription_trie.hpp"

#include <algorithm>
#include <utility>

namespace mqhub::actors {

namespace {

// Past this many plain subscribers on one filter, replace and erase go through a hash index.
constexpr size_t index_from = 16;
// Below this the index is dropped again; the gap keeps churn around one size from rebuilding it each time.
constexpr size_t index_until = 8;

// Calls `f(level, last)` for each level of a filter or topic; "" yields one empty level.
template <class F>
void for_each_level(std::string_view s, F&& f) {
  size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      f(s.substr(start), true);
      return;
    }
    f(s.substr(start, slash - start), false);
    start = slash + 1;
  }
}

}  // namespace

subscription_trie::subscription_trie() = default;
subscription_trie::~subscription_trie() = default;

subscription_trie::subscription_trie(subscription_trie&& other) noexcept
    : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)) {}

subscription_trie& subscription_trie::operator=(subscription_trie&& other) noexcept {
  root_ = std::move(other.root_);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

subscription_trie::node& subscription_trie::child_for_insert(node& parent, std::string_view level) {
  if (level == "+") {
    if (!parent.plus) {
      parent.plus = std::make_unique<node>();
    }
    return *parent.plus;
  }
  if (level == "#") {
    if (!parent.hash) {
      parent.hash = std::make_unique<node>();
    }
    return *parent.hash;
  }
  if (!parent.literal) {
    parent.literal = std::make_unique<children>();
  }
  auto& map = parent.literal->map;
  if (auto it = map.find(level); it != map.end()) {
    return it->second;
  }
  return map.emplace(std::string{level}, node{}).first->second;
}

bool subscription_trie::insert_plain(node& n, const subscription_entry& entry) {
  if (n.index) {
    auto [it, added] = n.index->position.try_emplace(entry.subscriber, n.plain.size());
    if (added) {
      n.plain.push_back(entry);
    } else {
      n.plain[it->second] = entry;
    }
    return added;
  }
  auto it = std::find_if(n.plain.begin(), n.plain.end(),
                         [&](const subscription_entry& e) { return e.subscriber == entry.subscriber; });
  if (it != n.plain.end()) {
    *it = entry;
    return false;
  }
  n.plain.push_back(entry);
  if (n.plain.size() >= index_from) {
    n.index = std::make_unique<plain_index>();
    n.index->position.reserve(n.plain.size());
    for (size_t i = 0; i < n.plain.size(); ++i) {
      n.index->position.emplace(n.plain[i].subscriber, i);
    }
  }
  return true;
}

bool subscription_trie::erase_plain(node& n, uint64_t subscriber) {
  size_t pos = 0;
  if (n.index) {
    auto it = n.index->position.find(subscriber);
    if (it == n.index->position.end()) {
      return false;
    }
    pos = it->second;
    n.index->position.erase(it);
  } else {
    auto it = std::find_if(n.plain.begin(), n.plain.end(),
                           [&](const subscription_entry& e) { return e.subscriber == subscriber; });
    if (it == n.plain.end()) {
      return false;
    }
    pos = static_cast<size_t>(it - n.plain.begin());
  }
  // Order of plain entries carries no meaning, so swap-and-pop keeps erase O(1).
  if (pos + 1 != n.plain.size()) {
    n.plain[pos] = n.plain.back();
    if (n.index) {
      n.index->position[n.plain[pos].subscriber] = pos;
    }
  }
  n.plain.pop_back();
  if (n.index && n.plain.size() < index_until) {
    n.index.reset();
  }
  if (n.plain.empty()) {
    n.plain = {};  // a node kept alive by its children should not hold on to a large buffer
  }
  return true;
}

bool subscription_trie::insert(std::string_view filter, std::string_view group,
                               const subscription_entry& entry) {
  node* n = &root_;
  for_each_level(filter, [&](std::string_view level, bool) { n = &child_for_insert(*n, level); });
  bool added = false;
  if (group.empty()) {
    added = insert_plain(*n, entry);
  } else {
    auto git = std::find_if(n->groups.begin(), n->groups.end(),
                            [&](const shared_group& g) { return g.name == group; });
    if (git == n->groups.end()) {
      git = n->groups.insert(n->groups.end(), shared_group{std::string{group}, std::string{filter}, {}, 0});
    }
    auto mit = std::find_if(git->members.begin(), git->members.end(),
                            [&](const subscription_entry& e) { return e.subscriber == entry.subscriber; });
    if (mit != git->members.end()) {
      *mit = entry;
    } else {
      git->members.push_back(entry);
      added = true;
    }
  }
  if (added) {
    ++size_;
  }
  return added;
}

bool subscription_trie::erase(std::string_view filter, std::string_view group, uint64_t subscriber) {
  // Each step remembers how it left its parent so that empty nodes can be unlinked bottom-up.
  struct step {
    node* parent;
    std::string_view level;
  };
  std::vector<step> path;
  node* n = &root_;
  bool missing = false;
  for_each_level(filter, [&](std::string_view level, bool) {
    if (missing) {
      return;
    }
    node* next = nullptr;
    if (level == "+") {
      next = n->plus.get();
    } else if (level == "#") {
      next = n->hash.get();
    } else if (n->literal) {
      if (auto it = n->literal->map.find(level); it != n->literal->map.end()) {
        next = &it->second;
      }
    }
    if (next == nullptr) {
      missing = true;
      return;
    }
    path.push_back({n, level});
    n = next;
  });
  if (missing) {
    return false;
  }
  if (group.empty()) {
    if (!erase_plain(*n, subscriber)) {
      return false;
    }
  } else {
    auto git = std::find_if(n->groups.begin(), n->groups.end(),
                            [&](const shared_group& g) { return g.name == group; });
    if (git == n->groups.end()) {
      return false;
    }
    auto mit = std::find_if(git->members.begin(), git->members.end(),
                            [&](const subscription_entry& e) { return e.subscriber == subscriber; });
    if (mit == git->members.end()) {
      return false;
    }
    const auto pos = static_cast<size_t>(mit - git->members.begin());
    // Ordered erase, and `next` follows the member it pointed at, so the rotation stays fair.
    git->members.erase(mit);
    if (pos < git->next) {
      --git->next;
    }
    if (git->next >= git->members.size()) {
      git->next = 0;
    }
    if (git->members.empty()) {
      n->groups.erase(git);
      if (n->groups.empty()) {
        n->groups = {};
      }
    }
  }
  --size_;
  for (auto it = path.rbegin(); it != path.rend() && n->empty(); ++it) {
    node& parent = *it->parent;
    if (it->level == "+") {
      parent.plus.reset();
    } else if (it->level == "#") {
      parent.hash.reset();
    } else {
      parent.literal->map.erase(parent.literal->map.find(it->level));
      if (parent.literal->map.empty()) {
        parent.literal.reset();
      }
    }
    n = &parent;
  }
  return true;
}

size_t subscription_trie::count_nodes(const node& n) {
  size_t count = 1;
  if (n.literal) {
    for (const auto& [level, child] : n.literal->map) {
      count += count_nodes(child);
    }
  }
  if (n.plus) {
    count += count_nodes(*n.plus);
  }
  if (n.hash) {
    count += count_nodes(*n.hash);
  }
  return count;
}

}  // namespace mqhub::actors
