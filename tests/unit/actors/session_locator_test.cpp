#include "actors/session_locator.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actor_test_support.hpp"
#include "cluster/stable_hash.hpp"

// The session locator on CAF's test coordinator: a probe stands in for this node's directory, another for
// the other node's gateway.
namespace mqhub::actors {
namespace {

using test_support::probe_log;

class session_locator_test : public test_support::actor_test {
 protected:
  session_locator_test() {
    locator = spawn<session_locator>(std::string("me"), std::vector<caf::actor>{directory});
    caf::anon_send(locator, cluster_view{placement, {{"other", gateway}}});
    run();
  }

  /// A client id whose sessions `owner` keeps track of.
  std::string client_of(const std::string& owner) const {
    for (int i = 0;; ++i) {
      auto id = "client-" + std::to_string(i);
      if (placement.owner(cluster::stable_hash(id) % cluster::global_shard_count) == owner)
        return id;
    }
  }

  cluster::shard_placement placement{{"me", "other"}, 1};
  std::shared_ptr<probe_log> directory_log = std::make_shared<probe_log>();
  caf::actor directory = spawn_probe(directory_log);
  std::shared_ptr<probe_log> gateway_log = std::make_shared<probe_log>();
  caf::actor gateway = spawn_probe(gateway_log);
  caf::actor locator;
};

TEST_F(session_locator_test, a_client_that_left_this_node_for_another_has_its_session_here_ended) {
  auto id = client_of("me");
  caf::anon_send(locator, client_connected{id, 100});
  caf::anon_send(locator, client_connected{id, 200});  // again here: a local takeover, nothing to tell
  run();
  EXPECT_TRUE(directory_log->takeovers.empty());

  caf::anon_send(locator, cluster::client_arrival{id, "other", 300});
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u);
  EXPECT_EQ(directory_log->takeovers[0].client_id, id);
  EXPECT_TRUE(gateway_log->taken_over.empty());
}

TEST_F(session_locator_test, a_client_that_came_back_here_is_taken_from_the_other_node) {
  auto id = client_of("me");
  caf::anon_send(locator, cluster::client_arrival{id, "other", 100});
  caf::anon_send(locator, client_connected{id, 200});
  run();
  ASSERT_EQ(gateway_log->taken_over.size(), 1u);
  EXPECT_EQ(gateway_log->taken_over[0].client_id, id);
  EXPECT_TRUE(directory_log->takeovers.empty());
}

TEST_F(session_locator_test, an_arrival_is_reported_to_the_node_that_keeps_track_of_the_client) {
  auto id = client_of("other");
  caf::anon_send(locator, client_connected{id, 100});
  run();
  ASSERT_EQ(gateway_log->arrivals.size(), 1u);
  EXPECT_EQ(gateway_log->arrivals[0].client_id, id);
  EXPECT_EQ(gateway_log->arrivals[0].node, "me");
  EXPECT_EQ(gateway_log->arrivals[0].connected_at_us, 100);
}

TEST_F(session_locator_test, of_two_connects_reported_in_the_reverse_order_the_older_is_taken_over) {
  auto id = client_of("me");
  caf::anon_send(locator, cluster::client_arrival{id, "other", 200});
  caf::anon_send(locator, client_connected{id, 100});  // connected here first, reported last
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u) << "the connection here is the older one";
  EXPECT_TRUE(gateway_log->taken_over.empty());
}

TEST_F(session_locator_test, a_takeover_from_another_node_goes_to_the_clients_directory) {
  caf::anon_send(locator, cluster::client_taken_over{"roamer", "other", false, false});
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u);
  EXPECT_EQ(directory_log->takeovers[0].client_id, "roamer");
  EXPECT_FALSE(directory_log->takeovers[0].moving_to) << "a clean start: the session ends here";
}

TEST_F(session_locator_test, a_session_resumed_at_another_node_moves_to_that_nodes_gateway) {
  caf::anon_send(locator, cluster::client_taken_over{"roamer", "other", true, false});
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u);
  EXPECT_EQ(directory_log->takeovers[0].moving_to, gateway);
}

