// Writer housekeeping: tells live writers from dead ones and folds the dead ones' state into the
// retained totals (by the rules of snapshot.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sipmetrics/segment/view.hpp>

#include "catalog.hpp"
#include "drain.hpp"

namespace sipmetrics {

/// One writer slot as an operator sees it.
struct WriterInfo {
  std::uint32_t slot = 0;
  std::uint32_t pid = 0;  // in the writer's PID namespace
  std::string name;
  bool alive = false;
  std::uint32_t lanes = 0;
  std::uint64_t attached_unix_ns = 0;
};

/// Not thread-safe: the exporter calls it under its lock.
class WriterTracker {
 public:
  WriterTracker(const detail::SegmentView& view, int fd) : view_(view), fd_(fd) {}

  /// Checks every claimed slot. A writer whose lock byte is free is dead: its remaining samples
  /// are drained, its counters and summary sums/counts are folded into the retained totals, its
  /// gauges dropped, its lanes zeroed and returned to the pool and its slot freed. Also resumes
  /// a fold that a previous daemon left unfinished. Lanes owned by no writer (an owner field
  /// naming a slot that does not exist, or a free slot with no process behind it) are folded
  /// and freed the same way. Returns the number of writers folded.
  std::uint32_t sweep(Catalog& catalog, Drainer& drainer, std::int64_t now_ns);

  /// Writers whose slot says live: known at once after an attach, and a dead writer drops out
  /// at the next sweep.
  std::uint32_t live_writers() const noexcept;
  /// Lanes owned by any writer, now.
  std::uint32_t lanes_in_use() const noexcept;
  /// Current view of every non-free slot.
  std::vector<WriterInfo> writers() const;
  /// Lanes found owned by no writer, and freed (each counts once).
  std::uint64_t orphan_lanes() const noexcept { return orphan_lanes_; }

 private:
  void fold(std::uint32_t slot, Catalog& catalog, Drainer& drainer, std::int64_t now_ns);
  /// Drains `lanes`, adds their counters and summary sums/counts and drop counts to the
  /// retained totals (into the inactive array, then flips the epoch) and returns them zeroed to
  /// the pool. `slot`, when given, records the flip so a daemon dying mid-fold never folds twice.
  void fold_lanes(const std::vector<std::uint32_t>& lanes, layout::WriterSlot* slot,
                  Catalog& catalog, Drainer& drainer, std::int64_t now_ns);

  detail::SegmentView view_;
  int fd_;
  std::uint64_t orphan_lanes_ = 0;
};

}  // namespace sipmetrics
