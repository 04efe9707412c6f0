#include "tools/mqhub/node_storage.hpp"

#include <filesystem>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "actors/stored_form.hpp"
#include "storage/node_identity.hpp"

namespace mqhub::node {

namespace {

void log_recovery(const storage::recovered_state& state) {
  uint64_t queued = 0;
  for (const auto& session : state.sessions)
    queued += session.queue.queued + session.queue.sent;
  const auto& report = state.report;
  spdlog::info("storage: recovered {} persistent sessions with {} queued messages and {} retained messages",
               state.sessions.size(), queued, state.retained.size());
  if (!report.expired_sessions.empty() || report.expired_retained > 0)
    spdlog::info("storage: removed {} sessions and {} retained messages that expired while the node was down",
                 report.expired_sessions.size(), report.expired_retained);
  if (report.orphan_messages > 0)
    spdlog::warn("storage: removed {} stored messages no queue referenced", report.orphan_messages);
  for (const auto& problem : report.problems)
    spdlog::warn("storage: {}", problem);
}

}  // namespace

std::unique_ptr<node_storage> node_storage::open(const node_options& options,
                                                 const std::string& fallback_name, std::string& error) {
  auto mode = storage::parse_durability(options.durability);
  std::unique_ptr<node_storage> result(new node_storage());
  std::filesystem::path directory = std::filesystem::path(options.data_dir) / "store";
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    error = "cannot create the data directory " + directory.string() + ": " + ec.message();
    return nullptr;
  }
  auto opened = storage::database::open({directory, options.max_store_bytes, true});
  if (!opened) {
    error = "cannot open the database in " + directory.string() + ": " + opened.failure().message;
    return nullptr;
  }
  result->database_ = std::move(*opened);
  auto name = storage::claim_node_name(*result->database_, options.node_name, fallback_name);
  if (!name) {
    error = name.failure().message;
    return nullptr;
  }
  result->node_name_ = std::move(*name);
  auto recovered = storage::recover(*result->database_, storage::wall_clock_now());
  if (!recovered) {
    error = "cannot recover the database in " + directory.string() + ": " + recovered.failure().message;
    return nullptr;
  }
  result->recovered_ = std::move(*recovered);
  log_recovery(*result->recovered_);
  result->writer_ = std::make_unique<storage::group_commit_writer>(*result->database_,
                                                                   storage::group_commit_options{*mode});
  result->store_ = std::make_shared<actors::durable_store>(*result->database_, *result->writer_,
                                                           result->recovered_->next_message_id);
  return result;
}

node_storage::~node_storage() {
  close();
}

void node_storage::restore(caf::actor_system& system, const net::node_services& services) {
  auto state = std::move(*recovered_);
  recovered_.reset();
  actors::clocks now{actors::clock::now(), storage::wall_clock_now()};
  caf::scoped_actor self{system};
  auto wait = [&](const caf::actor& actor, auto message) {
    self->request(actor, caf::infinite, std::move(message))
        .receive(
            [](bool) {},
            [](const caf::error& e) { spdlog::error("storage: restoring failed: {}", caf::to_string(e)); });
  };

  // Retained messages first: a will published during the restore must replace them, not the reverse.
  const auto& shards = *services.shards;
  std::vector<actors::restore_retained> per_shard(shards.size());
  for (const auto& stored : state.retained)
    per_shard[shards.shard_of_topic(stored.topic)].messages.push_back(actors::from_stored(stored, now));
  for (size_t i = 0; i < per_shard.size(); ++i)
    if (!per_shard[i].messages.empty())
      wait(shards[i], std::move(per_shard[i]));

  actors::sessions_restored restored;
  for (const auto& session : state.sessions)
    restored.client_ids.push_back(session.record.client_id);
  std::vector<actors::restore_sessions> per_directory(services.directories.size());
  std::unordered_map<caf::actor_id, size_t> directory_index;
  for (size_t i = 0; i < services.directories.size(); ++i)
    directory_index[services.directories[i].id()] = i;
  for (auto& session : state.sessions) {
    auto index = directory_index.at(services.directory_of(session.record.client_id).id());
    per_directory[index].sessions.push_back(
        {std::make_shared<storage::recovered_session>(std::move(session))});
  }
  for (size_t i = 0; i < per_directory.size(); ++i)
    if (!per_directory[i].sessions.empty())
      wait(services.directories[i], std::move(per_directory[i]));

  for (const auto& directory : services.directories)
    caf::anon_send(directory, actors::start_timers{});
  if (services.locator)
    caf::anon_send(services.locator, std::move(restored));

  // Their sessions ended while the node was down, so their wills are due (MQTT-3.1.2-8).
  for (auto& expired : state.report.expired_sessions) {
    if (!expired.will)
      continue;
    auto msg = actors::make_will_message(std::move(*expired.will), expired.client_id, now.steady);
    const auto& shard = shards.route(shards.route_of_topic(msg->topic));
    caf::anon_send(shard, actors::publish_batch::of(std::move(msg)));
  }
}

void node_storage::drain(caf::actor_system& system, const net::node_services& services) {
  caf::scoped_actor self{system};
  for (const auto& directory : services.directories)
    self->request(directory, caf::infinite, actors::drain{}).receive([](bool) {}, [](const caf::error&) {});
}

void node_storage::close() {
  if (writer_)
    writer_->stop();
  store_.reset();
  writer_.reset();
  database_.reset();
}

}  // namespace mqhub::node
