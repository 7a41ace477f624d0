// How cells combine across lanes and writers: the one place that rule lives. A series' value is
// its retained total (what writers now gone left behind, kept in the segment) plus the cells of
// every lane still owned by a writer. Counts and sums add up and are folded into the retained
// totals when their writer dies; gauges count only while their writer lives, and max/min/last
// gauges keep one contribution by gauge_prefers(). The exporter's scrapes, writer housekeeping's
// folds, the segment report and the tests all go through these functions. Counts add up
// saturating at 2^64 - 1 (detail::saturating_add): a counter stops there rather than wrapping.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/view.hpp>

#include "catalog.hpp"

namespace sipmetrics {

/// The retained-totals array in force now (selected by Header::retained_epoch).
const std::atomic<std::uint64_t>* current_retained(const detail::SegmentView& v) noexcept;

/// Whether lane `l`'s cells count: the spill lane always; any other while it is owned by a
/// writer, alive or dead and not yet folded.
bool lane_counted(const detail::SegmentView& v, std::uint32_t l) noexcept;

/// A summary sum word as a double: 0 unless it holds a valid sum (detail::valid_sample), so a
/// scribbled NaN or negative word never reaches the exposition or the retained totals.
double sum_word(std::uint64_t bits) noexcept;

/// A retained cell word with one lane's word of the same cell folded in: counts add as u64
/// (saturating), sums as f64 (sum_word); any other role leaves the retained word as it is (gauges
/// die with their writer).
std::uint64_t fold_cell(CellRole role, std::uint64_t retained, std::uint64_t lane) noexcept;

/// Whether a max/min/last gauge contribution (v, stamp) replaces the best one so far
/// (`best`, `best_stamp`; `have` is false while there is none). Stamps order kLast gauges.
constexpr bool gauge_prefers(layout::GaugeMode mode, double v, std::uint64_t stamp, bool have,
                             double best, std::uint64_t best_stamp) noexcept {
  if (!have) return true;
  switch (mode) {
    case layout::GaugeMode::kMax: return v > best;
    case layout::GaugeMode::kMin: return v < best;
    case layout::GaugeMode::kLast: return stamp >= best_stamp;
    case layout::GaugeMode::kSum: return false;
  }
  return false;
}

/// Per-cell totals of one moment, indexed by cell. `u`: counts; for a max/min/last gauge's value
/// cell, 1 when some live lane set it, and in its stamp cell the stamp of the value kept. `f`:
/// sums and gauge values (a sum-mode gauge's integral cell as a double).
struct CellTotals {
  std::vector<std::uint64_t> u;
  std::vector<double> f;
};

/// Totals of every cell a catalog series owns, read from the segment now.
void take_snapshot(const detail::SegmentView& v, const Catalog& catalog, CellTotals& out);

/// One count cell's total: retained plus every counted lane.
std::uint64_t count_total(const detail::SegmentView& v, std::uint32_t cell) noexcept;

/// Summary samples dropped by full rings: by writers now gone plus every counted lane.
std::uint64_t dropped_samples(const detail::SegmentView& v) noexcept;

}  // namespace sipmetrics
