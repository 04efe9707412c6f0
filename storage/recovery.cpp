#include "storage/recovery.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>
#include <utility>

#include "storage/key_encoding.hpp"

namespace mqhub::storage {

namespace {

std::string printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      constexpr std::string_view hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0x0f]);
    }
  }
  return out;
}

error damaged(column cf, std::string_view key, std::string_view why) {
  return error{errc::corruption, "damaged row in " + std::string(column_name(cf)) + " (key \"" +
                                     printable(key) + "\"): " + std::string(why) +
                                     "; the database was left as it is"};
}

// The state of one recovery pass, one method per column family.
class recovery {
 public:
  recovery(database& db, epoch_seconds now) : db_(db), now_(now) {}

  result<recovered_state> run() {
    for (auto step : {&recovery::load_messages, &recovery::load_sessions, &recovery::load_queues,
                      &recovery::load_retained}) {
      if (auto s = (this->*step)(); !s) {
        return s.failure();
      }
    }
    drop_unreferenced_messages();
    if (!cleanup_.empty()) {
      if (auto s = db_.write_group({&cleanup_ptr_, 1}, true); !s) {
        return s.failure();
      }
    }
    db_.reset_references(std::move(counts_));
    for (auto& [client_id, session] : sessions_) {
      if (!expired_.contains(client_id)) {
        state_.sessions.push_back(std::move(session));
      }
    }
    return std::move(state_);
  }

 private:
  bool expired(const stored_message& m) const { return m.expiry && *m.expiry <= now_; }

  // Message rows are only counted here: their ids, for the next id and the references, and their sizes, for
  // the queues' byte totals. Their values are read when a queue needs them.
  status load_messages() {
    error failure;
    auto s = db_.scan(column::messages, {}, [&](std::string_view key, std::string_view value) {
      auto id = decode_message_key(key);
      if (!id) {
        failure = damaged(column::messages, key, "bad key");
        return false;
      }
      state_.next_message_id = std::max(state_.next_message_id, *id + 1);
      message_sizes_.emplace(*id, value.size());
      return true;
    });
    return !s ? s : failure.message.empty() ? status() : status(failure);
  }

  status load_sessions() {
    error failure;
    auto s = db_.scan(column::sessions, {}, [&](std::string_view key, std::string_view value) {
      auto decoded = decode_session_key(key);
      if (!decoded) {
        failure = damaged(column::sessions, key, "bad key");
        return false;
      }
      if (decoded->row == session_row::inbound_qos2) {
        auto it = sessions_.find(decoded->client_id);
        if (it == sessions_.end()) {
          problem("inbound QoS 2 id " + std::to_string(decoded->packet_id) + " of client \"" +
                  printable(decoded->client_id) + "\" has no session record: removed");
          cleanup_.delete_inbound_qos2(decoded->client_id, decoded->packet_id);
        } else {
          it->second.inbound_qos2.push_back(decoded->packet_id);
        }
        return true;
      }
      auto record = decode_session_record(value);
      if (!record || record->client_id != decoded->client_id) {
        failure =
            damaged(column::sessions, key, record ? "client id differs from key" : record.failure().message);
        return false;
      }
      add_session(std::move(*record));
      return true;
    });
    return !s ? s : failure.message.empty() ? status() : status(failure);
  }

  void add_session(session_record record) {
    const std::string client_id = record.client_id;
    if (!record.expiry_deadline && record.session_expiry_interval != session_never_expires) {
      // Connected when the node stopped, at a time nobody wrote down: the session expires from now.
      record.expiry_deadline = now_ + record.session_expiry_interval;
      if (record.session_expiry_interval > 0) {
        ++state_.report.deadlines_started;
        cleanup_.put_session(record);
      }
    }
    if (record.expiry_deadline && *record.expiry_deadline <= now_) {
      expired_.emplace(client_id, state_.report.expired_sessions.size());
      state_.report.expired_sessions.push_back({client_id, *record.expiry_deadline, record.will, 0});
      cleanup_.delete_session(client_id, {});
    }
    recovered_session session;
    session.record = std::move(record);
    sessions_.emplace(client_id, std::move(session));
  }

