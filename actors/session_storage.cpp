#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>

#include "actors/session_actor.hpp"
#include "actors/stored_form.hpp"
#include "actors/subscribe_plan.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

namespace {

constexpr uint32_t never_expires = 0xFFFFFFFF;

// How long a QoS 1 delivery's move to inflight waits before it is stored. Most are acknowledged sooner, and
// their state is then never written: one put fewer per message.
// What a crash within this time costs: the restart resends the message under a new packet id with DUP 0,
// a duplicate QoS 1 allows (it keeps no state per packet id, unlike QoS 2, whose state is stored at once).
constexpr auto inflight_state_delay = std::chrono::milliseconds(100);

subscription_request_entry from_stored(const storage::stored_subscription& stored) {
  return subscription_entry_of(stored.filter, static_cast<uint8_t>(stored.max_qos), stored.no_local,
                               stored.retain_as_published, stored.retain_handling,
                               stored.subscription_id.value_or(0));
}

storage::stored_subscription to_stored(const std::string& filter, const subscription_request_entry& entry) {
  storage::stored_subscription stored;
  stored.filter = filter;
  stored.max_qos = static_cast<mqtt::qos>(entry.max_qos);
  stored.no_local = entry.no_local;
  stored.retain_as_published = entry.retain_as_published;
  stored.retain_handling = entry.retain_handling;
  if (entry.subscription_id != 0)
    stored.subscription_id = entry.subscription_id;
  return stored;
}

}  // namespace

caf::result<bool> session_actor::restore(restore_session& restore) {
  auto& state = *restore.state;
  auto& record = state.record;
  restored_ = true;
  stored_ = true;
  shards_store_entries_ = true;
  version_ = record.version;
  session_expiry_ = record.session_expiry_interval;
  will_.reset();
  if (record.will)
    will_ = std::make_unique<net::mqtt::will_message>(*record.will);
  if (record.expiry_deadline)
    disconnected_at_ = *record.expiry_deadline - record.session_expiry_interval;
  for (const auto& sub : record.subscriptions)
    subscriptions_to_change()[sub.filter] = from_stored(sub);
  count_subscriptions(static_cast<int64_t>(subscriptions().size()));

  restore_queue(state.queue);
  for (auto id : state.inbound_qos2)
    inbound_qos2s().emplace(id, inbound_qos2{true, false});
  commit_writes();

  // The shards learn the subscriptions before the node accepts connections: a message published right
  // after the start reaches this offline session.
  const auto& shards = *context_->shards;
  std::vector<subscribe_request> requests(shards.size());
  for (const auto& [filter, entry] : subscriptions()) {
    const auto& e = entry;
    shards.for_each_shard_of_filter(e.filter, [&](size_t s) { requests[s].entries.push_back(e); });
  }
  auto promise = make_response_promise<bool>();
  auto missing = std::make_shared<size_t>(0);
  auto self = caf::actor_cast<caf::actor>(this);
  for (size_t s = 0; s < shards.size(); ++s) {
    if (requests[s].entries.empty())
      continue;
    auto& r = requests[s];
    r.session = self;
    r.client_id = client_id_;
    r.link = link();  // offline
    r.persistent = true;
    r.restoring = true;
    ++*missing;
    request(shards[s], caf::infinite, std::move(r)).then([promise, missing](subscribe_reply&) mutable {
      if (--*missing == 0)
        promise.deliver(true);
    });
  }
  if (*missing == 0)
    promise.deliver(true);
  return promise;
}

void session_actor::start_restored_timers() {
  if (!restored_ || sink_ || ended_)
    return;
  auto now = storage::wall_clock_now();
  auto self = caf::actor_cast<caf::actor>(this);
  if (session_expiry_ != never_expires && disconnected_at_ != 0) {
    auto left = std::max<int64_t>(0, disconnected_at_ + session_expiry_ - now);
    delayed_send(self, std::chrono::seconds(left), session_event{session_expiry_tick{epoch_}});
  }
  if (!will_)
    return;
  // The connection ended with the node (or before it): the will waits out what is left of its delay.
  auto delay = static_cast<int64_t>(will_->props.will_delay_interval.value_or(0));
  auto left = disconnected_at_ != 0 ? disconnected_at_ + delay - now : delay;
  will_pending_ = true;
  if (left <= 0)
    publish_will();
  else
    delayed_send(self, std::chrono::seconds(left), session_event{will_delay_tick{epoch_}});
}

void session_actor::save_session() {
  if (!persists())
    return;
  writes().put_session(stored_record());
  stored_ = true;
}

storage::session_record session_actor::stored_record() const {
  storage::session_record record;
  record.client_id = client_id_;
  record.version = version_;
  record.session_expiry_interval = session_expiry_;
  if (!sink_ && session_expiry_ != never_expires && disconnected_at_ != 0)
    record.expiry_deadline = disconnected_at_ + session_expiry_;
  record.subscriptions.reserve(subscriptions().size());
  for (const auto& [filter, entry] : subscriptions())
    record.subscriptions.push_back(to_stored(filter, entry));
  if (will_) {
    record.will = *will_;
    record.will_delay_interval = will_->props.will_delay_interval.value_or(0);
  }
  return record;
}

