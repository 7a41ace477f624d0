#include "drain.hpp"

#include <algorithm>
#include <cmath>
#include "segment_counts.hpp"

#include <sipmetrics/segment/cells.hpp>

#include "snapshot.hpp"

namespace sipmetrics {
namespace {
// A shared lane's producer reserves a position before writing it. If the entry is still not
// published after this long, its thread is gone for good and the drain steps over it.
constexpr std::int64_t kStallLimitNs = 1'000'000'000;
}  // namespace

Drainer::Drainer(const detail::SegmentView& view, WindowSettings settings)
    : view_(view),
      settings_(settings),
      windows_(view.geometry().max_series),
      stalls_(view.geometry().lane_pool) {}

std::size_t Drainer::window_size(const SeriesInfo& s) const noexcept {
  return s.window_samples != 0 ? s.window_samples : settings_.default_samples;
}

std::uint64_t Drainer::drain_all(Catalog& catalog, std::int64_t now_ns) {
  std::uint64_t busiest = 0;
  for (std::uint32_t i = 0; i < view_.geometry().lane_pool; ++i)
    if (lane_counted(view_, i)) busiest = std::max(busiest, drain_lane(i, catalog, now_ns));
  return busiest;
}

std::uint64_t Drainer::drain_lane(std::uint32_t lane_index, Catalog& catalog, std::int64_t now_ns) {
  layout::Lane& lane = view_.lane(lane_index);
  const std::uint64_t cap = view_.geometry().ring_capacity;
  const std::uint64_t mask = cap - 1;
  const layout::RingEntry* ring = view_.ring(lane_index);
  const std::uint64_t head = lane.ring_head.load(std::memory_order_acquire);
  std::uint64_t tail = lane.ring_tail.load(std::memory_order_relaxed);
  if (head == tail) return 0;
  const std::uint64_t corrupt_before = corrupt_;
  if (head < tail || head - tail > cap) {
    // Only a broken or scribbling producer gets here: keep the newest ring's worth, and count
    // the event once (the positions are garbage: their difference says nothing).
    ++corrupt_;
    tail = head < tail ? head : head - cap;
  }
  std::uint64_t taken = 0;
  bool refreshed = false;
  for (; tail != head; ++tail) {
    const layout::RingEntry& e = ring[tail & mask];
    const std::uint64_t tag = e.tag.load(std::memory_order_acquire);
    if ((tag >> 32) != ((tail + 1) & 0xffffffffu)) {
      Stall& st = stalls_[lane_index];
      if (st.position != tail) {
        st = Stall{tail, now_ns};
        break;
      }
      if (now_ns - st.since_ns < kStallLimitNs) break;
      ++corrupt_;  // never published: step over it
      continue;
    }
    const double v = detail::bits_f64(e.value.load(std::memory_order_relaxed));
    const auto series = static_cast<std::uint32_t>(tag & 0xffffffffu);
    const SeriesInfo* s = catalog.series(series);
    if (s == nullptr && !refreshed) {
      refreshed = true;
      catalog.refresh();
      s = catalog.series(series);
    }
    if (s == nullptr || s->type != layout::MetricType::kSummary || !detail::valid_sample(v)) {
      ++corrupt_;
      continue;
    }
    auto& w = windows_[series];
    if (!w) w = std::make_unique<SampleWindow>(window_size(*s), settings_.max_age_ns);
    w->push(v, now_ns);
    ++taken;
  }
  lane.ring_tail.store(tail, std::memory_order_release);
  drained_ += taken;
  // The segment keeps the counts that /metrics serves, so a restarted daemon continues them.
  view_.header().samples_drained.fetch_add(taken, std::memory_order_relaxed);
  corrupt_count(view_, layout::Corrupt::kRing)
      .fetch_add(corrupt_ - corrupt_before, std::memory_order_relaxed);
  return taken;
}

void Drainer::apply(WindowSettings settings, const Catalog& catalog, std::int64_t now_ns) {
  settings_ = settings;
  for (std::uint32_t i = 0; i < windows_.size(); ++i) {
    if (!windows_[i]) continue;
    const SeriesInfo* s = catalog.series(i);
    if (s == nullptr) continue;
    auto fresh = std::make_unique<SampleWindow>(window_size(*s), settings_.max_age_ns);
    std::vector<double> values;
    windows_[i]->append_values(values);
    const std::size_t keep = std::min(values.size(), fresh->max_samples());
    // Ages restart at now: the old timestamps were measured against the old bound.
    for (std::size_t k = values.size() - keep; k < values.size(); ++k)
      fresh->push(values[k], now_ns);
    windows_[i] = std::move(fresh);
  }
}

void Drainer::expire(std::int64_t now_ns) noexcept {
  for (auto& w : windows_)
    if (w) w->expire(now_ns);
}

}  // namespace sipmetrics
