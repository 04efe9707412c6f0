#include "tools/mqhub-bench/connect_storm.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/io_pool.hpp"
#include "tools/mqhub-bench/broker_address.hpp"
#include "tools/mqhub-bench/connection.hpp"
#include "tools/mqhub-bench/proc_stats.hpp"
#include "tools/mqhub-bench/run_state.hpp"

namespace mqhub::bench {

namespace asio = boost::asio;
namespace mqtt = net::mqtt;
using clock_type = std::chrono::steady_clock;

namespace {

struct storm_state {
  std::vector<std::function<void()>> launchers;
  std::atomic<uint32_t> next{0};
  std::atomic<uint32_t> connected{0};
  std::atomic<uint32_t> finished{0};  // connected or failed
  run_state run;
  bool hold = false;

  void launch_next() {
    const uint32_t i = next.fetch_add(1);
    if (i < launchers.size())
      launchers[i]();
  }
};

class storm_client final : public connection_handler {
 public:
  storm_client(asio::io_context& io, mqtt::protocol_version version, storm_state& state,
               std::string client_id)
      : conn_(io, version, *this), state_(state), client_id_(std::move(client_id)) {}

  void start(const broker_address& broker) {
    asio::post(conn_.context(), [this, &broker] {
      mqtt::connect_packet connect;
      connect.version = conn_.version();
      connect.client_id = client_id_;
      conn_.start(broker, connect, 256);  // small: thousands of these are open at once
    });
  }

  void on_connected(const mqtt::connack_packet&) override {
    state_.connected.fetch_add(1);
    if (!state_.hold) {
      closing_ = true;
      conn_.queue(mqtt::disconnect_packet{});
    }
    done();
  }
  void on_packet(mqtt::packet&) override {}
  void on_write_done() override {
    if (closing_)
      conn_.close();
  }
  void on_failed(std::string_view why) override {
    if (closing_ || done_)
      return;
    state_.run.fail(client_id_ + ": " + std::string(why));
    done();
  }

 private:
  void done() {
    if (done_)
      return;  // a held connection the broker closes later was already counted
    done_ = true;
    state_.finished.fetch_add(1);
    state_.launch_next();
  }

  connection conn_;
  storm_state& state_;
  std::string client_id_;
  bool closing_ = false;
  bool done_ = false;
};

}  // namespace

run_result run_connect_storm(const options& o) {
  run_result r;
  const auto broker = resolve_broker(o);
  storm_state state;
  state.hold = o.idle > 0;
  net::io_pool io(o.threads);
  io.run();
  const std::string tag = "mqhub-bench-" + std::to_string(getpid()) + "-c";
  std::vector<std::unique_ptr<storm_client>> clients;
  clients.reserve(o.connections);
  state.launchers.reserve(o.connections);
  for (uint32_t i = 0; i < o.connections; ++i) {
    clients.push_back(std::make_unique<storm_client>(io.at(i), o.version, state, tag + std::to_string(i)));
    state.launchers.emplace_back([c = clients.back().get(), &broker] { c->start(broker); });
  }

  const auto broker_before = o.broker_pid != 0 ? sample_process(o.broker_pid) : std::nullopt;
  const auto self_before = sample_process(0);
  const auto t0 = clock_type::now();
  for (uint32_t i = 0; i < std::min(o.concurrency, o.connections); ++i)
    state.launch_next();
  while (state.finished.load() < o.connections && clock_type::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const auto t1 = clock_type::now();
  const auto self_after = sample_process(0);
  auto broker_after = o.broker_pid != 0 ? sample_process(o.broker_pid) : std::nullopt;

  r.connections = state.connected.load();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.connections_per_s = static_cast<double>(r.connections) / r.seconds;
  if (broker_before && broker_after)
    r.broker_cpu_pct = cpu_percent(*broker_before, *broker_after);
  if (self_before && self_after)
    r.bench_cpu_pct = cpu_percent(*self_before, *self_after);
  if (state.hold) {
    // Let the broker finish whatever it does after CONNACK (session set-up) before reading its RSS.
    std::this_thread::sleep_for(std::chrono::duration<double>(o.idle));
    if (o.broker_pid != 0)
      broker_after = sample_process(o.broker_pid);
    if (broker_before && broker_after && r.connections > 0)
      r.broker_rss_per_connection_kib =
          (static_cast<double>(broker_after->rss_kib) - static_cast<double>(broker_before->rss_kib)) /
          static_cast<double>(r.connections);
  }
  if (broker_after)
    r.broker_rss_kib = broker_after->rss_kib;
  io.stop();
  if (state.run.failures.load() != 0)
    r.error = std::to_string(state.run.failures.load()) + " failed, first: " + state.run.first_error();
  return r;
}

}  // namespace mqhub::bench
