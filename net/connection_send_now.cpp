#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "net/connection_base.hpp"

namespace mqhub::net {

namespace {

// More than this is not light load: the connection's thread writes it with one writev.
constexpr size_t max_buffers_sent_now = 16;

}  // namespace

thread_local bool connection_base::in_light_flush_ = false;

void connection_base::schedule_write() {
  // At light load, waking the subscriber's thread costs more than the send: a thread switch per message,
  // and on a busy machine a wait for a core. Under load the woken thread drains many routers' deliveries in
  // one write, so this stays for light flushes.
  if (in_light_flush_) {
    if (int socket = transport_socket(); socket >= 0 && send_now(socket))
      return;
  }
  post_start_write();
}

bool connection_base::send_now(int socket) {
  std::vector<actors::out_buffer> sending;
  {
    std::lock_guard guard{write_mutex_};
    // A queue near the write buffer limit may stop the connection's reading (read_more), which only its own
    // on_written resumes: its thread writes that.
    if (close_requested_ || pending_.size() > max_buffers_sent_now ||
        pending_bytes() > services_->limits.write_buffer_limit / 2)
      return false;
    sending.swap(pending_);
  }
  std::array<iovec, max_buffers_sent_now> parts{};
  for (size_t i = 0; i < sending.size(); ++i)
    parts[i] = {const_cast<char*>(sending[i]->data()), sending[i]->size()};  // sendmsg only reads them
  msghdr message{};
  message.msg_iov = parts.data();
  message.msg_iovlen = sending.size();
  // Errors are the connection thread's to meet: its write fails the same way and ends the connection.
  auto result = ::sendmsg(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  auto sent = static_cast<size_t>(std::max<ssize_t>(result, 0));
  pending_bytes_.fetch_sub(sent, std::memory_order_relaxed);
  auto unsent = sending.begin();
  while (unsent != sending.end() && sent >= (*unsent)->size())
    sent -= (*unsent++)->size();
  sending.erase(sending.begin(), unsent);
  if (sent > 0)
    sending.front() = std::make_shared<const std::string>(sending.front()->substr(sent));

  std::lock_guard guard{write_mutex_};
  if (sending.empty() && pending_.empty() && !close_requested_) {
    write_scheduled_ = false;
    return true;
  }
  // The connection's thread takes over: what this send left, then what was queued meanwhile.
  sending.insert(sending.end(), std::make_move_iterator(pending_.begin()),
                 std::make_move_iterator(pending_.end()));
  pending_.swap(sending);
  return false;
}

}  // namespace mqhub::net
