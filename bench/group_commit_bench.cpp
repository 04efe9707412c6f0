// The group-commit writer under load: each thread is a publisher waiting for its PUBACK, i.e. submits one
// small batch (a message and its queue entry) and waits for the commit before the next. With one fsync per
// group, throughput in sync mode should grow with the number of waiting threads (batches per group).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"

namespace {

using namespace mqhub::storage;

// Shared by the threads of one run: thread 0 builds it before the timed loop and tears it down after; the
// loop's start and stop barriers order that against the other threads.
struct bench_store {
  std::filesystem::path dir;
  std::unique_ptr<database> db;
  std::unique_ptr<group_commit_writer> writer;

  explicit bench_store(durability mode) {
    std::string pattern = (std::filesystem::temp_directory_path() / "mqhub-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir = pattern;
    auto opened = database::open({dir / "db"});
    if (!opened) {
      throw std::runtime_error(opened.failure().message);
    }
    db = std::move(*opened);
    writer = std::make_unique<group_commit_writer>(*db, group_commit_options{mode});
  }
  ~bench_store() {
    writer.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  bench_store(const bench_store&) = delete;
  bench_store& operator=(const bench_store&) = delete;
  bench_store(bench_store&&) = delete;
  bench_store& operator=(bench_store&&) = delete;
};

std::unique_ptr<bench_store> store;  // one benchmark runs at a time

// Arg: 0 = sync, 1 = wal.
void bm_group_commit(benchmark::State& state) {
  const auto mode = state.range(0) == 0 ? durability::sync : durability::wal;
  if (state.thread_index() == 0) {
    store = std::make_unique<bench_store>(mode);
  }
  stored_message message;
  message.topic = "devices/4711/telemetry";
  message.payload = std::string(64, 'x');
  message.qos_level = mqhub::net::mqtt::qos::at_least_once;
  const std::string client = "subscriber-" + std::to_string(state.thread_index());
  const auto held = std::make_shared<const stored_message>(message);
  uint64_t sequence = 0;
  std::atomic<bool> committed{false};
  for (auto _ : state) {
    // A message one queue holds is stored in its entry, the common case (a device's one consumer).
    write_batch batch;
    batch.enqueue(client, ++sequence, {0, message.qos_level, false, {}, delivery_state::queued, 0, held});
    committed.store(false, std::memory_order_relaxed);
    store->writer->submit(std::move(batch), [&committed](const status&) {
      committed.store(true, std::memory_order_release);
      committed.notify_one();
    });
    committed.wait(false, std::memory_order_acquire);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    store->writer->stop();
    const auto stats = store->writer->stats();
    state.counters["batches_per_group"] = stats.batches_per_group();
    state.counters["groups"] = static_cast<double>(stats.groups);
    state.SetLabel(std::string(to_string(mode)));
    store.reset();
  }
}
BENCHMARK(bm_group_commit)->Arg(0)->Arg(1)->Threads(1)->Threads(4)->Threads(16)->UseRealTime();

}  // namespace
