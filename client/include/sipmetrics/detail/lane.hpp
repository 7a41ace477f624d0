// A thread's lane as the hot path sees it, and the operations on it: adding to a cell, storing
// one, queuing a summary sample on the lane's ring. Everything here is inline and allocation-,
// lock- and syscall-free; binding a thread to its lane (cold) lives in attachment.hpp.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/cells.hpp>

namespace sipmetrics::detail {

inline constexpr std::uint32_t kMaxAttachments = 8;  // distinct segments one process may use
/// The attachment id of no-op handles (detached client, refused registration). Its lanes are
/// never bound, so its handles always take the slow path, which returns at once.
inline constexpr std::uint8_t kNoopAttachment = kMaxAttachments;

/// A registered series as a handle sees it.
struct SeriesRef {
  std::uint32_t cell = 0;    // first cell
  std::uint32_t series = 0;  // catalog index, tagged onto ring samples
  std::uint32_t attachment =
      kNoopAttachment;  // not a char type: stores through cells cannot alias it
};

/// What a handle needs to write: the thread's lane in one attachment. Plain data in a
/// zero-initialised thread_local array, so the hot path reads it without any init guard.
class Attachment;

struct LaneBinding {
  std::atomic<std::uint64_t>* cells;  // null until the thread's first write
  const Attachment* owner;            // the attachment this lane belongs to
  layout::Lane* lane;
  layout::RingEntry* ring;
  std::uint32_t ring_mask;
  std::uint32_t lane_index;
  bool shared;  // lane shared by several threads: read-modify-write must be atomic
  bool spill;   // the segment's spill lane (no slot or lane was free): counts and summaries
                // only, and a retry for a lane of its own when capacity_epoch moves
  const std::atomic<std::uint64_t>* capacity_epoch;  // the header's, while spill
  std::uint64_t seen_epoch;                          // its value when the thread was bound
};
inline thread_local LaneBinding tls_lanes[kMaxAttachments + 1];
/// Slots of tls_exclusive: a power of two past the no-op id, so that the C API's inline updates
/// index it with a handle word's low bits (an and, no bounds test); slots from kNoopAttachment
/// up are never set.
inline constexpr std::uint32_t kExclusiveSlots = 16;
static_assert(kExclusiveSlots > kNoopAttachment && (kExclusiveSlots & (kExclusiveSlots - 1)) == 0);
/// The thread's exclusive lane cells per attachment, or null (unbound, shared lane, no-op id):
/// the only thing the hot path reads before touching its cell. Kept apart from tls_lanes so it
/// is one 8-byte load at a scaled index.
#ifndef SIPMETRICS_C_LIBRARY
inline thread_local std::atomic<std::uint64_t>* tls_exclusive[kExclusiveSlots];
#else
// In libsipmetrics.so the array is also the C API's exported sipmetrics_thread_cells_, which
// <sipmetrics/sipmetrics.h>'s inline updates read (defined in client/src/sipmetrics_c.cpp).
extern constinit thread_local std::atomic<std::uint64_t>* tls_exclusive[kExclusiveSlots] __asm__(
    "sipmetrics_thread_cells_");
#endif

// An exclusive lane has exactly one writing thread, so a relaxed load and store cannot lose an
// update: no lock-prefixed instruction on the hot path. A shared lane falls back to atomic RMW.

/// Adds n to a counter's cell, saturating at 2^64 - 1 (saturating_add).
[[gnu::always_inline]] inline void count_add(const LaneBinding& b, std::uint32_t cell,
                                             std::uint64_t n) noexcept {
  std::atomic<std::uint64_t>& c = b.cells[cell];
  std::uint64_t old = c.load(std::memory_order_relaxed);
  if (!b.shared) [[likely]] {
    c.store(saturating_add(old, n), std::memory_order_relaxed);
    return;
  }
  while (!c.compare_exchange_weak(old, saturating_add(old, n), std::memory_order_relaxed)) {
  }
}

/// Adds n (two's complement: a negative step is a large n) to a cell that may wrap: a gauge's
/// integral part, a summary's count (+1 per sample: it cannot reach 2^64).
[[gnu::always_inline]] inline void cell_add(const LaneBinding& b, std::uint32_t cell,
                                            std::uint64_t n) noexcept {
  std::atomic<std::uint64_t>& c = b.cells[cell];
  if (!b.shared) [[likely]]
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  else
    c.fetch_add(n, std::memory_order_relaxed);
}

[[gnu::always_inline]] inline void cell_add_f64(const LaneBinding& b, std::uint32_t cell,
                                                double d) noexcept {
  std::atomic<std::uint64_t>& c = b.cells[cell];
  std::uint64_t old = c.load(std::memory_order_relaxed);
  if (!b.shared) [[likely]] {
    c.store(f64_bits(bits_f64(old) + d), std::memory_order_relaxed);
    return;
  }
  while (!c.compare_exchange_weak(old, f64_bits(bits_f64(old) + d), std::memory_order_relaxed)) {
  }
}

[[gnu::always_inline]] inline void cell_store(const LaneBinding& b, std::uint32_t cell,
                                              std::uint64_t v) noexcept {
  b.cells[cell].store(v, std::memory_order_relaxed);
}

/// Queues one sample for the daemon; counts it as dropped when the lane's ring is full.
[[gnu::always_inline]] inline void ring_push(const LaneBinding& b, std::uint32_t series,
                                             double v) noexcept {
  layout::Lane& l = *b.lane;
  const std::uint64_t cap = std::uint64_t{b.ring_mask} + 1;
  std::uint64_t head = l.ring_head.load(std::memory_order_relaxed);
  if (!b.shared) [[likely]] {
    if (head - l.cached_tail.load(std::memory_order_relaxed) >= cap) {
      const std::uint64_t tail = l.ring_tail.load(std::memory_order_acquire);
      l.cached_tail.store(tail, std::memory_order_relaxed);
      if (head - tail >= cap) {
        l.dropped.store(l.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return;
      }
    }
    layout::RingEntry& e = b.ring[head & b.ring_mask];
    e.value.store(f64_bits(v), std::memory_order_relaxed);
    e.tag.store(layout::ring_tag(head, series), std::memory_order_release);
    l.ring_head.store(head + 1, std::memory_order_relaxed);
    return;
  }
  // Shared lane: reserve a position first; the daemon waits for its tag before reading it.
  do {
    if (head - l.ring_tail.load(std::memory_order_acquire) >= cap) {
      l.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  } while (!l.ring_head.compare_exchange_weak(head, head + 1, std::memory_order_relaxed));
  layout::RingEntry& e = b.ring[head & b.ring_mask];
  e.value.store(f64_bits(v), std::memory_order_relaxed);
  e.tag.store(layout::ring_tag(head, series), std::memory_order_release);
}

inline std::uint64_t coarse_realtime_ns() noexcept {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);  // vDSO: no system call
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace sipmetrics::detail
