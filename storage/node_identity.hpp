#pragma once

#include <string>
#include <string_view>

#include "storage/database.hpp"
#include "storage/result.hpp"

namespace mqhub::storage {

/// The name of the node whose data a database holds. A data dir belongs to one node: its queues and sessions
/// are that node's share of the cluster, so starting it under another name by mistake would hand them to a
/// node that does not exist.
///
/// A database that names no node yet records `requested`, or `fallback` when `requested` is empty. A
/// database that names one keeps it: an empty `requested` takes the stored name, another name is an
/// errc::identity_mismatch error that says which name to use.
result<std::string> claim_node_name(database& db, std::string_view requested, std::string_view fallback);

}  // namespace mqhub::storage
