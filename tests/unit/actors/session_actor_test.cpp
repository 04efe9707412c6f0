#include "actors/session_actor.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "actors/subscribe_plan.hpp"

// A session actor driven through its mailbox on CAF's test coordinator (issue 21, point 6), in memory mode:
// its shards and its directory are probe actors, its connection a fake_sink.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::delivery_of;
using test_support::fake_sink;
using test_support::make_test_message;
using test_support::only;
using test_support::probe_log;
using test_support::release_atom;

constexpr size_t shard_count = 2;

class session_actor_test : public test_support::actor_test {
 protected:
  session_actor_test() {
    std::vector<caf::actor> shards;
    for (size_t i = 0; i < shard_count; ++i) {
      shard_logs.push_back(std::make_shared<probe_log>());
      shards.push_back(spawn_probe(shard_logs.back()));
    }
    directory = spawn_probe(directory_log);
    // Shards by the first topic level: a filter with a wildcard there goes to both.
    auto map = std::make_shared<const shard_map>(shards, 1);
    context = std::make_shared<const session_context>(
        session_context{map, stats, session_limits{}, nullptr, false});
  }

  caf::actor spawn_session() { return spawn<session_actor>(context, directory, std::string{"c"}); }

  /// A CONNECT of client "c" as the connection hands it over. Expiry 0 and a Receive Maximum of 4 or more
  /// make the connection complete QoS 1 itself (subscriber_link::direct_qos1); tests of the session's own
  /// window use a session that outlives its connection.
  static connect_request connect_for(const std::shared_ptr<fake_sink>& sink, uint32_t session_expiry,
                                     bool clean_start = true, uint16_t receive_maximum = 65535) {
    connect_request request;
    request.sink = sink;
    request.version = sink->version;
    request.client_id = "c";
    request.clean_start = clean_start;
    request.session_expiry = session_expiry;
    request.receive_maximum = receive_maximum;
    return request;
  }

  void connect(const caf::actor& session, connect_request request) {
    caf::anon_send(session, std::move(request));
    run();
  }

  using input_packet = decltype(session_input::packets)::value_type;

  void input(const caf::actor& session, const std::shared_ptr<fake_sink>& from, input_packet packet) {
    session_input in;
    in.from = from;
    in.packets.push_back(std::move(packet));
    caf::anon_send(session, std::move(in));
    run();
  }

  static inbound_ack puback(uint16_t packet_id) { return {mqtt::packet_type::puback, packet_id, {}}; }

  void deliver(const caf::actor& session, std::vector<delivery> deliveries) {
    caf::anon_send(session, delivery_batch{std::move(deliveries)});
    run();
  }

  void close(const caf::actor& session, const std::shared_ptr<fake_sink>& sink, bool clean = false) {
    caf::anon_send(session, session_event{connection_closed{sink, clean, std::nullopt}});
    run();
  }

  /// Connects `sink` to `session` with a kept session (expiry 300 s) and delivers it one QoS 1 message, "m1";
  /// returns the PUBLISH it was sent.
  mqtt::publish_packet send_one_qos1(const caf::actor& session, const std::shared_ptr<fake_sink>& sink) {
    connect(session, connect_for(sink, 300));
    deliver(session, {delivery_of(make_test_message("t/1", "m1", mqtt::qos::at_least_once), 1)});
    auto sent = sink->publishes();
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? mqtt::publish_packet{} : sent[0];
  }

  /// The kept session resumed on a new connection (clean start 0); returns its sink.
  std::shared_ptr<fake_sink> resume(const caf::actor& session) {
    auto sink = std::make_shared<fake_sink>();
    connect(session, connect_for(sink, 300, false));
    return sink;
  }

  /// A SUBSCRIBE as the connection hands it over when it did not register it with the shards itself.
  subscribe_command subscribe_command_for(uint16_t packet_id, const std::string& filter, mqtt::qos max_qos) {
    subscribe_command command;
    command.packet.packet_id = packet_id;
    command.packet.subscriptions.push_back({filter, max_qos, false, false, 0});
    command.verdicts.assign(1, mqtt::reason_code::success);
    command.plan = plan_subscribe(command.packet, command.verdicts, *context->shards);
    return command;
  }

  size_t shard_of(std::string_view topic) const { return context->shards->shard_of_topic(topic); }

  static mqtt::will_message will_on(std::string topic, uint32_t delay = 0) {
    mqtt::will_message will;
    will.topic = std::move(topic);
    will.payload = "gone";
    if (delay != 0)
      will.props.will_delay_interval = delay;
    return will;
  }

  std::vector<std::shared_ptr<probe_log>> shard_logs;
  std::shared_ptr<probe_log> directory_log = std::make_shared<probe_log>();
  caf::actor directory;
  std::shared_ptr<const session_context> context;
};

