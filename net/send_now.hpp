#pragma once

#include <cstddef>
#include <vector>

#include "actors/connection_sink.hpp"

namespace mqhub::net {

/// Sends what of `buffers` the socket `fd` takes without blocking, with as few sendmsg calls as the iovec
/// limit allows; returns the bytes sent. Stops at EAGAIN or an error (0 bytes then), which the caller's
/// queued write meets again and reports.
size_t send_now(int fd, const std::vector<actors::out_buffer>& buffers);

}  // namespace mqhub::net
