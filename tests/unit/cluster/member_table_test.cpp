#include "cluster/member_table.hpp"

#include <gtest/gtest.h>

namespace mqhub::cluster {
namespace {

std::vector<std::string> names(const std::vector<member_info>& members) {
  std::vector<std::string> result;
  result.reserve(members.size());
  for (const auto& m : members)
    result.push_back(m.name);
  return result;
}

TEST(member_table, dials_its_seeds_but_never_itself) {
  member_table table({"n2", "h:2"}, {"h:1", "h:2"});
  EXPECT_EQ(table.addresses_to_dial(), std::vector<std::string>{"h:1"});
}

TEST(member_table, stops_dialling_an_address_once_a_member_there_is_connected) {
  member_table table({"n2", "h:2"}, {"h:1"});
  EXPECT_TRUE(table.add({"n1", "h:1"}));
  EXPECT_TRUE(table.addresses_to_dial().empty());
  EXPECT_EQ(names(table.members()), (std::vector<std::string>{"n1", "n2"}));
}

TEST(member_table, dials_a_lost_member_again_until_it_is_back) {
  member_table table({"n2", "h:2"}, {});
  table.add({"n3", "h:3"});
  EXPECT_TRUE(table.remove("n3"));
  EXPECT_EQ(table.addresses_to_dial(), std::vector<std::string>{"h:3"});
  EXPECT_EQ(names(table.members()), std::vector<std::string>{"n2"});
}

TEST(member_table, every_change_makes_a_new_placement_version) {
  member_table table({"n1", "h:1"}, {});
  auto first = table.placement().version();
  table.add({"n2", "h:2"});
  EXPECT_GT(table.placement().version(), first);
  auto second = table.placement().version();
  EXPECT_FALSE(table.add({"n2", "h:2"}));
  EXPECT_EQ(table.placement().version(), second);
  table.remove("n2");
  EXPECT_GT(table.placement().version(), second);
}

TEST(member_table, a_leaving_member_stays_connected_but_owns_no_shard) {
  member_table table({"n1", "h:1"}, {});
  table.add({"n2", "h:2"});
  auto before = table.placement().version();
  table.set_leaving("n2");
  EXPECT_EQ(table.placement().nodes(), std::vector<std::string>{"n1"});
  EXPECT_GT(table.placement().version(), before);
  EXPECT_TRUE(table.addresses_to_dial().empty()) << "still connected: not dialled";
  EXPECT_EQ(names(table.members()), (std::vector<std::string>{"n1", "n2"}));

  table.set_leaving("n1");
  EXPECT_EQ(table.placement().nodes(), std::vector<std::string>{"n1"}) << "someone must own the shards";

  table.remove("n2");
  table.add({"n2", "h:2"});  // back after a restart
  EXPECT_FALSE(table.leaving("n2"));
  EXPECT_EQ(table.placement().nodes(), std::vector<std::string>{"n2"}) << "n1 is still leaving";
}

TEST(member_table, splits_host_and_port) {
  EXPECT_EQ(split_address("127.0.0.1:4370"), std::make_pair(std::string("127.0.0.1"), uint16_t{4370}));
  EXPECT_EQ(split_address("[::1]:4370"), std::make_pair(std::string("::1"), uint16_t{4370}));
  EXPECT_FALSE(split_address("127.0.0.1"));
  EXPECT_FALSE(split_address("h:0"));
  EXPECT_FALSE(split_address("h:70000"));
  EXPECT_FALSE(split_address(":4370"));
  EXPECT_FALSE(split_address("h:43x"));
}

}  // namespace
}  // namespace mqhub::cluster
