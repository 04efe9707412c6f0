#include "tools/mqhub-bench/scenario_runner.hpp"

#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/io_pool.hpp"
#include "tools/mqhub-bench/broker_address.hpp"
#include "tools/mqhub-bench/proc_stats.hpp"
#include "tools/mqhub-bench/publisher.hpp"
#include "tools/mqhub-bench/subscriber.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;
using clock_type = std::chrono::steady_clock;

namespace {

std::string filter_for(const options& o, uint32_t subscriber) {
  switch (o.kind) {
    case scenario::pairwise:
      return o.topic_prefix + "/" + std::to_string(subscriber);
    case scenario::fan_out:
      return o.topic_prefix + "/0";
    case scenario::shared:
      return "$share/mqhub-bench/" + o.topic_prefix + "/#";
    default:
      return o.topic_prefix + "/#";
  }
}

/// Waits until `done` holds, a client failed or the timeout passed; true when `done` held.
bool wait_for(run_state& state, double seconds, const std::function<bool()>& done) {
  const auto deadline = clock_type::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (state.failures.load() != 0 || clock_type::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void sleep_unless_failed(run_state& state, double seconds) {
  wait_for(state, seconds, [] { return false; });
}

latency_summary summarize(const latency_histogram& h) {
  return {static_cast<double>(h.percentile(0.5)) / 1e3, static_cast<double>(h.percentile(0.99)) / 1e3,
          static_cast<double>(h.percentile(0.999)) / 1e3, static_cast<double>(h.max()) / 1e3};
}

}  // namespace

run_result run_messages(const options& o) {
  run_result r;
  const auto brokers = resolve_brokers(o);
  run_state state;
  net::io_pool io(o.threads);
  io.run();
  const std::string tag = "mqhub-bench-" + std::to_string(getpid()) + "-";
  const auto run = static_cast<uint16_t>(std::random_device{}());
  const bool closed_loop = o.qos_level == mqtt::qos::at_most_once && o.window > 0;
  // Each message reaches every fan-out subscriber, and exactly one member of a shared group.
  const uint64_t receivers = o.kind == scenario::fan_out ? o.subscribers : 1;

  std::vector<std::unique_ptr<delivery_feedback>> feedback(o.publishers);
  std::vector<delivery_feedback*> feedback_view(o.publishers, nullptr);
  if (closed_loop) {
    for (uint32_t i = 0; i < o.publishers; ++i) {
      feedback[i] = std::make_unique<delivery_feedback>(receivers);
      feedback_view[i] = feedback[i].get();
    }
  }

  size_t next_context = 0;
  std::vector<std::unique_ptr<subscriber>> subscribers;
  for (uint32_t j = 0; j < o.subscribers; ++j) {
    subscriber_config c;
    c.client_id = tag + "s" + std::to_string(j);
    c.filter = filter_for(o, j);
    c.qos_level = o.qos_level;
    c.persistent = o.persistent;
    c.run = run;
    c.publishers = o.publishers;
    c.feedback_slot = o.kind == scenario::fan_out ? j : 0;
    subscribers.push_back(
        std::make_unique<subscriber>(io.at(next_context++), o.version, std::move(c), state, feedback_view));
  }
  std::vector<std::unique_ptr<publisher>> publishers;
  const double rate_each = o.rate / o.publishers;
  for (uint32_t i = 0; i < o.publishers; ++i) {
    publisher_config c;
    c.id = static_cast<uint16_t>(i);
    c.run = run;
    c.client_id = tag + "p" + std::to_string(i);
    c.topic = o.topic_prefix + "/" + std::to_string(i);
    c.qos_level = o.qos_level;
    c.payload = o.payload;
    c.window = o.window;
    c.rate = rate_each;
    publishers.push_back(std::make_unique<publisher>(io.at(next_context++), o.version, std::move(c), state,
                                                     feedback[i].get()));
  }

  for (size_t j = 0; j < subscribers.size(); ++j)
    subscribers[j]->start(brokers[(j + 1) % brokers.size()]);
  if (!wait_for(state, 30, [&] { return state.ready.load() == o.subscribers; })) {
    r.error =
        state.failures.load() != 0 ? state.first_error() : "subscribers did not get their SUBACKs in time";
    return r;
  }
  for (size_t i = 0; i < publishers.size(); ++i)
    publishers[i]->start(brokers[i % brokers.size()]);
  if (!wait_for(state, 30, [&] { return state.ready.load() == o.subscribers + o.publishers; })) {
    r.error = state.failures.load() != 0 ? state.first_error() : "publishers did not connect in time";
    return r;
  }

  auto delivered = [&] {
    uint64_t n = 0;
    for (const auto& s : subscribers)
      n += s->delivered();
    return n;
  };
  state.now = phase::warmup;
  for (auto& p : publishers)
    p->go();
  sleep_unless_failed(state, o.warmup);

  const auto broker_before = o.broker_pid != 0 ? sample_process(o.broker_pid) : std::nullopt;
  const auto self_before = sample_process(0);
  const auto t0 = clock_type::now();
  const uint64_t delivered_before = delivered();
  state.now = phase::measure;
  sleep_unless_failed(state, o.duration);
  const uint64_t delivered_after = delivered();
  const auto t1 = clock_type::now();
  const auto broker_after = o.broker_pid != 0 ? sample_process(o.broker_pid) : std::nullopt;
  const auto self_after = sample_process(0);
  state.now = phase::drain;

  auto expected = [&] {
    uint64_t n = 0;
    for (const auto& p : publishers)
      n += p->sent() * receivers;
    return n;
  };
  auto acked = [&] {
    for (const auto& p : publishers)
      if (p->inflight() != 0)
        return false;
    return true;
  };
  // Publishers notice the drain phase on their own thread; give them a moment before counting what they sent.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  wait_for(state, o.drain, [&] { return delivered() >= expected() && acked(); });
  io.stop();

  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.msgs_per_s = static_cast<double>(delivered_after - delivered_before) / r.seconds;
  for (const auto& p : publishers)
    r.sent += p->sent();
  r.expected = r.sent * receivers;
  latency_histogram latency;
  uint64_t unique = 0;
  for (const auto& s : subscribers) {
    latency.merge(s->latency());
    r.delivered += s->delivered();
  }
  if (o.kind == scenario::shared) {
    for (uint32_t i = 0; i < o.publishers; ++i) {
      sequence_tracker merged;
      for (const auto& s : subscribers)
        merged.merge(s->trackers()[i]);
      unique += merged.unique();
      r.duplicated += merged.duplicated();
      r.reordered += merged.reordered();
    }
  } else {
    for (const auto& s : subscribers) {
      for (const auto& t : s->trackers()) {
        unique += t.unique();
        r.duplicated += t.duplicated();
        r.reordered += t.reordered();
      }
    }
  }
  r.lost = r.expected > unique ? r.expected - unique : 0;
  r.latency_us = summarize(latency);
  r.latency_cdf = latency.cdf();
  if (broker_before && broker_after) {
    r.broker_cpu_pct = cpu_percent(*broker_before, *broker_after);
    r.broker_rss_kib = broker_after->rss_kib;
  }
  if (self_before && self_after)
    r.bench_cpu_pct = cpu_percent(*self_before, *self_after);
  if (state.failures.load() != 0)
    r.error = state.first_error();
  return r;
}

}  // namespace mqhub::bench
