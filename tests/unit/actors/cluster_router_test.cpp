#include "actors/cluster_router.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "cluster/wire_types.hpp"

// The cluster router on CAF's test coordinator: probes stand in for this node's shards and for the other
// node's gateway, a fake_sink for the publisher's connection.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::make_test_message;
using test_support::probe_log;

class cluster_router_test : public test_support::actor_test {
 protected:
  cluster_router_test()
      : router(spawn<cluster_router>(std::string("me"), stats)), gateway(spawn_probe(gateway_log)) {
    shards = {spawn_probe(shard_log), spawn_probe(shard_log)};
    map = std::make_shared<const shard_map>(shards, 1, router);
    caf::anon_send(router, router_shards{map});
    join("other", gateway);
  }

  void join(const std::string& name, const caf::actor& its_gateway) {
    std::map<std::string, caf::actor> gateways;
    if (its_gateway)
      gateways[name] = its_gateway;
    caf::anon_send(router, cluster_view{cluster::shard_placement({"me", name}, ++version), gateways});
    run();
  }

  void leave() {
    caf::anon_send(router, cluster_view{cluster::shard_placement({"me"}, ++version), {}});
    run();
  }

  /// A topic whose shard `owner` owns.
  std::string topic_of(const std::string& owner, int skip = 0) const {
    cluster::shard_placement placement({"me", "other"}, 1);
    for (int i = 0;; ++i) {
      auto topic = "t" + std::to_string(i) + "/x";
      if (placement.owner(map->global_shard_of_topic(topic)) == owner && skip-- == 0)
        return topic;
    }
  }

  /// A QoS 1 publish as a durable node's connection sends it: its PUBACK waits for the batch to be taken.
  void publish_qos1(const std::vector<std::string>& topics, const std::shared_ptr<fake_sink>& publisher) {
    publish_batch batch;
    for (size_t i = 0; i < topics.size(); ++i) {
      batch.messages.push_back(make_test_message(topics[i], "m", mqtt::qos::at_least_once));
      batch.acks.push_back({static_cast<uint32_t>(i), static_cast<uint16_t>(i + 1), false, false});
    }
    batch.publisher = publisher;
    batch.publisher_version = publisher->version;
    caf::anon_send(router, std::move(batch));
    run();
  }

  static std::vector<uint8_t> puback_reasons(const fake_sink& sink) {
    std::vector<uint8_t> reasons;
    for (const auto& packet : sink.packets())
      if (const auto* ack = std::get_if<mqtt::ack_packet>(&packet))
        reasons.push_back(static_cast<uint8_t>(ack->code));
    return reasons;
  }

  uint64_t version = 0;
  caf::actor router;
  std::shared_ptr<probe_log> gateway_log = std::make_shared<probe_log>();
  caf::actor gateway;
  std::shared_ptr<probe_log> shard_log = std::make_shared<probe_log>();
  std::vector<caf::actor> shards;
  std::shared_ptr<const shard_map> map;
};

TEST_F(cluster_router_test, the_publishes_of_a_burst_leave_for_their_owner_in_one_message_in_order) {
  auto a = topic_of("other", 0);
  auto b = topic_of("other", 1);
  for (const auto& topic : {a, b, a}) {
    publish_batch batch;
    batch.messages.push_back(make_test_message(topic, topic));
    caf::anon_send(router, std::move(batch));
  }
  run();

  ASSERT_EQ(gateway_log->publish_forwards.size(), 1u);
  const auto& sent = gateway_log->publish_forwards[0];
  EXPECT_NE(sent.token, 0u) << "every forward is answered: it is the link's flow control";
  EXPECT_EQ(test_support::topics_in(sent.messages), (std::vector<std::string>{a, b, a}));
  EXPECT_TRUE(shard_log->publish_batches.empty());
}

TEST_F(cluster_router_test, a_publishers_bytes_are_handed_back_once_the_owner_has_taken_them) {
  auto publisher = std::make_shared<fake_sink>();
  publish_batch batch;
  batch.messages.push_back(make_test_message(topic_of("other"), "x"));
  batch.publisher = publisher;
  batch.inbound_bytes = 100;
  caf::anon_send(router, std::move(batch));
  run();
  EXPECT_EQ(publisher->routed_bytes, 0u) << "a client must not outrun the owner";

  caf::anon_send(router, cluster::forward_ack{gateway_log->publish_forwards[0].token, 0, 1});
  run();
  EXPECT_EQ(publisher->routed_bytes, 100u);
}

TEST_F(cluster_router_test,
       deliveries_beyond_the_limit_in_flight_to_a_node_are_dropped_unless_a_publisher_waits) {
  auto limited = spawn<cluster_router>(std::string("me"), stats, 10);
  caf::anon_send(limited, router_shards{map});
  caf::anon_send(limited, cluster_view{cluster::shard_placement({"me", "other"}, 1), {{"other", gateway}}});
  run();
  auto other = cluster::node_key("other");
  auto waiting = spawn_probe(shard_log);
  caf::anon_send(limited,
                 node_deliveries{other, {make_test_message("a/1", "more than ten bytes")}, {}, 0, {}});
  run();
  ASSERT_EQ(gateway_log->delivery_forwards.size(), 1u);
  caf::anon_send(limited, node_deliveries{other, {make_test_message("a/2", "dropped")}, {}, 0, {}});
  caf::anon_send(
      limited,
      node_deliveries{other, {make_test_message("a/3", "kept", mqtt::qos::at_least_once)}, {}, 7, waiting});
  run();
  ASSERT_EQ(gateway_log->delivery_forwards.size(), 2u);
  EXPECT_EQ(test_support::topics_in(gateway_log->delivery_forwards[1].messages),
            std::vector<std::string>{"a/3"});
  EXPECT_EQ(stats->messages_dropped.load(), 1u);

  caf::anon_send(limited, cluster::forward_ack{gateway_log->delivery_forwards[0].token, 0, 1});
  caf::anon_send(limited, node_deliveries{other, {make_test_message("a/4", "sent again")}, {}, 0, {}});
  run();
  ASSERT_EQ(gateway_log->delivery_forwards.size(), 3u) << "acknowledged: room again";
}

