#include "actors/shard_actor.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_cast.hpp>

#include "actor_test_support.hpp"
#include "actors/subscribe_plan.hpp"

// A shard actor driven through its mailbox on CAF's test coordinator (issue 21, point 6): subscribers are
// probe actors standing in for sessions, with a fake_sink for a connection.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::make_test_message;
using test_support::probe_log;

class shard_actor_test : public test_support::actor_test {
 protected:
  struct subscriber {
    std::string client_id;
    std::shared_ptr<probe_log> log = std::make_shared<probe_log>();
    caf::actor session;
    std::shared_ptr<fake_sink> sink = std::make_shared<fake_sink>();
  };

  shard_actor_test() : shard(spawn<shard_actor>(stats)) {}

  subscriber make_subscriber(std::string client_id) {
    subscriber s;
    s.client_id = std::move(client_id);
    s.session = spawn_probe(s.log);
    return s;
  }

  /// The request a session sends for one subscription; `filter` may be `$share/{group}/...`.
  static subscribe_request request_for(const subscriber& s, std::string_view filter, uint8_t max_qos,
                                       bool direct_qos1 = false) {
    subscribe_request request;
    request.session = s.session;
    request.client_id = s.client_id;
    request.link.sink = s.sink;
    request.link.direct_qos1 = direct_qos1;
    request.link.version = mqtt::protocol_version::v5;
    request.entries.push_back(subscription_entry_of(filter, max_qos, false, false, 0, 0));
    return request;
  }

  /// Subscribes through the mailbox and answers the reply; then, as a session does once its SUBACK is out,
  /// tells the shard the subscribe is done.
  subscribe_reply subscribe(const subscribe_request& request, bool done = true) {
    auto reply = ask<subscribe_reply>(shard, request);
    run();
    EXPECT_TRUE(reply->has_value()) << "the shard did not answer the subscribe_request";
    if (done) {
      caf::anon_send(shard, subscribe_done{request.session});
      run();
    }
    return reply->value_or(subscribe_reply{});
  }

  void publish(std::vector<message_ptr> messages) {
    publish_batch batch;
    batch.messages = std::move(messages);
    caf::anon_send(shard, std::move(batch));
    run();
  }

  static std::vector<std::string> topics_of(const std::vector<mqtt::publish_packet>& publishes) {
    std::vector<std::string> topics;
    topics.reserve(publishes.size());
    for (const auto& p : publishes)
      topics.push_back(p.topic);
    return topics;
  }

  caf::actor shard;
};

TEST_F(shard_actor_test, a_qos0_publish_is_written_to_the_subscribers_connection_by_the_shard) {
  // Issue 5: QoS 0 goes from the shard to the connection, not through the session.
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/1/temp", 0));
  publish({make_test_message("sensors/1/temp", "21.5")});

  auto publishes = s.sink->publishes();
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].topic, "sensors/1/temp");
  EXPECT_EQ(publishes[0].payload, "21.5");
  EXPECT_EQ(publishes[0].qos_level, mqtt::qos::at_most_once);
  EXPECT_EQ(s.sink->calls.back().kind, fake_sink::call_kind::write_deliveries);
  EXPECT_TRUE(s.log->delivery_batches.empty());
}

TEST_F(shard_actor_test, a_qos1_publish_goes_to_the_session_as_a_delivery_batch_for_a_non_direct_link) {
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/1/temp", 1));
  publish({make_test_message("sensors/1/temp", "21.5", mqtt::qos::at_least_once)});

  ASSERT_EQ(s.log->delivery_batches.size(), 1u);
  const auto& deliveries = s.log->delivery_batches[0].deliveries;
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].qos, 1);
  EXPECT_EQ(deliveries[0].msg->payload, "21.5");
  EXPECT_TRUE(s.sink->calls.empty());
  EXPECT_TRUE(s.sink->direct_qos1.empty());
}

TEST_F(shard_actor_test, a_qos1_publish_goes_to_the_connection_for_a_direct_qos1_link) {
  // subscriber_link::direct_qos1: the connection sends and completes QoS 1 itself.
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/1/temp", 1, true));
  publish({make_test_message("sensors/1/temp", "21.5", mqtt::qos::at_least_once)});

  ASSERT_EQ(s.sink->direct_qos1.size(), 1u);
  EXPECT_EQ(s.sink->direct_qos1[0].qos, 1);
  EXPECT_EQ(s.sink->direct_qos1[0].msg->payload, "21.5");
  EXPECT_TRUE(s.log->delivery_batches.empty());
}

