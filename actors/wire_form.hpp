#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/message.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// Converts between the routed messages of this node and the batch they cross to another node in
/// (cluster::message_batch), as stored_form does for the store. `now` is this node's steady clock, read once
/// by the caller: an expiry leaves as time left and comes back as a deadline on the receiver's clock.

/// Appends `msg` to `batch`. `shared_groups`: in a delivery_forward, the shared subscriptions
/// (`$share/{group}/{filter}`) the owner chose the receiving node for, which gives the message to one of its
/// own members of each.
void append_to_batch(cluster::message_batch& batch, const message& msg, clock::time_point now,
                     const std::vector<std::string_view>& shared_groups = {});

/// A message read from a batch, with the shared groups it was sent for.
struct arrived_message {
  message_ptr msg;
  std::vector<std::string> shared_groups;
};

/// The messages of `batch` in order, or none when the batch is damaged or of an unknown format: it came from
/// another process, so nothing in it is trusted to size an allocation.
std::optional<std::vector<arrived_message>> read_batch(const cluster::message_batch& batch,
                                                       clock::time_point now);

}  // namespace mqhub::actors
