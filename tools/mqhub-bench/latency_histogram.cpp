#include "tools/mqhub-bench/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mqhub::bench {

size_t latency_histogram::index_of(uint64_t ns) {
  if (ns < linear)
    return ns;
  const int shift =
      static_cast<int>(std::bit_width(ns)) - (sub_bits + 1);  // >= 1; ns >> shift is in [64, 128)
  return linear + static_cast<size_t>(shift - 1) * (size_t{1} << sub_bits) +
         static_cast<size_t>((ns >> shift) - (uint64_t{1} << sub_bits));
}

uint64_t latency_histogram::upper_value(size_t index) {
  if (index < linear)
    return index;
  const size_t rest = index - linear;
  const int shift = static_cast<int>(rest >> sub_bits) + 1;
  const uint64_t mantissa = (rest & ((size_t{1} << sub_bits) - 1)) + (uint64_t{1} << sub_bits);
  return ((mantissa + 1) << shift) - 1;
}

void latency_histogram::record(uint64_t ns) {
  ++buckets_[std::min(index_of(ns), size - 1)];
  ++count_;
  max_ = std::max(max_, ns);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (size_t i = 0; i < size; ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t latency_histogram::percentile(double q) const {
  if (count_ == 0)
    return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < size; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<uint64_t>(rank, 1))
      return std::min(upper_value(i), max_);
  }
  return max_;
}

std::vector<cdf_point> latency_histogram::cdf() const {
  std::vector<cdf_point> points;
  if (count_ == 0)
    return points;
  std::vector<double> steps;
  for (int i = 1; i < 50; ++i)
    steps.push_back(i / 50.0);
  steps.insert(steps.end(), {0.995, 0.999, 0.9999, 1.0});
  size_t next = 0;
  uint64_t seen = 0;
  for (size_t i = 0; i < size && next < steps.size(); ++i) {
    if (buckets_[i] == 0)
      continue;
    seen += buckets_[i];
    const double fraction = static_cast<double>(seen) / static_cast<double>(count_);
    if (fraction < steps[next] && seen != count_)
      continue;
    points.push_back({std::min(upper_value(i), max_), fraction});
    while (next < steps.size() && steps[next] <= fraction)
      ++next;
  }
  return points;
}

}  // namespace mqhub::bench
