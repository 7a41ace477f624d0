// Cell shapes: how many value cells a series of each type owns in every lane, what each cell
// holds, and the bit casts between cell words and doubles. Both sides follow this one
// definition: the client writes cells by it, the daemon combines and folds them by it.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

inline std::uint64_t f64_bits(double v) noexcept { return std::bit_cast<std::uint64_t>(v); }
inline double bits_f64(std::uint64_t v) noexcept { return std::bit_cast<double>(v); }

/// Whether a summary sample is recorded: finite and not negative. Anything else (NaN, ±Inf, a
/// negative value: a clock stepping back, a missing reading) is counted and left out, so that
/// `_sum`, `_count` and the quantiles stay those of real observations, and every format stays
/// valid for its own parser (OpenMetrics forbids a NaN or negative `_sum` and negative
/// quantiles). The daemon applies the same rule to every sum and sample it reads.
/// One integer compare of the bits: a clear sign bit (so -0.0 counts as negative) and an
/// exponent below all-ones (not NaN, not Inf).
inline bool valid_sample(double v) noexcept {
  return std::bit_cast<std::uint64_t>(v) < 0x7ff0'0000'0000'0000ULL;
}

/// Cells a series of this type owns in every lane; 0 for a type this layout cannot register.
/// A histogram owns one per finite bound (`bounds` of them, 1..kMaxHistogramBounds), one for
/// +Inf, its sum and its count; a native one also its zero bucket and its `native` buckets
/// (1..kMaxNativeBuckets).
constexpr std::uint32_t cells_for(layout::MetricType t, std::uint32_t bounds = 0,
                                  std::uint32_t native = 0) noexcept {
  switch (t) {
    case layout::MetricType::kCounter: return 1;
    case layout::MetricType::kGauge:              // value and integral part, or value and stamp
    case layout::MetricType::kSummary: return 2;  // sum and count
    case layout::MetricType::kHistogram:
      return bounds >= 1 && bounds <= layout::kMaxHistogramBounds ? bounds + 3 : 0;
    case layout::MetricType::kNativeHistogram:
      return bounds >= 1 && bounds <= layout::kMaxHistogramBounds && native >= 1 &&
                     native <= layout::kMaxNativeBuckets
                 ? bounds + 4 + native
                 : 0;
  }
  return 0;
}

/// What one cell of a series holds, and so how it combines across lanes and writers.
enum class CellRole : std::uint8_t {
  kUnused = 0,   // no valid series owns it: never read, never folded
  kCount,        // u64 (counter, summary count, histogram bucket and count): summed; kept when
                 // its writer dies
  kSum,          // f64 bits (summary and histogram sum): summed; kept when its writer dies
  kGaugeSum,     // f64 bits of a sum-mode gauge: summed over live writers
  kGaugeSumInt,  // i64 of a sum-mode gauge (its integral add()s): summed over live writers
  kGaugeMax,     // f64 bits of a max-mode gauge: the largest over live writers; stamp follows
  kGaugeMin,     // f64 bits of a min-mode gauge: the smallest; stamp follows
  kGaugeLast,    // f64 bits of a last-mode gauge: the newest by stamp; stamp follows
  kGaugeStamp,   // u64: 0 = never set; last mode: coarse realtime ns of the set
};

/// The role of cell `i` (0-based) of a series of `count` cells (cells_for() of its shape).
constexpr CellRole cell_role(layout::MetricType type, layout::GaugeMode mode, std::uint32_t i,
                             std::uint32_t count) noexcept {
  if (i >= count) return CellRole::kUnused;
  switch (type) {
    case layout::MetricType::kCounter: return i == 0 ? CellRole::kCount : CellRole::kUnused;
    case layout::MetricType::kSummary: return i == 0 ? CellRole::kSum : CellRole::kCount;
    case layout::MetricType::kHistogram:        // buckets, +Inf, sum, count
    case layout::MetricType::kNativeHistogram:  // buckets, +Inf, zero, native, sum, count
      return i == count - 2 ? CellRole::kSum : CellRole::kCount;
    case layout::MetricType::kGauge:
      if (i == 1)
        return mode == layout::GaugeMode::kSum ? CellRole::kGaugeSumInt : CellRole::kGaugeStamp;
      switch (mode) {
        case layout::GaugeMode::kSum: return CellRole::kGaugeSum;
        case layout::GaugeMode::kMax: return CellRole::kGaugeMax;
        case layout::GaugeMode::kMin: return CellRole::kGaugeMin;
        case layout::GaugeMode::kLast: return CellRole::kGaugeLast;
      }
      break;
  }
  return CellRole::kUnused;
}

/// Whether a cell's value outlives its writer: folded into the retained totals when the writer
/// dies (counts and sums), rather than dropped with it (gauges).
constexpr bool retained_role(CellRole r) noexcept {
  return r == CellRole::kCount || r == CellRole::kSum;
}

/// a + b, or 2^64 - 1 when that overflows: a count saturates instead of wrapping, so a counter
/// (added to in lanes, summed by the daemon, folded into retained totals) never goes backwards.
constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t s = 0;
  return __builtin_add_overflow(a, b, &s) ? ~std::uint64_t{0} : s;
}

/// A sum-mode gauge's value in one lane: its f64 cell plus its integral i64 cell.
inline double gauge_sum_value(const std::atomic<std::uint64_t>* cells,
                              std::uint32_t cell) noexcept {
  return bits_f64(cells[cell].load(std::memory_order_relaxed)) +
         static_cast<double>(
             static_cast<std::int64_t>(cells[cell + 1].load(std::memory_order_relaxed)));
}

/// True (and `out` set) when d is an integer small enough to be exact as a double: such a
/// step of a sum-mode gauge goes to its integral cell, where it stays exact.
[[gnu::always_inline]] inline bool integral(double d, std::int64_t& out) noexcept {
  if (!(d >= -0x1p53 && d <= 0x1p53)) return false;  // also false for NaN
  out = static_cast<std::int64_t>(d);
  return static_cast<double>(out) == d;
}

/// The first cell index >= `at` from which `n` consecutive cells are all allocatable (none is
/// layout::cell_reserved). `n` must be at most kCellsPerPage - kAliasedCells.
constexpr std::uint32_t first_fit(std::uint32_t at, std::uint32_t n) noexcept {
  const std::uint32_t in_page = at % layout::kCellsPerPage;
  if (in_page < layout::kAliasedCells) return at - in_page + layout::kAliasedCells;
  if (in_page + n > layout::kCellsPerPage)
    return at - in_page + layout::kCellsPerPage + layout::kAliasedCells;
  return at;
}

}  // namespace sipmetrics::detail
