#include "storage/durability.hpp"

namespace mqhub::storage {

std::optional<durability> parse_durability(std::string_view text) {
  if (text == "sync") {
    return durability::sync;
  }
  if (text == "wal") {
    return durability::wal;
  }
  if (text == "memory") {
    return durability::memory;
  }
  return std::nullopt;
}

std::string_view to_string(durability mode) {
  switch (mode) {
    case durability::sync:
      return "sync";
    case durability::wal:
      return "wal";
    case durability::memory:
      return "memory";
  }
  return "unknown";
}

}  // namespace mqhub::storage
