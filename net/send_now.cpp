#include "net/send_now.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

namespace mqhub::net {

size_t send_now(int fd, const std::vector<actors::out_buffer>& buffers) {
  constexpr size_t batch = std::min<size_t>(IOV_MAX, 256);
  std::array<iovec, batch> iov{};
  size_t sent = 0;
  size_t next = 0;  // first buffer not yet offered
  while (next < buffers.size()) {
    size_t count = 0;
    size_t offered = 0;
    for (; next + count < buffers.size() && count < batch; ++count) {
      const auto& b = *buffers[next + count];
      iov[count] = {const_cast<char*>(b.data()), b.size()};  // NOLINT(cppcoreguidelines-pro-type-const-cast)
      offered += b.size();
    }
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    ssize_t n = 0;
    do {
      n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
      return sent;
    sent += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < offered)
      return sent;  // the socket buffer is full
    next += count;
  }
  return sent;
}

}  // namespace mqhub::net
