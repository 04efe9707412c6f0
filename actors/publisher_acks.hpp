#pragma once

#include <cstdint>

#include "actors/messages.hpp"
#include "storage/result.hpp"

namespace mqhub::actors {

/// Answers the publisher of `batch` once its messages are taken (stored, in the durable modes): PUBACK or
/// PUBREC per acknowledgement, with the reason code `outcome` gives an MQTT 5 client; a 3.1.1 client, which
/// cannot be refused, is disconnected and resends. Its session hears whether its QoS 2 messages are stored.
/// The shard that routed the batch calls it, and so does the cluster router for a batch another node took.
void acknowledge_publisher(const publish_batch& batch, const storage::status& outcome);

/// The outcome of a storage step as it crosses to another node in a cluster::forward_ack, and back.
uint8_t forward_ack_code(const storage::status& outcome);
storage::status forward_ack_status(uint8_t code);

}  // namespace mqhub::actors
