#include "cluster/shard_placement.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cluster/stable_hash.hpp"

namespace mqhub::cluster {
namespace {

std::vector<std::string> node_names(size_t count) {
  std::vector<std::string> names;
  for (size_t i = 1; i <= count; ++i)
    names.push_back("n" + std::to_string(i));
  return names;
}

TEST(stable_hash, gives_the_same_values_in_every_build) {
  // Nodes of different builds and versions must agree on the owner of a topic: these values never change.
  EXPECT_EQ(stable_hash(""), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(stable_hash("sensors/1"), 0x4b822eaca36c93e9ULL);
  EXPECT_EQ(stable_hash("building/7/floo"), 0x809ce42ca07397c0ULL);  // a tail of seven bytes
  EXPECT_EQ(stable_hash("plant/line-3/machine-42"), 0xac10973a2c334c72ULL);
  EXPECT_NE(stable_hash("sensors/1"), stable_hash("sensors/2"));
}

TEST(shard_placement, does_not_depend_on_the_order_members_are_listed_in) {
  shard_placement a({"n1", "n2", "n3"}, 1);
  shard_placement b({"n3", "n1", "n2"}, 1);
  for (size_t shard = 0; shard < global_shard_count; ++shard)
    EXPECT_EQ(a.owner(shard), b.owner(shard)) << shard;
}

TEST(shard_placement, a_single_node_owns_every_shard) {
  shard_placement one({"n1"}, 1);
  EXPECT_EQ(one.shards_of("n1").size(), global_shard_count);
  EXPECT_TRUE(one.shards_of("n2").empty());
}

TEST(shard_placement, spreads_shards_evenly_over_three_nodes) {
  shard_placement three(node_names(3), 1);
  for (const auto& node : three.nodes()) {
    double share = static_cast<double>(three.shards_of(node).size()) / global_shard_count;
    EXPECT_GT(share, 0.27) << node;
    EXPECT_LT(share, 0.40) << node;
  }
}

// Issue 22: a simulation from 3 to 100 nodes. When a node joins, about 1/N of the shards move, all of them to
// the new node: none moves between two nodes that both stayed.
TEST(shard_placement, a_joining_node_takes_about_one_nth_and_nothing_moves_between_others) {
  size_t moved_total = 0;
  double expected_total = 0;
  for (size_t n = 3; n < 100; ++n) {
    auto before_names = node_names(n);
    auto after_names = node_names(n + 1);
    shard_placement before(before_names, n), after(after_names, n + 1);
    const std::string& joined = after_names.back();
    size_t moved = 0;
    for (size_t shard = 0; shard < global_shard_count; ++shard) {
      if (before.owner(shard) == after.owner(shard))
        continue;
      ++moved;
      EXPECT_EQ(after.owner(shard), joined) << "shard " << shard << " moved between staying nodes at " << n;
    }
    double expected = static_cast<double>(global_shard_count) / static_cast<double>(n + 1);
    EXPECT_LT(static_cast<double>(moved), 2.5 * expected + 4) << "join of node " << n + 1;
    moved_total += moved;
    expected_total += expected;
  }
  EXPECT_NEAR(static_cast<double>(moved_total) / expected_total, 1.0, 0.1);
}

TEST(shard_placement, a_leaving_node_hands_on_only_its_own_shards) {
  for (size_t n = 4; n <= 100; n += 16) {
    auto names = node_names(n);
    shard_placement before(names, 1);
    std::string gone = names[n / 2];
    names.erase(names.begin() + static_cast<std::ptrdiff_t>(n / 2));
    shard_placement after(names, 2);
    for (size_t shard = 0; shard < global_shard_count; ++shard) {
      if (before.owner(shard) != gone)
        EXPECT_EQ(before.owner(shard), after.owner(shard)) << shard;
      else
        EXPECT_NE(after.owner(shard), gone);
    }
  }
}

TEST(shard_placement, every_shard_has_exactly_one_owner) {
  shard_placement five(node_names(5), 1);
  std::vector<int> owners(global_shard_count, 0);
  for (const auto& node : five.nodes()) {
    for (size_t shard : five.shards_of(node))
      ++owners[shard];
  }
  EXPECT_TRUE(std::all_of(owners.begin(), owners.end(), [](int count) { return count == 1; }));
}

}  // namespace
}  // namespace mqhub::cluster
