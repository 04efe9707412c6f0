#pragma once

#include "actors/message.hpp"
#include "cluster/wire_types.hpp"

namespace mqhub::actors {

/// Converts between the routed message of this node and the form it crosses to another node in
/// (cluster/wire_types.hpp), as stored_form does for the store. `now` is this node's steady clock, read once
/// by the caller: an expiry leaves as time left and comes back as a deadline on the receiver's clock.
cluster::wire_message to_wire(const message& msg, clock::time_point now);
message_ptr from_wire(cluster::wire_message&& wire, clock::time_point now);

}  // namespace mqhub::actors
