#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor.hpp>

#include "actors/connection_sink.hpp"
#include "actors/messages.hpp"
#include "actors/packet_writer.hpp"
#include "actors/shared_client_id.hpp"
#include "net/access_policy.hpp"
#include "net/direct_qos1_flow.hpp"
#include "net/mqtt/packet.hpp"
#include "net/node_services.hpp"
#include "net/outbound_topic_aliases.hpp"

namespace mqhub::net {

/// One client connection, whatever the transport: reads bytes, frames and decodes packets, enforces the
/// protocol, hands PUBLISH batches to shards and the rest to the client's session actor, and owns the write
/// queue (one outstanding write that drains everything queued). Runs on one io_context thread; the
/// connection_sink methods may be called from any thread. Transports (TCP, later TLS and WebSocket)
/// derive from it and provide the three transport_* operations.
class connection_base : public actors::connection_sink, public std::enable_shared_from_this<connection_base> {
 public:
  connection_base(boost::asio::io_context& io, std::shared_ptr<node_services> services, peer_identity peer);
  ~connection_base() override;

  /// Starts reading. Call once, after construction through make_shared.
  void start();

  /// Node shutdown: DISCONNECT 0x8B to MQTT 5 clients, then close (docs/architecture.md).
  void shut_down();

  boost::asio::io_context& executor_context() { return io_; }

  /// From the keepalive_sweep, on the connection's thread: ends a connection silent for 1.5 x its keep alive
  /// (or one that sent no CONNECT in time). False once the connection is closed: no need to look again.
  bool check_keepalive(std::chrono::steady_clock::time_point now);

  // connection_sink
  void write(std::vector<actors::out_buffer> buffers) override;
  void write_deliveries(std::vector<actors::out_buffer> buffers) override;
  void open_direct_qos1(uint16_t window) override;
  void write_direct_qos1(std::vector<actors::delivery>& deliveries, net::mqtt::protocol_version version,
                         uint32_t maximum_packet_size) override;
  void attached(caf::actor session, std::vector<actors::out_buffer> first_packets) override;
  void close(std::vector<actors::out_buffer> last_packets,
             std::unique_ptr<net::mqtt::will_message> will) override;
  void abort() override;
  void write_publish_acks(actors::out_buffer acks, uint32_t pubacks) override;
  size_t pending_bytes() const override { return pending_bytes_.load(std::memory_order_relaxed); }
  void routed(size_t inbound_bytes) override;

 protected:
  using read_handler = std::function<void(const boost::system::error_code&, size_t)>;
  using write_handler = std::function<void(const boost::system::error_code&, size_t)>;
  using open_handler = std::function<void(bool ok)>;

  /// Makes the transport ready for MQTT (a TLS handshake, a WebSocket upgrade); calls `done` on the
  /// connection's thread. The CONNECT deadline already runs. Plain TCP is ready at once.
  virtual void transport_open(open_handler done) {
    auto ready = std::move(done);
    ready(true);
  }
  /// Reads some bytes into `into`; calls `done` on the connection's thread.
  virtual void transport_read(boost::asio::mutable_buffer into, read_handler done) = 0;
  /// Whether the transport can wait for bytes without a buffer (plain TCP; TLS and WebSocket read through
  /// their own buffers), with transport_wait and transport_read_now.
  virtual bool transport_waits() const { return false; }
  /// Calls on_readable on the connection's thread once bytes (or the end of the stream) can be read. Not
  /// through a std::function: the pending wait of every idle client would hold one, 32 bytes.
  virtual void transport_wait() {}
  /// Reads what is there without blocking; `ec` is would_block when nothing is.
  virtual size_t transport_read_now(boost::asio::mutable_buffer /*into*/, boost::system::error_code& /*ec*/) {
    return 0;
  }
  /// Writes all of `buffers`; calls `done` on the connection's thread.
  virtual void transport_write(const std::vector<boost::asio::const_buffer>& buffers, write_handler done) = 0;
  /// Closes the transport; pending operations complete with an error.
  virtual void transport_close() = 0;
  /// The socket any thread may send to itself while it owns the write (plain TCP); -1 when only the
  /// transport can write (TLS, WebSocket).
  virtual int transport_socket() const { return -1; }

  void on_readable(const boost::system::error_code& ec);

  /// For transports that learn who the peer is while opening (its TLS certificate).
  peer_identity& peer() { return *peer_; }
  const node_services& services() const { return *services_; }

 private:
  enum class state : uint8_t { awaiting_connect, connecting, connected, closed };
  /// Whether the client has its CONNACK: errors get a DISCONNECT from here on (MQTT 5).
  bool acknowledged() const { return state_ == state::connected; }
  /// Connected without a session actor: the directory's table holds the session (see actors::session_table).
  bool dormant() const { return state_ == state::connected && !session_; }

