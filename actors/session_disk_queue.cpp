#include <utility>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>

#include "actors/session_actor.hpp"
#include "actors/stored_form.hpp"
#include "storage/key_encoding.hpp"

namespace mqhub::actors {

size_t session_actor::shard_of(const delivery& item) const {
  return context_->shards->shard_of_topic(item.msg->topic);
}

bool session_actor::read_from_disk() {
  if (!durable() || !sink_ || !outbound_.wants_read())
    return false;
  if (!outbound_.needs_barrier()) {
    read_now();
    return true;
  }
  // The entries left on disk since the last barrier must be committed before a read can find them: a read
  // that missed one would pass it for good. So would one that found a message this session already dropped,
  // so its own writes go first.
  outbound_.barrier_asked();
  outbound_.read_started();
  commit_writes();
  writes();  // makes the commit state
  auto& c = *commits_;
  auto token = ++c.last_token;
  c.read_barrier = token;
  c.waiting[token].emplace_back([this, token](bool) {
    // A clean start or the session's end since then dropped the queue, or another read was asked for.
    if (!commits_ || commits_->read_barrier != token || outbound_.queued_on_disk() == 0)
      return;
    commits_->read_barrier = 0;
    read_now();
    fill_window(clock::now());
  });
  context_->store->barrier(caf::actor_cast<caf::actor>(this), token);
  return false;
}

void session_actor::read_now() {
  outbound_.read_started();
  outbound_.read_done(read_entries(0));
}

void session_actor::restore_queue(const storage::queue_summary& summary) {
  outbound_.restore_disk(summary.queued, summary.queued_bytes, summary.last_sequence);
  if (summary.queued + summary.sent == 0)
    return;
  // Every message sent before the restart, whatever memory holds: its client may hold its packet id.
  outbound_.read_started();
  outbound_.read_done(read_entries(summary.last_sent_sequence));
}

disk_read_end session_actor::read_entries(uint64_t must_reach) {
  clocks now{clock::now(), storage::wall_clock_now()};
  auto end = disk_read_end::end_of_queue;
  bool read = read_stored_queue(
      outbound_.disk_cursor(),
      [&](storage::stored_entry& stored) {
        auto state = stored.entry.state;
        auto packet_id = stored.entry.packet_id;
        auto item = from_stored(std::move(stored), now);
        switch (state) {
          case storage::delivery_state::queued: {
            auto shard = shard_of(item);
            bool must_take = item.stored_sequence <= must_reach;
            end = outbound_.take_from_disk(std::move(item), shard, must_take);
            if (end != disk_read_end::taken)
              return false;
            end = disk_read_end::end_of_queue;
            return true;
          }
          case storage::delivery_state::inflight:
            outbound_.restore_inflight(std::move(item), packet_id, false);
            return true;
          case storage::delivery_state::pubrec:
            outbound_.restore_inflight(std::move(item), packet_id, true);
            return true;
        }
        return true;
      },
      [&](const storage::unreadable_entry& bad) {
        spdlog::error("storage: queue entry {} of session {} cannot be read ({}): passed over, left in place",
                      bad.sequence, client_id_, bad.why);
        context_->stats->messages_dropped.fetch_add(1, std::memory_order_relaxed);
        outbound_.skip_on_disk(bad.sequence);
      });
  return read ? end : disk_read_end::failed;
}

bool session_actor::read_stored_queue(uint64_t after_sequence,
                                      const std::function<bool(storage::stored_entry&)>& visit,
                                      const std::function<void(const storage::unreadable_entry&)>& skip) {
  auto read = storage::read_queue(context_->store->database(), client_id_, after_sequence, visit, skip);
  if (!read)
    spdlog::error("storage: the queue of session {} cannot be read: {}", client_id_, read.failure().message);
  return static_cast<bool>(read);
}

void session_actor::collect_disk_message_ids(std::vector<uint64_t>& ids) {
  if (outbound_.queued_on_disk() == 0)
    return;
  // Only references matter: most entries hold their message and need no more than their head read. An
  // entry not delivered here yet is left out: it is dequeued on its own when it comes (see deliver).
  const auto& db = context_->store->database();
  auto messages = db.reader(storage::column::messages);
  auto range = storage::queue_range(client_id_);
  range.begin = storage::queue_key(client_id_, outbound_.disk_cursor() + 1);
  auto read = db.scan(storage::column::queues, range, [&](std::string_view key, std::string_view value) {
    auto decoded_key = storage::decode_queue_key(key);
    auto head = storage::summarize_queue_entry(value);
    if (!decoded_key || !head || head->message_id == 0)
      return true;
    auto row = messages.find(storage::message_key(head->message_id));
    if (!row || !row->has_value())
      return true;
    auto message = storage::decode_stored_message(**row);
    if (message && outbound_.on_disk(decoded_key->sequence, context_->shards->shard_of_topic(message->topic)))
      ids.push_back(head->message_id);
    return true;
  });
  if (!read)
    spdlog::error("storage: the queue of session {} cannot be read: {}", client_id_, read.failure().message);
}

}  // namespace mqhub::actors
