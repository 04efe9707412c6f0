#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mqhub::storage {

/// The promise a PUBACK/PUBREC makes (config `durability`).
enum class durability : uint8_t {
  sync,    // in the WAL and fsynced: survives power loss (default)
  wal,     // in the WAL, not fsynced: survives a process crash, not a power loss
  memory,  // not stored at all; no database is opened
};

/// Parses "sync", "wal" or "memory".
std::optional<durability> parse_durability(std::string_view text);

std::string_view to_string(durability mode);

}  // namespace mqhub::storage
