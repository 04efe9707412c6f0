// The batch form messages cross to another node in (actors/wire_form): written on the sending node, read on
// the receiving one.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/message.hpp"
#include "actors/wire_form.hpp"

namespace {

using namespace mqhub::actors;

constexpr int64_t messages_per_forward = 1024;  // the router's limit of one forward

// The messages of a full forward as a loaded router sends them: 64 B each, from 8 publishers in turn.
std::vector<message_ptr> sample_messages() {
  std::vector<message_ptr> messages;
  for (int64_t i = 0; i < messages_per_forward; ++i) {
    auto msg = std::make_shared<message>();
    msg->topic = "devices/" + std::to_string(i % 8) + "/telemetry";
    msg->payload = std::string(64, 'x');
    msg->publisher = shared_client_id("device-" + std::to_string(i % 8) + "-of-the-bench");
    messages.push_back(std::move(msg));
  }
  return messages;
}

void bm_append_to_batch(benchmark::State& state) {
  auto messages = sample_messages();
  auto now = clock::now();
  for (auto _ : state) {
    mqhub::cluster::message_batch batch;
    for (const auto& msg : messages)
      append_to_batch(batch, *msg, now);
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * messages_per_forward);
}

void bm_read_batch(benchmark::State& state) {
  auto now = clock::now();
  mqhub::cluster::message_batch batch;
  for (const auto& msg : sample_messages())
    append_to_batch(batch, *msg, now);
  for (auto _ : state) {
    auto messages = read_batch(batch, now);
    benchmark::DoNotOptimize(messages);
  }
  state.SetItemsProcessed(state.iterations() * messages_per_forward);
}

}  // namespace

BENCHMARK(bm_append_to_batch);
BENCHMARK(bm_read_batch);
