// Series and whitelist registration into the segment's catalog and arena (cold path): the
// writing half of the catalog protocol in <sipmetrics/layout.hpp> (claim with a CAS, fill,
// publish with a release store). The daemon's catalog (daemon/src/catalog.cpp) is the reading
// half.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <sipmetrics/detail/lane.hpp>
#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/buckets.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/key.hpp>
#include <sipmetrics/segment/native.hpp>
#include <sipmetrics/segment/view.hpp>
#include <sipmetrics/segment/whitelist.hpp>

namespace sipmetrics::detail {

/// Registers series and whitelists in one mapped segment on behalf of one attachment. Safe
/// across threads and processes for register_series(); register_labels() needs the caller to
/// serialise calls within the process (the attachment's mutex). Never throws.
class CatalogWriter {
 public:
  CatalogWriter() = default;
  CatalogWriter(const SegmentView& view, std::uint8_t attachment_id) noexcept
      : view_(view), id_(attachment_id) {}

  /// Finds or registers a series. Idempotent across threads and processes; never throws; a
  /// refusal (full catalog, bad name, ...) is counted in the header and yields a no-op ref.
  /// `claimer` (writer slot + 1, or 0) tags a claim in progress, for people reading the segment.
  /// A histogram passes its finite `bounds` (valid_bounds(), else refused as kInvalidBuckets) and
  /// gets in `*bounds_out` where they lie in the mapped arena (read by its hot path); the same
  /// series registered with other bounds is a kTypeConflict.
  /// A native histogram (kNativeHistogram) passes its window as well (native_window_valid(),
  /// else kInvalidBuckets); registered again with another window it is a kTypeConflict too.
  SeriesRef register_series(layout::MetricType type, std::string_view name, std::string_view help,
                            Labels labels, layout::GaugeMode mode, std::uint32_t window_samples,
                            std::uint32_t claimer, std::span<const double> bounds = {},
                            const double** bounds_out = nullptr,
                            NativeWindow native = {}) noexcept {
    SortedLabels sorted;
    if (!valid_metric_name(name)) return refuse(layout::Refusal::kInvalidName);
    if (const auto why = sort_labels(labels, sorted)) return refuse(*why);
    const bool histogram = layout::is_histogram(type);
    const bool native_type = type == layout::MetricType::kNativeHistogram;
    if (histogram && !valid_bounds(bounds)) return refuse(layout::Refusal::kInvalidBuckets);
    if (native_type && !native_window_valid(native))
      return refuse(layout::Refusal::kInvalidBuckets);
    if (!histogram) bounds = {};
    if (!native_type) native = {};
    const std::uint32_t ncells =
        cells_for(type, static_cast<std::uint32_t>(bounds.size()), native.buckets);
    if (ncells == 0) return refuse(layout::Refusal::kTypeConflict);
    const std::uint64_t hash = key_hash(type, name, sorted);
    const std::uint32_t mask = view_.geometry().max_series - 1;
    std::uint32_t idx = static_cast<std::uint32_t>(hash) & mask;
    for (std::uint32_t probes = 0; probes <= mask; ++probes, idx = (idx + 1) & mask) {
      layout::SeriesEntry& e = view_.entry(idx);
      std::uint32_t word = e.state.load(std::memory_order_acquire);
      if (layout::entry_state(word) == layout::kEntryEmpty) {
        // A claimed entry that cannot be filled is dead for good: check for room first, so a
        // full arena or cell array refuses without using up the catalog (only a race with
        // another registration can still leave a dead entry behind).
        if (const auto why = no_room_for(ncells, name, help, sorted, bounds)) return refuse(*why);
        layout::FamilyEntry* family = nullptr;
        if (const auto why = family_admit(name, claimer, family)) return refuse(*why);
        const std::uint32_t claim = layout::kEntryClaiming | (claimer << 8);
        if (e.state.compare_exchange_strong(word, claim, std::memory_order_acq_rel)) {
          const SeriesRef ref = fill(e, idx, type, ncells, name, help, sorted, hash, mode,
                                     window_samples, bounds, bounds_out, native);
          if (ref.attachment == kNoopAttachment) family_release(*family);
          return ref;
        }
        family_release(*family);  // another registration took this entry first: look at it
      }
      word = wait_while_claiming(e.state, word);
      if (layout::entry_state(word) != layout::kEntryReady)
        continue;  // dead, or a claim never finished
      if (e.hash != static_cast<std::uint32_t>(hash) || e.type != type) continue;
      auto bytes = view_.arena_bytes(e.key_offset, e.key_length);
      if (!bytes || !key_equals(*bytes, name, sorted)) continue;
      if (e.cell_count != ncells || (type == layout::MetricType::kGauge && e.gauge_mode != mode) ||
          e.first_cell >= view_.geometry().max_cells ||
          ncells > view_.geometry().max_cells - e.first_cell)
        return refuse(layout::Refusal::kTypeConflict);
      if (histogram) {
        // Its hot path reads these bytes in place: they must be these bounds, aligned.
        const auto stored = view_.arena_bytes(
            e.bounds_offset, bounds_bytes(static_cast<std::uint32_t>(bounds.size())));
        if (e.bounds_offset % alignof(double) != 0 || !stored || !bounds_equal(*stored, bounds))
          return refuse(layout::Refusal::kTypeConflict);
        if (native_type &&
            !(NativeWindow{e.native_first_index, e.native_buckets, e.native_schema} == native))
          return refuse(layout::Refusal::kTypeConflict);
        if (bounds_out != nullptr) *bounds_out = arena_doubles(e.bounds_offset);
      }
      return SeriesRef{e.first_cell, idx, id_};
    }
    return refuse(layout::Refusal::kCatalogFull);
  }