TEST_F(session_locator_test, a_client_resuming_where_it_was_last_or_nowhere_is_told_nothing_moves) {
  auto id = client_of("me");
  caf::anon_send(locator, client_connected{id, 100, true});  // first seen
  caf::anon_send(locator, client_connected{id, 200, true});  // again here
  run();
  EXPECT_EQ(directory_log->nothing_to_move.size(), 2u);
  EXPECT_TRUE(gateway_log->taken_over.empty());

  caf::anon_send(locator, cluster::client_arrival{id, "other", 300, true});
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u);
  EXPECT_EQ(directory_log->takeovers[0].moving_to, gateway) << "the session here moves to the other node";
  EXPECT_TRUE(gateway_log->nothing_to_move.empty());
}

TEST_F(session_locator_test, a_client_resuming_here_after_another_node_takes_its_session_from_there) {
  auto id = client_of("me");
  caf::anon_send(locator, cluster::client_arrival{id, "other", 100, true});
  caf::anon_send(locator, client_connected{id, 200, true});
  run();
  ASSERT_EQ(gateway_log->taken_over.size(), 1u);
  EXPECT_EQ(gateway_log->taken_over[0].to_node, "me");
  EXPECT_TRUE(gateway_log->taken_over[0].resume);
  EXPECT_TRUE(directory_log->nothing_to_move.empty()) << "the session comes from the other node";
}

TEST_F(session_locator_test, a_client_whose_last_node_is_gone_resumes_with_nothing_to_move) {
  auto id = client_of("me");
  caf::anon_send(locator, cluster::client_arrival{id, "gone", 100, true});
  caf::anon_send(locator, client_connected{id, 200, true});
  run();
  EXPECT_EQ(directory_log->nothing_to_move.size(), 1u);
  EXPECT_TRUE(gateway_log->taken_over.empty());
}

TEST_F(session_locator_test, the_sessions_a_node_restored_are_reported_to_each_member_once_it_has_joined) {
  auto alone = spawn<session_locator>(std::string("me"), std::vector<caf::actor>{directory});
  caf::anon_send(alone, sessions_restored{{"a", "b"}});
  run();
  EXPECT_TRUE(gateway_log->restored.empty()) << "no member to tell yet";
  caf::anon_send(alone, cluster_view{placement, {{"other", gateway}}});
  caf::anon_send(alone, cluster_view{placement, {{"other", gateway}}});
  run();
  ASSERT_EQ(gateway_log->restored.size(), 1u);
  EXPECT_EQ(gateway_log->restored[0].node, "me");
  EXPECT_EQ(gateway_log->restored[0].client_ids, (std::vector<std::string>{"a", "b"}));
}

TEST_F(session_locator_test, entries_go_to_the_new_owner_of_their_client_id_and_end_a_stale_restored_copy) {
  auto id = client_of("me");
  // "other" kept track of the client while this node was down; the client connected at "third" meanwhile.
  caf::anon_send(locator, sessions_restored{{id}});
  caf::anon_send(locator, cluster_view{placement, {{"other", gateway}, {"third", gateway}}});
  caf::anon_send(locator, cluster::client_arrival{id, "third", 100, false, true});
  run();
  ASSERT_EQ(directory_log->takeovers.size(), 1u);
  EXPECT_TRUE(directory_log->takeovers[0].if_restored);

  // A node that no longer owns a client id hands its entry on when the placement changes.
  auto theirs = client_of("other");
  caf::anon_send(locator, cluster_view{cluster::shard_placement{{"me"}, 2}, {{"other", gateway}}});
  caf::anon_send(locator, client_connected{theirs, 50});  // owned here while "other" is out
  caf::anon_send(locator, cluster_view{placement, {{"other", gateway}}});
  run();
  ASSERT_EQ(gateway_log->arrivals.size(), 1u);
  const auto& handed = gateway_log->arrivals[0];
  EXPECT_EQ(handed.client_id, theirs);
  EXPECT_EQ(handed.node, "me");
  EXPECT_EQ(handed.connected_at_us, 50);
  EXPECT_TRUE(handed.handed_over);
}

TEST_F(session_locator_test, a_restored_session_whose_client_connected_elsewhere_meanwhile_ends_there) {
  auto moved = client_of("me");
  auto stayed = client_of("other");
  caf::anon_send(locator, client_connected{moved, 100});  // here, while "other" was down
  run();
  caf::anon_send(locator, cluster::restored_sessions{"other", {moved, stayed}});
  run();
  ASSERT_EQ(gateway_log->taken_over.size(), 1u);
  EXPECT_EQ(gateway_log->taken_over[0].client_id, moved);
  EXPECT_TRUE(gateway_log->taken_over[0].if_restored) << "unless its client is back there since";
}

}  // namespace
}  // namespace mqhub::actors
