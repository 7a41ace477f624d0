// The daemon's own event counts, kept in the segment header (layout::Header::corrupt,
// series_rejected, unknown_label_series, samples_drained) rather than in the process, so that a
// restarted daemon continues them: served as counters, they never go back.
#pragma once

#include <atomic>
#include <cstdint>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/view.hpp>

namespace sipmetrics {

/// Adds one to `counter` unless `flags` (an entry's daemon_flags) already has `bit`, and sets
/// it: an entry is counted once for the life of the segment, whatever reloads and restarts.
inline void count_once(std::atomic<std::uint32_t>& flags, std::uint32_t bit,
                       std::atomic<std::uint64_t>& counter) noexcept {
  if ((flags.fetch_or(bit, std::memory_order_relaxed) & bit) == 0)
    counter.fetch_add(1, std::memory_order_relaxed);
}

/// One of the daemon's own event counts in the header (Header::corrupt).
inline std::atomic<std::uint64_t>& corrupt_count(const detail::SegmentView& v,
                                                 layout::Corrupt where) noexcept {
  return v.header().corrupt[static_cast<std::uint32_t>(where)];
}

}  // namespace sipmetrics