TEST_F(session_actor_test, a_connect_request_is_answered_with_a_connack_as_the_connection_is_attached) {
  // MQTT-3.2.0-1: the first packet from the server is CONNACK; MQTT-3.2.2-2: no session before, present 0.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0));

  ASSERT_EQ(sink->attach_count, 1u);
  EXPECT_EQ(sink->attached_session, session);
  auto first = sink->packets_of(fake_sink::call_kind::attached);
  ASSERT_EQ(first.size(), 1u);
  auto* connack = std::get_if<mqtt::connack_packet>(&first[0]);
  ASSERT_NE(connack, nullptr);
  EXPECT_FALSE(connack->session_present);
  EXPECT_EQ(connack->code, mqtt::reason_code::success);
  EXPECT_FALSE(sink->closed);
}

TEST_F(session_actor_test, a_qos1_delivery_is_sent_with_a_packet_id) {
  // MQTT-2.2.1-4: a QoS 1 PUBLISH from the server carries a non-zero, unused packet identifier.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 300));
  deliver(session, {delivery_of(make_test_message("t/1", "m1", mqtt::qos::at_least_once), 1)});

  auto publishes = sink->publishes();
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].qos_level, mqtt::qos::at_least_once);
  EXPECT_NE(publishes[0].packet_id, 0);
  EXPECT_FALSE(publishes[0].dup);
  EXPECT_EQ(publishes[0].payload, "m1");
}

TEST_F(session_actor_test, beyond_the_receive_maximum_messages_wait_and_go_out_as_pubacks_come) {
  // MQTT-3.3.4-9: no more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 300, true, 2));
  std::vector<delivery> batch;
  for (auto payload : {"m1", "m2", "m3", "m4"})
    batch.push_back(delivery_of(make_test_message("t/1", payload, mqtt::qos::at_least_once), 1));
  deliver(session, std::move(batch));

  auto publishes = sink->publishes();
  ASSERT_EQ(publishes.size(), 2u);
  EXPECT_EQ(publishes[0].payload, "m1");
  EXPECT_EQ(publishes[1].payload, "m2");
  EXPECT_NE(publishes[0].packet_id, publishes[1].packet_id);

  input(session, sink, puback(publishes[0].packet_id));
  publishes = sink->publishes();
  ASSERT_EQ(publishes.size(), 3u);
  EXPECT_EQ(publishes[2].payload, "m3");

  input(session, sink, puback(publishes[1].packet_id));
  publishes = sink->publishes();
  ASSERT_EQ(publishes.size(), 4u);
  EXPECT_EQ(publishes[3].payload, "m4");
}

TEST_F(session_actor_test, an_unacknowledged_qos1_message_is_resent_with_dup_when_the_session_resumes) {
  // MQTT-4.4.0-1: on reconnect with a kept session, unacknowledged PUBLISHes go again, DUP set, same id.
  auto first = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto sent = send_one_qos1(session, first);
  close(session, first);

  auto second = resume(session);
  auto connack = only<mqtt::connack_packet>(second->packets());
  ASSERT_EQ(connack.size(), 1u);
  EXPECT_TRUE(connack[0].session_present);  // MQTT-3.2.2-3 (5.0)
  auto resent = second->publishes();
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_TRUE(resent[0].dup);
  EXPECT_EQ(resent[0].packet_id, sent.packet_id);
  EXPECT_EQ(resent[0].payload, "m1");
}

TEST_F(session_actor_test, a_puback_completes_a_qos1_message_so_a_resumed_session_does_not_resend_it) {
  // MQTT-4.3.2: PUBACK ends the QoS 1 flow: nothing of it is left to resend (MQTT-4.4.0-1).
  auto first = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto sent = send_one_qos1(session, first);
  input(session, first, puback(sent.packet_id));
  close(session, first);

  auto second = resume(session);

  EXPECT_EQ(only<mqtt::connack_packet>(second->packets()).size(), 1u);
  EXPECT_TRUE(second->publishes().empty());
}

TEST_F(session_actor_test, qos1_for_a_session_that_ends_with_its_connection_goes_to_the_connection) {
  // subscriber_link::direct_qos1: the session keeps a quarter of the window, the connection the rest.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0, true, 8));
  ASSERT_EQ(sink->direct_window, std::optional<uint16_t>{6});

  deliver(session, {delivery_of(make_test_message("t/1", "m1", mqtt::qos::at_least_once), 1)});

  ASSERT_EQ(sink->direct_qos1.size(), 1u);
  EXPECT_EQ(sink->direct_qos1[0].msg->payload, "m1");
  EXPECT_TRUE(sink->publishes().empty());
}

