#pragma once

#include "tools/mqhub-bench/options.hpp"
#include "tools/mqhub-bench/report.hpp"

namespace mqhub::bench {

/// Opens --connections connections (CONNECT/CONNACK) with at most --concurrency handshakes in flight and
/// reports connections/s; with --idle, holds them all open and reports the broker's RSS growth per
/// connection.
run_result run_connect_storm(const options& o);

}  // namespace mqhub::bench