  /// Declares the label keys allowed for a family (the seed's RegisterLabels: the newest
  /// declaration wins). Skipped when the newest declaration is already identical.
  void register_labels(std::string_view family, std::span<const std::string_view> keys) noexcept {
    const std::size_t len = whitelist_length(family, keys);
    if (len == 0) {
      (void)refuse(layout::Refusal::kInvalidName);
      return;
    }
    layout::Header& h = view_.header();
    const std::uint32_t max = view_.geometry().max_whitelists;
    const std::uint32_t count = std::min(h.whitelist_count.load(std::memory_order_acquire), max);
    for (std::uint32_t i = count; i-- > 0;) {
      layout::WhitelistEntry& w = view_.whitelist(i);
      if (w.state.load(std::memory_order_acquire) != layout::kWhitelistReady) continue;
      auto bytes = view_.arena_bytes(w.offset, w.length);
      DecodedWhitelist newest;
      if (!bytes || !decode_whitelist(*bytes, newest) || newest.family != family) continue;
      if (std::equal(keys.begin(), keys.end(), newest.keys.begin(),
                     newest.keys.begin() + static_cast<std::ptrdiff_t>(newest.key_count)))
        return;
      break;  // the newest declaration for this family differs: append a newer one
    }
    const std::uint32_t idx = h.whitelist_count.fetch_add(1, std::memory_order_acq_rel);
    if (idx >= max) {
      (void)refuse(layout::Refusal::kWhitelistFull);
      return;
    }
    const auto off = arena_alloc(len);
    if (!off) {
      (void)refuse(layout::Refusal::kArenaFull);
      return;
    }
    encode_whitelist(family, keys, view_.arena() + *off);
    layout::WhitelistEntry& w = view_.whitelist(idx);
    w.offset = *off;
    w.length = static_cast<std::uint32_t>(len);
    w.state.store(layout::kWhitelistReady, std::memory_order_release);
  }

  /// Counts a refusal in the header; returns the no-op ref.
  SeriesRef refuse(layout::Refusal why) const noexcept {
    view_.header().refusals[static_cast<std::uint32_t>(why)].fetch_add(1,
                                                                       std::memory_order_relaxed);
    return {};
  }

