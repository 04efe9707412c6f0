#include "tools/mqhub/node.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/cluster_gateway.hpp"
#include "actors/cluster_router.hpp"
#include "actors/session_directory.hpp"
#include "actors/session_locator.hpp"
#include "actors/shard_actor.hpp"
#include "actors/sys_topics_actor.hpp"
#include "cluster/wire_types.hpp"
#include "net/connection_base.hpp"
#include "net/io_pool.hpp"
#include "net/listener.hpp"
#include "net/tls/hub_certificates.hpp"
#include "net/tls_connection.hpp"
#include "net/tls_context_source.hpp"
#include "net/ws_connection.hpp"
#include "tools/mqhub/node_cluster.hpp"
#include "tools/mqhub/node_storage.hpp"

namespace mqhub::node {

namespace asio = boost::asio;

namespace {

/// Sends every live connection its shutdown notice and waits (bounded) until they are gone.
void close_connections(net::node_services& services) {
  {
    std::lock_guard guard{services.connections_mutex};
    services.closing_connections = true;
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

/// The TLS context of the mqtts and wss listeners: from the configured files, or from the hub CA's, which
/// are made on first start.
std::shared_ptr<net::tls_context_source> load_tls(const node_options& options, std::string& error) {
  net::tls::tls_settings settings{options.tls_cert, options.tls_key, options.tls_ca};
  auto hub = net::tls::hub_tls_files(options.data_dir);
  if (options.tls_cert.empty()) {
    auto made = net::tls::ensure_hub_certificates(hub, options.tls_hosts);
    if (!made.error.empty()) {
      error = made.error;
      return nullptr;
    }
    if (made.created_ca)
      spdlog::info("created the hub CA {}", hub.ca_cert.string());
    settings.certificate_chain = hub.server_cert;
    settings.private_key = hub.server_key;
  }
  if (settings.client_ca.empty() && std::filesystem::exists(hub.ca_cert))
    settings.client_ca = hub.ca_cert;
  auto source = net::tls_context_source::load(settings, error);
  if (source && settings.client_ca == hub.ca_cert)
    std::printf("hub CA %s\n", hub.ca_cert.c_str());  // clients trust it to reach the node
  return source;
}

}  // namespace

int run_node(const node_options& options) {
  if (!options.join.empty() && !cluster_enabled(options)) {
    spdlog::error("--join needs a --cluster-port to listen on");
    return 1;
  }
  std::unique_ptr<node_storage> storage;
  std::shared_ptr<actors::durable_store> store;
  const std::string fallback_name = host_name();
  std::string node_name = options.node_name.empty() ? fallback_name : options.node_name;
  if (options.durability != "memory") {
    std::string error;
    storage = node_storage::open(options, fallback_name, error);
    if (!storage) {
      spdlog::error("{}", error);
      return 1;
    }
    store = storage->store();
    node_name = storage->node_name();
  }
  spdlog::info("node {}", node_name);
  caf::actor_system_config config;
  if (cluster_enabled(options)) {
    if (auto error = configure_cluster(options, node_name, config); !error.empty()) {
      spdlog::error("cannot set up the cluster: {}", error);
      return 1;
    }
  }
  // An idle CAF worker first spins, then sleeps 50 us at a time without being woken (the "moderate" phase),
  // then waits on a condition variable that a new job signals. Skipping the middle phase: each hop between an
  // I/O thread and an actor no longer waits out a sleep, and the spinning leaves the 2 cores to the work.
  config.set("work-stealing.moderate-poll-attempts", size_t{0});
  if (options.actor_threads != 0)
    config.set("scheduler.max-threads", options.actor_threads);
  caf::actor_system system{config};

  auto stats = std::make_shared<actors::broker_stats>();
  std::vector<caf::actor> shards;
  for (size_t i = 0; i < options.shards; ++i)
    shards.push_back(system.spawn<actors::shard_actor>(stats, store, options.session.write_buffer_limit,
                                                       options.session.queue));
  caf::actor cluster_router;
  caf::actor cluster_gateway;
  if (cluster_enabled(options))
    cluster_router = system.spawn<actors::cluster_router>(node_name, stats);
  auto map = std::make_shared<const actors::shard_map>(shards, options.shard_levels, cluster_router);
  if (cluster_router) {
    caf::anon_send(cluster_router, actors::router_shards{map});
    // Before the restore registers any subscription: a shard counts what the cluster must hear of from then.
    for (const auto& shard : shards)
      caf::anon_send(shard, actors::attach_router{cluster_router});
  }

  auto services = std::make_shared<net::node_services>();
  services->system = &system;
  services->shards = map;
  services->stats = stats;
  services->limits = options.limits;
  services->limits.write_buffer_limit = options.session.write_buffer_limit;
  services->limits.queue = options.session.queue;
  services->limits.handshake_timeout = std::chrono::seconds(options.tls_handshake_timeout);
  services->ws_origins = options.ws_origins;
  services->access = net::make_open_access_policy(options.allow_anonymous);
  services->durable = store != nullptr;
  auto context = std::make_shared<const actors::session_context>(
      actors::session_context{map, stats, options.session, store, cluster_router != nullptr});
  services->sessions = context;
  for (size_t i = 0; i < options.shards; ++i) {
    auto table = std::make_shared<actors::session_table>();
    services->session_tables.push_back(table);
    services->directories.push_back(system.spawn<actors::session_directory>(context, table));
  }
  if (cluster_router) {
    services->locator = system.spawn<actors::session_locator>(node_name, services->directories);
    cluster_gateway = system.spawn<actors::cluster_gateway>(map, cluster_router, services->locator);
  }
  // Before the listeners open: a client must find its session and its messages from the first packet.
  if (storage)
    storage->restore(system, *services);
  caf::actor sys_topics;
  if (options.sys_interval > 0)
    sys_topics = system.spawn<actors::sys_topics_actor>(
        map, stats, std::chrono::seconds(options.sys_interval), cluster_router ? node_name : std::string());
  cluster_membership membership;
  // Sessions first (they drain into the shards), then shards; the writer stops once all are gone.
  auto stop_actors = [&] {
    if (storage)
      storage->drain(system, *services);
    for (auto& actor : services->directories)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    for (auto& actor : shards)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    if (sys_topics)
      caf::anon_send_exit(sys_topics, caf::exit_reason::user_shutdown);
    if (membership.actor)
      caf::anon_send_exit(membership.actor, caf::exit_reason::user_shutdown);
    for (const auto& actor : {cluster_router, cluster_gateway, services->locator})
      if (actor)
        caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    system.await_all_actors_done();
    if (storage)
      storage->close();
  };

  std::shared_ptr<net::tls_context_source> tls;
  if (options.mqtts_port != 0 || options.wss_port != 0) {
    std::string error;
    tls = load_tls(options, error);
    if (!tls) {
      spdlog::error("cannot set up TLS: {}", error);
      stop_actors();
      return 1;
    }
  }

  net::io_pool pool(options.io_threads);
  using tcp = asio::ip::tcp;
  std::vector<std::pair<uint16_t, std::pair<std::string, net::listener::connection_factory>>> networks{
      {options.mqtt_port,
       {"mqtt",
        [services](net::tcp_socket socket, net::peer_identity peer) -> std::shared_ptr<net::connection_base> {
          return std::make_shared<net::tcp_connection>(std::move(socket), services, std::move(peer));
        }}},
      {options.mqtts_port,
       {"mqtts",
        [services, tls](net::tcp_socket socket,
                        net::peer_identity peer) -> std::shared_ptr<net::connection_base> {
          return std::make_shared<net::tls_connection>(tls->current(), std::move(socket), services,
                                                       std::move(peer));
        }}},
      {options.ws_port,
       {"ws",
        [services](net::tcp_socket socket, net::peer_identity peer) -> std::shared_ptr<net::connection_base> {
          return std::make_shared<net::ws_connection<tcp::socket>>(nullptr, tcp::socket(std::move(socket)),
                                                                   services, std::move(peer));
        }}},
      {options.wss_port,
       {"wss",
        [services, tls](net::tcp_socket socket,
                        net::peer_identity peer) -> std::shared_ptr<net::connection_base> {
          auto context = tls->current();
          return std::make_shared<net::ws_connection<net::tls_stream>>(
              context, net::tls_stream(tcp::socket(std::move(socket)), *context), services, std::move(peer));
        }}},
  };
  std::vector<std::shared_ptr<net::listener>> listeners;
  std::vector<std::string> ready_lines;
  // A start that fails once the listeners may be open: they close, then the actors stop as on shutdown.
  auto abandon_start = [&] {
    for (auto& listening : listeners)
      listening->stop();
    pool.run();
    pool.stop();
    stop_actors();
    return 1;
  };
  try {
    auto address = asio::ip::make_address(options.bind);
    for (auto& [port, network] : networks) {
      if (port == 0)
        continue;
      auto listening = std::make_shared<net::listener>(pool, tcp::endpoint(address, port), network.first,
                                                       std::move(network.second));
      listening->start();
      auto at = listening->local_endpoint();
      ready_lines.push_back("listening " + network.first + " " + at.address().to_string() + ":" +
                            std::to_string(at.port()));
      listeners.push_back(std::move(listening));
    }
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}: {}", options.bind, e.what());
    return abandon_start();
  }
  report_not_built("http", options.http_port);
  if (cluster_enabled(options)) {
    membership = start_cluster(system, options, node_name,
                               {cluster_router, cluster_gateway, services->locator}, cluster_gateway);
    if (!membership.error.empty()) {
      spdlog::error("cannot start the cluster: {}", membership.error);
      return abandon_start();
    }
    ready_lines.push_back(membership.ready_line);
  }

  asio::io_context signals_context(1);
  auto reload_tls = [&](const char* why) {
    if (!tls)
      return;
    if (auto error = tls->reload(); error.empty())
      spdlog::info("{}: TLS certificates reloaded", why);
    else
      spdlog::error("{}: TLS certificates not reloaded, the old ones stay in use: {}", why, error);
  };
  // Certificates renewed on disk (e.g. by an ACME client) take effect without a signal too.
  asio::steady_timer tls_watch(signals_context);
  std::function<void()> watch_tls = [&] {
    tls_watch.expires_after(std::chrono::seconds(2));
    tls_watch.async_wait([&](const boost::system::error_code& ec) {
      if (ec)
        return;
      if (tls->files_changed())
        reload_tls("certificate files changed");
      watch_tls();
    });
  };
  if (tls)
    watch_tls();
  asio::signal_set signals(signals_context, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec)
          return;
        if (signal == SIGHUP) {
          reload_tls("SIGHUP");
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("shutting down");
        tls_watch.cancel();
      };
  signals.async_wait(on_signal);
  // Ready only once the signals are ours: a script may send SIGTERM right after the readiness line.
  pool.run();
  for (const auto& line : ready_lines)
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);

  signals_context.run();

  if (membership.actor) {
    // The others stop routing to this node first; what they sent before is still routed here.
    caf::scoped_actor self{system};
    self->request(membership.actor, std::chrono::seconds(3), cluster::leave_atom::value)
        .receive([](bool) {},
                 [](const caf::error& e) { spdlog::warn("cluster: leaving: {}", to_string(e)); });
  }
  for (auto& listening : listeners)
    listening->stop();
  close_connections(*services);
  pool.stop();
  stop_actors();
  return 0;
}

}  // namespace mqhub::node
