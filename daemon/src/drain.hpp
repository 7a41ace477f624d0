// Moves summary samples from the lanes' rings into per-series sliding windows.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <sipmetrics/segment/view.hpp>

#include "catalog.hpp"
#include "quantiles.hpp"
#include "settings.hpp"

namespace sipmetrics {

/// Owns the quantile windows. Not thread-safe: the exporter calls it under its lock.
class Drainer {
 public:
  Drainer(const detail::SegmentView& view, WindowSettings settings);

  /// Drains every owned lane. Samples naming a series the catalog does not know yet trigger
  /// one catalog refresh; samples still invalid after it are counted as corrupt and dropped.
  /// Returns the most samples taken from one lane (how full the fullest ring was).
  std::uint64_t drain_all(Catalog& catalog, std::int64_t now_ns);
  /// Drains one lane (a dead writer's, before its ring is reset).
  std::uint64_t drain_lane(std::uint32_t lane, Catalog& catalog, std::int64_t now_ns);

  /// The window of a catalog series, or null if it never received a sample.
  SampleWindow* window(std::uint32_t series) noexcept {
    return series < windows_.size() ? windows_[series].get() : nullptr;
  }
  /// New settings apply to existing windows too (their sizes change, their ages expire).
  void apply(WindowSettings settings, const Catalog& catalog, std::int64_t now_ns);
  /// Drops samples older than the age bound from every window.
  void expire(std::int64_t now_ns) noexcept;

  std::uint64_t samples_drained() const noexcept { return drained_; }
  std::uint64_t corrupt_samples() const noexcept { return corrupt_; }

 private:
  std::size_t window_size(const SeriesInfo& s) const noexcept;

  detail::SegmentView view_;
  WindowSettings settings_;
  std::vector<std::unique_ptr<SampleWindow>> windows_;
  struct Stall {
    std::uint64_t position = ~std::uint64_t{0};
    std::int64_t since_ns = 0;
  };
  std::vector<Stall> stalls_;  // per lane: an unpublished entry the drain is waiting for
  std::uint64_t drained_ = 0;
  std::uint64_t corrupt_ = 0;
};

}  // namespace sipmetrics