TEST_F(session_actor_test, a_subscribe_asks_its_shards_and_the_suback_waits_for_every_reply) {
  // MQTT-3.8.4-1: a SUBACK answers the SUBSCRIBE, once every shard holds the subscription (issue 21).
  for (auto& log : shard_logs)
    log->hold_subscribe_replies = true;
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0));
  input(session, sink, subscribe_command_for(7, "+/temp", mqtt::qos::at_least_once));

  for (const auto& log : shard_logs) {
    ASSERT_EQ(log->subscribe_requests.size(), 1u);
    const auto& request = log->subscribe_requests[0];
    EXPECT_EQ(request.session, session);
    EXPECT_EQ(request.client_id, "c");
    EXPECT_EQ(request.link.sink, sink);
    ASSERT_EQ(request.entries.size(), 1u);
    EXPECT_EQ(request.entries[0].filter, "+/temp");
    EXPECT_EQ(request.entries[0].max_qos, 1);
  }
  EXPECT_TRUE(only<mqtt::suback_packet>(sink->packets()).empty());

  caf::anon_send(context->shards->all()[0], release_atom::value);
  run();
  EXPECT_TRUE(only<mqtt::suback_packet>(sink->packets()).empty()) << "SUBACK before the second shard replied";

  caf::anon_send(context->shards->all()[1], release_atom::value);
  run();
  auto subacks = only<mqtt::suback_packet>(sink->packets());
  ASSERT_EQ(subacks.size(), 1u);
  EXPECT_EQ(subacks[0].packet_id, 7);  // MQTT-3.8.4-2
  EXPECT_EQ(subacks[0].codes, std::vector<mqtt::reason_code>{mqtt::reason_code::granted_qos_1});
  for (const auto& log : shard_logs)
    EXPECT_EQ(log->subscribes_done.size(), 1u) << "each shard is told once the SUBACK is out";
}

TEST_F(session_actor_test, retained_messages_the_shards_found_follow_the_suback) {
  // MQTT-3.3.1-9 (5.0): retained messages are sent on subscribe; they follow the SUBACK.
  auto retained = delivery_of(make_test_message("status/a", "on", mqtt::qos::at_most_once, true), 0);
  retained.retain = true;
  shard_logs[shard_of("status/a")]->retained.push_back(retained);
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0));
  input(session, sink, subscribe_command_for(7, "status/a", mqtt::qos::at_most_once));

  auto packets = sink->packets();
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<mqtt::connack_packet>(packets[0]));
  EXPECT_TRUE(std::holds_alternative<mqtt::suback_packet>(packets[1]));
  auto* publish = std::get_if<mqtt::publish_packet>(&packets[2]);
  ASSERT_NE(publish, nullptr);
  EXPECT_EQ(publish->topic, "status/a");
  EXPECT_TRUE(publish->retain);
}

TEST_F(session_actor_test, an_unsubscribe_removes_the_filter_from_its_shards_and_is_answered) {
  // MQTT-3.10.4-4: UNSUBACK with the packet id; 5.0 3.11.3: 0x11 for a filter that had no subscription.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0));
  input(session, sink, subscribe_command_for(7, "+/temp", mqtt::qos::at_most_once));
  input(session, sink, mqtt::unsubscribe_packet{9, {"+/temp", "x/y"}, {}});

  for (const auto& log : shard_logs) {
    ASSERT_EQ(log->unsubscribe_requests.size(), 1u);
    EXPECT_EQ(log->unsubscribe_requests[0].session, session);
    EXPECT_EQ(log->unsubscribe_requests[0].filters,
              (std::vector<std::pair<std::string, std::string>>{{"+/temp", ""}}));
  }
  auto unsubacks = only<mqtt::unsuback_packet>(sink->packets());
  ASSERT_EQ(unsubacks.size(), 1u);
  EXPECT_EQ(unsubacks[0].packet_id, 9);
  EXPECT_EQ(unsubacks[0].codes, (std::vector<mqtt::reason_code>{mqtt::reason_code::success,
                                                                mqtt::reason_code::no_subscription_existed}));
}

TEST_F(session_actor_test, a_second_connect_takes_the_session_over_and_closes_the_first_with_0x8e) {
  // MQTT-3.1.4-3: the existing connection is closed; 5.0 sends DISCONNECT 0x8E (Session taken over) first.
  auto first = std::make_shared<fake_sink>();
  auto second = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(first, 0));
  connect(session, connect_for(second, 0));

  ASSERT_TRUE(first->closed);
  auto last = first->packets_of(fake_sink::call_kind::close);
  ASSERT_EQ(last.size(), 1u);
  auto* disconnect = std::get_if<mqtt::disconnect_packet>(&last[0]);
  ASSERT_NE(disconnect, nullptr);
  EXPECT_EQ(disconnect->code, mqtt::reason_code::session_taken_over);
  EXPECT_EQ(second->attach_count, 1u);
  EXPECT_EQ(only<mqtt::connack_packet>(second->packets()).size(), 1u);
  EXPECT_FALSE(second->closed);
}

