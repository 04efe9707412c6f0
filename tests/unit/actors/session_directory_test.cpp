#include "actors/session_directory.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"

// The session directory and the sessions it starts, driven on CAF's test coordinator (issue 21, point 6),
// in memory mode: shards are probe actors, connections fake_sinks. CONNECTs go through the session_table as
// a connection sends them.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::only;
using test_support::probe_log;

class session_directory_test : public test_support::actor_test {
 protected:
  session_directory_test() {
    std::vector<caf::actor> shards;
    for (size_t i = 0; i < 2; ++i) {
      shard_logs.push_back(std::make_shared<probe_log>());
      shards.push_back(spawn_probe(shard_logs.back()));
    }
    auto map = std::make_shared<const shard_map>(shards, 1);
    context = std::make_shared<const session_context>(
        session_context{map, stats, session_limits{}, nullptr, false});
    directory = spawn<session_directory>(context, table);
    run();
  }

  static connect_request connect_for(const std::shared_ptr<fake_sink>& sink, uint32_t session_expiry,
                                     bool clean_start = true) {
    connect_request request;
    request.sink = sink;
    request.version = sink->version;
    request.client_id = std::string(1, 'c');  // not "c": GCC 12 warns of a memcpy overlap it imagines
    request.clean_start = clean_start;
    request.session_expiry = session_expiry;
    return request;
  }

  /// As a connection does at CONNECT: `may_be_dormant` for a clean client with nothing to resume, which
  /// the table then registers itself when it can.
  void connect(connect_request request, bool may_be_dormant = false) {
    table->connect(
        request, may_be_dormant, [] {},
        [this](connect_request& forwarded) { caf::anon_send(directory, std::move(forwarded)); });
    run();
  }

  const session_table::entry* entry_of(const std::string& client_id) const {
    auto it = table->entries.find(client_id);
    return it == table->entries.end() ? nullptr : &it->second;
  }

  /// The CONNACK `sink` got first, if it did.
  static std::optional<mqtt::connack_packet> connack_of(const fake_sink& sink) {
    auto packets = sink.packets();
    if (packets.empty() || !std::holds_alternative<mqtt::connack_packet>(packets[0]))
      return std::nullopt;
    return std::get<mqtt::connack_packet>(packets[0]);
  }

  std::vector<std::shared_ptr<probe_log>> shard_logs;
  std::shared_ptr<const session_context> context;
  std::shared_ptr<session_table> table = std::make_shared<session_table>();
  caf::actor directory;
};

TEST_F(session_directory_test, a_connect_of_a_new_persistent_client_starts_a_session_that_sends_connack) {
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 300));

  ASSERT_EQ(sink->attach_count, 1u);
  ASSERT_TRUE(sink->attached_session);
  auto connack = connack_of(*sink);
  ASSERT_TRUE(connack.has_value());
  EXPECT_FALSE(connack->session_present);  // MQTT-3.2.2-2 (5.0): there was none
  const auto* e = entry_of("c");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->session, sink->attached_session);
  EXPECT_EQ(e->attach_count, 1u);
  EXPECT_EQ(table->connects_in_flight, 0u);
}

TEST_F(session_directory_test, a_second_connect_of_the_same_client_id_goes_to_the_same_session) {
  // MQTT-3.1.4-3 takeover; MQTT-3.2.2-3 (5.0): the kept session is present.
  auto first = std::make_shared<fake_sink>();
  auto second = std::make_shared<fake_sink>();
  connect(connect_for(first, 300));
  connect(connect_for(second, 300, false));

  ASSERT_TRUE(second->attached_session);
  EXPECT_EQ(second->attached_session, first->attached_session);
  EXPECT_TRUE(first->closed);
  auto connack = connack_of(*second);
  ASSERT_TRUE(connack.has_value());
  EXPECT_TRUE(connack->session_present);
  EXPECT_EQ(entry_of("c")->attach_count, 2u);
}

TEST_F(session_directory_test, a_clean_client_with_nothing_to_resume_gets_its_connack_without_an_actor) {
  // A dormant session (see session_directory): the directory answers the CONNECT itself.
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 0));

  ASSERT_EQ(sink->attach_count, 1u);
  EXPECT_FALSE(sink->attached_session);
  auto connack = connack_of(*sink);
  ASSERT_TRUE(connack.has_value());
  EXPECT_FALSE(connack->session_present);
  const auto* e = entry_of("c");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->session);
  EXPECT_EQ(e->dormant.sink, sink);
}

