#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "actors/shard_actor.hpp"
#include "actors/subscribe_plan.hpp"

// The cluster side of a shard (docs/architecture.md "Cluster"), through its mailbox on CAF's test
// coordinator: a probe stands in for the cluster router, node keys for the other nodes.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::make_test_message;
using test_support::probe_log;

const uint64_t node_a = cluster::node_key("a");
const uint64_t node_b = cluster::node_key("b");

class shard_cluster_test : public test_support::actor_test {
 protected:
  shard_cluster_test() : shard(spawn<shard_actor>(stats)), router(spawn_probe(router_log)) {
    caf::anon_send(shard, attach_router{router});
    run();
  }

  void routes(uint64_t node, std::vector<std::string> added, std::vector<std::string> removed = {},
              bool replace = false) {
    caf::anon_send(shard, remote_routes{node, router, replace, false, std::move(added), std::move(removed)});
    run();
  }

  void publish(std::vector<message_ptr> messages, bool forwarded = false) {
    publish_batch batch;
    batch.messages = std::move(messages);
    batch.forwarded = forwarded;
    caf::anon_send(shard, std::move(batch));
    run();
  }

  caf::actor subscribe_local(const std::string& filter, const std::shared_ptr<fake_sink>& sink,
                             const std::shared_ptr<probe_log>& log) {
    subscribe_request request;
    request.session = spawn_probe(log);
    request.client_id = "local-" + filter;
    request.link.sink = sink;
    request.link.version = mqtt::protocol_version::v5;
    request.entries.push_back(subscription_entry_of(filter, 1, false, false, 0, 0));
    auto reply = ask<subscribe_reply>(shard, request);
    run();
    caf::anon_send(shard, subscribe_done{request.session});
    run();
    return request.session;
  }

  /// Topics per node, from what the router got.
  std::map<uint64_t, std::vector<std::string>> forwarded() const {
    std::map<uint64_t, std::vector<std::string>> out;
    for (const auto& batch : router_log->node_deliveries_got)
      for (const auto& msg : batch.messages)
        out[batch.node].push_back(msg->topic);
    return out;
  }

  caf::actor shard;
  std::shared_ptr<probe_log> router_log = std::make_shared<probe_log>();
  caf::actor router;
};

TEST_F(shard_cluster_test, a_message_goes_once_to_each_node_whose_filters_match_it) {
  routes(node_a, {"fleet/#", "fleet/+/temp"});
  routes(node_b, {"fleet/d2/temp"});
  publish({make_test_message("fleet/d1/temp", "1"), make_test_message("fleet/d2/temp", "2"),
           make_test_message("other/d1", "3")});

  using topics = std::vector<std::string>;
  EXPECT_EQ(forwarded()[node_a], (topics{"fleet/d1/temp", "fleet/d2/temp"}));
  EXPECT_EQ(forwarded()[node_b], (topics{"fleet/d2/temp"}));
  EXPECT_EQ(router_log->node_deliveries_got.size(), 2u) << "one message per node per batch";
}

TEST_F(shard_cluster_test, a_retained_message_goes_to_every_node_it_knows) {
  routes(node_a, {});
  routes(node_b, {"x/#"});
  publish({make_test_message("state/1", "on", mqtt::qos::at_most_once, true)});

  EXPECT_EQ(forwarded()[node_a], std::vector<std::string>{"state/1"});
  EXPECT_EQ(forwarded()[node_b], std::vector<std::string>{"state/1"});
}

TEST_F(shard_cluster_test, a_node_that_removed_a_filter_or_left_gets_nothing_more) {
  routes(node_a, {"a/1", "a/2"});
  routes(node_b, {"a/1"});
  routes(node_a, {}, {"a/1"});
  caf::anon_send(shard, remote_routes{node_b, router, false, true, {}, {}});
  run();
  publish({make_test_message("a/1", "x"), make_test_message("a/2", "y")});

  EXPECT_EQ(forwarded()[node_a], std::vector<std::string>{"a/2"});
  EXPECT_EQ(forwarded().count(node_b), 0u);
}

TEST_F(shard_cluster_test, a_replacing_update_forgets_the_nodes_earlier_filters) {
  routes(node_a, {"a/1"});
  routes(node_a, {"a/2"}, {}, true);
  publish({make_test_message("a/1", "x"), make_test_message("a/2", "y")});

  EXPECT_EQ(forwarded()[node_a], std::vector<std::string>{"a/2"});
}

