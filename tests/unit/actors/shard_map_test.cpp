#include "actors/shard_map.hpp"

#include <gtest/gtest.h>

namespace mqhub::actors {
namespace {

TEST(shard_key, takes_the_first_levels) {
  EXPECT_EQ(shard_key("a/b/c/d", 2), "a/b");
  EXPECT_EQ(shard_key("a/b", 2), "a/b");
  EXPECT_EQ(shard_key("a", 2), "a");
  EXPECT_EQ(shard_key("/a/b", 2), "/a");
  EXPECT_EQ(shard_key("a//b", 2), "a/");
}

std::vector<caf::actor> no_actors(size_t n) {
  return std::vector<caf::actor>(n);
}

TEST(shard_map, topics_with_the_same_first_levels_share_a_shard) {
  shard_map map(no_actors(8), 2);
  EXPECT_EQ(map.shard_of_topic("devices/7/telemetry"), map.shard_of_topic("devices/7/state"));
  EXPECT_EQ(map.shard_of_topic("devices/7"), map.shard_of_topic("devices/7/state"));
}

TEST(shard_map, filter_without_wildcard_in_the_key_pins_the_topics_shard) {
  shard_map map(no_actors(8), 2);
  ASSERT_TRUE(map.shard_of_filter("devices/7/#"));
  EXPECT_EQ(*map.shard_of_filter("devices/7/#"), map.shard_of_topic("devices/7"));  // '#' matches the parent
  EXPECT_EQ(*map.shard_of_filter("devices/7/+/x"), map.shard_of_topic("devices/7/a/x"));
  EXPECT_EQ(*map.shard_of_filter("one"), map.shard_of_topic("one"));
}

TEST(shard_map, filter_with_wildcard_in_the_key_goes_to_all_shards) {
  shard_map map(no_actors(8), 2);
  EXPECT_FALSE(map.shard_of_filter("#"));
  EXPECT_FALSE(map.shard_of_filter("devices/#"));
  EXPECT_FALSE(map.shard_of_filter("+/7/telemetry"));
  EXPECT_FALSE(map.shard_of_filter("devices/+"));
}

}  // namespace
}  // namespace mqhub::actors