TEST_F(session_directory_test, a_connect_takes_over_a_dormant_session_and_its_will_goes_out) {
  // MQTT-3.1.4-3: the old connection gets DISCONNECT 0x8E and closes; its session ends, so does its will.
  auto first = std::make_shared<fake_sink>();
  auto request = connect_for(first, 0);
  request.will = mqtt::will_message{"status/c", "gone", mqtt::qos::at_most_once, false, {}};
  connect(std::move(request), true);
  ASSERT_NE(entry_of("c"), nullptr);
  ASSERT_EQ(entry_of("c")->dormant.sink, first);

  auto second = std::make_shared<fake_sink>();
  connect(connect_for(second, 0), true);

  ASSERT_TRUE(first->closed);
  auto last = first->packets_of(fake_sink::call_kind::close);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(std::get<mqtt::disconnect_packet>(last[0]).code, mqtt::reason_code::session_taken_over);
  ASSERT_NE(first->will, nullptr) << "the connection publishes the will of the session it closes";
  EXPECT_EQ(first->will->topic, "status/c");
  EXPECT_EQ(entry_of("c")->dormant.sink, second);
  EXPECT_TRUE(connack_of(*second).has_value());
}

TEST_F(session_directory_test, wake_dormant_session_starts_an_actor_that_takes_the_connection) {
  // Issue 21: a connection wakes its dormant session itself, on its own thread, for a packet that needs one.
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 0), true);
  ASSERT_EQ(entry_of("c")->dormant.sink, sink);

  auto session = wake_dormant_session(sys, *table, directory, context, "c", sink.get());

  ASSERT_TRUE(session);
  const auto* e = entry_of("c");
  EXPECT_EQ(e->session, session);
  EXPECT_EQ(e->attach_count, 1u);
  EXPECT_FALSE(e->dormant.sink);
  run();
  EXPECT_EQ(sink->attached_session, session);
  EXPECT_TRUE(sink->packets_of(fake_sink::call_kind::attached).empty()) << "the CONNACK went out before";
}

TEST_F(session_directory_test, wake_dormant_session_returns_null_once_the_connection_was_taken_over) {
  auto first = std::make_shared<fake_sink>();
  connect(connect_for(first, 0), true);
  auto second = std::make_shared<fake_sink>();
  connect(connect_for(second, 0), true);

  EXPECT_FALSE(wake_dormant_session(sys, *table, directory, context, "c", first.get()));
  const auto* e = entry_of("c");
  EXPECT_FALSE(e->session);
  EXPECT_EQ(e->dormant.sink, second);
}

TEST_F(session_directory_test, a_woken_session_that_fails_is_forgotten_by_the_directory) {
  // adopt_session: the directory watches a session a connection started as it watches its own, so the
  // client's next CONNECT does not go to a dead actor.
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 0), true);
  auto session = wake_dormant_session(sys, *table, directory, context, "c", sink.get());
  ASSERT_TRUE(session);
  run();

  caf::anon_send_exit(session, caf::exit_reason::kill);
  run();

  EXPECT_EQ(entry_of("c"), nullptr);
}

TEST_F(session_directory_test, a_session_end_request_from_another_actor_is_refused) {
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 300));
  auto answer = ask<bool>(directory, session_end_request{"c", 1});
  run();

  ASSERT_TRUE(answer->has_value());
  EXPECT_FALSE(answer->value());
  ASSERT_NE(entry_of("c"), nullptr);
}

TEST_F(session_directory_test, a_persistent_session_ends_when_its_expiry_passes_offline) {
  // MQTT 5 3.1.2.11.2: the session is discarded once the Session Expiry Interval has passed after the
  // connection closed; the test clock moves only when told.
  auto sink = std::make_shared<fake_sink>();
  connect(connect_for(sink, 60));
  auto session = sink->attached_session;
  auto exited = exit_flag(session);
  caf::anon_send(session, session_event{connection_closed{sink, true, std::nullopt}});
  run();

  advance_time(std::chrono::seconds(59));
  EXPECT_FALSE(*exited) << "the session ended before its expiry";

  advance_time(std::chrono::seconds(1));
  EXPECT_TRUE(*exited);
  EXPECT_EQ(entry_of("c"), nullptr);
}

TEST_F(session_directory_test, a_connect_that_races_the_end_of_its_session_gets_the_same_actor_fresh) {
  // The session asks to end (expiry 0 from its DISCONNECT) while the directory hands it a new connection:
  // the directory refuses, and the actor starts a new session for the CONNECT (MQTT-3.2.2-3: present 0).
  auto first = std::make_shared<fake_sink>();
  connect(connect_for(first, 60));
  auto session = first->attached_session;
  auto exited = exit_flag(session);

  // Queued in this order: the session handles the close and asks to end, but the directory has the
  // CONNECT in its mailbox before that request.
  caf::anon_send(session, session_event{connection_closed{first, true, 0u}});
  auto second = std::make_shared<fake_sink>();
  auto request = connect_for(second, 60, false);
  table->connect(
      request, false, [] {},
      [this](connect_request& forwarded) { caf::anon_send(directory, std::move(forwarded)); });
  run();

  EXPECT_FALSE(*exited);
  EXPECT_EQ(second->attached_session, session);
  auto connack = connack_of(*second);
  ASSERT_TRUE(connack.has_value());
  EXPECT_FALSE(connack->session_present) << "the session had ended";
  ASSERT_NE(entry_of("c"), nullptr);
  EXPECT_EQ(entry_of("c")->session, session);
}

}  // namespace
}  // namespace mqhub::actors
