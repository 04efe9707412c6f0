// The receiving side of a session that moves between nodes with its client (docs/architecture.md "Sessions
// follow their client"); the sending side is session_handoff.cpp.
#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>

#include "actors/session_directory.hpp"
#include "actors/stored_form.hpp"
#include "storage/key_encoding.hpp"

namespace mqhub::actors {

namespace {

// How long a CONNECT that resumes a session waits to hear from the node the session was at. The answer
// normally takes a round trip or two; this bounds the wait when that node stops answering.
constexpr auto handoff_wait_limit = std::chrono::seconds(10);

}  // namespace

bool session_directory::wait_for_session(connect_request& request, bool new_here) {
  if (auto it = waiting_.find(request.client_id); it != waiting_.end()) {
    // The client connected again while its earlier CONNECT waited: that connection never got its CONNACK,
    // and is closed without one.
    auto& earlier = it->second.request;
    std::unique_ptr<net::mqtt::will_message> will;
    if (earlier.will)
      will = std::make_unique<net::mqtt::will_message>(std::move(*earlier.will));
    earlier.sink->close({}, std::move(will));
    earlier = std::move(request);
    return true;
  }
  // The locator answers exactly these (see connection_connect: a resuming CONNECT).
  bool resumes = !request.clean_start && request.session_expiry != 0;
  if (!new_here || !resumes || !context_->clustered || !context_->store)
    return false;
  auto wait_id = ++last_wait_id_;
  auto client_id = request.client_id;
  waiting_.emplace(client_id, waiting_connect{std::move(request), wait_id});
  delayed_send(caf::actor_cast<caf::actor>(this), handoff_wait_limit,
               handoff_wait_over{std::move(client_id), wait_id});
  return true;
}

void session_directory::stop_waiting(const std::string& client_id) {
  auto it = waiting_.find(client_id);
  if (it == waiting_.end())
    return;
  auto request = std::move(it->second.request);
  waiting_.erase(it);
  start_session(sessions_[client_id], request);
}

caf::result<bool> session_directory::take_handoff(cluster::session_handoff& handoff) {
  auto promise = make_response_promise<bool>();
  auto moving = moving_out_.find(handoff.client_id);
  if (handoff.tail || moving == moving_out_.end()) {
    store_handoff(handoff, promise);
  } else if (moving->second) {
    promise.deliver(caf::make_error(caf::sec::request_receiver_down));  // one comes back already
  } else {
    // Back before it left: it comes in once the copy that leaves is gone, with its rows.
    moving->second = coming_back{std::move(handoff), promise};
  }
  return promise;
}

void session_directory::moved_out(const std::string& client_id, bool stays) {
  auto it = moving_out_.find(client_id);
  if (it == moving_out_.end())
    return;
  auto back = std::move(it->second);
  moving_out_.erase(it);
  if (!back)
    return;
  if (stays)
    back->promise.deliver(caf::make_error(caf::sec::request_receiver_down));
  else
    store_handoff(back->handoff, back->promise);
}

void session_directory::store_handoff(cluster::session_handoff& handoff, caf::response_promise promise) {
  const auto& client_id = handoff.client_id;
  auto fail = [&](caf::sec why) { promise.deliver(caf::make_error(why)); };
  if (!context_->store)
    return fail(caf::sec::feature_disabled);  // nowhere to keep it: it stays where it is
  auto found = sessions_.find(client_id);
  bool has_session = found != sessions_.end() && (found->second.session || found->second.dormant.sink);
  // A session that has one here already keeps it (its client connected here meanwhile); the tail of a
  // moved session needs the session.
  if (has_session != handoff.tail)
    return fail(caf::sec::request_receiver_down);

  handoff_commit pending{client_id, promise, nullptr, {}};
  storage::write_batch batch;
  storage::queue_summary summary;
  clocks now{clock::now(), storage::wall_clock_now()};
  for (const auto& value : handoff.entries) {
    auto entry = storage::decode_queue_entry(value);
    if (!entry || entry->message_id != 0 ||
        (!entry->message && entry->state != storage::delivery_state::pubrec)) {
      spdlog::error(
          "cluster: a queue entry of {}'s moving session is damaged; the session stays where it was",
          client_id);
      return fail(caf::sec::invalid_argument);
    }
    // Sequences from this node's message ids: after whatever this node stored, in the order they came.
    auto sequence = storage::queue_sequence(context_->store->allocate_message_id(), 0);
    batch.enqueue(client_id, sequence, *entry);
    summary.count(sequence, entry->state, value.size());
    if (handoff.tail)
      pending.tail.push_back(from_stored(storage::stored_entry{sequence, *entry, entry->message}, now));
  }
  if (!handoff.tail) {
    auto record = storage::decode_session_record(handoff.record);
    if (!record || record->client_id != client_id) {
      spdlog::error("cluster: the record of {}'s moving session is damaged; it stays where it was",
                    client_id);
      return fail(caf::sec::invalid_argument);
    }
    batch.put_session(*record);
    std::sort(handoff.inbound_qos2.begin(), handoff.inbound_qos2.end());
    for (auto packet_id : handoff.inbound_qos2)
      batch.put_inbound_qos2(client_id, packet_id);
    pending.state = std::make_shared<storage::recovered_session>(
        storage::recovered_session{std::move(*record), summary, std::move(handoff.inbound_qos2)});
    sessions_.try_emplace(client_id);  // taken: no CONNECT here starts another meanwhile
  }
  auto token = ++last_commit_token_;
  handoff_commits_.emplace(token, std::move(pending));
  context_->store->commit(std::move(batch), caf::actor_cast<caf::actor>(this), token);
}

void session_directory::on_handoff_stored(const commit_result& result) {
  auto it = handoff_commits_.find(result.token);
  if (it == handoff_commits_.end())
    return;
  auto pending = std::move(it->second);
  handoff_commits_.erase(it);
  auto& e = sessions_[pending.client_id];
  if (!result.outcome) {
    spdlog::error("storage: {}'s moving session not stored: {}", pending.client_id,
                  result.outcome.failure().message);
    pending.promise.deliver(caf::make_error(caf::sec::runtime_error));
    if (!e.session && !e.dormant.sink && !waiting_.contains(pending.client_id))
      sessions_.erase(pending.client_id);
    return;
  }
  if (!pending.state) {
    // The tail: delivered as a shard delivers what it stored, behind the rest of the queue.
    if (e.session)
      send(e.session, delivery_batch{std::move(pending.tail)});
    pending.promise.deliver(true);
    return;
  }
  e.session = spawn_session(pending.client_id);
  // The answer lets the old node drop its subscriptions: once the new ones are in place here, so that no
  // message falls between.
  request(e.session, caf::infinite, restore_session{std::move(pending.state)})
      .then([promise = pending.promise](bool) mutable { promise.deliver(true); },
            [promise = pending.promise](caf::error& error) mutable { promise.deliver(std::move(error)); });
  if (auto waiting = waiting_.find(pending.client_id); waiting != waiting_.end()) {
    auto request = std::move(waiting->second.request);
    waiting_.erase(waiting);
    start_session(e, request);
  } else {
    send(e.session, session_event{start_timers{}});  // nobody connected: its expiry runs here now
  }
}

}  // namespace mqhub::actors
