#include "actors/retained_store.hpp"

#include <utility>
#include <vector>

namespace mqhub::actors {

retained_store::retained_store() = default;
retained_store::~retained_store() = default;

retained_store::retained_store(retained_store&& other) noexcept
    : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)) {}

retained_store& retained_store::operator=(retained_store&& other) noexcept {
  root_ = std::move(other.root_);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void retained_store::set(message_ptr msg, bool restored) {
  if (msg->payload.empty()) {
    clear(msg->topic);
    return;
  }
  node* n = &root_;
  const std::string_view topic = msg->topic;
  size_t start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    const auto level = topic.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (!n->kids) {
      n->kids = std::make_unique<children>();
    }
    auto& map = n->kids->map;
    auto it = map.find(level);
    if (it == map.end()) {
      it = map.emplace(std::string{level}, node{}).first;
    }
    n = &it->second;
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (!n->msg) {
    ++size_;
  }
  n->msg = std::move(msg);
  n->restored = restored;
}

void retained_store::clear(std::string_view topic) {
  // Each step remembers its parent so that nodes left empty can be unlinked bottom-up.
  struct step {
    node* parent;
    std::string_view level;
  };
  std::vector<step> path;
  node* n = &root_;
  size_t start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    const auto level = topic.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (!n->kids) {
      return;
    }
    auto it = n->kids->map.find(level);
    if (it == n->kids->map.end()) {
      return;
    }
    path.push_back({n, level});
    n = &it->second;
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (!n->msg) {
    return;
  }
  n->msg.reset();
  --size_;
  for (auto it = path.rbegin(); it != path.rend() && n->empty(); ++it) {
    auto& map = it->parent->kids->map;
    map.erase(map.find(it->level));
    if (map.empty()) {
      it->parent->kids.reset();
    }
    n = it->parent;
  }
}

size_t retained_store::count_nodes(const node& n) {
  size_t count = 1;
  if (n.kids) {
    for (const auto& [level, child] : n.kids->map) {
      count += count_nodes(child);
    }
  }
  return count;
}

}  // namespace mqhub::actors
