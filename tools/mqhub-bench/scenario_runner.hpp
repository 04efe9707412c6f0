#pragma once

#include "tools/mqhub-bench/options.hpp"
#include "tools/mqhub-bench/report.hpp"

namespace mqhub::bench {

/// Runs a message scenario (pairwise, fan-in, fan-out, shared): connect and subscribe everybody, warm up,
/// measure, stop sending and wait for stragglers, then count loss, duplicates and reordering.
run_result run_messages(const options& o);

}  // namespace mqhub::bench