TEST_F(session_actor_test, a_session_with_expiry_0_ends_with_its_connection) {
  // MQTT-3.1.2-6 (3.1.1) / 5.0 3.1.2.11.2: the session ends when the connection closes; the directory,
  // which may have handed the actor a new connection meanwhile, has the last word.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto exited = exit_flag(session);
  connect(session, connect_for(sink, 0));
  close(session, sink, true);

  ASSERT_EQ(directory_log->session_end_requests.size(), 1u);
  EXPECT_EQ(directory_log->session_end_requests[0].client_id, "c");
  EXPECT_EQ(directory_log->session_end_requests[0].attach_count, 1u);
  EXPECT_TRUE(*exited);
}

TEST_F(session_actor_test, an_ending_session_removes_its_subscriptions_from_its_shards_first) {
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(sink, 0));
  input(session, sink, subscribe_command_for(7, "+/temp", mqtt::qos::at_most_once));
  close(session, sink, true);

  for (const auto& log : shard_logs) {
    ASSERT_EQ(log->ends_of_session.size(), 1u);
    const auto& filters = log->ends_of_session[0].unsubscribe.filters;
    EXPECT_EQ(filters, (std::vector<std::pair<std::string, std::string>>{{"+/temp", ""}}));
  }
  EXPECT_EQ(directory_log->session_end_requests.size(), 1u);
}

TEST_F(session_actor_test, a_session_the_directory_does_not_let_end_stays) {
  // The directory refuses when it handed the actor a new connection meanwhile (see session_directory).
  directory_log->may_end = false;
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto exited = exit_flag(session);
  connect(session, connect_for(sink, 0));
  close(session, sink, true);

  EXPECT_EQ(directory_log->session_end_requests.size(), 1u);
  EXPECT_FALSE(*exited);
}

TEST_F(session_actor_test, a_late_close_of_a_connection_that_was_taken_over_is_ignored) {
  auto first = std::make_shared<fake_sink>();
  auto second = std::make_shared<fake_sink>();
  auto session = spawn_session();
  connect(session, connect_for(first, 0));
  connect(session, connect_for(second, 0));
  close(session, first);

  EXPECT_TRUE(directory_log->session_end_requests.empty());
  deliver(session, {delivery_of(make_test_message("t/1", "m1"), 0)});
  EXPECT_EQ(second->publishes().size(), 1u) << "the session lost its new connection";
}

TEST_F(session_actor_test, the_will_goes_to_the_shard_of_its_topic_when_the_connection_fails) {
  // MQTT-3.1.2-8: the Will Message is published after the connection closes without DISCONNECT 0x00.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto request = connect_for(sink, 0);
  request.will = will_on("status/c");
  connect(session, std::move(request));
  close(session, sink, false);

  const auto& batches = shard_logs[shard_of("status/c")]->publish_batches;
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].messages.size(), 1u);
  EXPECT_EQ(batches[0].messages[0]->topic, "status/c");
  EXPECT_EQ(batches[0].messages[0]->payload, "gone");
}

TEST_F(session_actor_test, a_normal_disconnect_discards_the_will) {
  // MQTT-3.1.2-8 (5.0) / MQTT-3.1.2-10 (3.1.1): DISCONNECT 0x00 deletes the Will Message.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto request = connect_for(sink, 0);
  request.will = will_on("status/c");
  connect(session, std::move(request));
  close(session, sink, true);

  for (const auto& log : shard_logs)
    EXPECT_TRUE(log->publish_batches.empty());
}

TEST_F(session_actor_test, a_delayed_will_goes_out_when_its_delay_has_passed) {
  // MQTT-3.1.2-8 (5.0): the will waits for its Will Delay Interval; the test clock moves only when told.
  auto sink = std::make_shared<fake_sink>();
  auto session = spawn_session();
  auto request = connect_for(sink, 300);
  request.will = will_on("status/c", 5);
  connect(session, std::move(request));
  close(session, sink, false);
  const auto& batches = shard_logs[shard_of("status/c")]->publish_batches;
  EXPECT_TRUE(batches.empty()) << "the will did not wait for its delay";

  advance_time(std::chrono::seconds(4));
  EXPECT_TRUE(batches.empty()) << "the will went out before its delay";

  advance_time(std::chrono::seconds(1));
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].messages[0]->topic, "status/c");
}

}  // namespace
}  // namespace mqhub::actors
