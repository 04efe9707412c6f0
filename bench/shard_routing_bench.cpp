// Shard batch routing (issue 5): one shard actor routes a publish_batch of N QoS 0 messages (64 B payloads;
// `--durability memory`, so no store) to connected subscribers, whose connections it writes to itself; an
// iteration ends when every PUBLISH was written. items/s are messages routed; `deliveries` is the rate at
// which the subscribers' connections received them.
//
// pairwise: message i goes to topic i, whose only subscriber is subscriber i (N delivery batches of one).
// fan_out: every message goes to one topic with 64 subscribers (64 delivery batches of N).
//
// Small batches measure latency more than routing: between batches CAF's workers go idle, and an idle
// worker polls its queue every 50 us (CAF 0.17's defaults, which the node keeps too).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/broker_stats.hpp"
#include "actors/connection_sink.hpp"
#include "actors/message.hpp"
#include "actors/messages.hpp"
#include "actors/shard_actor.hpp"
#include "net/mqtt/frame.hpp"

namespace {

using mqhub::actors::broker_stats;
using mqhub::actors::connection_sink;
using mqhub::actors::message;
using mqhub::actors::message_ptr;
using mqhub::actors::out_buffer;
using mqhub::actors::publish_batch;
using mqhub::actors::shard_actor;
using mqhub::actors::subscribe_done;
using mqhub::actors::subscribe_reply;
using mqhub::actors::subscribe_request;
using mqhub::actors::subscription_request_entry;

using routed_atom = caf::atom_constant<caf::atom("routed")>;

constexpr size_t fan_out_subscribers = 64;
constexpr size_t payload_size = 64;

// Deliveries still to arrive in this iteration. Shared by the subscribers so that only the one that receives
// the last delivery reports: one message back per batch whatever the subscriber count, so the waiting costs
// the same in every case and the figures are the shard's and the deliveries'.
struct tally {
  std::atomic<int64_t> outstanding{0};
  caf::actor waiter;
};

// Each packet is whole in one buffer here: 64 B payloads are copied, never shared.
int64_t count_packets(const std::string& bytes) {
  std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  int64_t packets = 0;
  while (!rest.empty()) {
    rest = rest.subspan(mqhub::net::mqtt::peek_frame(rest, UINT32_MAX).total_size());
    ++packets;
  }
  return packets;
}

// A subscriber's connection that counts the PUBLISHes the shard writes to it.
class counting_sink : public connection_sink {
 public:
  explicit counting_sink(std::shared_ptr<tally> counts) : counts_(std::move(counts)) {}

  void write(std::vector<out_buffer> buffers) override {
    int64_t received = 0;
    for (const auto& b : buffers)
      received += count_packets(*b);
    if (counts_->outstanding.fetch_sub(received, std::memory_order_acq_rel) == received)
      caf::anon_send(counts_->waiter, routed_atom::value);
  }
  void write_publish_acks(out_buffer acks, uint32_t /*pubacks*/) override { write({std::move(acks)}); }
  void write_deliveries(std::vector<out_buffer> buffers) override { write(std::move(buffers)); }
  void open_direct_qos1(uint16_t /*window*/) override {}
  void write_direct_qos1(std::vector<mqhub::actors::delivery>& /*deliveries*/,
                         mqhub::net::mqtt::protocol_version /*version*/,
                         uint32_t /*maximum_packet_size*/) override {}
  void attached(caf::actor /*session*/, std::vector<out_buffer> /*first_packets*/) override {}
  void close(std::vector<out_buffer> /*last_packets*/,
             std::unique_ptr<mqhub::net::mqtt::will_message> /*will*/) override {}
  void abort() override {}
  size_t pending_bytes() const override { return 0; }
  void routed(size_t /*inbound_bytes*/) override {}

