#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mqhub::bench {

enum class phase : uint8_t { connecting, warmup, measure, drain };

/// What the control thread and the I/O threads share during one run.
struct run_state {
  std::atomic<phase> now{phase::connecting};
  std::atomic<uint32_t> ready{0};  // clients connected (and subscribed)
  std::atomic<uint32_t> failures{0};

  void fail(std::string_view why) {
    const std::lock_guard lock(mutex_);
    if (failures.fetch_add(1) == 0)
      first_error_ = why;
  }
  std::string first_error() {
    const std::lock_guard lock(mutex_);
    return first_error_;
  }

 private:
  std::mutex mutex_;
  std::string first_error_;
};

/// Closed-loop QoS 0: how many of one publisher's messages each of its receivers got. Subscribers add to it
/// once per read; the publisher sleeps on `waiting` when its window is full and is woken through `wake`.
struct delivery_feedback {
  explicit delivery_feedback(size_t receivers) : delivered(receivers) {}

  std::vector<std::atomic<uint64_t>> delivered;  // one slot per receiver (fan-out) or one shared slot
  std::atomic<bool> waiting{false};
  std::function<void()> wake;

  uint64_t min_delivered() const {
    uint64_t low = UINT64_MAX;
    for (const auto& d : delivered)
      low = std::min(low, d.load());
    return low;
  }

  void add(size_t slot, uint64_t n) {
    delivered[slot].fetch_add(n);
    // seq_cst on both sides: either the publisher sees this count or we see its waiting flag.
    if (waiting.load() && waiting.exchange(false))
      wake();
  }
};

}  // namespace mqhub::bench
