#include "catalog.hpp"

#include <algorithm>
#include "segment_counts.hpp"

#include <sipmetrics/segment/buckets.hpp>
#include <sipmetrics/segment/key.hpp>
#include <sipmetrics/segment/whitelist.hpp>

namespace sipmetrics {

Catalog::Catalog(const detail::SegmentView& view)
    : view_(view),
      series_(view.geometry().max_series),
      state_(view.geometry().max_series, kUnseen),
      roles_(view.geometry().max_cells, CellRole::kUnused) {}

bool Catalog::refresh() {
  const layout::Geometry& g = view_.geometry();
  bool changed = refresh_whitelists();
  // series_count is bumped after each publication, so equality means nothing new to decode.
  // A scribbled count only costs a rescan.
  const std::uint32_t published = view_.header().series_count.load(std::memory_order_acquire);
  if (published != seen_ready_) {
    std::uint32_t seen = 0;
    for (std::uint32_t i = 0; i < g.max_series; ++i) {
      if (state_[i] != kUnseen) {
        ++seen;
        continue;
      }
      const std::uint32_t word = view_.entry(i).state.load(std::memory_order_acquire);
      if (layout::entry_state(word) != layout::kEntryReady) continue;
      ++seen;
      if (decode(i)) {
        state_[i] = kValid;
        order_.push_back(i);
        changed = true;
      } else {
        state_[i] = kCorrupt;
        ++corrupt_entries_;
        count_once(view_.entry(i).daemon_flags, layout::kFlagCorruptCounted,
                   corrupt_count(view_, layout::Corrupt::kCatalog));
      }
    }
    seen_ready_ = seen;
  }
  if (changed) ++version_;
  return changed;
}

bool Catalog::decode(std::uint32_t index) {
  // Copy the entry first: the fields are read once, then checked on the copy.
  const layout::SeriesEntry& e = view_.entry(index);
  const std::uint64_t key_offset = e.key_offset, help_offset = e.help_offset;
  const std::uint32_t key_length = e.key_length, help_length = e.help_length;
  const std::uint32_t first = e.first_cell, count = e.cell_count, window = e.window_samples;
  const std::uint32_t bounds_offset = e.bounds_offset;
  const detail::NativeWindow native{e.native_first_index, e.native_buckets, e.native_schema};
  const auto type = e.type;
  const auto mode = e.gauge_mode;
  const layout::Geometry& g = view_.geometry();

  if (type != layout::MetricType::kCounter && type != layout::MetricType::kGauge &&
      type != layout::MetricType::kSummary && !layout::is_histogram(type))
    return false;
  if (type == layout::MetricType::kGauge && static_cast<std::uint8_t>(mode) > 3) return false;
  const layout::GaugeMode m = type == layout::MetricType::kGauge ? mode : layout::GaugeMode::kSum;
  // A histogram's cell count says how many bounds it has (after a native one's window, which
  // must be valid); its bounds must be there and valid.
  const bool histogram = layout::is_histogram(type);
  const bool native_type = type == layout::MetricType::kNativeHistogram;
  if (native_type && !detail::native_window_valid(native)) return false;
  const std::uint32_t fixed = native_type ? 4u + native.buckets : 3u;
  const std::uint32_t nbounds = histogram && count >= fixed ? count - fixed : 0;
  if (count != detail::cells_for(type, nbounds, native_type ? native.buckets : 0) ||
      first >= g.max_cells || count > g.max_cells - first)
    return false;
  double bounds[layout::kMaxHistogramBounds] = {};
  if (histogram) {
    const auto bytes = view_.arena_bytes(bounds_offset, detail::bounds_bytes(nbounds));
    if (!bytes || bounds_offset % alignof(double) != 0 || !detail::read_bounds(*bytes, bounds))
      return false;
  }
  for (std::uint32_t c = first; c < first + count; ++c)
    if (roles_[c] != CellRole::kUnused) return false;  // overlaps another series
  const auto key = view_.arena_bytes(key_offset, key_length);
  const auto help = view_.arena_bytes(help_offset, help_length);
  if (!key || !help || help_length > layout::kMaxHelpBytes) return false;
  detail::DecodedKey k;
  if (!detail::decode_key(*key, k)) return false;

  SeriesInfo& s = series_[index];
  s.type = type;
  s.mode = m;
  s.first_cell = first;
  s.cell_count = count;
  s.window_samples = std::min<std::uint32_t>(window, 1u << 20);
  s.bounds.assign(bounds, bounds + nbounds);
  s.native = native_type ? native : detail::NativeWindow{};
  s.name.assign(k.name);
  s.help.assign(help->begin(), help->end());
  s.labels.clear();
  for (std::size_t i = 0; i < k.label_count; ++i)
    s.labels.emplace_back(std::string(k.labels[i].key), std::string(k.labels[i].value));

  for (std::uint32_t c = 0; c < count; ++c)
    roles_[first + c] = detail::cell_role(type, m, c, count);
  cells_in_use_ = std::max(cells_in_use_, first + count);
  return true;
}

bool Catalog::refresh_whitelists() {
  const layout::Geometry& g = view_.geometry();
  const std::uint32_t count =
      std::min(view_.header().whitelist_count.load(std::memory_order_acquire), g.max_whitelists);
  bool changed = false;
  // Entries are appended in index order; one not yet ready stops the scan until next time, so
  // the newest-wins order is preserved.
  while (whitelists_seen_ < count) {
    const layout::WhitelistEntry& w = view_.whitelist(whitelists_seen_);
    const std::uint32_t state = w.state.load(std::memory_order_acquire);
    if (state == layout::kWhitelistEmpty) break;
    ++whitelists_seen_;
    const std::uint64_t offset = w.offset;
    const std::uint32_t length = w.length;
    const auto bytes = view_.arena_bytes(offset, length);
    detail::DecodedWhitelist decoded;
    if (state != layout::kWhitelistReady || !bytes || !detail::decode_whitelist(*bytes, decoded)) {
      ++corrupt_whitelists_;
      count_once(view_.whitelist(whitelists_seen_ - 1).daemon_flags, layout::kFlagCorruptCounted,
                 corrupt_count(view_, layout::Corrupt::kWhitelist));
      continue;
    }
    const std::string_view family = decoded.family;
    std::vector<std::string> keys(
        decoded.keys.begin(),
        decoded.keys.begin() + static_cast<std::ptrdiff_t>(decoded.key_count));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    auto& slot = whitelists_[std::string(family)];
    if (slot != keys) {
      slot = std::move(keys);
      changed = true;
    }
  }
  return changed;
}

}  // namespace sipmetrics
