#include "writer_tracker.hpp"

#include <cstring>
#include "segment_counts.hpp"

#include <sipmetrics/segment/liveness.hpp>

#include "snapshot.hpp"

namespace sipmetrics {

std::uint32_t WriterTracker::sweep(Catalog& catalog, Drainer& drainer, std::int64_t now_ns) {
  const layout::Geometry& g = view_.geometry();
  std::uint32_t folded = 0;
  for (std::uint32_t i = 0; i < g.max_writers; ++i) {
    const std::uint32_t state = view_.writer(i).state.load(std::memory_order_acquire);
    if (state == layout::kWriterFree) continue;
    // Any other state — live, folding, or scribbled — with the lock byte free has no process
    // behind it. A held lock always wins: a live writer is never folded.
    if (detail::byte_locked(fd_, layout::kWriterLockBase + i)) continue;
    fold(i, catalog, drainer, now_ns);
    ++folded;
  }
  // Writers claim their slot before any lane, and only this daemon frees either: a lane naming
  // a slot that does not exist, or a free one whose lock byte nobody holds, has been scribbled.
  std::vector<std::uint32_t> orphans;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l) {  // the spill lane is no writer's
    const std::uint32_t owner = view_.lane(l).owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    const std::uint32_t slot = owner - 1;
    if (slot < g.max_writers &&
        (view_.writer(slot).state.load(std::memory_order_acquire) != layout::kWriterFree ||
         detail::byte_locked(fd_, layout::kWriterLockBase + slot)))
      continue;
    orphans.push_back(l);
  }
  if (!orphans.empty()) {
    fold_lanes(orphans, nullptr, catalog, drainer, now_ns);
    orphan_lanes_ += orphans.size();
    corrupt_count(view_, layout::Corrupt::kLane)
        .fetch_add(orphans.size(), std::memory_order_relaxed);
  }
  // Writers on the spill lane retry for a slot or lane of their own when this moves.
  if (folded > 0 || !orphans.empty())
    view_.header().capacity_epoch.fetch_add(1, std::memory_order_release);
  return folded;
}

void WriterTracker::fold(std::uint32_t slot, Catalog& catalog, Drainer& drainer,
                         std::int64_t now_ns) {
  layout::WriterSlot& w = view_.writer(slot);
  const layout::Geometry& g = view_.geometry();
  const std::uint32_t owner = slot + 1;
  w.state.store(layout::kWriterFolding, std::memory_order_release);

  std::vector<std::uint32_t> lanes;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l)
    if (view_.lane(l).owner.load(std::memory_order_acquire) == owner) lanes.push_back(l);
  fold_lanes(lanes, &w, catalog, drainer, now_ns);

  w.pid.store(0, std::memory_order_relaxed);
  w.start_time.store(0, std::memory_order_relaxed);
  for (auto& word : w.name) word.store(0, std::memory_order_relaxed);
  w.fold_epoch.store(0, std::memory_order_relaxed);
  w.state.store(layout::kWriterFree, std::memory_order_release);
  view_.header().writers_folded.fetch_add(1, std::memory_order_relaxed);
}

