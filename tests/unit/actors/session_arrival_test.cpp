#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "actors/durable_store.hpp"
#include "actors/session_directory.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/queue_reader.hpp"
#include "tests/unit/storage/temp_dir.hpp"

// A session moving to this node (session_arrival.cpp), on CAF's test coordinator with a real store: the
// directory of a cluster member keeps a resuming CONNECT waiting until the session arrives or the session
// locator says none does. Shards are probe actors, connections fake_sinks.
namespace mqhub::actors {
namespace {

namespace mqtt = net::mqtt;
using test_support::fake_sink;
using test_support::probe_log;

class session_arrival_test : public test_support::actor_test {
 protected:
  session_arrival_test() {
    db = std::move(*storage::database::open({dir.db()}));
    writer = std::make_unique<storage::group_commit_writer>(*db, storage::group_commit_options{});
    store = std::make_shared<durable_store>(*db, *writer, 1);
    std::vector<caf::actor> shards{spawn_probe(shard_log)};
    auto map = std::make_shared<const shard_map>(shards, 1);
    auto context =
        std::make_shared<const session_context>(session_context{map, stats, session_limits{}, store, true});
    directory = spawn<session_directory>(context, table);
    run();
  }

  ~session_arrival_test() override { writer->stop(); }

  void resume(const std::shared_ptr<fake_sink>& sink) {
    connect_request request;
    request.sink = sink;
    request.version = sink->version;
    request.client_id = std::string("roamer");
    request.clean_start = false;
    request.session_expiry = 300;
    caf::anon_send(directory, std::move(request));
    run();
  }

  /// Runs until `done()`: commits come back from the writer's thread.
  template <class Condition>
  bool run_until(Condition done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      run();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return done();
  }

  static cluster::session_handoff moving_session() {
    storage::session_record record;
    record.client_id = "roamer";
    record.session_expiry_interval = 300;
    record.subscriptions.push_back({"fleet/+", mqtt::qos::at_least_once, false, false, 0, std::nullopt});
    cluster::session_handoff handoff{"roamer", storage::encode(record), {}, {}, false};
    for (const auto* payload : {"first", "second"}) {
      storage::queue_entry entry;
      entry.message = std::make_shared<const storage::stored_message>(
          storage::stored_message{"fleet/d1", payload, mqtt::qos::at_least_once, false, {}, "pub", {}});
      handoff.entries.push_back(storage::encode(entry));
    }
    return handoff;
  }

  storage::testing::temp_dir dir;
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::group_commit_writer> writer;
  std::shared_ptr<durable_store> store;
  std::shared_ptr<probe_log> shard_log = std::make_shared<probe_log>();
  std::shared_ptr<session_table> table = std::make_shared<session_table>();
  caf::actor directory;
};

TEST_F(session_arrival_test, a_resuming_connect_waits_until_told_that_no_session_moves_here) {
  auto sink = std::make_shared<fake_sink>();
  resume(sink);
  EXPECT_EQ(sink->attach_count, 0u) << "answered before the cluster said where its session is";

  caf::anon_send(directory, cluster::no_session_to_move{"roamer"});
  run();
  ASSERT_EQ(sink->attach_count, 1u);
  auto connacks = test_support::only<mqtt::connack_packet>(sink->packets());
  ASSERT_EQ(connacks.size(), 1u);
  EXPECT_FALSE(connacks[0].session_present);
}

TEST_F(session_arrival_test, a_resuming_connect_that_hears_nothing_starts_anew_after_the_wait) {
  auto sink = std::make_shared<fake_sink>();
  resume(sink);
  advance_time(std::chrono::seconds(11));
  ASSERT_EQ(sink->attach_count, 1u);
  EXPECT_FALSE(test_support::only<mqtt::connack_packet>(sink->packets()).at(0).session_present);
}

TEST_F(session_arrival_test, a_moved_session_is_stored_and_resumed_by_the_waiting_connect) {
  auto sink = std::make_shared<fake_sink>();
  resume(sink);
  auto answer = ask<bool>(directory, moving_session());
  ASSERT_TRUE(run_until([&] { return answer->has_value(); })) << "the sender never heard it arrived";
  EXPECT_TRUE(**answer);

  // Stored here, in the order it came.
  std::vector<std::string> stored;
  auto read = storage::read_queue(
      *db, "roamer", 0,
      [&](storage::stored_entry& entry) {
        stored.push_back(entry.message->payload);
        return true;
      },
      [](const storage::unreadable_entry&) {});
  ASSERT_TRUE(read);
  EXPECT_EQ(stored, (std::vector<std::string>{"first", "second"}));
  // Its subscription is in place with the shard before the sender is answered.
  ASSERT_EQ(shard_log->subscribe_requests.size(), 1u);
  EXPECT_EQ(shard_log->subscribe_requests[0].entries.at(0).filter, "fleet/+");
  EXPECT_TRUE(shard_log->subscribe_requests[0].persistent);

  ASSERT_EQ(sink->attach_count, 1u);
  auto connacks = test_support::only<mqtt::connack_packet>(sink->packets());
  ASSERT_EQ(connacks.size(), 1u);
  EXPECT_TRUE(connacks[0].session_present);
  auto publishes = sink->publishes();
  ASSERT_EQ(publishes.size(), 2u);
  EXPECT_EQ(publishes[0].payload, "first");
  EXPECT_EQ(publishes[1].payload, "second");
}

TEST_F(session_arrival_test, a_damaged_session_is_refused_and_the_connect_goes_on_waiting) {
  auto sink = std::make_shared<fake_sink>();
  resume(sink);
  auto handoff = moving_session();
  handoff.entries[1] = "not a queue entry";
  auto refused = std::make_shared<bool>(false);
  spawned.push_back(sys.spawn([=, this](caf::event_based_actor* self) {
    self->request(directory, caf::infinite, handoff)
        .then([self](bool) { self->quit(); },
              [self, refused](caf::error&) {
                *refused = true;
                self->quit();
              });
  }));
  run();
  EXPECT_TRUE(*refused) << "the sender must keep the session";
  EXPECT_EQ(sink->attach_count, 0u);
  bool any = false;
  auto read = storage::read_queue(
      *db, "roamer", 0,
      [&](storage::stored_entry&) {
        any = true;
        return true;
      },
      [](const storage::unreadable_entry&) {});
  ASSERT_TRUE(read);
  EXPECT_FALSE(any) << "nothing of a refused session is stored";
}

}  // namespace
}  // namespace mqhub::actors