void session_actor::drop_stored_session() {
  if (!durable())
    return;
  std::vector<uint64_t> message_ids;
  outbound_.for_each([&](delivery& item) {
    if (item.stored_sequence != 0)
      message_ids.push_back(item.message_id);
    item.stored_sequence = 0;  // gone with the session's rows: no dequeue may follow
  });
  collect_disk_message_ids(message_ids);
  if (!stored_ && message_ids.empty())
    return;
  // Entries still on their way here are not listed: each is dequeued on its own when it arrives.
  writes().delete_session(client_id_, message_ids);
  stored_ = false;
}

void session_actor::forget_stored(const delivery& item) {
  if (item.stored_sequence == 0)
    return;
  outbound_.removing(item);
  writes().dequeue(client_id_, item.stored_sequence, item.message_id);
}

void session_actor::store_state(const delivery& item, storage::delivery_state state, uint16_t packet_id) {
  if (item.stored_sequence == 0)
    return;
  auto entry = to_queue_entry(item, state, packet_id);
  // An entry that holds its message is rewritten whole; past PUBREC (no message left) it needs none.
  if (item.message_id == 0 && item.msg)
    entry.message = std::make_shared<const storage::stored_message>(
        to_stored(*item.msg, {clock::now(), storage::wall_clock_now()}));
  writes().update_entry(client_id_, item.stored_sequence, entry);
}

void session_actor::defer_inflight_state() {
  writes();  // makes the commit state
  if (std::exchange(commits_->inflight_states_waiting, true))
    return;
  delayed_send(caf::actor_cast<caf::actor>(this), inflight_state_delay, session_event{inflight_state_tick{}});
}

void session_actor::store_inflight_states() {
  // Only a scan when a state waits: a QoS 2 send calls this each time, and the window may be thousands.
  if (!commits_ || !std::exchange(commits_->inflight_states_waiting, false))
    return;
  outbound_.for_each_inflight([this](inflight_entry& entry) {
    if (entry.item.qos != 1 || entry.state_stored)
      return;
    entry.state_stored = true;
    store_state(entry.item, storage::delivery_state::inflight, entry.packet_id);
  });
}

storage::write_batch& session_actor::writes() {
  if (!commits_)
    commits_ = std::make_unique<commit_state>();
  return commits_->writes;
}

bool session_actor::has_writes() const {
  return commits_ && !commits_->writes.empty();
}

bool session_actor::output_held() const {
  return commits_ && commits_->output_held_until != 0;
}

void session_actor::after_commit(std::function<void(bool ok)> then) {
  if (!has_writes())
    then(true);
  else
    commits_->after_commit.push_back(std::move(then));
}

void session_actor::hold_output_until_committed() {
  if (has_writes())
    commits_->output_needs_commit = true;
}

void session_actor::discard_held_output() {
  // The bytes go, the hold stays: what the next connection is sent (a resent PUBLISH or PUBREL) depends on
  // the same state being stored.
  if (output_held())
    hand_output_to(nullptr);
}

void session_actor::commit_writes() {
  if (!has_writes())
    return;
  auto& c = *commits_;
  if (c.after_commit.empty() && !c.output_needs_commit) {
    context_->store->commit(std::exchange(c.writes, {}));
    return;
  }
  auto token = ++c.last_token;
  if (!c.after_commit.empty())
    c.waiting.emplace(token, std::exchange(c.after_commit, {}));
  if (c.output_needs_commit) {
    // Commits complete in order: once this one is in, so is every write the held output depends on.
    c.output_held_until = token;
    c.output_needs_commit = false;
  }
  context_->store->commit(std::exchange(c.writes, {}), caf::actor_cast<caf::actor>(this), token);
}

void session_actor::on_commit(const commit_result& result) {
  if (!result.outcome)
    spdlog::error("storage: session {} not stored: {}", client_id_, result.outcome.failure().message);
  if (!commits_)
    return;  // no commit of this session's is outstanding
  auto& c = *commits_;
  if (auto it = c.waiting.find(result.token); it != c.waiting.end()) {
    auto waiting = std::move(it->second);
    c.waiting.erase(it);
    for (auto& then : waiting)
      then(result.outcome.ok());
  }
  if (result.token == c.output_held_until) {
    c.output_held_until = 0;
    if (!result.outcome) {
      // The held packets promise state that is not stored: the client must not see them. It reconnects
      // and resumes from what is.
      hand_output_to(nullptr);
      disconnect(mqtt::reason_code::unspecified_error, "session state could not be stored");
    }
  }
  flush();
}

}  // namespace mqhub::actors
