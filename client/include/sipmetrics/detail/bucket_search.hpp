// Which bucket a histogram observation lands in: the hot path's search over the histogram's
// sorted bounds (at most layout::kMaxHistogramBounds of them, read in place from the arena).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

// Both searches return the index of the first bound b with v <= b, or n when there is none.
// They ask `!(v <= b)` rather than `v > b`, so NaN compares past every bound and lands in the
// +Inf bucket (index n). Neither reads outside bounds[0, n) nor returns more than n whatever the
// bounds hold: a scribbled arena can misplace an observation, never write outside the series.

/// Branch-free binary search: ceil(log2(n)) + 1 dependent loads, so its cost does not depend on
/// v, no branch can be mispredicted, and 64 bounds cost 7 steps. n >= 1.
[[gnu::always_inline]] inline std::uint32_t bucket_index_binary(const double* bounds,
                                                                std::uint32_t n,
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

/// Branch-free linear count of the bounds below v: n independent compares, which a core runs
/// side by side, where the binary search's steps wait on each other.
[[gnu::always_inline]] inline std::uint32_t bucket_index_linear(const double* bounds,
                                                                std::uint32_t n,
                                                                double v) noexcept {
  std::uint32_t index = 0;
  for (std::uint32_t i = 0; i < n; ++i) index += !(v <= bounds[i]) ? 1u : 0u;
  return index;
}

/// Up to this many bounds the linear count is the cheaper search (BM_Histogram_BucketIndex:
/// 14 bounds cost 3.2 ns linear against 5.9 ns binary on an EPYC); past it the binary search's
/// log2(n) steps win.
inline constexpr std::uint32_t kLinearSearchBounds = 16;

/// What Histogram::observe uses: the linear count for the usual few bounds (kSipLatencyBucketsMs
/// has 14, a schema-3 native octave 8), the binary search for more. The branch is on n, the same
/// for every observation of a series, so it is always predicted.
[[gnu::always_inline]] inline std::uint32_t bucket_index(const double* bounds, std::uint32_t n,
                                                         double v) noexcept {
  return n <= kLinearSearchBounds ? bucket_index_linear(bounds, n, v)
                                  : bucket_index_binary(bounds, n, v);
}

/// The 2^schema mantissa bounds of a native schema: 2^(i / 2^schema) / 2 for i < 2^schema, the
/// upper edges of one octave's buckets scaled into [0.5, 1). Computed once per process, at the
/// first native registration (cold path); the hot path reads them in place.
inline const double* native_mantissa_bounds(std::int32_t schema) noexcept {
  using Table = std::array<double, layout::kMaxNativeBuckets>;
  static const std::array<Table, layout::kMaxNativeSchema + 1> tables = [] {
    std::array<Table, layout::kMaxNativeSchema + 1> t{};
    for (std::int32_t s = 0; s <= layout::kMaxNativeSchema; ++s) {
      const std::int32_t n = std::int32_t{1} << s;
      for (std::int32_t i = 0; i < n; ++i)
        t[static_cast<std::size_t>(s)][static_cast<std::size_t>(i)] =
            std::exp2(static_cast<double>(i) / n) / 2;
    }
    return t;
  }();
  return tables[static_cast<std::size_t>(schema)].data();
}

/// The native bucket index of v at a schema: the smallest index with v <= 2^(index / 2^schema),
/// client_golang's ceil(log2(v) * 2^schema) computed from v's bits: v = m * 2^e with m in
/// [0.5, 1) (m and e as frexp() gives them, taken from the exponent and mantissa fields), then
/// a search of m over the schema's mantissa bounds. Exact for positive normal v; +Inf gives
/// 1024 * 2^schema, past every window, and 0, subnormals, negatives and NaN indexes the caller must
/// not use as they are (Histogram::native_cell sends them elsewhere). Branch-free.
[[gnu::always_inline]] inline std::int32_t native_index(const double* mantissa_bounds,
                                                        std::int32_t schema, double v) noexcept {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
  const std::int32_t e = static_cast<std::int32_t>((bits >> 52) & 0x7ff) - 1022;
  const double m =
      std::bit_cast<double>((bits & 0x000f'ffff'ffff'ffffULL) | 0x3fe0'0000'0000'0000ULL);
  return static_cast<std::int32_t>(bucket_index(mantissa_bounds, std::uint32_t{1} << schema, m)) +
         (e - 1) * (std::int32_t{1} << schema);
}

}  // namespace sipmetrics::detail
