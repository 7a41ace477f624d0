// Native (sparse exponential) histogram buckets as the segment keeps them: a window of
// consecutive bucket indexes at one schema (see layout::MetricType::kNativeHistogram), the rule
// for which windows are valid, and their edges. Bucket `index` of schema s holds observations in
// (2^((index - 1) / 2^s), 2^(index / 2^s)], as in client_golang and Prometheus. The client picks
// and writes a window at registration; the daemon reads it back from shared memory and checks it
// again.
#pragma once

#include <cmath>
#include <cstdint>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

/// A native histogram's window: `buckets` consecutive indexes from `first`. Observations at or
/// below the window's lower edge go to the zero bucket, those above it to its last bucket.
struct NativeWindow {
  std::int32_t first = 0;     // index of native bucket 0
  std::uint16_t buckets = 0;  // K; 0: not a native histogram
  std::int8_t schema = 0;     // 0..kMaxNativeSchema: a bucket's edges differ by 2^(2^-schema)
  friend bool operator==(const NativeWindow&, const NativeWindow&) = default;
};

/// Whether a window may be stored: schema 0..kMaxNativeSchema, 1..kMaxNativeBuckets buckets,
/// and both edges finite normal doubles (2^-1022 <= lower edge, upper edge < 2^1024).
constexpr bool native_window_valid(const NativeWindow& w) noexcept {
  if (w.schema < 0 || w.schema > layout::kMaxNativeSchema || w.buckets < 1 ||
      w.buckets > layout::kMaxNativeBuckets)
    return false;
  const std::int64_t scale = std::int64_t{1} << w.schema;
  const std::int64_t lower = std::int64_t{w.first} - 1;  // index whose upper edge is the lower
  const std::int64_t upper = std::int64_t{w.first} + w.buckets - 1;
  return lower >= -1022 * scale && upper < 1024 * scale;
}

/// The upper edge of bucket `index`: 2^(index / 2^schema).
inline double native_edge(std::int32_t schema, std::int64_t index) noexcept {
  return std::exp2(static_cast<double>(index) / static_cast<double>(std::int64_t{1} << schema));
}

/// The zero bucket's threshold: the window's lower edge. Observations at or below it (0 and
/// negatives included) are counted in the zero bucket.
inline double native_zero_threshold(const NativeWindow& w) noexcept {
  return native_edge(static_cast<std::uint8_t>(w.schema), std::int64_t{w.first} - 1);
}

}  // namespace sipmetrics::detail
