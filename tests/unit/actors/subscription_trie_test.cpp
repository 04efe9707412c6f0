#include "actors/subscription_trie.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mqhub::actors {

// Pruning is invisible through the public API, so tests look at the node count through this friend.
struct subscription_trie_test_access {
  static size_t node_count(const subscription_trie& trie) { return trie.node_count(); }
};

}  // namespace mqhub::actors

namespace {

using mqhub::actors::subscription_entry;
using mqhub::actors::subscription_trie;
using mqhub::actors::subscription_trie_test_access;

subscription_entry sub(uint64_t subscriber, uint8_t qos = 0) {
  subscription_entry e;
  e.subscriber = subscriber;
  e.max_qos = qos;
  return e;
}

struct matches {
  std::vector<uint64_t> plain;
  std::vector<uint64_t> shared;
};

matches match(subscription_trie& trie, std::string_view topic) {
  matches m;
  trie.match(
      topic, [&](const subscription_entry& e) { m.plain.push_back(e.subscriber); },
      [&](const subscription_entry& e) { m.shared.push_back(e.subscriber); });
  std::sort(m.plain.begin(), m.plain.end());
  std::sort(m.shared.begin(), m.shared.end());
  return m;
}

bool matches_filter(std::string_view filter, std::string_view topic) {
  subscription_trie trie;
  trie.insert(filter, "", sub(1));
  return !match(trie, topic).plain.empty();
}

using ids = std::vector<uint64_t>;

// 4.7.1.2 non-normative examples.
TEST(subscription_trie, hash_matches_the_parent_and_every_descendant) {
  EXPECT_TRUE(matches_filter("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(matches_filter("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(matches_filter("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  EXPECT_FALSE(matches_filter("sport/tennis/player1/#", "sport/tennis/player2"));
}

TEST(subscription_trie, sport_hash_matches_sport_and_sport_slash) {
  EXPECT_TRUE(matches_filter("sport/#", "sport"));
  EXPECT_TRUE(matches_filter("sport/#", "sport/"));
  EXPECT_FALSE(matches_filter("sport/#", "sports"));
}

TEST(subscription_trie, hash_alone_matches_every_topic) {
  EXPECT_TRUE(matches_filter("#", "sport"));
  EXPECT_TRUE(matches_filter("#", "sport/tennis/player1"));
  EXPECT_TRUE(matches_filter("#", "/"));
}

// 4.7.1.3 non-normative examples.
TEST(subscription_trie, plus_matches_exactly_one_level) {
  EXPECT_TRUE(matches_filter("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_TRUE(matches_filter("sport/tennis/+", "sport/tennis/player2"));
  EXPECT_FALSE(matches_filter("sport/tennis/+", "sport/tennis/player1/ranking"));
}

TEST(subscription_trie, plus_matches_an_empty_level_but_not_a_missing_one) {
  EXPECT_FALSE(matches_filter("sport/+", "sport"));
  EXPECT_TRUE(matches_filter("sport/+", "sport/"));
}

TEST(subscription_trie, leading_slash_makes_an_empty_first_level) {
  EXPECT_TRUE(matches_filter("+/+", "/finance"));
  EXPECT_TRUE(matches_filter("/+", "/finance"));
  EXPECT_FALSE(matches_filter("+", "/finance"));
}

TEST(subscription_trie, plus_in_the_middle_matches_one_level) {
  EXPECT_TRUE(matches_filter("sport/+/player1", "sport/tennis/player1"));
  EXPECT_FALSE(matches_filter("sport/+/player1", "sport/tennis/x/player1"));
}

TEST(subscription_trie, plus_then_hash_matches_from_the_second_level_on) {
  EXPECT_TRUE(matches_filter("+/tennis/#", "sport/tennis"));
  EXPECT_TRUE(matches_filter("+/tennis/#", "sport/tennis/player1"));
  EXPECT_FALSE(matches_filter("+/tennis/#", "sport/golf"));
}

TEST(subscription_trie, plus_hash_matches_a_single_level_topic) {
  EXPECT_TRUE(matches_filter("+/#", "sport"));
}

TEST(subscription_trie, empty_levels_in_the_middle_are_real_levels) {
  EXPECT_TRUE(matches_filter("a//b", "a//b"));
  EXPECT_TRUE(matches_filter("a/+/b", "a//b"));
  EXPECT_FALSE(matches_filter("a/b", "a//b"));
  EXPECT_FALSE(matches_filter("a//b", "a/b"));
}

TEST(subscription_trie, trailing_empty_level_is_a_real_level) {
  EXPECT_TRUE(matches_filter("a/", "a/"));
  EXPECT_FALSE(matches_filter("a/", "a"));
  EXPECT_FALSE(matches_filter("a", "a/"));
}

TEST(subscription_trie, literal_filter_matches_only_the_same_topic) {
  EXPECT_TRUE(matches_filter("sport/tennis", "sport/tennis"));
  EXPECT_FALSE(matches_filter("sport/tennis", "sport"));
  EXPECT_FALSE(matches_filter("sport/tennis", "sport/tennis/player1"));
  EXPECT_FALSE(matches_filter("sport/tennis", "Sport/tennis"));
}

// MQTT-4.7.2-1
TEST(subscription_trie, leading_wildcard_does_not_match_dollar_topics) {
  EXPECT_FALSE(matches_filter("#", "$SYS/monitor/Clients"));
  EXPECT_FALSE(matches_filter("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_FALSE(matches_filter("+", "$SYS"));
  EXPECT_FALSE(matches_filter("+/#", "$SYS/x"));
}

TEST(subscription_trie, dollar_filters_match_dollar_topics) {
  EXPECT_TRUE(matches_filter("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(matches_filter("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(matches_filter("$SYS/#", "$SYS"));
}

TEST(subscription_trie, dollar_rule_applies_only_to_the_first_level) {
  EXPECT_TRUE(matches_filter("a/+", "a/$b"));
  EXPECT_TRUE(matches_filter("a/#", "a/$b/c"));
}

TEST(subscription_trie, leading_wildcard_shared_group_does_not_match_dollar_topics) {
  subscription_trie trie;
  trie.insert("#", "g", sub(1));
  EXPECT_TRUE(match(trie, "$SYS/x").shared.empty());
  EXPECT_EQ(match(trie, "x").shared, ids{1});
}

TEST(subscription_trie, every_matching_filter_is_reported_even_for_the_same_subscriber) {
  subscription_trie trie;
  trie.insert("a/b", "", sub(1));
  trie.insert("a/+", "", sub(1));
  trie.insert("#", "", sub(2));
  trie.insert("a/c", "", sub(3));
  EXPECT_EQ(match(trie, "a/b").plain, (ids{1, 1, 2}));
}

TEST(subscription_trie, insert_returns_true_for_a_new_subscription) {
  subscription_trie trie;
  EXPECT_TRUE(trie.insert("a/b", "", sub(1)));
  EXPECT_TRUE(trie.insert("a/b", "", sub(2)));
  EXPECT_TRUE(trie.insert("a/+", "", sub(1)));
  EXPECT_EQ(trie.size(), 3u);
}

TEST(subscription_trie, insert_of_an_existing_subscription_replaces_options_and_returns_false) {
  subscription_trie trie;
  trie.insert("a/b", "", sub(1, 0));
  EXPECT_FALSE(trie.insert("a/b", "", sub(1, 2)));
  EXPECT_EQ(trie.size(), 1u);
  std::vector<uint8_t> qos;
  trie.match(
      "a/b", [&](const subscription_entry& e) { qos.push_back(e.max_qos); },
      [](const subscription_entry&) {});
  EXPECT_EQ(qos, std::vector<uint8_t>{2});
}

TEST(subscription_trie, shared_membership_is_distinct_from_a_plain_subscription) {
  subscription_trie trie;
  EXPECT_TRUE(trie.insert("a/b", "", sub(1)));
  EXPECT_TRUE(trie.insert("a/b", "g", sub(1)));
  EXPECT_TRUE(trie.insert("a/b", "h", sub(1)));
  EXPECT_FALSE(trie.insert("a/b", "g", sub(1, 1)));
  EXPECT_EQ(trie.size(), 3u);
  auto m = match(trie, "a/b");
  EXPECT_EQ(m.plain, ids{1});
  EXPECT_EQ(m.shared, (ids{1, 1}));
}

TEST(subscription_trie, erase_returns_false_when_there_is_no_such_subscription) {
  subscription_trie trie;
  trie.insert("a/b", "", sub(1));
  EXPECT_FALSE(trie.erase("a/b", "", 2));
  EXPECT_FALSE(trie.erase("a/c", "", 1));
  EXPECT_FALSE(trie.erase("a/b/c", "", 1));
  EXPECT_FALSE(trie.erase("a/b", "g", 1));
  EXPECT_EQ(trie.size(), 1u);
}

TEST(subscription_trie, erase_removes_only_that_subscription) {
  subscription_trie trie;
  trie.insert("a/b", "", sub(1));
  trie.insert("a/b", "", sub(2));
  trie.insert("a/+", "", sub(1));
  EXPECT_TRUE(trie.erase("a/b", "", 1));
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_EQ(match(trie, "a/b").plain, (ids{1, 2}));
}

TEST(subscription_trie, erase_keeps_nodes_that_deeper_filters_still_need) {
  subscription_trie trie;
  trie.insert("a/b", "", sub(1));
  trie.insert("a/b/c", "", sub(2));
  trie.insert("a/b/#", "", sub(3));
  EXPECT_TRUE(trie.erase("a/b", "", 1));
  EXPECT_EQ(match(trie, "a/b/c").plain, (ids{2, 3}));
  EXPECT_EQ(match(trie, "a/b").plain, ids{3});
}

TEST(subscription_trie, erase_prunes_every_node_after_churn) {
  subscription_trie trie;
  const char* shapes[] = {"dev/{}/t", "dev/+/{}", "{}/#", "a//{}/", "+/{}/+/#"};
  auto filter = [&](int i) {
    std::string f = shapes[i % 5];
    f.replace(f.find("{}"), 2, std::to_string(i));
    return f;
  };
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(trie.insert(filter(i), i % 3 == 0 ? "g" : "", sub(static_cast<uint64_t>(i % 7))));
  }
  EXPECT_EQ(trie.size(), 10000u);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(trie.erase(filter(i), i % 3 == 0 ? "g" : "", static_cast<uint64_t>(i % 7)));
  }
  EXPECT_EQ(trie.size(), 0u);
  EXPECT_EQ(subscription_trie_test_access::node_count(trie), 1u);  // the root
}

TEST(subscription_trie, many_subscribers_on_one_filter_replace_and_erase_correctly) {
  subscription_trie trie;
  for (uint64_t s = 0; s < 1000; ++s) {
    ASSERT_TRUE(trie.insert("broadcast", "", sub(s)));
  }
  EXPECT_FALSE(trie.insert("broadcast", "", sub(500, 1)));
  for (uint64_t s = 0; s < 1000; s += 2) {
    ASSERT_TRUE(trie.erase("broadcast", "", s));
  }
  EXPECT_FALSE(trie.erase("broadcast", "", 0));
  EXPECT_EQ(trie.size(), 500u);
  auto m = match(trie, "broadcast");
  ids odd;
  for (uint64_t s = 1; s < 1000; s += 2) {
    odd.push_back(s);
  }
  EXPECT_EQ(m.plain, odd);
  for (uint64_t s = 1; s < 1000; s += 2) {
    ASSERT_TRUE(trie.erase("broadcast", "", s));
  }
  EXPECT_EQ(subscription_trie_test_access::node_count(trie), 1u);
}

TEST(subscription_trie, shared_group_delivers_each_message_to_one_member_round_robin) {
  subscription_trie trie;
  for (uint64_t s = 1; s <= 3; ++s) {
    trie.insert("jobs/+", "workers", sub(s));
  }
  std::map<uint64_t, int> counts;
  std::vector<uint64_t> order;
  for (int i = 0; i < 300; ++i) {
    auto m = match(trie, "jobs/" + std::to_string(i));
    ASSERT_EQ(m.shared.size(), 1u);
    ++counts[m.shared[0]];
    order.push_back(m.shared[0]);
  }
  EXPECT_EQ(counts, (std::map<uint64_t, int>{{1, 100}, {2, 100}, {3, 100}}));
  for (size_t i = 3; i < order.size(); ++i) {
    EXPECT_EQ(order[i], order[i - 3]);
  }
}

std::vector<uint64_t> shared_picks(subscription_trie& trie, int messages, uint64_t unavailable) {
  std::vector<uint64_t> picks;
  for (int i = 0; i < messages; ++i) {
    trie.match(
        "jobs/x", [](const subscription_entry&) {},
        [&](const subscription_entry& e) { picks.push_back(e.subscriber); },
        [&](const subscription_entry& e) { return e.subscriber != unavailable; });
  }
  return picks;
}

TEST(subscription_trie, shared_group_passes_over_unavailable_members) {
  subscription_trie trie;
  for (uint64_t s = 1; s <= 3; ++s) {
    trie.insert("jobs/+", "workers", sub(s));
  }
  EXPECT_EQ(shared_picks(trie, 4, 2), (ids{1, 3, 1, 3}));
}

TEST(subscription_trie, shared_group_with_no_available_member_still_delivers_in_turn) {
  subscription_trie trie;
  trie.insert("jobs/+", "workers", sub(7));
  EXPECT_EQ(shared_picks(trie, 2, 7), (ids{7, 7}));
}

TEST(subscription_trie, shared_groups_with_the_same_name_on_different_filters_are_separate) {
  subscription_trie trie;
  trie.insert("a/+", "g", sub(1));
  trie.insert("a/b", "g", sub(2));
  EXPECT_EQ(match(trie, "a/b").shared, (ids{1, 2}));
}

TEST(subscription_trie, each_matching_shared_group_delivers_once) {
  subscription_trie trie;
  trie.insert("a/b", "g", sub(1));
  trie.insert("a/b", "g", sub(2));
  trie.insert("a/b", "h", sub(3));
  trie.insert("a/b", "h", sub(4));
  auto m = match(trie, "a/b");
  ASSERT_EQ(m.shared.size(), 2u);
  EXPECT_TRUE(m.shared[0] == 1 || m.shared[0] == 2);
  EXPECT_TRUE(m.shared[1] == 3 || m.shared[1] == 4);
}

TEST(subscription_trie, erasing_a_shared_member_keeps_the_rotation_fair) {
  subscription_trie trie;
  for (uint64_t s = 1; s <= 3; ++s) {
    trie.insert("t", "g", sub(s));
  }
  EXPECT_EQ(match(trie, "t").shared, ids{1});
  EXPECT_EQ(match(trie, "t").shared, ids{2});
  EXPECT_TRUE(trie.erase("t", "g", 1));
  // 3 was next before 1 left, so it still is.
  EXPECT_EQ(match(trie, "t").shared, ids{3});
  EXPECT_EQ(match(trie, "t").shared, ids{2});
  EXPECT_EQ(match(trie, "t").shared, ids{3});
}

TEST(subscription_trie, erasing_the_last_shared_member_removes_the_group) {
  subscription_trie trie;
  trie.insert("t", "g", sub(1));
  EXPECT_TRUE(trie.erase("t", "g", 1));
  EXPECT_TRUE(match(trie, "t").shared.empty());
  EXPECT_EQ(trie.size(), 0u);
  EXPECT_EQ(subscription_trie_test_access::node_count(trie), 1u);
}

TEST(subscription_trie, moved_from_trie_is_empty_and_usable) {
  subscription_trie a;
  a.insert("a/b", "", sub(1));
  subscription_trie b{std::move(a)};
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(match(b, "a/b").plain, ids{1});
  EXPECT_EQ(a.size(), 0u);                   // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(a.insert("a/b", "", sub(1)));  // NOLINT(bugprone-use-after-move)
}

}  // namespace
