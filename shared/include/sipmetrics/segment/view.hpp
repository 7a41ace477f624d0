// Typed, bounds-checked views of a mapped segment's regions. Every address is derived from the
// validated geometry, never from the header's offset fields, so a scribbled header cannot
// redirect a reader.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

/// Validated pointers into a mapped segment. Copyable; does not own the mapping.
class SegmentView {
 public:
  SegmentView() = default;
  /// Checks the header of a mapping of `size` bytes; nullopt when it is not a valid segment of
  /// this build's major layout version.
  static std::optional<SegmentView> adopt(void* base, std::uint64_t size) noexcept {
    auto* h = static_cast<layout::Header*>(base);
    if (size < sizeof(layout::Header) || h->magic != layout::kMagic ||
        h->version_major != layout::kVersionMajor ||
        h->init_state.load(std::memory_order_acquire) != layout::kInitReady)
      return std::nullopt;
    const layout::Geometry g = h->geometry;
    if (!layout::geometry_valid(g)) return std::nullopt;
    const layout::Regions r = layout::regions_for(g);
    if (r.total > size || h->total_size != r.total || h->writers_offset != r.writers ||
        h->lanes_offset != r.lanes || h->catalog_offset != r.catalog ||
        h->whitelist_offset != r.whitelist || h->arena_offset != r.arena ||
        h->retained_offset != r.retained || h->cells_offset != r.cells ||
        h->rings_offset != r.rings || h->families_offset != r.families)
      return std::nullopt;
    SegmentView v;
    v.base_ = static_cast<char*>(base);
    v.geo_ = g;
    v.reg_ = r;
    v.cells_stride_ = layout::lane_cells_stride(g);
    return v;
  }

  layout::Header& header() const noexcept { return *reinterpret_cast<layout::Header*>(base_); }
  const layout::Geometry& geometry() const noexcept { return geo_; }
  std::uint64_t size() const noexcept { return reg_.total; }
  char* base() const noexcept { return base_; }

  layout::WriterSlot& writer(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::WriterSlot*>(base_ + reg_.writers)[i];
  }
  layout::Lane& lane(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::Lane*>(base_ + reg_.lanes)[i];
  }
  layout::SeriesEntry& entry(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::SeriesEntry*>(base_ + reg_.catalog)[i];
  }
  layout::WhitelistEntry& whitelist(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::WhitelistEntry*>(base_ + reg_.whitelist)[i];
  }
  layout::FamilyEntry& family(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::FamilyEntry*>(base_ + reg_.families)[i];
  }
  /// Value cells of lane i: geometry().max_cells words (see layout::lane_cells_stride).
  std::atomic<std::uint64_t>* cells(std::uint32_t lane) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + reg_.cells +
                                                         std::uint64_t{lane} * cells_stride_);
  }
  /// Retained totals, array 0 or 1: geometry().max_cells words.
  std::atomic<std::uint64_t>* retained(std::uint64_t which) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + reg_.retained) +
           (which & 1u) * geo_.max_cells;
  }
  layout::RingEntry* ring(std::uint32_t lane) const noexcept {
    return reinterpret_cast<layout::RingEntry*>(base_ + reg_.rings) +
           std::uint64_t{lane} * geo_.ring_capacity;
  }
  char* arena() const noexcept { return base_ + reg_.arena; }

  /// Arena bytes [offset, offset+length) if they lie inside the published part of the arena.
  std::optional<std::span<const char>> arena_bytes(std::uint64_t offset,
                                                   std::uint64_t length) const noexcept {
    const std::uint64_t used = std::min<std::uint64_t>(
        header().arena_used.load(std::memory_order_acquire), geo_.arena_bytes);
    if (offset > used || length > used - offset) return std::nullopt;
    return std::span<const char>(arena() + offset, length);
  }

 private:
  char* base_ = nullptr;
  layout::Geometry geo_{};
  layout::Regions reg_{};
  std::uint64_t cells_stride_ = 0;
};

}  // namespace sipmetrics::detail
