#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace mqhub::bench {

/// One reading of a process's CPU time and resident memory from /proc.
struct proc_sample {
  std::chrono::steady_clock::time_point at;
  double cpu_seconds = 0;  // user + system, all threads
  uint64_t rss_kib = 0;
};

/// Reads /proc/PID (pid 0 = this process); nullopt when the process is gone or /proc is unreadable.
std::optional<proc_sample> sample_process(int pid);

/// CPU use between two samples in percent of one core (200 = two cores busy).
double cpu_percent(const proc_sample& from, const proc_sample& to);

}  // namespace mqhub::bench
