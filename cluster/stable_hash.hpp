#pragma once

#include <cstdint>
#include <string_view>

namespace mqhub::cluster {

/// A hash that every node and every build computes alike, unlike std::hash: nodes must agree on which shard
/// owns a topic and which node owns a shard. Eight little-endian bytes at a time, each multiplied in, then
/// the splitmix64 finalizer so that keys differing in one byte spread over all bits.
uint64_t stable_hash(std::string_view bytes);

/// Mixes two 64-bit values into one well-spread value (the splitmix64 finalizer over their combination).
uint64_t mix(uint64_t a, uint64_t b);

}  // namespace mqhub::cluster
