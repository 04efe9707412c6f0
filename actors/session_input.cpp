#include <utility>

#include <caf/actor_cast.hpp>

#include "actors/session_actor.hpp"

namespace mqhub::actors {

namespace mqtt = net::mqtt;

session_actor::inbound_qos2_map& session_actor::inbound_qos2s() {
  if (!inbound_qos2_)
    inbound_qos2_ = std::make_unique<inbound_qos2_map>();
  return *inbound_qos2_;
}

void session_actor::handle_input(session_input& input) {
  std::vector<publish_batch> to_shards;
  for (auto& packet : input.packets) {
    auto* subscribe = std::get_if<subscribe_command>(&packet);
    // The connection closed, or was taken over, while this was in flight: what it registered with shards
    // as it read a SUBSCRIBE goes back to what this session holds.
    if (!sink_ || input.from != sink_) {
      if (subscribe)
        settle_registered(*subscribe, nullptr);
      continue;
    }
    if (auto* publish = std::get_if<mqtt::publish_packet>(&packet))
      on_qos2_publish(*publish, to_shards);
    else if (auto* ack = std::get_if<inbound_ack>(&packet))
      on_ack(*ack);
    else if (subscribe)
      on_subscribe(*subscribe);
    else
      on_unsubscribe(std::get<mqtt::unsubscribe_packet>(packet));
  }
  send_to_shards(to_shards);
  fill_window(clock::now());
  flush();
}

void session_actor::send_to_shards(std::vector<publish_batch>& batches) {
  const auto& shards = *context_->shards;
  for (size_t i = 0; i < batches.size(); ++i) {
    auto& batch = batches[i];
    if (batch.messages.empty())
      continue;
    if (!batch.acks.empty()) {
      batch.publisher = sink_;
      batch.publisher_session = caf::actor_cast<caf::actor>(this);
      batch.publisher_version = version_;
    }
    send(shards.route(i), std::move(batch));
  }
  batches.clear();
}

void session_actor::on_qos2_publish(mqtt::publish_packet& publish, std::vector<publish_batch>& to_shards) {
  auto id = publish.packet_id;
  auto& received = inbound_qos2s();
  auto known = received.find(id);
  if (known != received.end() && !known->second.stored) {
    known->second.pubrec_owed = true;  // a PUBREC now would promise what a crash could still undo
    return;
  }
  if (known == received.end()) {
    // Forwarded once; a resend with DUP before PUBREL only gets another PUBREC (MQTT-4.3.3-10).
    received.emplace(id, inbound_qos2{!durable(), false});
    const auto& shards = *context_->shards;
    to_shards.resize(shards.route_count());
    auto shard = shards.route_of_topic(publish.topic);
    auto& batch = to_shards[shard];
    batch.messages.push_back(make_message(std::move(publish), shared_client_id(client_id_), clock::now()));
    if (durable()) {
      // The shard sends the PUBREC once the message, and with it this receive state, is stored.
      batch.acks.push_back({static_cast<uint32_t>(batch.messages.size() - 1), id, true, persists()});
      return;
    }
  }
  writer().append_ack(mqtt::packet_type::pubrec, id, mqtt::reason_code::success, version_);
}

void session_actor::on_ack(const inbound_ack& ack) {
  auto not_found = mqtt::reason_code::packet_identifier_not_found;
  switch (ack.type) {
    case mqtt::packet_type::puback:
      if (auto done = outbound_.complete(ack.packet_id, false))
        forget_stored(*done);
      break;
    case mqtt::packet_type::pubrec: {
      if (is_error(ack.code)) {
        if (auto done = outbound_.abandon(ack.packet_id))
          forget_stored(*done);
        break;
      }
      const auto* released = outbound_.release(ack.packet_id);
      if (released) {
        // Stored before the PUBREL goes out: a restart must resend the PUBREL, never the PUBLISH again.
        store_state(released->item, storage::delivery_state::pubrec, ack.packet_id);
        hold_output_until_committed();
      }
      writer().append_ack(mqtt::packet_type::pubrel, ack.packet_id,
                          released ? mqtt::reason_code::success : not_found, version_);
      break;
    }
    case mqtt::packet_type::pubcomp:
      if (auto done = outbound_.complete(ack.packet_id, true))
        forget_stored(*done);
      break;
    case mqtt::packet_type::pubrel:
      on_pubrel(ack.packet_id);
      break;
    default:
      break;
  }
}

void session_actor::on_inbound_qos2_outcome(const inbound_qos2_outcome& outcome) {
  auto& received = inbound_qos2s();
  for (auto id : outcome.packet_ids) {
    auto it = received.find(id);
    if (it == received.end() || it->second.stored)
      continue;
    bool owed = it->second.pubrec_owed && sink_;
    if (outcome.stored) {
      it->second = inbound_qos2{true, false};
    } else {
      received.erase(it);  // the client may use the id again: it was told, or will resend
      owed = owed && v5();
    }
    if (owed)
      writer().append(
          mqtt::ack_packet{mqtt::packet_type::pubrec,
                           id,
                           outcome.stored ? mqtt::reason_code::success : mqtt::reason_code::quota_exceeded,
                           {}},
          version_);
  }
  flush();
}

void session_actor::on_pubrel(uint16_t packet_id) {
  bool known = inbound_qos2_ && inbound_qos2_->erase(packet_id) > 0;
  mqtt::ack_packet pubcomp{
      mqtt::packet_type::pubcomp,
      packet_id,
      known ? mqtt::reason_code::success : mqtt::reason_code::packet_identifier_not_found,
      {}};
  if (!known || !persists()) {
    writer().append(pubcomp, version_);
    return;
  }
  // After PUBCOMP the client may reuse the id; were the stored id still there after a crash, its next
  // message would be taken for a resend and dropped.
  writes().delete_inbound_qos2(client_id_, packet_id);
  hold_output_until_committed();
  writer().append(pubcomp, version_);
}

void session_actor::on_subscribe(subscribe_command& command) {
  auto& packet = command.packet;
  auto& plan = command.plan;
  const auto& shards = *context_->shards;
  std::vector<mqtt::reason_code> codes;
  for (size_t i = 0; i < packet.subscriptions.size(); ++i) {
    auto& entry = plan.entries[i];
    if (!entry) {
      codes.push_back(command.verdicts[i]);
      continue;
    }
    if (subscriptions_to_change().insert_or_assign(packet.subscriptions[i].filter, *entry).second)
      count_subscriptions(1);
    codes.push_back(
        static_cast<mqtt::reason_code>(packet.subscriptions[i].max_qos));  // granted QoS (MQTT-3.9.3)
  }

  // SUBACK goes out once every shard has the subscriptions, followed by the retained messages they found.
  struct pending {
    mqtt::suback_packet suback;
    size_t replies_missing = 0;
    delivery_batch retained;
    std::vector<size_t> shards_asked;
  };
  auto state = std::make_shared<pending>();
  state->suback.packet_id = packet.packet_id;
  state->suback.codes = std::move(codes);
  state->retained.deliveries = std::move(command.retained);
  auto epoch = epoch_;
  auto finish = [this, state, epoch] {
    if (epoch == epoch_ && sink_) {
      writer().append(state->suback, version_);
      deliver(state->retained);
    }
    // The shards hold this client's QoS 0 until the retained messages are handed over, which waits for a
    // commit when output is held.
    auto release_shards = [this, state] {
      const auto& shards = *context_->shards;
      auto self = caf::actor_cast<caf::actor>(this);
      for (auto s : state->shards_asked)
        send(shards[s], subscribe_done{self});
    };
    if (output_held())
      commits_->after_output.emplace_back(std::move(release_shards));
    else
      release_shards();
  };
  if (persists()) {
    // The SUBACK promises the subscriptions survive a restart, so it also waits for the session record.
    save_session();
    ++state->replies_missing;
    after_commit([state, finish](bool stored) {
      if (!stored)  // the subscriptions hold until a restart, which would forget them: not a success
        for (auto& code : state->suback.codes)
          if (!mqtt::is_error(code))
            code = mqtt::reason_code::unspecified_error;
      if (--state->replies_missing == 0)
        finish();
    });
  }
  auto registered = settle_registered(command, &state->shards_asked);
  auto self = caf::actor_cast<caf::actor>(this);
  for (size_t s = 0; s < shards.size(); ++s) {
    auto& request = plan.requests[s];
    if (request.entries.empty() || registered[s])
      continue;
    request.session = self;
    request.client_id = client_id_;
    request.link = link();
    request.persistent = shards_store_entries_;
    ++state->replies_missing;
    state->shards_asked.push_back(s);
    this->request(shards[s], caf::infinite, std::move(request)).then([state, finish](subscribe_reply& reply) {
      for (auto& d : reply.retained)
        state->retained.deliveries.push_back(std::move(d));
      if (--state->replies_missing == 0)
        finish();
    });
  }
  if (state->replies_missing == 0)
    finish();
}

std::vector<bool> session_actor::settle_registered(const subscribe_command& command,
                                                   std::vector<size_t>* done_later) {
  const auto& shards = *context_->shards;
  std::vector<bool> registered(shards.size(), false);
  if (command.registered.empty())
    return registered;
  // The shards got the connection's guess of this session's link, and may have lost a subscription to an
  // UNSUBSCRIBE read before the SUBSCRIBE and handled here after the connection registered it: each gets
  // this session's own state of the filters now.
  std::vector<subscribe_request> settle(shards.size());
  std::vector<unsubscribe_request> remove(shards.size());
  const auto& packet = command.packet;
  for (size_t i = 0; i < packet.subscriptions.size(); ++i) {
    const auto& entry = command.plan.entries[i];
    if (!entry)
      continue;
    auto held = subscriptions().find(packet.subscriptions[i].filter);
    shards.for_each_shard_of_filter(entry->filter, [&](size_t s) {
      if (s >= command.registered.size() || !command.registered[s])
        return;
      if (held != subscriptions().end())
        settle[s].entries.push_back(held->second);
      else
        remove[s].filters.emplace_back(entry->filter, entry->group);
    });
  }
  auto self = caf::actor_cast<caf::actor>(this);
  for (size_t s = 0; s < command.registered.size(); ++s) {
    if (!command.registered[s])
      continue;
    registered[s] = true;
    if (!remove[s].filters.empty()) {
      remove[s].session = self;
      send(shards[s], std::move(remove[s]));
    }
    if (!settle[s].entries.empty()) {
      auto& request = settle[s];
      request.session = self;
      request.client_id = client_id_;
      request.link = link();
      request.persistent = shards_store_entries_;
      request.restoring = true;  // no retained messages again, and no SUBACK to wait for
      this->request(shards[s], caf::infinite, std::move(request)).then([](subscribe_reply&) {});
    }
    // The registration holds the client's QoS 0 until its retained messages are out (see subscribe_done).
    if (done_later != nullptr)
      done_later->push_back(s);
    else
      send(shards[s], subscribe_done{self});
  }
  return registered;
}

void session_actor::on_unsubscribe(const mqtt::unsubscribe_packet& unsubscribe) {
  const auto& shards = *context_->shards;
  std::vector<unsubscribe_request> requests(shards.size());
  mqtt::unsuback_packet unsuback;
  unsuback.packet_id = unsubscribe.packet_id;
  for (const auto& filter : unsubscribe.filters) {
    auto& subscribed = subscriptions_to_change();
    auto it = subscribed.find(filter);
    if (it == subscribed.end()) {
      unsuback.codes.push_back(mqtt::reason_code::no_subscription_existed);
      continue;
    }
    shards.for_each_shard_of_filter(it->second.filter, [&](size_t s) {
      requests[s].filters.emplace_back(it->second.filter, it->second.group);
    });
    subscribed.erase(it);
    count_subscriptions(-1);
    unsuback.codes.push_back(mqtt::reason_code::success);
  }
  send_unsubscribes(requests);
  save_session();
  writer().append(unsuback, version_);
}

}  // namespace mqhub::actors