  // I/O (connection_base.cpp)
  void read_more();
  void on_read(const boost::system::error_code& ec, size_t bytes);
  /// Handles the complete packets in the buffer; flushes the batches unless `may_defer` and connected. True
  /// when it left them for defer_flush.
  bool process_buffer(bool may_defer = false);
  /// After a read whose batches wait: flushes them once no further read completes at once, or after
  /// max_unflushed_reads. A read returns one TLS record or WebSocket message at most, and over TCP what the
  /// socket held; under load more has often come by the time the packets are decoded, so a batch (an actor
  /// message per shard, a write of the acknowledgements) spans several reads.
  void defer_flush();
  void post_deferred_flush();
  void on_deferred_flush();
  void flush_deferred();
  /// Whether a dormant session must wake for this packet: only the session handles it.
  static bool needs_session(uint8_t first_byte);
  /// Starts the dormant session's actor on this thread (see actors::wake_dormant_session); false when the
  /// session was taken over meanwhile, and this connection is being closed.
  bool wake_session();
  /// Queues the first packets for the client (its CONNACK) and the deliveries held until then; true when a
  /// write must be started. The session is attached from here on.
  bool queue_first_packets(std::vector<actors::out_buffer>& first_packets);
  /// Answers a CONNECT registered as dormant here (see actors::session_table): queues `connack`, connected.
  void attach_dormant(std::vector<actors::out_buffer> connack);
  /// This connection of a dormant session is gone: the session ends, with its will unless `clean_disconnect`.
  void forget_dormant_session(bool clean_disconnect);
  /// Appends to the write queue (write_mutex_ held); true when a write must be scheduled.
  bool queue_locked(std::vector<actors::out_buffer>& buffers);
  /// queue_locked for what shards routed: before the session has attached it waits in early_deliveries_.
  bool queue_deliveries_locked(std::vector<actors::out_buffer>& buffers);
  /// For queue_locked's true: start_write on the connection's thread.
  void post_start_write();
  /// From routed(), on the connection's thread: the shards have taken what held reading back.
  void resume_after_shards();
  /// inbound_bytes of the batches not yet sent to the shards.
  size_t unsent_inbound_bytes() const;
  /// PUBLISHes in the batches not yet sent to the shards.
  size_t unsent_messages() const;
  /// The read just handled is light load: the first of a burst, with a few PUBLISHes, and it emptied the
  /// socket.
  bool light_read() const;
  void start_write();
  void on_written(const boost::system::error_code& ec, size_t bytes);
  void finish(bool clean_disconnect, std::optional<uint32_t> session_expiry);
  void queue_own(const net::mqtt::packet& p);
  /// send_batches, then this connection's own packets (acknowledgements) in one write.
  void flush_batches();
  /// The PUBLISH batches to the shards and the packets for the session; flush_batches without own_out_.
  void send_batches();

  // Light load (connection_send_now.cpp)
  /// For a router's queue_locked true: while this thread routes a light flush it sends at once, as a
  /// single-threaded broker would, rather than waking the connection's thread; otherwise post_start_write.
  void schedule_write();
  /// Sends what is queued from the calling thread, which owns the write (its queue_locked returned true);
  /// true when all of it went and the write is over, false when the connection's thread has the rest.
  bool send_now(int socket);
  /// Set while this thread routes a flush of a few PUBLISHes itself (see send_batches).
  static thread_local bool in_light_flush_;

  // QoS 1 the connection sends and completes itself (connection_direct_qos1.cpp)
  /// Completes the QoS 1 delivery this connection sent itself under `packet_id` (see open_direct_qos1), if
  /// any. False when the id is the session's to handle: below 32768, or no direct_qos1 window.
  bool take_direct_puback(uint16_t packet_id);
  /// Queues what `writer` holds (write_mutex_ held) and counts the deliveries; true when a write must be
  /// scheduled.
  bool queue_direct_qos1_locked(actors::packet_writer& writer, const direct_qos1_flow::counts& done);

  // CONNECT (connection_connect.cpp)
  void on_connect(uint8_t first_byte, std::span<const uint8_t> body);
  void refuse_connect(net::mqtt::protocol_version version, net::mqtt::reason_code code);

  // Everything after CONNECT (connection_packets.cpp)
  void on_packet(uint8_t first_byte, std::span<const uint8_t> body);
  void on_publish(net::mqtt::publish_packet& publish);
  void on_subscribe(net::mqtt::subscribe_packet& subscribe);
  /// Registers the subscriptions of `command` with the shards of this process on this thread, as the packet
  /// is read (see actors::subscribe_command::registered).
  void register_subscriptions(actors::subscribe_command& command);
  void on_disconnect(const net::mqtt::disconnect_packet& disconnect);
  void violation(net::mqtt::reason_code code, std::string reason);
  /// shut_down's work, on the connection thread.
  void say_shutting_down();

