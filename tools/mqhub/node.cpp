#include "tools/mqhub/node.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "actors/session_directory.hpp"
#include "actors/shard_actor.hpp"
#include "actors/sys_topics_actor.hpp"
#include "net/connection_base.hpp"
#include "net/io_pool.hpp"
#include "net/mqtt_listener.hpp"
#include "tools/mqhub/node_storage.hpp"

namespace mqhub::node {

namespace asio = boost::asio;

namespace {

/// Sends every live connection its shutdown notice and waits (bounded) until they are gone.
void close_connections(net::node_services& services) {
  {
    std::lock_guard guard{services.connections_mutex};
    for (auto* connection : services.connections)
      connection->shut_down();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard guard{services.connections_mutex};
      if (services.connections.empty())
        return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void report_not_built(const char* what, uint16_t port) {
  if (port != 0)
    spdlog::warn("{} listener (port {}) is not implemented yet; set its port to 0 to silence this", what,
                 port);
}

}  // namespace

int run_node(const node_options& options) {
  std::unique_ptr<node_storage> storage;
  std::shared_ptr<actors::durable_store> store;
  if (options.durability != "memory") {
    std::string error;
    storage = node_storage::open(options, error);
    if (!storage) {
      spdlog::error("{}", error);
      return 1;
    }
    store = storage->store();
  }
  caf::actor_system_config config;
  caf::actor_system system{config};

  auto stats = std::make_shared<actors::broker_stats>();
  std::vector<caf::actor> shards;
  for (size_t i = 0; i < options.shards; ++i)
    shards.push_back(system.spawn<actors::shard_actor>(stats, store));
  auto map = std::make_shared<const actors::shard_map>(shards, options.shard_levels);

  auto services = std::make_shared<net::node_services>();
  services->shards = map;
  services->stats = stats;
  services->limits = options.limits;
  services->limits.write_buffer_limit = options.session.write_buffer_limit;
  services->access = net::make_open_access_policy(options.allow_anonymous);
  services->durable = store != nullptr;
  actors::session_context context{map, stats, options.session, store};
  for (size_t i = 0; i < options.shards; ++i)
    services->directories.push_back(system.spawn<actors::session_directory>(context));
  // Before the listeners open: a client must find its session and its messages from the first packet.
  if (storage)
    storage->restore(system, *services);
  caf::actor sys_topics;
  if (options.sys_interval > 0)
    sys_topics =
        system.spawn<actors::sys_topics_actor>(map, stats, std::chrono::seconds(options.sys_interval));

  net::io_pool pool(options.io_threads);
  std::vector<std::shared_ptr<net::mqtt_listener>> listeners;
  std::vector<std::string> ready_lines;
  try {
    auto address = asio::ip::make_address(options.bind);
    if (options.mqtt_port != 0) {
      auto listener = std::make_shared<net::mqtt_listener>(
          pool, services, asio::ip::tcp::endpoint(address, options.mqtt_port));
      listener->start();
      auto at = listener->local_endpoint();
      ready_lines.push_back("listening mqtt " + at.address().to_string() + ":" + std::to_string(at.port()));
      listeners.push_back(std::move(listener));
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}: {}", options.bind, e.what());
    for (auto& actor : shards)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    for (auto& actor : services->directories)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    if (sys_topics)
      caf::anon_send_exit(sys_topics, caf::exit_reason::user_shutdown);
    return 1;
  }
  report_not_built("mqtts", options.mqtts_port);
  report_not_built("ws", options.ws_port);
  report_not_built("wss", options.wss_port);
  report_not_built("http", options.http_port);
  report_not_built("cluster", options.cluster_port);

  asio::io_context signals_context(1);
  asio::signal_set signals(signals_context, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec)
          return;
        if (signal == SIGHUP) {
          spdlog::info("SIGHUP: nothing to reload in this build");
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("shutting down");
      };
  signals.async_wait(on_signal);
  // Ready only once the signals are ours: a script may send SIGTERM right after the readiness line.
  pool.run();
  for (const auto& line : ready_lines)
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);

  signals_context.run();

  for (auto& listener : listeners)
    listener->stop();
  close_connections(*services);
  pool.stop();
  if (storage)
    storage->drain(system, *services);
  for (auto& actor : services->directories)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  for (auto& actor : shards)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  if (sys_topics)
    caf::anon_send_exit(sys_topics, caf::exit_reason::user_shutdown);
  system.await_all_actors_done();
  if (storage)
    storage->close();
  return 0;
}

}  // namespace mqhub::node