TEST_F(shard_actor_test, the_delivery_has_the_lower_of_the_message_qos_and_the_granted_qos) {
  // MQTT-3.8.4-8 (5.0): delivered at the minimum of the published QoS and the granted QoS.
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/1/temp", 0));
  publish({make_test_message("sensors/1/temp", "21.5", mqtt::qos::at_least_once)});

  auto publishes = s.sink->publishes();
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].qos_level, mqtt::qos::at_most_once);
  EXPECT_TRUE(s.log->delivery_batches.empty());
}

TEST_F(shard_actor_test, a_plus_matches_one_level_and_a_hash_every_level_below) {
  // Spec 4.7.1.2 (multi-level '#'), 4.7.1.3 (single-level '+').
  auto plus = make_subscriber("plus");
  auto hash = make_subscriber("hash");
  subscribe(request_for(plus, "sensors/+/temp", 0));
  subscribe(request_for(hash, "sensors/#", 0));
  publish({make_test_message("sensors/1/temp", "a"), make_test_message("sensors/1/hum", "b"),
           make_test_message("sensors/1/temp/raw", "c"), make_test_message("other/1/temp", "d")});

  EXPECT_EQ(topics_of(plus.sink->publishes()), (std::vector<std::string>{"sensors/1/temp"}));
  EXPECT_EQ(topics_of(hash.sink->publishes()),
            (std::vector<std::string>{"sensors/1/temp", "sensors/1/hum", "sensors/1/temp/raw"}));
}

TEST_F(shard_actor_test, a_shared_subscription_delivers_each_message_to_one_member_in_turn) {
  // MQTT 5 4.8.2: each message of a shared subscription goes to one session of the group; the trie picks
  // members round-robin.
  auto a = make_subscriber("a");
  auto b = make_subscriber("b");
  subscribe(request_for(a, "$share/workers/jobs/#", 0));
  subscribe(request_for(b, "$share/workers/jobs/#", 0));
  publish({make_test_message("jobs/1", "1"), make_test_message("jobs/2", "2"),
           make_test_message("jobs/3", "3"), make_test_message("jobs/4", "4")});

  auto to_a = topics_of(a.sink->publishes());
  auto to_b = topics_of(b.sink->publishes());
  EXPECT_EQ(to_a.size(), 2u);
  EXPECT_EQ(to_b.size(), 2u);
  std::vector<std::string> all = to_a;
  all.insert(all.end(), to_b.begin(), to_b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"jobs/1", "jobs/2", "jobs/3", "jobs/4"}));
}

TEST_F(shard_actor_test, a_shared_subscription_passes_over_a_member_that_is_offline) {
  // DESIGN §3: shared groups pass over members whose connection is gone (session_presence without a sink).
  auto online = make_subscriber("online");
  auto offline = make_subscriber("offline");
  subscribe(request_for(online, "$share/workers/jobs/#", 0));
  subscribe(request_for(offline, "$share/workers/jobs/#", 0));
  caf::anon_send(shard, session_presence{offline.session, subscriber_link{}, false});
  run();
  publish({make_test_message("jobs/1", "1"), make_test_message("jobs/2", "2")});

  EXPECT_EQ(topics_of(online.sink->publishes()), (std::vector<std::string>{"jobs/1", "jobs/2"}));
  EXPECT_TRUE(offline.sink->calls.empty());
  EXPECT_TRUE(offline.log->delivery_batches.empty());
}

TEST_F(shard_actor_test, an_unsubscribe_request_removes_the_subscription) {
  // MQTT-3.10.4-2: no new messages for the filter once the UNSUBSCRIBE is handled.
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/+/temp", 1));
  caf::anon_send(shard, unsubscribe_request{s.session, {{"sensors/+/temp", ""}}});
  run();
  publish({make_test_message("sensors/1/temp", "a"),
           make_test_message("sensors/2/temp", "b", mqtt::qos::at_least_once)});

  EXPECT_TRUE(s.sink->calls.empty());
  EXPECT_TRUE(s.log->delivery_batches.empty());
}

TEST_F(shard_actor_test, a_retained_message_comes_back_in_the_subscribe_reply) {
  // MQTT-3.3.1-9 (retain handling 0): the retained messages matching the filter are sent on subscribe.
  publish({make_test_message("status/a", "on", mqtt::qos::at_least_once, true),
           make_test_message("status/b", "not retained")});
  auto s = make_subscriber("s");
  auto reply = subscribe(request_for(s, "status/+", 0));

  ASSERT_EQ(reply.retained.size(), 1u);
  EXPECT_EQ(reply.retained[0].msg->topic, "status/a");
  EXPECT_EQ(reply.retained[0].msg->payload, "on");
  EXPECT_TRUE(reply.retained[0].retain);  // MQTT-3.3.1-8 (3.1.1)
  EXPECT_EQ(reply.retained[0].qos, 0);    // the granted QoS
}