 private:
  static std::uint32_t wait_while_claiming(const std::atomic<std::uint32_t>& state,
                                           std::uint32_t word) noexcept {
    // Another process is filling this entry: microseconds normally. If it died mid-claim the
    // entry stays claiming; after 2 s we probe past it (the daemon merges any duplicate).
    for (int i = 0; layout::entry_state(word) == layout::kEntryClaiming && i < 20000; ++i) {
      struct timespec ts {
        0, 100'000
      };
      ::nanosleep(&ts, nullptr);
      word = state.load(std::memory_order_acquire);
    }
    return word;
  }

  /// Takes one series of family `name` from geometry.family_series_limit, creating the family's
  /// entry on its first series; `family` is set for family_release(). The reason to refuse the
  /// series otherwise: the family is full, or the table or arena has no room to count it (a
  /// series that cannot be counted is not let through).
  std::optional<layout::Refusal> family_admit(std::string_view name, std::uint32_t claimer,
                                              layout::FamilyEntry*& family) noexcept {
    const layout::Geometry& g = view_.geometry();
    const std::uint64_t hash = fnv1a(kFnvOffset, name);
    const std::uint32_t mask = g.max_series - 1;
    std::uint32_t idx = static_cast<std::uint32_t>(hash) & mask;
    for (std::uint32_t probes = 0; probes <= mask; ++probes, idx = (idx + 1) & mask) {
      layout::FamilyEntry& f = view_.family(idx);
      std::uint32_t word = f.state.load(std::memory_order_acquire);
      if (layout::entry_state(word) == layout::kEntryEmpty) {
        const std::uint32_t claim = layout::kEntryClaiming | (claimer << 8);
        if (f.state.compare_exchange_strong(word, claim, std::memory_order_acq_rel)) {
          const auto off = arena_alloc(name.size());
          if (!off) {
            f.state.store(layout::kEntryDead, std::memory_order_release);
            return layout::Refusal::kArenaFull;
          }
          std::copy(name.begin(), name.end(), view_.arena() + *off);
          f.hash = static_cast<std::uint32_t>(hash);
          f.name_offset = *off;
          f.name_length = static_cast<std::uint32_t>(name.size());
          f.state.store(layout::kEntryReady, std::memory_order_release);
          view_.header().family_count.fetch_add(1, std::memory_order_relaxed);
          word = layout::kEntryReady;
        }
      }
      word = wait_while_claiming(f.state, word);
      if (layout::entry_state(word) != layout::kEntryReady ||
          f.hash != static_cast<std::uint32_t>(hash))
        continue;
      auto bytes = view_.arena_bytes(f.name_offset, f.name_length);
      if (!bytes || std::string_view(bytes->data(), bytes->size()) != name) continue;
      std::uint32_t n = f.series.load(std::memory_order_relaxed);
      do {
        if (n >= g.family_series_limit) return layout::Refusal::kFamilyFull;
      } while (!f.series.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
      family = &f;
      return std::nullopt;
    }
    return layout::Refusal::kCatalogFull;  // as many families as series: the catalog is full
  }

  static void family_release(layout::FamilyEntry& f) noexcept {
    f.series.fetch_sub(1, std::memory_order_relaxed);
  }

  std::optional<std::uint64_t> arena_alloc(std::uint64_t n) noexcept {
    auto& used = view_.header().arena_used;
    std::uint64_t at = used.load(std::memory_order_relaxed);
    do {
      if (at > view_.geometry().arena_bytes || n > view_.geometry().arena_bytes - at)
        return std::nullopt;
    } while (!used.compare_exchange_weak(at, at + n, std::memory_order_acq_rel));
    return at;
  }

  /// Cells for one series: consecutive, none of them layout::cell_reserved.
  std::optional<std::uint32_t> cells_alloc(std::uint32_t n) noexcept {
    auto& used = view_.header().cells_used;
    std::uint32_t at = used.load(std::memory_order_relaxed);
    std::uint32_t first = 0;
    do {
      first = first_fit(at, n);
      if (first > view_.geometry().max_cells || n > view_.geometry().max_cells - first)
        return std::nullopt;
    } while (!used.compare_exchange_weak(at, first + n, std::memory_order_acq_rel));
    return first;
  }

  const double* arena_doubles(std::uint64_t offset) const noexcept {
    return reinterpret_cast<const double*>(view_.arena() + offset);
  }

  /// Arena bytes a series needs: key, help, then (a histogram's) bounds at an offset that is a
  /// multiple of 8, which up to 7 bytes of padding make sure of wherever the run starts.
  static std::uint64_t series_bytes(std::string_view name, std::string_view help,
                                    const SortedLabels& labels,
                                    std::span<const double> bounds) noexcept {
    const std::uint64_t text =
        key_length(name, labels) + utf8_prefix(help, layout::kMaxHelpBytes).size();
    return bounds.empty() ? text
                          : text + alignof(double) - 1 +
                                bounds_bytes(static_cast<std::uint32_t>(bounds.size()));
  }

  std::optional<layout::Refusal> no_room_for(std::uint32_t ncells, std::string_view name,
                                             std::string_view help, const SortedLabels& labels,
                                             std::span<const double> bounds) const noexcept {
    const layout::Geometry& g = view_.geometry();
    const std::uint64_t bytes = series_bytes(name, help, labels, bounds);
    const std::uint64_t used = view_.header().arena_used.load(std::memory_order_relaxed);
    if (used > g.arena_bytes || bytes > g.arena_bytes - used) return layout::Refusal::kArenaFull;
    const std::uint32_t cells = view_.header().cells_used.load(std::memory_order_relaxed);
    const std::uint32_t first = first_fit(cells, ncells);
    if (first > g.max_cells || ncells > g.max_cells - first) return layout::Refusal::kCellsFull;
    return std::nullopt;
  }

  SeriesRef fill(layout::SeriesEntry& e, std::uint32_t idx, layout::MetricType type,
                 std::uint32_t ncells, std::string_view name, std::string_view help,
                 const SortedLabels& labels, std::uint64_t hash, layout::GaugeMode mode,
                 std::uint32_t window, std::span<const double> bounds, const double** bounds_out,
                 NativeWindow native) noexcept {
    help = utf8_prefix(help, layout::kMaxHelpBytes);
    const std::size_t klen = key_length(name, labels);
    const auto off = arena_alloc(series_bytes(name, help, labels, bounds));
    const auto first = off ? cells_alloc(ncells) : std::nullopt;
    if (!off || !first) {
      e.state.store(layout::kEntryDead, std::memory_order_release);
      return refuse(off ? layout::Refusal::kCellsFull : layout::Refusal::kArenaFull);
    }
    char* p = view_.arena() + *off;
    encode_key(name, labels, [&p](const char* s, std::size_t n) { p = std::copy(s, s + n, p); });
    std::copy(help.begin(), help.end(), p);
    std::uint64_t bounds_at = 0;
    if (!bounds.empty()) {
      bounds_at = layout::align_up(*off + klen + help.size(), alignof(double));
      write_bounds(bounds, view_.arena() + bounds_at);
      if (bounds_out != nullptr) *bounds_out = arena_doubles(bounds_at);
    }
    e.hash = static_cast<std::uint32_t>(hash);
    e.key_offset = *off;
    e.key_length = static_cast<std::uint32_t>(klen);
    e.help_offset = *off + klen;
    e.help_length = static_cast<std::uint32_t>(help.size());
    e.first_cell = *first;
    e.cell_count = static_cast<std::uint16_t>(ncells);
    e.type = type;
    e.gauge_mode = type == layout::MetricType::kGauge ? mode : layout::GaugeMode::kSum;
    e.window_samples = window;
    e.bounds_offset = static_cast<std::uint32_t>(bounds_at);
    e.native_first_index = native.first;
    e.native_buckets = native.buckets;
    e.native_schema = native.schema;
    e.state.store(layout::kEntryReady, std::memory_order_release);
    view_.header().series_count.fetch_add(1, std::memory_order_relaxed);
    return SeriesRef{*first, idx, id_};
  }

  SegmentView view_;
  std::uint8_t id_ = kNoopAttachment;
};

}  // namespace sipmetrics::detail
