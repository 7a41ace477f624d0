// The daemon's validated mirror of the segment's series catalog and label whitelists.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/native.hpp>
#include <sipmetrics/segment/view.hpp>

namespace sipmetrics {

using detail::CellRole;

/// One decoded, validated catalog entry.
struct SeriesInfo {
  layout::MetricType type{};
  layout::GaugeMode mode{};
  std::uint32_t first_cell = 0;
  std::uint32_t cell_count = 0;
  std::uint32_t window_samples = 0;
  std::vector<double> bounds;   // histogram: finite bucket bounds, ascending
  detail::NativeWindow native;  // native histogram: its window (valid); else 0 buckets
  std::string name;
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
};

/// Decodes catalog entries and whitelists as they are published. Nothing read from the segment
/// is trusted: an entry that fails any check is skipped for good and counted as corrupt.
/// Entries are copied at first sight, so later scribbles on the segment cannot change them.
/// Not thread-safe: the exporter calls it under its lock.
class Catalog {
 public:
  explicit Catalog(const detail::SegmentView& view);

  /// Decodes what was published since the last call; true when anything new appeared.
  bool refresh();

  /// The series at a catalog index, or null if it is not (or not yet) a valid series.
  const SeriesInfo* series(std::uint32_t index) const noexcept {
    return index < series_.size() && state_[index] == kValid ? &series_[index] : nullptr;
  }
  std::uint32_t capacity() const noexcept { return static_cast<std::uint32_t>(series_.size()); }
  /// Valid series indexes in discovery order.
  const std::vector<std::uint32_t>& order() const noexcept { return order_; }
  /// What each cell holds (detail::cell_role of the series owning it; kUnused if none).
  const std::vector<CellRole>& cell_roles() const noexcept { return roles_; }
  /// Highest cell index + 1 owned by a valid series.
  std::uint32_t cells_in_use() const noexcept { return cells_in_use_; }
  /// Newest client whitelist per family (the seed's "last RegisterLabels wins").
  const std::map<std::string, std::vector<std::string>>& client_whitelists() const noexcept {
    return whitelists_;
  }
  std::uint64_t corrupt_entries() const noexcept { return corrupt_entries_; }
  std::uint64_t corrupt_whitelists() const noexcept { return corrupt_whitelists_; }
  /// Bumped whenever series or whitelists change.
  std::uint64_t version() const noexcept { return version_; }

 private:
  enum State : std::uint8_t { kUnseen = 0, kValid = 1, kCorrupt = 2 };
  bool decode(std::uint32_t index);
  bool refresh_whitelists();

  detail::SegmentView view_;
  std::vector<SeriesInfo> series_;
  std::vector<std::uint8_t> state_;
  std::vector<std::uint32_t> order_;
  std::vector<CellRole> roles_;
  std::uint32_t cells_in_use_ = 0;
  std::uint32_t seen_ready_ = 0;  // entries examined (valid + corrupt)
  std::uint32_t whitelists_seen_ = 0;
  std::map<std::string, std::vector<std::string>> whitelists_;
  std::uint64_t corrupt_entries_ = 0;
  std::uint64_t corrupt_whitelists_ = 0;
  std::uint64_t version_ = 0;
};

}  // namespace sipmetrics