TEST_F(shard_actor_test, a_restoring_subscribe_request_gets_no_retained_messages) {
  // A session re-registering after a restart (or settling what its connection registered) already had them.
  publish({make_test_message("status/a", "on", mqtt::qos::at_most_once, true)});
  auto s = make_subscriber("s");
  auto request = request_for(s, "status/+", 0);
  request.restoring = true;
  auto reply = subscribe(request, false);

  EXPECT_TRUE(reply.retained.empty());
}

TEST_F(shard_actor_test, subscribe_here_takes_effect_before_a_later_publish_batch) {
  // Issue 21: a connection registers a SUBSCRIBE on its own thread as it reads it, so that a PUBLISH read
  // after it on any connection reaches the subscriber.
  auto s = make_subscriber("s");
  auto& local = dynamic_cast<shard_actor&>(*caf::actor_cast<caf::abstract_actor*>(shard));
  run();  // the shard has started; nothing waits in a mailbox
  auto reply = local.subscribe_here(request_for(s, "sensors/+/temp", 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(sched.has_job()) << "subscribe_here must not need the actor's mailbox";

  publish({make_test_message("sensors/1/temp", "21.5", mqtt::qos::at_least_once)});

  ASSERT_EQ(s.log->delivery_batches.size(), 1u);
  ASSERT_EQ(s.log->delivery_batches[0].deliveries.size(), 1u);
  EXPECT_EQ(s.log->delivery_batches[0].deliveries[0].msg->payload, "21.5");
}

TEST_F(shard_actor_test, subscribe_here_does_nothing_once_the_shard_has_exited) {
  auto s = make_subscriber("s");
  auto& local = dynamic_cast<shard_actor&>(*caf::actor_cast<caf::abstract_actor*>(shard));
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
  run();

  EXPECT_FALSE(local.subscribe_here(request_for(s, "sensors/+/temp", 1)).has_value());
}

TEST_F(shard_actor_test, qos0_waits_while_a_subscribe_is_pending_and_follows_subscribe_done) {
  // subscribe_done: QoS 0 must not overtake the retained messages the session sends after its SUBACK.
  auto s = make_subscriber("s");
  auto request = request_for(s, "sensors/+/temp", 0);
  subscribe(request, false);
  publish({make_test_message("sensors/1/temp", "newer")});
  EXPECT_TRUE(s.sink->calls.empty()) << "QoS 0 went out before the subscribe was done";

  caf::anon_send(shard, subscribe_done{s.session});
  run();

  auto publishes = s.sink->publishes();
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].payload, "newer");
}

TEST_F(shard_actor_test, qos0_waits_until_every_pending_subscribe_is_done) {
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/+/temp", 0), false);
  subscribe(request_for(s, "sensors/#", 0), false);
  publish({make_test_message("sensors/1/temp", "newer")});
  caf::anon_send(shard, subscribe_done{s.session});
  run();
  EXPECT_TRUE(s.sink->calls.empty()) << "QoS 0 went out with a subscribe still pending";

  caf::anon_send(shard, subscribe_done{s.session});
  run();

  EXPECT_EQ(s.sink->publishes().size(), 1u);
}

TEST_F(shard_actor_test, no_local_keeps_a_clients_own_messages_from_it) {
  // MQTT-3.8.3-3.
  auto s = make_subscriber("s");
  auto request = request_for(s, "chat/#", 0);
  request.entries[0].no_local = true;
  subscribe(request);
  publish({make_test_message("chat/room", "mine", mqtt::qos::at_most_once, false, "s"),
           make_test_message("chat/room", "theirs", mqtt::qos::at_most_once, false, "other")});

  auto publishes = s.sink->publishes();
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].payload, "theirs");
}

TEST_F(shard_actor_test, route_here_routes_on_the_calling_thread_in_memory_mode) {
  // Issue 5: a connection routes a batch itself, without the hop to the shard's thread.
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/+/temp", 0));
  auto& local = dynamic_cast<shard_actor&>(*caf::actor_cast<caf::abstract_actor*>(shard));
  auto batch = publish_batch::of(make_test_message("sensors/1/temp", "21.5"));

  ASSERT_TRUE(local.route_here(batch));
  EXPECT_EQ(s.sink->publishes().size(), 1u);
}

TEST_F(shard_actor_test, end_of_session_removes_the_subscriptions_and_answers) {
  auto s = make_subscriber("s");
  subscribe(request_for(s, "sensors/+/temp", 0));
  auto answered = ask<bool>(shard, end_of_session{unsubscribe_request{s.session, {{"sensors/+/temp", ""}}}});
  run();
  ASSERT_TRUE(answered->has_value());
  EXPECT_TRUE(answered->value());

  publish({make_test_message("sensors/1/temp", "21.5")});
  EXPECT_TRUE(s.sink->calls.empty());
}

}  // namespace
}  // namespace mqhub::actors
