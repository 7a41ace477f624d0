// Histogram bucket bounds: the one rule for which bounds are valid, and their bytes in the
// segment arena (see layout::SeriesEntry). The client checks and writes them at registration
// (cold path); the daemon reads them back from shared memory and checks them again.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

static_assert(std::endian::native == std::endian::little,
              "bounds are stored as native doubles and read in place by the client");

/// Whether `bounds` may be a histogram's finite bucket bounds: 1 to kMaxHistogramBounds of
/// them, each finite (no NaN, no ±Inf: +Inf is always the last bucket), none negative, strictly
/// increasing (so no duplicates; -0 and 0 are the same bound). Not negative because OpenMetrics
/// allows no _sum beside a negative bucket: histograms here measure durations and sizes.
inline bool valid_bounds(std::span<const double> bounds) noexcept {
  if (bounds.empty() || bounds.size() > layout::kMaxHistogramBounds || !(bounds[0] >= 0))
    return false;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

/// Arena bytes the bounds take (they start at an arena offset that is a multiple of 8).
constexpr std::uint64_t bounds_bytes(std::uint32_t bounds) noexcept {
  return std::uint64_t{bounds} * sizeof(double);
}

/// Writes valid `bounds` at `out` (8-byte aligned), -0 as 0 so that `le` never reads "-0".
inline void write_bounds(std::span<const double> bounds, char* out) noexcept {
  for (double b : bounds) {
    const double v = b + 0.0;  // -0 + 0 == +0
    std::memcpy(out, &v, sizeof v);
    out += sizeof v;
  }
}

/// Copies bounds out of untrusted arena bytes into `out` (bytes.size() / 8 of them) and checks
/// them; false when they are not valid_bounds(). `out` must hold kMaxHistogramBounds doubles.
inline bool read_bounds(std::span<const char> bytes, double* out) noexcept {
  const std::size_t n = bytes.size() / sizeof(double);
  if (n * sizeof(double) != bytes.size() || n > layout::kMaxHistogramBounds) return false;
  std::memcpy(out, bytes.data(), bytes.size());
  return valid_bounds(std::span<const double>(out, n));
}

/// Whether stored arena bytes are exactly these (valid) bounds as write_bounds() writes them.
inline bool bounds_equal(std::span<const char> bytes, std::span<const double> bounds) noexcept {
  if (bytes.size() != bounds_bytes(static_cast<std::uint32_t>(bounds.size()))) return false;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    double stored = 0;
    std::memcpy(&stored, bytes.data() + i * sizeof(double), sizeof stored);
    if (!(stored == bounds[i])) return false;
  }
  return true;
}

}  // namespace sipmetrics::detail
