// Topic matching, trie maintenance and retained lookup at the scale of one shard with a million devices.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "actors/retained_store.hpp"
#include "actors/subscription_trie.hpp"

namespace {

using mqhub::actors::message;
using mqhub::actors::message_ptr;
using mqhub::actors::retained_store;
using mqhub::actors::subscription_entry;
using mqhub::actors::subscription_trie;

constexpr uint64_t devices = 1'000'000;

std::string device_topic(uint64_t id) {
  return "devices/" + std::to_string(id) + "/telemetry";
}

subscription_entry entry(uint64_t subscriber) {
  subscription_entry e;
  e.subscriber = subscriber;
  return e;
}

// Topics of random devices, so successive matches do not all hit the same cached path.
const std::vector<std::string>& sample_topics() {
  static const auto topics = [] {
    std::vector<std::string> out;
    out.reserve(4096);
    std::mt19937_64 rng{42};
    std::uniform_int_distribution<uint64_t> id{0, devices - 1};
    for (int i = 0; i < 4096; ++i) {
      out.push_back(device_topic(id(rng)));
    }
    return out;
  }();
  return topics;
}

// Every device subscribed to its own telemetry topic. Built once: a benchmark run must not spend seconds in
// set-up per benchmark.
subscription_trie& exact_trie() {
  static subscription_trie trie = [] {
    subscription_trie t;
    for (uint64_t id = 0; id < devices; ++id) {
      t.insert(device_topic(id), "", entry(id));
    }
    return t;
  }();
  return trie;
}

// The same plus the wildcard subscriptions of back ends: each publish matches about 30 plain entries and
// two shared groups.
subscription_trie& wildcard_trie() {
  static subscription_trie trie = [] {
    subscription_trie t;
    for (uint64_t id = 0; id < devices; ++id) {
      t.insert(device_topic(id), "", entry(id));
    }
    uint64_t next = devices;
    for (int i = 0; i < 10; ++i) {
      t.insert("devices/+/telemetry", "", entry(next++));
      t.insert("devices/#", "", entry(next++));
      t.insert("+/+/telemetry", "", entry(next++));
    }
    for (int i = 0; i < 3; ++i) {
      t.insert("devices/+/telemetry", "ingest", entry(next++));
      t.insert("devices/#", "archive", entry(next++));
    }
    for (uint64_t id = 0; id < 1000; ++id) {
      std::string filter = "devices/";
      filter += std::to_string(id * 997 % devices);
      filter += "/+";
      t.insert(filter, "", entry(next++));
    }
    return t;
  }();
  return trie;
}

void run_match(benchmark::State& state, subscription_trie& trie) {
  const auto& topics = sample_topics();
  size_t i = 0;
  uint64_t delivered = 0;
  for (auto _ : state) {
    trie.match(
        topics[i++ & 4095], [&](const subscription_entry& e) { delivered += e.subscriber; },
        [&](const subscription_entry& e) { delivered += e.subscriber; });
  }
  benchmark::DoNotOptimize(delivered);
  state.SetItemsProcessed(state.iterations());
}

void BM_trie_match_exact_1m(benchmark::State& state) {
  run_match(state, exact_trie());
}
BENCHMARK(BM_trie_match_exact_1m);

void BM_trie_match_wildcard_1m(benchmark::State& state) {
  run_match(state, wildcard_trie());
}
BENCHMARK(BM_trie_match_wildcard_1m);

// A device connecting and leaving again beside a million others: the steady-state cost of churn.
void BM_trie_insert_erase_1m(benchmark::State& state) {
  auto& trie = exact_trie();
  const auto& topics = sample_topics();
  size_t i = 0;
  for (auto _ : state) {
    // Subscriber ids past the devices' own, so the pair is always a new subscription.
    const auto& topic = topics[i & 4095];
    const uint64_t subscriber = devices + (i++ & 4095);
    benchmark::DoNotOptimize(trie.insert(topic, "", entry(subscriber)));
    benchmark::DoNotOptimize(trie.erase(topic, "", subscriber));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_trie_insert_erase_1m);

constexpr int batch = 10'000;

std::vector<std::string> fresh_filters() {
  std::vector<std::string> out;
  out.reserve(batch);
  for (int i = 0; i < batch; ++i) {
    std::string filter = "sites/";
    filter += std::to_string(i % 100);
    filter += "/devices/";
    filter += std::to_string(i);
    filter += "/cmd";
    out.push_back(std::move(filter));
  }
  return out;
}

void BM_trie_insert(benchmark::State& state) {
  const auto filters = fresh_filters();
  for (auto _ : state) {
    subscription_trie trie;
    for (int i = 0; i < batch; ++i) {
      trie.insert(filters[static_cast<size_t>(i)], "", entry(static_cast<uint64_t>(i)));
    }
    state.PauseTiming();  // destruction is not insertion
    trie = subscription_trie{};
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_trie_insert);

void BM_trie_erase(benchmark::State& state) {
  const auto filters = fresh_filters();
  for (auto _ : state) {
    state.PauseTiming();
    subscription_trie trie;
    for (int i = 0; i < batch; ++i) {
      trie.insert(filters[static_cast<size_t>(i)], "", entry(static_cast<uint64_t>(i)));
    }
    state.ResumeTiming();
    for (int i = 0; i < batch; ++i) {
      trie.erase(filters[static_cast<size_t>(i)], "", static_cast<uint64_t>(i));
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_trie_erase);

message_ptr retained(std::string topic) {
  auto m = std::make_shared<message>();
  m->topic = std::move(topic);
  m->payload = "42";
  m->retain = true;
  return m;
}

// 1M retained topics a/{i}/{leaf}: 10k values of i times 100 leaves, one of them "c" (the others are
// numbers), so `a/+/c` walks 10k children and returns 10k messages.
const retained_store& retained_1m() {
  static const retained_store store = [] {
    retained_store s;
    for (int i = 0; i < 10'000; ++i) {
      std::string prefix = "a/";
      prefix += std::to_string(i);
      prefix += '/';
      for (int leaf = 0; leaf < 100; ++leaf) {
        std::string topic = prefix;
        topic += leaf == 0 ? std::string{"c"} : std::to_string(leaf);
        s.set(retained(std::move(topic)));
      }
    }
    return s;
  }();
  return store;
}

void BM_retained_match_plus_1m(benchmark::State& state) {
  const auto& store = retained_1m();
  size_t found = 0;
  for (auto _ : state) {
    store.match("a/+/c", [&](const message_ptr&) { ++found; });
  }
  benchmark::DoNotOptimize(found);
  state.counters["matches"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_retained_match_plus_1m)->Unit(benchmark::kMicrosecond);

void BM_retained_match_exact_1m(benchmark::State& state) {
  const auto& store = retained_1m();
  size_t found = 0;
  int i = 0;
  const std::vector<std::string> filters = {"a/17/c", "a/9999/42", "a/5000/7", "a/123/x"};
  for (auto _ : state) {
    store.match(filters[static_cast<size_t>(i++ & 3)], [&](const message_ptr&) { ++found; });
  }
  benchmark::DoNotOptimize(found);
}
BENCHMARK(BM_retained_match_exact_1m);

}  // namespace