 private:
  std::shared_ptr<tally> counts_;
};

// Stands in for the session, which QoS 0 deliveries no longer reach.
caf::behavior idle_session() {
  return {[](const caf::unit_t&) {}};
}

std::string topic_of(size_t index) {
  return "bench/" + std::to_string(index);
}

message_ptr make_bench_message(std::string topic) {
  auto msg = std::make_shared<message>();
  msg->topic = std::move(topic);
  msg->payload = std::string(payload_size, 'x');
  msg->publisher = mqhub::actors::shared_client_id("publisher");
  return msg;
}

enum class routing { pairwise, fan_out };

void run_routing(benchmark::State& state, routing kind) {
  const auto batch_size = static_cast<size_t>(state.range(0));
  const size_t topics = kind == routing::pairwise ? batch_size : 1;
  const size_t subscribers_per_topic = kind == routing::pairwise ? 1 : fan_out_subscribers;
  const auto deliveries_per_batch = static_cast<int64_t>(batch_size * subscribers_per_topic);

  caf::actor_system_config config;
  caf::actor_system system{config};
  {
    caf::scoped_actor self{system};
    auto counts = std::make_shared<tally>();
    counts->waiter = caf::actor_cast<caf::actor>(self);
    auto shard = system.spawn<shard_actor>(std::make_shared<broker_stats>());
    std::vector<caf::actor> subscribers;
    for (size_t t = 0; t < topics; ++t) {
      for (size_t s = 0; s < subscribers_per_topic; ++s) {
        auto subscriber = system.spawn(idle_session);
        subscribe_request request;
        request.session = subscriber;
        request.link.sink = std::make_shared<counting_sink>(counts);
        request.client_id = "subscriber-" + std::to_string(subscribers.size());
        auto& entry = request.entries.emplace_back();
        entry.filter = topic_of(t);  // QoS 0, not shared, no options
        self->request(shard, caf::infinite, std::move(request))
            .receive([](const subscribe_reply&) {},
                     [&](const caf::error& err) { state.SkipWithError(system.render(err).c_str()); });
        // As a session does once its SUBACK is out: until then the shard holds the subscriber's QoS 0.
        self->send(shard, subscribe_done{subscriber});
        subscribers.push_back(std::move(subscriber));
      }
    }
    // Two sets of messages, alternated: the shard encodes a message once per batch and remembers only the
    // last one, so a batch of one message resent as is would skip the encoding that a fresh message gets.
    std::array<std::vector<message_ptr>, 2> messages;
    for (auto& set : messages) {
      for (size_t i = 0; i < batch_size; ++i) {
        set.push_back(make_bench_message(topic_of(kind == routing::pairwise ? i : 0)));
      }
    }

    size_t round = 0;
    for (auto _ : state) {
      counts->outstanding.store(deliveries_per_batch, std::memory_order_relaxed);
      publish_batch batch;
      batch.messages = messages[round++ % 2];
      self->send(shard, std::move(batch));
      bool routed = false;
      self->receive([&](routed_atom) { routed = true; }, caf::after(std::chrono::seconds(10)) >> [] {});
      if (!routed) {
        state.SkipWithError("not every delivery arrived within 10 s");
        break;
      }
    }

    self->send_exit(shard, caf::exit_reason::user_shutdown);
    for (const auto& subscriber : subscribers) {
      self->send_exit(subscriber, caf::exit_reason::user_shutdown);
    }
  }

  const auto batches = static_cast<int64_t>(state.iterations());
  state.SetItemsProcessed(batches * static_cast<int64_t>(batch_size));
  state.counters["deliveries"] =
      benchmark::Counter(static_cast<double>(batches * deliveries_per_batch), benchmark::Counter::kIsRate);
}

void bm_shard_routing_pairwise(benchmark::State& state) {
  run_routing(state, routing::pairwise);
}

void bm_shard_routing_fan_out(benchmark::State& state) {
  run_routing(state, routing::fan_out);
}

}  // namespace

// Wall time: the work happens on CAF's scheduler threads while the benchmark thread waits.
BENCHMARK(bm_shard_routing_pairwise)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();
BENCHMARK(bm_shard_routing_fan_out)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();