  status load_queues() {
    error failure;
    // Entries of one client are adjacent: its key prefix is looked up once, not per entry (a queue may hold
    // millions).
    std::string last_prefix;
    queue_owner owner;
    auto s = db_.scan(column::queues, {}, [&](std::string_view key, std::string_view value) {
      auto entry = summarize_queue_entry(value);
      std::string_view prefix = key.size() >= 8 ? key.substr(0, key.size() - 8) : key;
      if (prefix != last_prefix || !entry) {
        auto decoded = decode_queue_key(key);
        if (!decoded || !entry) {
          failure = damaged(column::queues, key, decoded ? entry.failure().message : "bad key");
          return false;
        }
        last_prefix = prefix;
        owner = owner_of(decoded->client_id);
      }
      add_entry(owner, key, big_endian_sequence(key), *entry, value.size());
      return true;
    });
    return !s ? s : failure.message.empty() ? status() : status(failure);
  }

  /// Whose queue entries are: a live session's, an expired one's (deleted with it), or nobody's.
  struct queue_owner {
    std::string client_id;
    recovered_session* session = nullptr;
    expired_session* expired = nullptr;
  };

  queue_owner owner_of(const std::string& client_id) {
    queue_owner owner{client_id};
    if (auto gone = expired_.find(client_id); gone != expired_.end())
      owner.expired = &state_.report.expired_sessions[gone->second];
    else if (auto session = sessions_.find(client_id); session != sessions_.end())
      owner.session = &session->second;
    return owner;
  }

  static uint64_t big_endian_sequence(std::string_view key) {
    uint64_t sequence = 0;
    for (char c : key.substr(key.size() - 8))
      sequence = (sequence << 8) | static_cast<unsigned char>(c);
    return sequence;
  }

  void add_entry(const queue_owner& owner, std::string_view key, uint64_t sequence,
                 const queue_entry_summary& entry, size_t value_size) {
    const auto where = [&] {
      return "queue entry " + std::to_string(sequence) + " of client \"" + printable(owner.client_id) + "\"";
    };
    if (owner.expired != nullptr) {
      ++owner.expired->queued;  // deleted with its session's range
      return;
    }
    if (owner.session == nullptr) {
      problem(where() + " has no session record: removed");
      cleanup_.del(column::queues, std::string(key));
      return;
    }
    state_.next_message_id = std::max(state_.next_message_id, message_id_of_sequence(sequence) + 1);
    uint64_t bytes = value_size;
    if (entry.message_id != 0) {
      auto row = message_sizes_.find(entry.message_id);
      if (row == message_sizes_.end()) {
        problem(where() + " references missing message " + std::to_string(entry.message_id) + ": skipped");
        cleanup_.del(column::queues, std::string(key));
        return;
      }
      bytes = row->second;
      ++counts_[entry.message_id];
    }
    owner.session->queue.count(sequence, entry.state, bytes);
  }

  void drop_unreferenced_messages() {
    for (const auto& [id, size] : message_sizes_) {
      if (!counts_.contains(id)) {
        ++state_.report.orphan_messages;
        cleanup_.del(column::messages, message_key(id));
      }
    }
  }

  status load_retained() {
    error failure;
    auto s = db_.scan(column::retained, {}, [&](std::string_view key, std::string_view value) {
      auto message = decode_stored_message(value);
      if (!message) {
        failure = damaged(column::retained, key, message.failure().message);
        return false;
      }
      if (expired(*message)) {
        ++state_.report.expired_retained;
        cleanup_.delete_retained(key);
      } else {
        state_.retained.push_back(std::move(*message));
      }
      return true;
    });
    return !s ? s : failure.message.empty() ? status() : status(failure);
  }

  void problem(std::string text) { state_.report.problems.push_back(std::move(text)); }

  database& db_;
  const epoch_seconds now_;
  recovered_state state_;
  std::unordered_map<uint64_t, size_t> message_sizes_;  // message id → bytes of its row
  std::map<std::string, recovered_session> sessions_;   // ordered like the keys
  std::unordered_map<std::string, size_t> expired_;     // client id → index in report.expired_sessions
  std::unordered_map<uint64_t, uint32_t> counts_;
  write_batch cleanup_;
  const write_batch* cleanup_ptr_ = &cleanup_;
};

}  // namespace

epoch_seconds wall_clock_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

result<recovered_state> recover(database& db, epoch_seconds now) {
  return recovery(db, now).run();
}

}  // namespace mqhub::storage
