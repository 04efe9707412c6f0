#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/messages.hpp"
#include "actors/publish_encoding_cache.hpp"
#include "actors/retained_store.hpp"
#include "actors/subscription_trie.hpp"

namespace mqhub::actors {

/// Owns the subscriptions and retained messages of a slice of the topic space (DESIGN §3). A publish batch
/// in, one delivery batch out per subscriber that matched anything in it.
class shard_actor : public caf::event_based_actor {
 public:
  shard_actor(caf::actor_config& cfg, std::shared_ptr<broker_stats> stats);

  caf::behavior make_behavior() override;
  void on_exit() override;

 private:
  struct subscriber {
    caf::actor session;
    std::string client_id;
    net::mqtt::protocol_version version = net::mqtt::protocol_version::v311;
    size_t subscriptions = 0;
    bool online = true;
  };

  void route(const publish_batch& batch);
  void route_one(const message_ptr& msg);
  delivery& delivery_slot(uint64_t subscriber);
  void encode_once(const message_ptr& msg);
  subscribe_reply subscribe(const subscribe_request& request);
  void unsubscribe(const unsubscribe_request& request);

  std::shared_ptr<broker_stats> stats_;
  subscription_trie trie_;
  retained_store retained_;
  std::unordered_map<uint64_t, subscriber> subscribers_;

  // Scratch space of `route`, kept between batches so routing does not allocate in the steady state.
  std::unordered_map<uint64_t, size_t> batch_of_subscriber_;
  std::vector<std::pair<uint64_t, delivery_batch>> batches_;
  std::vector<subscription_entry> shared_matches_;
  struct delivery_ref {
    uint64_t subscriber;
    size_t batch;
    size_t index;
  };
  std::vector<delivery_ref> deliveries_of_message_;  // indices: the batches grow while a message is routed
  publish_encoding_cache encodings_;
};

}  // namespace mqhub::actors