TEST_F(shard_cluster_test, a_forwarded_message_reaches_local_subscribers_only_and_stays_as_a_retained_copy) {
  routes(node_a, {"a/#"});
  auto sink = std::make_shared<fake_sink>();
  auto log = std::make_shared<probe_log>();
  subscribe_local("a/#", sink, log);
  publish({make_test_message("a/1", "from the owner", mqtt::qos::at_most_once, true)}, true);

  ASSERT_EQ(sink->publishes().size(), 1u);
  EXPECT_EQ(sink->publishes()[0].payload, "from the owner");
  EXPECT_TRUE(router_log->node_deliveries_got.empty()) << "the owner forwarded it to the other nodes";

  auto later = std::make_shared<fake_sink>();
  subscribe_request request;
  request.session = spawn_probe(log);
  request.client_id = "later";
  request.link.sink = later;
  request.entries.push_back(subscription_entry_of("a/1", 0, false, false, 0, 0));
  auto reply = ask<subscribe_reply>(shard, request);
  run();
  ASSERT_TRUE(reply->has_value());
  ASSERT_EQ((*reply)->retained.size(), 1u);
  EXPECT_EQ((*reply)->retained[0].msg->payload, "from the owner");
}

TEST_F(shard_cluster_test, a_shared_group_gives_each_message_to_one_member_cluster_wide) {
  routes(node_a, {"$share/g/jobs/#"});  // node A has members of the group
  auto sink = std::make_shared<fake_sink>();
  auto log = std::make_shared<probe_log>();
  subscribe_local("$share/g/jobs/#", sink, log);
  publish({make_test_message("jobs/1", "1"), make_test_message("jobs/2", "2"),
           make_test_message("jobs/3", "3"), make_test_message("jobs/4", "4")});

  EXPECT_EQ(sink->publishes().size(), 2u) << "the local member gets every other message";
  ASSERT_EQ(forwarded()[node_a].size(), 2u);
  ASSERT_EQ(router_log->node_deliveries_got.size(), 1u);
  const auto& batch = router_log->node_deliveries_got[0];
  ASSERT_EQ(batch.groups.size(), 2u);
  EXPECT_EQ(batch.groups[0], (std::pair<uint32_t, std::string>{0, "$share/g/jobs/#"}));
  EXPECT_EQ(batch.groups[1], (std::pair<uint32_t, std::string>{1, "$share/g/jobs/#"}));
}

TEST_F(shard_cluster_test, a_forwarded_message_goes_to_one_local_member_of_each_group_the_owner_chose) {
  routes(node_a, {"$share/g/jobs/#"});  // another node's member: never chosen here
  auto g1 = std::make_shared<fake_sink>();
  auto g2 = std::make_shared<fake_sink>();
  auto h = std::make_shared<fake_sink>();
  auto log = std::make_shared<probe_log>();
  subscribe_local("$share/g/jobs/#", g1, log);
  subscribe_local("$share/g/jobs/#", g2, log);
  subscribe_local("$share/h/jobs/#", h, log);
  publish_batch batch;
  batch.messages = {make_test_message("jobs/1", "1"), make_test_message("jobs/2", "2")};
  batch.forwarded = true;
  batch.forwarded_groups = {{0, "$share/g/jobs/#"}, {1, "$share/g/jobs/#"}};
  caf::anon_send(shard, std::move(batch));
  run();

  EXPECT_EQ(g1->publishes().size(), 1u);
  EXPECT_EQ(g2->publishes().size(), 1u);
  EXPECT_TRUE(h->publishes().empty()) << "the owner chose another node for group h";
  EXPECT_TRUE(router_log->node_deliveries_got.empty());
}

TEST_F(shard_cluster_test, each_filter_is_reported_when_its_first_subscriber_comes_and_its_last_goes) {
  auto sink = std::make_shared<fake_sink>();
  auto log = std::make_shared<probe_log>();
  auto first = subscribe_local("a/1", sink, log);
  auto second = subscribe_local("a/1", sink, log);

  ASSERT_EQ(router_log->local_routes_got.size(), 1u);
  EXPECT_EQ(router_log->local_routes_got[0].added, std::vector<std::string>{"a/1"});

  caf::anon_send(shard, unsubscribe_request{first, {{"a/1", ""}}});
  run();
  EXPECT_EQ(router_log->local_routes_got.size(), 1u) << "a subscriber to a/1 is left";
  caf::anon_send(shard, unsubscribe_request{second, {{"a/1", ""}}});
  run();
  ASSERT_EQ(router_log->local_routes_got.size(), 2u);
  EXPECT_EQ(router_log->local_routes_got[1].removed, std::vector<std::string>{"a/1"});
}

TEST_F(shard_cluster_test, a_batch_another_node_forwarded_is_acknowledged_to_it_once_routed) {
  auto relay_log = std::make_shared<probe_log>();
  auto relay = spawn_probe(relay_log);
  publish_batch batch;
  batch.messages.push_back(make_test_message("a/1", "x", mqtt::qos::at_least_once));
  batch.relay = publish_batch::relay_ack{relay, 7, 2};
  caf::anon_send(shard, std::move(batch));
  run();

  ASSERT_EQ(relay_log->forward_acks.size(), 1u);
  EXPECT_EQ(relay_log->forward_acks[0].token, 7u);
  EXPECT_EQ(relay_log->forward_acks[0].parts, 2u);
  EXPECT_EQ(relay_log->forward_acks[0].outcome, cluster::forward_ack::taken);
}

}  // namespace
}  // namespace mqhub::actors
