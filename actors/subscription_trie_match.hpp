#pragma once

// The template half of subscription_trie, kept apart so the class declaration stays readable.
#include <type_traits>

#include "actors/subscription_trie.hpp"

namespace mqhub::actors {

template <class OnPlain, class OnShared>
void subscription_trie::match(std::string_view topic, OnPlain&& on_plain, OnShared&& on_shared) {
  match(topic, on_plain, on_shared, [](const subscription_entry&) { return true; });
}

template <class OnPlain, class OnShared, class Available>
void subscription_trie::match(std::string_view topic, OnPlain&& on_plain, OnShared&& on_shared,
                              Available&& available) {
  auto on_group = [&](shared_group& group) {
    // Round-robin from `next`, passing over members that are not available; when none is, the turn's
    // member gets it (and queues it).
    // Members are never left empty (erase drops the group), so `next` is always a valid index.
    const auto count = group.members.size();
    auto chosen = group.next;
    for (size_t i = 0; i < count; ++i) {
      auto candidate = (group.next + i) % count;
      if (available(group.members[candidate])) {
        chosen = candidate;
        break;
      }
    }
    group.next = chosen + 1 == count ? 0 : chosen + 1;
    if constexpr (std::is_invocable_v<OnShared&, const subscription_entry&, shared_match>)
      on_shared(group.members[chosen], shared_match{group.name, group.filter});
    else
      on_shared(group.members[chosen]);
  };
  match_levels(root_, topic, !topic.empty() && topic.front() == '$', on_plain, on_group);
}

template <class OnPlain, class OnShared>
void subscription_trie::visit(node& n, OnPlain& on_plain, OnShared& on_shared) {
  for (const auto& entry : n.plain) {
    on_plain(entry);
  }
  for (auto& group : n.groups) {
    on_shared(group);
  }
}

// `n` has consumed a level; `at_end` says whether that was the topic's last one.
template <class OnPlain, class OnShared>
void subscription_trie::reached(node& n, std::string_view rest, bool at_end, OnPlain& on_plain,
                                OnShared& on_shared) {
  if (!at_end) {
    match_levels(n, rest, false, on_plain, on_shared);
    return;
  }
  visit(n, on_plain, on_shared);
  if (n.hash) {  // `sport/#` also matches `sport`
    visit(*n.hash, on_plain, on_shared);
  }
}

// `rest` holds at least one more level (possibly an empty one) to match below `n`.
template <class OnPlain, class OnShared>
void subscription_trie::match_levels(node& n, std::string_view rest, bool dollar_first, OnPlain& on_plain,
                                     OnShared& on_shared) {
  // MQTT-4.7.2-1: a leading wildcard does not match a topic starting with '$'.
  if (n.hash && !dollar_first) {
    visit(*n.hash, on_plain, on_shared);
  }
  const auto slash = rest.find('/');
  const bool at_end = slash == std::string_view::npos;
  const auto level = rest.substr(0, slash);
  const auto tail = at_end ? std::string_view{} : rest.substr(slash + 1);
  if (n.literal) {
    if (auto it = n.literal->map.find(level); it != n.literal->map.end()) {
      reached(it->second, tail, at_end, on_plain, on_shared);
    }
  }
  if (n.plus && !dollar_first) {
    reached(*n.plus, tail, at_end, on_plain, on_shared);
  }
}

}  // namespace mqhub::actors