void WriterTracker::fold_lanes(const std::vector<std::uint32_t>& lanes, layout::WriterSlot* slot,
                               Catalog& catalog, Drainer& drainer, std::int64_t now_ns) {
  layout::Header& h = view_.header();
  const layout::Geometry& g = view_.geometry();
  catalog.refresh();  // cell roles must cover every series these lanes may hold
  for (std::uint32_t l : lanes) drainer.drain_lane(l, catalog, now_ns);

  // Fold into the inactive retained array, then flip. A daemon dying before the flip leaves the
  // active array untouched (the fold is redone); one dying after it finds the slot's fold_epoch
  // equal to the current epoch and only finishes the clean-up below. (Orphan lanes have no slot
  // to record that in: a daemon killed in the microseconds between the flip and the zeroing
  // would fold them twice, which only a scribbled segment can lead to.)
  const std::uint64_t epoch = h.retained_epoch.load(std::memory_order_acquire);
  if (slot == nullptr || slot->fold_epoch.load(std::memory_order_acquire) != epoch || epoch == 0) {
    const std::atomic<std::uint64_t>* from = view_.retained(epoch);
    std::atomic<std::uint64_t>* to = view_.retained(epoch + 1);
    const std::vector<CellRole>& roles = catalog.cell_roles();
    for (std::uint32_t c = 0; c < g.max_cells; ++c) {
      std::uint64_t v = from[c].load(std::memory_order_relaxed);
      for (std::uint32_t l : lanes)
        v = fold_cell(roles[c], v, view_.cells(l)[c].load(std::memory_order_relaxed));
      to[c].store(v, std::memory_order_relaxed);
    }
    std::uint64_t dropped = h.retained_dropped[epoch & 1].load(std::memory_order_relaxed);
    for (std::uint32_t l : lanes) dropped += view_.lane(l).dropped.load(std::memory_order_relaxed);
    h.retained_dropped[(epoch + 1) & 1].store(dropped, std::memory_order_relaxed);
    if (slot != nullptr) slot->fold_epoch.store(epoch + 1, std::memory_order_release);
    h.retained_epoch.store(epoch + 1, std::memory_order_release);
  }

  for (std::uint32_t l : lanes) {
    layout::Lane& lane = view_.lane(l);
    std::atomic<std::uint64_t>* cells = view_.cells(l);
    for (std::uint32_t c = 0; c < g.max_cells; ++c) cells[c].store(0, std::memory_order_relaxed);
    const std::uint64_t head = lane.ring_head.load(std::memory_order_relaxed);
    lane.ring_tail.store(head, std::memory_order_relaxed);
    lane.cached_tail.store(head, std::memory_order_relaxed);
    lane.dropped.store(0, std::memory_order_relaxed);
    lane.thread_id.store(0, std::memory_order_relaxed);
    lane.mode.store(layout::kLaneFree, std::memory_order_relaxed);
    // Release: a writer that claims this lane (acquire CAS) sees zeroed cells.
    lane.owner.store(0, std::memory_order_release);
  }
}

std::uint32_t WriterTracker::lanes_in_use() const noexcept {
  std::uint32_t n = 0;
  for (std::uint32_t l = 0; l < layout::spill_lane(view_.geometry()); ++l)
    n += lane_counted(view_, l) ? 1 : 0;
  return n;
}

std::uint32_t WriterTracker::live_writers() const noexcept {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < view_.geometry().max_writers; ++i)
    n += view_.writer(i).state.load(std::memory_order_relaxed) == layout::kWriterLive ? 1 : 0;
  return n;
}

std::vector<WriterInfo> WriterTracker::writers() const {
  std::vector<WriterInfo> out;
  const layout::Geometry& g = view_.geometry();
  for (std::uint32_t i = 0; i < g.max_writers; ++i) {
    const layout::WriterSlot& w = view_.writer(i);
    if (w.state.load(std::memory_order_acquire) == layout::kWriterFree) continue;
    WriterInfo info;
    info.slot = i;
    info.pid = w.pid.load(std::memory_order_relaxed);
    info.alive = detail::byte_locked(fd_, layout::kWriterLockBase + i);
    info.attached_unix_ns = w.attached_unix_ns.load(std::memory_order_relaxed);
    char name[layout::kWriterNameBytes + 1] = {};
    for (std::uint32_t k = 0; k < layout::kWriterNameBytes / 8; ++k) {
      const std::uint64_t word = w.name[k].load(std::memory_order_relaxed);
      std::memcpy(name + std::size_t{k} * 8, &word, 8);
    }
    info.name = name;
    for (std::uint32_t l = 0; l < g.lane_pool; ++l)
      if (view_.lane(l).owner.load(std::memory_order_relaxed) == i + 1) ++info.lanes;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace sipmetrics
