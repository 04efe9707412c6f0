#pragma once

#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>

namespace mqhub::net {

/// The buffers of one write as one contiguous buffer in `scratch`. For TLS: Asio's TLS stream encrypts only
/// the first buffer of a sequence per record, so a write of many small packets (PUBACKs, small PUBLISHes)
/// would become as many records and system calls; one copy is cheap next to the encryption.
inline boost::asio::const_buffer coalesce(const std::vector<boost::asio::const_buffer>& buffers,
                                          std::string& scratch) {
  if (buffers.size() == 1)
    return buffers.front();
  // A burst's large buffer is not kept by a connection that goes back to idle.
  constexpr size_t keep_at_most = size_t{256} * 1024;
  if (scratch.capacity() > keep_at_most)
    std::string().swap(scratch);
  scratch.clear();
  scratch.reserve(boost::asio::buffer_size(buffers));
  for (const auto& b : buffers)
    scratch.append(static_cast<const char*>(b.data()), b.size());
  return boost::asio::buffer(scratch);
}

}  // namespace mqhub::net
