#include "cluster/membership_actor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/send.hpp>

namespace mqhub::cluster {
namespace {

using namespace std::chrono_literals;

/// One node: an actor system with the middleman (plain TCP here; the node uses TLS), and its membership
/// actor published on a port the OS chooses.
class test_node {
 public:
  test_node(const std::string& name, std::vector<std::string> seeds) {
    config_.load<caf::io::middleman>();
    register_wire_types(config_);
    system_ = std::make_unique<caf::actor_system>(config_);
    auto on_change = [this](const std::vector<member_info>& members, const shard_placement&,
                            const membership_actor::gateway_map&) {
      std::lock_guard guard{mutex_};
      members_.clear();
      for (const auto& member : members)
        members_.push_back(member.name);
      changed_.notify_all();
    };
    actor_ = system_->spawn<membership_actor>(name, seeds, system_->middleman().actor_handle(), on_change,
                                              std::chrono::milliseconds(100));
    auto bound = caf::io::publish(actor_, 0, "127.0.0.1", true);
    if (!bound)
      throw std::runtime_error("cannot publish: " + system_->render(bound.error()));
    port_ = *bound;
    caf::anon_send(actor_, caf::publish_atom::value, address());
  }

  ~test_node() { stop(); }
  test_node(const test_node&) = delete;
  test_node& operator=(const test_node&) = delete;
  test_node(test_node&&) = delete;
  test_node& operator=(test_node&&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Waits until the node counts `names` as its members, in name order.
  bool wait_for_members(const std::vector<std::string>& names, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, timeout, [&] { return members_ == names; });
  }

  /// Stops the node as a killed process would: its connections close.
  void stop() {
    if (!system_)
      return;
    caf::anon_send_exit(actor_, caf::exit_reason::kill);
    actor_ = nullptr;
    system_.reset();
  }

 private:
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  caf::actor actor_;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> members_;
};

// Issue 22: a node needs to reach only one member, and it learns the others.
TEST(membership_actor, a_node_that_joins_through_one_member_learns_every_other) {
  test_node n1("n1", {});
  test_node n2("n2", {n1.address()});
  ASSERT_TRUE(n2.wait_for_members({"n1", "n2"}));
  test_node n3("n3", {n1.address()});
  EXPECT_TRUE(n3.wait_for_members({"n1", "n2", "n3"}));
  EXPECT_TRUE(n2.wait_for_members({"n1", "n2", "n3"}));
  EXPECT_TRUE(n1.wait_for_members({"n1", "n2", "n3"}));
}

TEST(membership_actor, a_stopped_node_leaves_and_the_others_go_on_together) {
  test_node n1("n1", {});
  test_node n2("n2", {n1.address()});
  auto n3 = std::make_unique<test_node>("n3", std::vector<std::string>{n1.address()});
  ASSERT_TRUE(n1.wait_for_members({"n1", "n2", "n3"}));
  n3->stop();
  EXPECT_TRUE(n1.wait_for_members({"n1", "n2"}));
  EXPECT_TRUE(n2.wait_for_members({"n1", "n2"}));
}

TEST(membership_actor, a_second_node_with_a_taken_name_is_refused) {
  test_node n1("n1", {});
  test_node n2("n2", {n1.address()});
  ASSERT_TRUE(n1.wait_for_members({"n1", "n2"}));
  test_node impostor("n2", {n1.address()});
  EXPECT_FALSE(impostor.wait_for_members({"n1", "n2"}, 1s));
  EXPECT_TRUE(n1.wait_for_members({"n1", "n2"}));
}

}  // namespace
}  // namespace mqhub::cluster
