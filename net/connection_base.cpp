#include "net/connection_base.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/asio/post.hpp>
#include <caf/send.hpp>

#include "actors/scoped_flag.hpp"
#include "actors/session_directory.hpp"
#include "actors/session_farewell.hpp"
#include "actors/shard_actor.hpp"
#include "net/keepalive_sweep.hpp"
#include "net/mqtt/encoder.hpp"
#include "net/mqtt/frame.hpp"

namespace mqhub::net {

namespace asio = boost::asio;

namespace {

// An idle client costs a small buffer; a busy one grows it for fewer, larger reads.
constexpr size_t idle_buffer_size = 256;
constexpr size_t busy_buffer_size = size_t{64} * 1024;
constexpr size_t min_read_space = 256;
// A burst waits at most this many reads for its flush (see defer_flush).
constexpr uint8_t max_unflushed_reads = 32;
// A read with this few PUBLISHes that emptied the socket is light load: waiting for more reads would only
// delay it.
constexpr size_t max_light_messages = 4;

}  // namespace

connection_base::connection_base(asio::io_context& io, std::shared_ptr<node_services> services,
                                 peer_identity peer)
    : io_(io), services_(std::move(services)), peer_(std::make_unique<peer_identity>(std::move(peer))) {}

connection_base::~connection_base() {
  std::lock_guard guard{services_->connections_mutex};
  services_->connections.erase(this);
}

void connection_base::start() {
  {
    // Registered here, not in the constructor: the shutdown sweep reaches a connection through
    // weak_from_this, which a shared_ptr owns only after construction.
    std::lock_guard guard{services_->connections_mutex};
    if (services_->closing_connections) {
      state_ = state::closed;  // accepted as the listeners stopped: the sweep has passed
      transport_close();
      return;
    }
    services_->connections.insert(this);
  }
  buffer_.resize(idle_buffer_size);
  last_packet_at_ = std::chrono::steady_clock::now();
  // A client must send CONNECT within a reasonable time (MQTT-3.1.4... 4.2): treat it like a keepalive of 10
  // s.
  keep_alive_ = 10;
  boost::asio::use_service<keepalive_sweep>(io_).watch(weak_from_this());
  transport_open([self = shared_from_this()](bool ok) {
    if (!ok)
      self->finish(false, std::nullopt);
    else if (self->transport_waits())
      self->on_readable({});  // the CONNECT is usually in the socket by now: read it without a wait first
    else
      self->read_more();
  });
}

void connection_base::read_more() {
  if (reading_ || state_ == state::closed || state_ == state::connecting)
    return;
  if (pending_bytes() > services_->limits.write_buffer_limit) {
    paused_for_writes_ = true;  // on_written reads on once the queue has drained
    return;
  }
  if (bytes_at_shards_.load(std::memory_order_acquire) >= services_->limits.shard_backlog_limit) {
    paused_for_shards_ = true;  // routed() reads on once the shards have caught up
    return;
  }
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (!last_read_filled_ && buffer_.size() <= idle_buffer_size && transport_waits()) {
      // Idle clients hold no read buffer while they wait.
      std::vector<uint8_t>().swap(buffer_);
      reading_ = true;
      transport_wait();
      return;
    }
  } else if (buffer_.size() - end_ < min_read_space && begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  auto size = buffer_.size();
  if (last_read_filled_ && size < busy_buffer_size)
    size = std::min(busy_buffer_size, size * 2);
  if (size - end_ < min_read_space)
    size = 2 * (end_ + min_read_space);
  if (size != buffer_.size())
    buffer_.resize(size);
  reading_ = true;
  read_offered_ = buffer_.size() - end_;
  transport_read(
      asio::buffer(buffer_.data() + end_, read_offered_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void connection_base::on_read(const boost::system::error_code& ec, size_t bytes) {
  reading_ = false;
  if (state_ == state::closed)
    return;
  if (ec) {
    finish(false, std::nullopt);  // closed without DISCONNECT: the will goes out (MQTT-3.1.2-8)
    return;
  }
  end_ += bytes;
  last_read_filled_ = bytes == read_offered_;
  read_at_ = std::chrono::steady_clock::now();  // once per read: every packet in it arrived now
  bool deferred = process_buffer(true);
  read_more();
  if (deferred)
    defer_flush();
}

void connection_base::defer_flush() {
  if (++reads_unflushed_ >= max_unflushed_reads)
    flush_deferred();
  else if (!flush_posted_)
    post_deferred_flush();  // after read_more: a read that completes at once is queued before it
}

void connection_base::post_deferred_flush() {
  flush_posted_ = true;
  reads_seen_by_flush_ = reads_unflushed_;
  asio::post(io_, [self = shared_from_this()] { self->on_deferred_flush(); });
}

void connection_base::on_deferred_flush() {
  flush_posted_ = false;
  if (state_ == state::closed)
    return;  // finish() sent the batches
  if (reads_unflushed_ != reads_seen_by_flush_)
    post_deferred_flush();  // reads completed meanwhile, so the burst may go on: behind the read they started
  else
    flush_deferred();
}

void connection_base::flush_deferred() {
  reads_unflushed_ = reads_seen_by_flush_ = 0;
  flush_batches();
}

void connection_base::on_readable(const boost::system::error_code& ec) {
  reading_ = false;
  if (state_ == state::closed)
    return;
  if (ec) {
    finish(false, std::nullopt);
    return;
  }
  buffer_.resize(idle_buffer_size);
  boost::system::error_code read_error;
  read_offered_ = buffer_.size();
  auto bytes = transport_read_now(asio::buffer(buffer_.data(), read_offered_), read_error);
  if (read_error == asio::error::would_block) {
    read_more();  // woken for nothing: wait again
    return;
  }
  on_read(read_error, bytes);
}

bool connection_base::process_buffer(bool may_defer) {
  while (state_ == state::awaiting_connect || state_ == state::connected) {
    std::span<const uint8_t> available(buffer_.data() + begin_, end_ - begin_);
    auto f = mqtt::peek_frame(available, services_->limits.max_packet_size);
    if (f.state == mqtt::frame::status::incomplete) {
      if (f.header_size > 0 && f.total_size() > buffer_.size() - begin_) {
        // Make room for the whole packet; its size was checked against the maximum packet size.
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
        buffer_.resize(f.total_size() + min_read_space);
      }
      break;
    }
    if (f.state == mqtt::frame::status::malformed) {
      violation(mqtt::reason_code::malformed_packet, "malformed remaining length");
      break;
    }
    if (f.state == mqtt::frame::status::too_large) {
      violation(mqtt::reason_code::packet_too_large,
                "packet exceeds the maximum packet size");  // MQTT-3.2.2-15
      break;
    }
    if (dormant() && needs_session(available[0]) && !wake_session())
      break;  // taken over: the connection closes
    auto body = available.subspan(f.header_size, f.remaining_length);
    begin_ += f.total_size();
    last_packet_at_ = read_at_;
    if (state_ == state::awaiting_connect)
      on_connect(f.first_byte, body);
    else
      on_packet(f.first_byte, body);
  }
  // The limit on what waits at the shards counts only what was sent: a large unsent batch goes now. So does a
  // light read (the first of a burst, a few PUBLISHes, the socket emptied): no read would join it.
  bool deferred = may_defer && state_ == state::connected &&
                  unsent_inbound_bytes() < services_->limits.shard_backlog_limit / 4 && !light_read();
  if (!deferred)
    flush_batches();
  if (begin_ == end_ && buffer_.size() > idle_buffer_size && !last_read_filled_) {
    // The burst or the large packet is over: give the memory back so idle connections stay small.
    std::vector<uint8_t>(idle_buffer_size).swap(buffer_);
    begin_ = end_ = 0;
  }
  return deferred;
}

bool connection_base::needs_session(uint8_t first_byte) {
  switch (static_cast<mqtt::packet_type>(first_byte >> 4)) {
    case mqtt::packet_type::publish:
      return ((first_byte >> 1) & 0x03) == 2;  // exactly-once state lives in the session
    case mqtt::packet_type::puback:
    case mqtt::packet_type::pubrec:
    case mqtt::packet_type::pubrel:
    case mqtt::packet_type::pubcomp:
    case mqtt::packet_type::subscribe:
    case mqtt::packet_type::unsubscribe:
      return true;
    default:
      return false;  // PINGREQ, DISCONNECT, and what the connection refuses itself
  }
}

bool connection_base::wake_session() {
  session_ = actors::wake_dormant_session(*services_->system, services_->session_table_of(client_id_),
                                          services_->directory_of(client_id_), services_->sessions,
                                          std::string(client_id_.view()), this);
  return static_cast<bool>(session_);
}

void connection_base::attach_dormant(std::vector<actors::out_buffer> connack) {
  if (queue_first_packets(connack))
    post_start_write();
  state_ = state::connected;
  services_->stats->clients_connected.fetch_add(1, std::memory_order_relaxed);
}

void connection_base::forget_dormant_session(bool clean_disconnect) {
  auto will = services_->session_table_of(client_id_).forget_dormant(std::string(client_id_.view()), this);
  if (will && *will && !clean_disconnect)
    actors::publish_will(*services_->shards, std::move(**will), client_id_);  // MQTT-3.1.2-8
}

void connection_base::flush_batches() {
  send_batches();
  if (!own_out_.empty()) {
    write({std::make_shared<const std::string>(std::move(own_out_))});
    own_out_ = std::string();
  }
}

void connection_base::send_batches() {
  if (received_ > 0) {
    services_->stats->messages_received.fetch_add(received_, std::memory_order_relaxed);
    received_ = 0;
  }
  const auto& shards = *services_->shards;
  // Routed here, a batch skips the hop to the shard's thread: at light load a thread woken, under load the
  // messages read back from another core's cache. Order holds: none of this client's earlier batches may
  // still wait in a mailbox.
  bool route_here = !services_->durable && bytes_at_shards_.load(std::memory_order_acquire) == 0;
  actors::scoped_flag light{in_light_flush_, route_here && unsent_messages() <= max_light_messages};
  for (size_t i = 0; i < to_shards_.size(); ++i) {
    auto& batch = to_shards_[i];
    if (batch.messages.empty())
      continue;
    auto* shard = shards.local(i);
    // A batch routed here waits in no mailbox, so the shard has no bytes to hand back for it.
    auto inbound_bytes = std::exchange(batch.inbound_bytes, 0);
    if (!route_here || shard == nullptr || !shard->route_here(batch)) {
      batch.inbound_bytes = inbound_bytes;
      if (inbound_bytes > 0)
        bytes_at_shards_.fetch_add(inbound_bytes, std::memory_order_relaxed);  // before a shard takes it
      if (!batch.acks.empty() || batch.inbound_bytes > 0) {
        batch.publisher = shared_from_this();
        batch.publisher_session = session_;
        batch.publisher_version = version_;
      }
      caf::anon_send(shards.route(i), std::move(batch));
    }
    batch = actors::publish_batch{};
  }
  if (!to_session_.packets.empty()) {
    if (session_) {
      to_session_.from = shared_from_this();
      caf::anon_send(session_, std::move(to_session_));
    }
    to_session_ = actors::session_input{};
  }
}

void connection_base::queue_own(const mqtt::packet& p) {
  mqtt::encode(p, version_, own_out_);
}

void connection_base::write(std::vector<actors::out_buffer> buffers) {
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (close_requested_ || writes_refused_)
      return;  // the transport is closed or closing: what was queued before goes out, nothing after it
    schedule = queue_locked(buffers);
  }
  if (schedule)
    post_start_write();
}

void connection_base::write_deliveries(std::vector<actors::out_buffer> buffers) {
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (close_requested_ || writes_refused_)
      return;
    schedule = queue_deliveries_locked(buffers);
  }
  if (schedule)
    schedule_write();
}

bool connection_base::queue_deliveries_locked(std::vector<actors::out_buffer>& buffers) {
  if (session_attached_)
    return queue_locked(buffers);
  // Counted now: the shard's back-pressure check sees them.
  for (const auto& b : buffers)
    pending_bytes_.fetch_add(b->size(), std::memory_order_relaxed);
  if (!early_deliveries_)
    early_deliveries_ = std::make_unique<std::vector<actors::out_buffer>>();
  early_deliveries_->insert(early_deliveries_->end(), std::make_move_iterator(buffers.begin()),
                            std::make_move_iterator(buffers.end()));
  return false;
}

bool connection_base::queue_locked(std::vector<actors::out_buffer>& buffers) {
  if (aliases_out_)
    extras_->topic_aliases_out->rewrite(buffers);  // in the order the packets reach the socket
  size_t bytes = 0;
  for (const auto& b : buffers)
    bytes += b->size();
  pending_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (pending_.empty())
    pending_ = std::move(buffers);
  else
    pending_.insert(pending_.end(), std::make_move_iterator(buffers.begin()),
                    std::make_move_iterator(buffers.end()));
  bool schedule = !write_scheduled_;
  write_scheduled_ = true;
  return schedule;
}

void connection_base::post_start_write() {
  asio::post(io_, [self = shared_from_this()] { self->start_write(); });
}

void connection_base::routed(size_t inbound_bytes) {
  // Reading stopped at the limit, so the backlog falls through half of it after that; only the shard whose
  // batch crosses it wakes the connection, not every one.
  auto resume_below = services_->limits.shard_backlog_limit / 2;
  auto before = bytes_at_shards_.fetch_sub(inbound_bytes, std::memory_order_acq_rel);
  if (before >= resume_below && before - inbound_bytes < resume_below)
    asio::post(io_, [self = shared_from_this()] { self->resume_after_shards(); });
}

size_t connection_base::unsent_inbound_bytes() const {
  size_t bytes = 0;
  for (const auto& batch : to_shards_)
    bytes += batch.inbound_bytes;
  return bytes;
}

bool connection_base::light_read() const {
  if (reads_unflushed_ > 0 || last_read_filled_)
    return false;
  auto messages = unsent_messages();
  return messages > 0 && messages <= max_light_messages;
}

size_t connection_base::unsent_messages() const {
  size_t messages = 0;
  for (const auto& batch : to_shards_)
    messages += batch.messages.size();
  return messages;
}

void connection_base::resume_after_shards() {
  if (!paused_for_shards_)
    return;
  paused_for_shards_ = false;
  // The client's packets waited in the socket meanwhile: its keep alive starts again from here.
  last_packet_at_ = std::chrono::steady_clock::now();
  read_more();
}

void connection_base::start_write() {
  {
    std::lock_guard guard{write_mutex_};
    writing_.swap(pending_);
    if (writing_.empty()) {
      write_scheduled_ = false;
      if (close_requested_)
        transport_close();
      return;
    }
  }
  write_buffers_.clear();
  for (const auto& b : writing_)
    write_buffers_.emplace_back(b->data(), b->size());
  transport_write(write_buffers_, [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    self->on_written(ec, n);
  });
}

void connection_base::on_written(const boost::system::error_code& ec, size_t bytes) {
  pending_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  writing_.clear();
  if (ec) {
    {
      std::lock_guard guard{write_mutex_};
      pending_bytes_.store(0, std::memory_order_relaxed);
      pending_.clear();
      write_scheduled_ = false;
    }
    finish(false, std::nullopt);
    return;
  }
  if (paused_for_writes_ && pending_bytes() <= services_->limits.write_buffer_limit / 2) {
    paused_for_writes_ = false;
    read_more();
  }
  start_write();
}

bool connection_base::queue_first_packets(std::vector<actors::out_buffer>& first_packets) {
  // The CONNACK first, then the shards' deliveries that came before it.
  std::lock_guard guard{write_mutex_};
  session_attached_ = true;
  if (close_requested_ || writes_refused_)
    return false;
  bool schedule = !first_packets.empty() && queue_locked(first_packets);
  if (early_deliveries_) {
    auto early = std::move(*early_deliveries_);
    early_deliveries_.reset();
    size_t counted = 0;
    for (const auto& b : early)
      counted += b->size();
    pending_bytes_.fetch_sub(counted, std::memory_order_relaxed);  // queue_locked counts them again
    schedule = queue_locked(early) || schedule;
  }
  return schedule;
}

void connection_base::attached(caf::actor session, std::vector<actors::out_buffer> first_packets) {
  bool schedule = queue_first_packets(first_packets);
  asio::post(io_, [self = shared_from_this(), session = std::move(session), schedule]() mutable {
    if (schedule)
      self->start_write();  // what this queued, in the same wake-up of the connection's thread
    if (self->state_ == state::closed) {
      // The client went away while its session was being found: the session (or the table, for a dormant
      // one) must hear it, or it would think itself connected forever.
      if (session)
        caf::anon_send(session, actors::session_event{actors::connection_closed{self, false, std::nullopt}});
      else
        self->forget_dormant_session(false);
      return;
    }
    if (self->state_ != state::connecting)
      return;
    self->services_->stats->clients_connected.fetch_add(1, std::memory_order_relaxed);
    self->session_ = std::move(session);  // null: the session is dormant
    self->state_ = state::connected;
    if (self->shut_down_when_attached_) {
      self->say_shutting_down();
      return;
    }
    self->process_buffer();  // packets the client sent right after CONNECT
    self->read_more();
  });
}

void connection_base::close(std::vector<actors::out_buffer> last_packets,
                            std::unique_ptr<mqtt::will_message> will) {
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (!close_requested_ && !writes_refused_ && !last_packets.empty())
      schedule = queue_locked(last_packets);
    writes_refused_ = true;
  }
  if (schedule)
    post_start_write();
  asio::post(io_, [self = shared_from_this(), will = std::move(will)]() mutable {
    // The session closes a connection it has given up (takeover, protocol error): it needs no notice.
    self->closed_notified_ = true;
    self->finish(false, std::nullopt);  // sends the batches read so far
    if (will && !self->disconnected_cleanly_)
      actors::publish_will(*self->services_->shards, std::move(*will), self->client_id_);
  });
}

void connection_base::abort() {
  asio::post(io_, [self = shared_from_this()] { self->finish(false, std::nullopt); });
}

void connection_base::shut_down() {
  // Called through the registry's plain pointer: the connection may already be in its destructor.
  auto self = weak_from_this().lock();
  if (!self)
    return;
  asio::post(io_, [self = std::move(self)] {
    if (self->state_ == state::connecting) {
      // The session has the CONNECT and its CONNACK may already be out (it writes it, then attaches): the
      // DISCONNECT must come after it (MQTT-3.14.0-1), and it does once the session has attached.
      self->shut_down_when_attached_ = true;
      return;
    }
    self->say_shutting_down();
  });
}

void connection_base::say_shutting_down() {
  if (state_ == state::closed)
    return;
  if (state_ == state::connected && version_ == mqtt::protocol_version::v5)
    queue_own(mqtt::disconnect_packet{mqtt::reason_code::server_shutting_down, {}});  // finish writes it
  finish(false, std::nullopt);
}

void connection_base::finish(bool clean_disconnect, std::optional<uint32_t> session_expiry) {
  if (state_ == state::closed)
    return;
  if (acknowledged())
    services_->stats->clients_connected.fetch_sub(1, std::memory_order_relaxed);
  bool was_dormant = dormant();
  state_ = state::closed;
  disconnected_cleanly_ = clean_disconnect;
  send_batches();
  if (!closed_notified_ && (session_ || was_dormant)) {
    closed_notified_ = true;
    if (session_)
      caf::anon_send(session_, actors::session_event{actors::connection_closed{
                                   shared_from_this(), clean_disconnect, session_expiry}});
    else
      forget_dormant_session(clean_disconnect);
  }
  session_ = caf::actor{};
  // Close once what is queued is written. Our last packets (a CONNACK or DISCONNECT with the reason) are
  // queued in the same step that refuses further writes: nothing a shard writes can follow them.
  bool close_now = false;
  bool schedule = false;
  {
    std::lock_guard guard{write_mutex_};
    if (!own_out_.empty() && !writes_refused_) {
      std::vector<actors::out_buffer> last{std::make_shared<const std::string>(std::move(own_out_))};
      schedule = queue_locked(last);
    }
    close_requested_ = true;
    close_now = !write_scheduled_;
    early_deliveries_.reset();  // never to be written; keeps no memory
  }
  own_out_ = std::string();
  if (schedule)
    post_start_write();
  if (close_now)
    transport_close();
}

bool connection_base::check_keepalive(std::chrono::steady_clock::time_point now) {
  if (state_ == state::closed)
    return false;
  if (paused_for_shards_)
    return true;  // the broker holds the client's packets back, not the client
  // MQTT-3.1.2-22: one and a half times the keep alive without a packet ends the connection.
  if (keep_alive_ == 0 || now - last_packet_at_ < std::chrono::milliseconds(keep_alive_ * 1500))
    return true;
  if (acknowledged())
    violation(mqtt::reason_code::keep_alive_timeout, "keep alive timeout");
  else
    finish(false, std::nullopt);
  return false;
}

}  // namespace mqhub::net
