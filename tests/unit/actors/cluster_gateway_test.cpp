#include "actors/cluster_gateway.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "cluster/wire_types.hpp"

// The cluster gateway on CAF's test coordinator: probes stand in for this node's shards (one log each) and
// for the sending node's router.
namespace mqhub::actors {
namespace {

using test_support::probe_log;

class cluster_gateway_test : public test_support::actor_test {
 protected:
  cluster_gateway_test() {
    std::vector<caf::actor> shards;
    for (auto& log : shard_logs) {
      log = std::make_shared<probe_log>();
      shards.push_back(spawn_probe(log));
    }
    map = std::make_shared<const shard_map>(shards, 1);
    gateway = spawn<cluster_gateway>(map, router);
  }

  /// Two topics on different local shards.
  std::pair<std::string, std::string> topics_on_two_shards() const {
    std::string first = "t0/x";
    for (int i = 1;; ++i) {
      auto topic = "t" + std::to_string(i) + "/x";
      if (map->shard_of_topic(topic) != map->shard_of_topic(first))
        return {first, topic};
    }
  }

  std::shared_ptr<probe_log> router_log = std::make_shared<probe_log>();
  caf::actor router = spawn_probe(router_log);
  std::array<std::shared_ptr<probe_log>, 2> shard_logs;
  std::shared_ptr<const shard_map> map;
  caf::actor gateway;
};

TEST_F(cluster_gateway_test, a_forwarded_publish_goes_to_each_local_shard_with_its_part_of_the_ack) {
  auto [a, b] = topics_on_two_shards();
  caf::send_as(router, gateway, cluster::publish_forward{9, test_support::batch_of({a, b, "not/+/a topic"})});
  run();

  for (const auto& log : shard_logs) {
    ASSERT_EQ(log->publish_batches.size(), 1u);
    const auto& batch = log->publish_batches[0];
    ASSERT_EQ(batch.messages.size(), 1u) << "an invalid topic is dropped";
    EXPECT_FALSE(batch.forwarded);
    ASSERT_TRUE(batch.relay.has_value());
    EXPECT_EQ(batch.relay->token, 9u);
    EXPECT_EQ(batch.relay->parts, 2u);
    EXPECT_EQ(batch.relay->relay, router);
  }
}

TEST_F(cluster_gateway_test, a_forwarded_delivery_is_marked_for_local_subscribers_only) {
  caf::send_as(router, gateway, cluster::delivery_forward{0, test_support::batch_of({"t0/x"})});
  run();

  auto& log = shard_logs[map->shard_of_topic("t0/x")];
  ASSERT_EQ(log->publish_batches.size(), 1u);
  EXPECT_TRUE(log->publish_batches[0].forwarded);
  EXPECT_FALSE(log->publish_batches[0].relay.has_value());
}

TEST_F(cluster_gateway_test, a_batch_with_nothing_to_route_is_acknowledged_at_once) {
  caf::send_as(router, gateway, cluster::publish_forward{4, test_support::batch_of({"#"})});
  run();

  ASSERT_EQ(router_log->forward_acks.size(), 1u);
  EXPECT_EQ(router_log->forward_acks[0].token, 4u);
}

TEST_F(cluster_gateway_test, a_damaged_batch_reaches_no_shard_and_its_publishers_hear_it_failed) {
  auto batch = test_support::batch_of({"t0/x", "t1/x"});
  batch.bytes.pop_back();
  caf::send_as(router, gateway, cluster::publish_forward{5, batch});
  run();

  for (const auto& log : shard_logs)
    EXPECT_TRUE(log->publish_batches.empty());
  ASSERT_EQ(router_log->forward_acks.size(), 1u);
  EXPECT_EQ(router_log->forward_acks[0].token, 5u);
  EXPECT_EQ(router_log->forward_acks[0].outcome, cluster::forward_ack::failed);
}

TEST_F(cluster_gateway_test,
       route_updates_reach_the_shards_that_hold_each_filter_and_a_node_that_left_is_forgotten) {
  auto [a, b] = topics_on_two_shards();
  caf::anon_send(gateway, cluster::route_update{"n2", false, {a, "+/x", "bad/#/filter"}, {}});
  run();

  auto pinned = map->shard_of_topic(a);
  auto& pinned_log = shard_logs[pinned];
  auto& other_log = shard_logs[1 - pinned];
  ASSERT_EQ(pinned_log->remote_routes_got.size(), 1u);
  EXPECT_EQ(pinned_log->remote_routes_got[0].node, cluster::node_key("n2"));
  EXPECT_EQ(pinned_log->remote_routes_got[0].added, (std::vector<std::string>{a, "+/x"}));
  ASSERT_EQ(other_log->remote_routes_got.size(), 1u);
  EXPECT_EQ(other_log->remote_routes_got[0].added, std::vector<std::string>{"+/x"});

  caf::anon_send(gateway, cluster_view{cluster::shard_placement({"me", "n2"}, 1), {{"n2", router}}});
  caf::anon_send(gateway, cluster_view{cluster::shard_placement({"me"}, 2), {}});
  run();
  for (const auto& log : shard_logs) {
    ASSERT_EQ(log->remote_routes_got.size(), 2u);
    EXPECT_TRUE(log->remote_routes_got[1].gone);
  }
}

}  // namespace
}  // namespace mqhub::actors