  // Members by size, the small ones packed at the end: every byte here is paid by every connected client
  // (see the static_assert in tls_connection.hpp).
  boost::asio::io_context& io_;
  std::shared_ptr<node_services> services_;
  // Needed until the CONNECT is decided, then freed: its strings would take every connection a jemalloc
  // size class up.
  std::unique_ptr<peer_identity> peer_;

  // Read side (connection thread only).
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;         // first unconsumed byte
  size_t end_ = 0;           // one past the last byte read
  size_t read_offered_ = 0;  // free space handed to the read in progress

  // Protocol state (connection thread only).
  actors::prepaid_client_id client_id_;  // shared with every message this connection publishes
  caf::actor session_;
  std::shared_ptr<const client_access> access_;
  std::chrono::steady_clock::time_point last_packet_at_;
  std::chrono::steady_clock::time_point read_at_;
  /// What only some clients need, on the heap and made on first use: an empty map is 56 bytes that would take
  /// every connection over a jemalloc size class.
  struct extras {
    std::unordered_map<uint16_t, std::string> topic_aliases_in;  // the client's (MQTT 3.3.2.3.4)
    /// Ours towards the client; made at CONNECT, before any other thread writes (see aliases_out_).
    std::unique_ptr<outbound_topic_aliases> topic_aliases_out;
    /// QoS 2 PUBLISHes read whose PUBREL has not come: they count against our Receive Maximum.
    std::unordered_set<uint16_t> qos2_in;
  };
  std::unique_ptr<extras> extras_;
  extras& extra();
  /// QoS 1/2 PUBLISHes of the client not acknowledged yet (QoS 1 waiting for their commit, QoS 2 for their
  /// PUBREL), which MQTT 5 bounds by our Receive Maximum (MQTT-3.3.4-9, 4.9).
  size_t inbound_unacknowledged() const;

  // Per-read batches, flushed once per read.
  std::vector<actors::publish_batch> to_shards_;
  actors::session_input to_session_;
  std::string own_out_;
  uint64_t received_ = 0;
  std::atomic<size_t> bytes_at_shards_{0};  // sent to the shards, not yet taken from their mailboxes
  /// QoS 1 PUBLISHes sent to the shards whose PUBACK waits for their commit (durable modes).
  std::atomic<uint32_t> pubacks_owed_{0};

  // Write side: any thread appends under the mutex; the connection thread writes.
  mutable std::mutex write_mutex_;
  std::vector<actors::out_buffer> pending_;
  /// write_deliveries before the session attached; on the heap, as few connections ever have any.
  std::unique_ptr<std::vector<actors::out_buffer>> early_deliveries_;
  /// Made by the first QoS 1 delivery of an open_direct_qos1 window: most clients take none.
  std::unique_ptr<direct_qos1_flow> direct_qos1_;
  std::atomic<size_t> pending_bytes_{0};
  std::vector<actors::out_buffer> writing_;  // owned by the write in progress
  std::vector<boost::asio::const_buffer> write_buffers_;

  uint32_t session_expiry_ = 0;
  uint32_t client_maximum_packet_size_ = 0;  // the client's Maximum Packet Size (MQTT-3.1.2-24); 0: none
  uint16_t keep_alive_ = 0;
  uint16_t direct_qos1_window_ = 0;  // under write_mutex_; 0: the session completes all QoS 1
  state state_ = state::awaiting_connect;
  net::mqtt::protocol_version version_ = net::mqtt::protocol_version::v311;
  // Connection thread only.
  bool reading_ = false;
  bool last_read_filled_ = false;  // the last read came back full: the client sends faster than we read
  bool paused_for_writes_ = false;
  bool paused_for_shards_ = false;  // routed() reads on once they have caught up
  bool flush_posted_ = false;
  uint8_t reads_unflushed_ = 0;           // reads whose batches wait for defer_flush
  uint8_t reads_seen_by_flush_ = 0;       // reads_unflushed_ when the posted flush was (re)posted
  bool shut_down_when_attached_ = false;  // the node stops while the session is taking the CONNECT
  bool closed_notified_ = false;
  bool disconnected_cleanly_ = false;  // the client's DISCONNECT discarded its will (MQTT-3.1.2-8)
  // Under write_mutex_.
  bool write_scheduled_ = false;
  bool close_requested_ = false;
  // Set by the session's close(), with its last packet, before the connection thread gets to it: a shard
  // writing QoS 0 to this connection meanwhile must not put a PUBLISH behind it (a DISCONNECT).
  bool writes_refused_ = false;
  bool session_attached_ = false;  // set by attached(), on the session's thread
  bool aliases_out_ = false;       // extras_->topic_aliases_out is in use: set at CONNECT, then read only
};

}  // namespace mqhub::net
