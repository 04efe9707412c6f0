#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "actors/session_actor.hpp"
#include "actors/shard_actor.hpp"
#include "actors/subscribe_plan.hpp"

// A session actor with real shard actors on CAF's test coordinator (issue 21, point 6): what passes between
// them when a client subscribes, end to end, with a fake_sink for the connection.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::make_test_message;
using test_support::probe_log;

/// The session with real shard actors: what passes between them, end to end.
class session_with_shards_test : public test_support::actor_test {
 protected:
  session_with_shards_test() {
    std::vector<caf::actor> shards;
    for (size_t i = 0; i < 2; ++i)
      shards.push_back(spawn<shard_actor>(stats));
    directory = spawn_probe(std::make_shared<probe_log>());
    auto map = std::make_shared<const shard_map>(shards, 1);
    context = std::make_shared<const session_context>(
        session_context{map, stats, session_limits{}, nullptr, false});
    session = spawn<session_actor>(context, directory, std::string{"c"});
    caf::anon_send(session, connect_for(sink, "c"));
    run();
  }

  /// A clean CONNECT, with a session that ends with the connection.
  static connect_request connect_for(const std::shared_ptr<fake_sink>& sink, std::string client_id) {
    connect_request request;
    request.sink = sink;
    request.version = sink->version;
    request.client_id = std::move(client_id);
    return request;
  }

  const caf::actor& shard_of(std::string_view topic) const {
    return (*context->shards)[context->shards->shard_of_topic(topic)];
  }

  session_input subscribe_input(uint16_t packet_id, const std::string& filter) const {
    session_input in;
    in.from = sink;
    subscribe_command command;
    command.packet.packet_id = packet_id;
    command.packet.subscriptions.push_back({filter, mqtt::qos::at_most_once, false, false, 0});
    command.verdicts.assign(1, mqtt::reason_code::success);
    command.plan = plan_subscribe(command.packet, command.verdicts, *context->shards);
    in.packets.emplace_back(std::move(command));
    return in;
  }

  std::shared_ptr<fake_sink> sink = std::make_shared<fake_sink>();
  caf::actor directory;
  std::shared_ptr<const session_context> context;
  caf::actor session;
};

TEST_F(session_with_shards_test, a_message_published_after_the_suback_reaches_the_subscriber) {
  caf::anon_send(session, subscribe_input(7, "+/temp"));
  run();
  caf::anon_send(shard_of("a/temp"), publish_batch::of(make_test_message("a/temp", "21.5")));
  run();

  auto packets = sink->packets();
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<mqtt::connack_packet>(packets[0]));
  EXPECT_TRUE(std::holds_alternative<mqtt::suback_packet>(packets[1]));
  auto* publish = std::get_if<mqtt::publish_packet>(&packets[2]);
  ASSERT_NE(publish, nullptr);
  EXPECT_EQ(publish->payload, "21.5");
}

TEST_F(session_with_shards_test, a_message_routed_before_the_suback_is_out_follows_the_retained_one) {
  // subscribe_done: the shard routes a newer value while the session still waits to send the SUBACK and
  // the retained value; the client must end with the newer one, so it goes out after them.
  const auto& shard = shard_of("status/a");
  caf::anon_send(shard,
                 publish_batch::of(make_test_message("status/a", "old", mqtt::qos::at_most_once, true)));
  run();

  caf::anon_send(session, subscribe_input(7, "status/a"));
  sched.run_once();  // the session asks the shard
  sched.run_once();  // the shard registers the subscription and replies
  caf::anon_send(shard, publish_batch::of(make_test_message("status/a", "new")));
  ASSERT_TRUE(sched.prioritize(shard));
  sched.run_once();  // the shard routes "new" before the session has its reply
  run();

  auto packets = sink->packets();
  ASSERT_EQ(packets.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<mqtt::suback_packet>(packets[1]));
  auto* retained = std::get_if<mqtt::publish_packet>(&packets[2]);
  auto* newer = std::get_if<mqtt::publish_packet>(&packets[3]);
  ASSERT_NE(retained, nullptr);
  ASSERT_NE(newer, nullptr);
  EXPECT_EQ(retained->payload, "old");
  EXPECT_TRUE(retained->retain);
  EXPECT_EQ(newer->payload, "new");
}

TEST_F(session_with_shards_test, a_session_that_fails_leaves_no_member_behind_in_a_shared_group) {
  GTEST_SKIP() << "Fails today: shards do not watch sessions, so a session actor that exits abnormally keeps "
                  "its subscriptions, and its shared-group turn, with its old link; only the directory "
                  "forgets it. The cluster makes this common (a remote session's node goes away).";
  const auto& shard = shard_of("jobs/1");
  caf::anon_send(session, subscribe_input(7, "$share/g/jobs/#"));
  run();
  auto other_sink = std::make_shared<fake_sink>();
  auto other = spawn_probe(std::make_shared<probe_log>());
  subscribe_request request;
  request.session = other;
  request.client_id = "other";
  request.link.sink = other_sink;
  request.link.version = other_sink->version;
  request.entries.push_back(subscription_entry_of("$share/g/jobs/#", 0, false, false, 0, 0));
  auto reply = ask<subscribe_reply>(shard, request);
  run();
  ASSERT_TRUE(reply->has_value());
  caf::anon_send(shard, subscribe_done{other});
  auto before = sink->publishes().size();

  caf::anon_send_exit(session, caf::exit_reason::kill);  // as an exception in a handler would end it
  run();
  publish_batch batch;
  batch.messages = {make_test_message("jobs/1", "1"), make_test_message("jobs/2", "2")};
  caf::anon_send(shard, std::move(batch));
  run();

  EXPECT_EQ(other_sink->publishes().size(), 2u) << "a message of the group went to the failed member";
  EXPECT_EQ(sink->publishes().size(), before);
}

}  // namespace
}  // namespace mqhub::actors
