// Which bucket a histogram observation lands in: the hot path's search over the histogram's
// sorted bounds (at most layout::kMaxHistogramBounds of them, read in place from the arena).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sipmetrics::detail {

// Both searches return the index of the first bound b with v <= b, or n when there is none.
// They ask `!(v <= b)` rather than `v > b`, so NaN compares past every bound and lands in the
// +Inf bucket (index n). Neither reads outside bounds[0, n) nor returns more than n whatever the
// bounds hold: a scribbled arena can misplace an observation, never write outside the series.

/// Branch-free binary search: ceil(log2(n)) + 1 dependent loads, so its cost does not depend on
/// v, no branch can be mispredicted, and 64 bounds cost 7 steps. What Histogram::observe uses:
/// with kSipLatencyBucketsMs an observe costs the same with either search (BM_Histogram_Observe),
/// and this one does not grow linearly with the bound count. n >= 1.
[[gnu::always_inline]] inline std::uint32_t bucket_index(const double* bounds, std::uint32_t n,
                                                         double v) noexcept {
  const double* base = bounds;
  std::uint32_t len = n;
  while (len > 1) {
    const std::uint32_t half = len / 2;
    // A multiply, not a ?: (which GCC 12 turns into a branch): the step is data, not control.
    base += std::size_t{half} * static_cast<std::size_t>(!(v <= base[half - 1]));
    len -= half;
  }
  return static_cast<std::uint32_t>(base - bounds) + (!(v <= *base) ? 1u : 0u);
}

/// Branch-free linear count of the bounds below v: n independent compares. The benchmark's
/// comparison point for bucket_index (BM_Histogram_BucketIndex).
[[gnu::always_inline]] inline std::uint32_t bucket_index_linear(const double* bounds,
                                                                std::uint32_t n,
                                                                double v) noexcept {
  std::uint32_t index = 0;
  for (std::uint32_t i = 0; i < n; ++i) index += !(v <= bounds[i]) ? 1u : 0u;
  return index;
}

}  // namespace sipmetrics::detail
