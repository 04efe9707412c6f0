#include "actors/retained_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqhub::actors {

// Pruning is invisible through the public API, so tests look at the node count through this friend.
struct retained_store_test_access {
  static size_t node_count(const retained_store& store) { return store.node_count(); }
};

}  // namespace mqhub::actors

namespace {

using mqhub::actors::message;
using mqhub::actors::message_ptr;
using mqhub::actors::retained_store;
using mqhub::actors::retained_store_test_access;

message_ptr msg(std::string topic, std::string payload = "x") {
  auto m = std::make_shared<message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->retain = true;
  return m;
}

using topics = std::vector<std::string>;

topics match(const retained_store& store, std::string_view filter) {
  topics out;
  store.match(filter, [&](const message_ptr& m) { out.push_back(m->topic); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(retained_store, set_stores_a_message_under_its_topic) {
  retained_store store;
  store.set(msg("a/b", "hello"));
  EXPECT_EQ(store.size(), 1u);
  std::vector<std::string> payloads;
  store.match("a/b", [&](const message_ptr& m) { payloads.push_back(m->payload); });
  EXPECT_EQ(payloads, std::vector<std::string>{"hello"});
}

TEST(retained_store, set_on_the_same_topic_replaces_the_message) {
  retained_store store;
  store.set(msg("a/b", "first"));
  store.set(msg("a/b", "second"));
  EXPECT_EQ(store.size(), 1u);
  std::vector<std::string> payloads;
  store.match("a/b", [&](const message_ptr& m) { payloads.push_back(m->payload); });
  EXPECT_EQ(payloads, std::vector<std::string>{"second"});
}

// MQTT-3.3.1-6, MQTT-3.3.1-7
TEST(retained_store, empty_payload_clears_the_topic_and_prunes_its_nodes) {
  retained_store store;
  store.set(msg("a/b/c"));
  store.set(msg("a/b/c", ""));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(match(store, "#").empty());
  EXPECT_EQ(retained_store_test_access::node_count(store), 1u);
}

TEST(retained_store, empty_payload_for_an_unknown_topic_changes_nothing) {
  retained_store store;
  store.set(msg("a/b"));
  store.set(msg("a", ""));
  store.set(msg("a/b/c", ""));
  store.set(msg("x", ""));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(match(store, "#"), topics{"a/b"});
}

TEST(retained_store, clearing_a_topic_keeps_its_parent_and_children) {
  retained_store store;
  store.set(msg("a"));
  store.set(msg("a/b"));
  store.set(msg("a/b/c"));
  store.set(msg("a/b", ""));
  EXPECT_EQ(match(store, "#"), (topics{"a", "a/b/c"}));
}

TEST(retained_store, churn_of_ten_thousand_topics_leaves_only_the_root) {
  retained_store store;
  for (int i = 0; i < 10000; ++i) {
    store.set(msg("dev/" + std::to_string(i % 100) + "/t/" + std::to_string(i)));
  }
  EXPECT_EQ(store.size(), 10000u);
  for (int i = 0; i < 10000; ++i) {
    store.set(msg("dev/" + std::to_string(i % 100) + "/t/" + std::to_string(i), ""));
  }
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(retained_store_test_access::node_count(store), 1u);
}

TEST(retained_store, literal_filter_matches_only_its_topic) {
  retained_store store;
  store.set(msg("a"));
  store.set(msg("a/b"));
  store.set(msg("a/b/c"));
  EXPECT_EQ(match(store, "a/b"), topics{"a/b"});
  EXPECT_TRUE(match(store, "a/x").empty());
}

TEST(retained_store, plus_matches_exactly_one_level) {
  retained_store store;
  store.set(msg("a/x/c"));
  store.set(msg("a/y/c"));
  store.set(msg("a/x/d"));
  store.set(msg("a/x/c/e"));
  store.set(msg("a/c"));
  EXPECT_EQ(match(store, "a/+/c"), (topics{"a/x/c", "a/y/c"}));
}

TEST(retained_store, hash_matches_the_parent_and_every_descendant) {
  retained_store store;
  store.set(msg("sport"));
  store.set(msg("sport/"));
  store.set(msg("sport/tennis/player1"));
  store.set(msg("sports"));
  EXPECT_EQ(match(store, "sport/#"), (topics{"sport", "sport/", "sport/tennis/player1"}));
}

TEST(retained_store, empty_levels_are_real_levels) {
  retained_store store;
  store.set(msg("/finance"));
  store.set(msg("finance"));
  EXPECT_EQ(match(store, "+/+"), topics{"/finance"});
  EXPECT_EQ(match(store, "/+"), topics{"/finance"});
  EXPECT_EQ(match(store, "+"), topics{"finance"});
}

// MQTT-4.7.2-1
TEST(retained_store, leading_wildcard_does_not_match_dollar_topics) {
  retained_store store;
  store.set(msg("$SYS/monitor/Clients"));
  store.set(msg("a/monitor/Clients"));
  EXPECT_EQ(match(store, "#"), topics{"a/monitor/Clients"});
  EXPECT_EQ(match(store, "+/monitor/Clients"), topics{"a/monitor/Clients"});
}

TEST(retained_store, dollar_filters_match_dollar_topics) {
  retained_store store;
  store.set(msg("$SYS/monitor/Clients"));
  EXPECT_EQ(match(store, "$SYS/#"), topics{"$SYS/monitor/Clients"});
  EXPECT_EQ(match(store, "$SYS/+/Clients"), topics{"$SYS/monitor/Clients"});
}

TEST(retained_store, dollar_rule_applies_only_to_the_first_level) {
  retained_store store;
  store.set(msg("a/$b"));
  EXPECT_EQ(match(store, "a/+"), topics{"a/$b"});
  EXPECT_EQ(match(store, "a/#"), topics{"a/$b"});
}

}  // namespace