TEST_F(cluster_router_test, a_message_of_a_shard_this_node_owns_goes_to_the_local_shard_with_its_ack) {
  auto publisher = std::make_shared<fake_sink>();
  publish_qos1({topic_of("me")}, publisher);

  ASSERT_EQ(shard_log->publish_batches.size(), 1u);
  const auto& batch = shard_log->publish_batches[0];
  ASSERT_EQ(batch.acks.size(), 1u);
  EXPECT_EQ(batch.acks[0].message_index, 0u);
  EXPECT_EQ(batch.publisher, publisher);
  EXPECT_TRUE(gateway_log->publish_forwards.empty());
}

TEST_F(cluster_router_test, the_puback_waits_for_every_part_the_owner_acknowledges) {
  auto publisher = std::make_shared<fake_sink>();
  publish_qos1({topic_of("other", 0), topic_of("other", 1)}, publisher);
  ASSERT_EQ(gateway_log->publish_forwards.size(), 1u);
  auto token = gateway_log->publish_forwards[0].token;
  ASSERT_NE(token, 0u);
  EXPECT_TRUE(publisher->packets().empty()) << "acknowledged before the owner took it";

  caf::anon_send(router, cluster::forward_ack{token, cluster::forward_ack::taken, 2});
  run();
  EXPECT_TRUE(publisher->packets().empty()) << "acknowledged after one of two parts";
  caf::anon_send(router, cluster::forward_ack{token, cluster::forward_ack::taken, 2});
  run();
  EXPECT_EQ(puback_reasons(*publisher), (std::vector<uint8_t>{0x00, 0x00}));
}

TEST_F(cluster_router_test, a_full_owner_refuses_with_quota_exceeded) {
  auto publisher = std::make_shared<fake_sink>();
  publish_qos1({topic_of("other")}, publisher);
  caf::anon_send(router, cluster::forward_ack{gateway_log->publish_forwards[0].token,
                                              cluster::forward_ack::store_full, 1});
  run();
  EXPECT_EQ(puback_reasons(*publisher), std::vector<uint8_t>{0x97});
}

TEST_F(cluster_router_test, an_owner_that_leaves_before_it_acknowledges_refuses_what_it_may_not_have_taken) {
  auto v5 = std::make_shared<fake_sink>(mqtt::protocol_version::v5);
  auto v311 = std::make_shared<fake_sink>(mqtt::protocol_version::v311);
  publish_qos1({topic_of("other")}, v5);
  publish_qos1({topic_of("other")}, v311);
  leave();

  EXPECT_EQ(puback_reasons(*v5), std::vector<uint8_t>{0x80});
  EXPECT_EQ(v311->aborts, 1u) << "3.1.1 cannot be refused: it reconnects and resends";
}

TEST_F(cluster_router_test, the_filters_of_this_nodes_subscribers_reach_other_nodes_once_each) {
  ASSERT_EQ(gateway_log->route_updates.size(), 1u);
  EXPECT_TRUE(gateway_log->route_updates[0].replace) << "a node that joins hears the whole set";

  // A wildcard filter lives on every shard, and each reports it.
  caf::anon_send(router, local_routes{{"a/#", "b/1"}, {}});
  caf::anon_send(router, local_routes{{"a/#"}, {}});
  run();
  ASSERT_EQ(gateway_log->route_updates.size(), 2u);
  EXPECT_EQ(gateway_log->route_updates[1].node, "me");
  EXPECT_EQ(gateway_log->route_updates[1].added, (std::vector<std::string>{"a/#", "b/1"}));

  caf::anon_send(router, local_routes{{}, {"a/#"}});
  run();
  EXPECT_EQ(gateway_log->route_updates.size(), 2u) << "one shard still has subscribers to a/#";
  caf::anon_send(router, local_routes{{}, {"a/#"}});
  run();
  ASSERT_EQ(gateway_log->route_updates.size(), 3u);
  EXPECT_EQ(gateway_log->route_updates[2].removed, std::vector<std::string>{"a/#"});

  auto later_log = std::make_shared<probe_log>();
  join("later", spawn_probe(later_log));
  ASSERT_EQ(later_log->route_updates.size(), 1u);
  EXPECT_TRUE(later_log->route_updates[0].replace);
  EXPECT_EQ(later_log->route_updates[0].added, std::vector<std::string>{"b/1"});
}

TEST_F(cluster_router_test, a_shard_waiting_for_a_node_that_left_waits_no_more) {
  auto waiting_log = std::make_shared<probe_log>();
  auto waiting = spawn_probe(waiting_log);
  auto other = cluster::node_key("other");
  caf::anon_send(
      router,
      node_deliveries{other, {make_test_message("a/1", "x", mqtt::qos::at_least_once)}, {}, 5, waiting});
  run();
  ASSERT_EQ(gateway_log->delivery_forwards.size(), 1u);
  EXPECT_NE(gateway_log->delivery_forwards[0].token, 0u);
  EXPECT_TRUE(waiting_log->forward_acks.empty());

  leave();
  ASSERT_EQ(waiting_log->forward_acks.size(), 1u);
  EXPECT_EQ(waiting_log->forward_acks[0].token, 5u);
  EXPECT_EQ(waiting_log->forward_acks[0].outcome, cluster::forward_ack::taken);
}

}  // namespace
}  // namespace mqhub::actors
