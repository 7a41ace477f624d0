// The exposition plan: catalog series grouped into families, label whitelists applied, series
// that collapse merged, per-family caps enforced. Rebuilt only when the catalog or the
// whitelists change; each scrape only fills in values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog.hpp"
#include "settings.hpp"

namespace sipmetrics {

/// One catalog series feeding an exposed series.
struct PlanSource {
  std::uint32_t series;      // catalog index (quantile windows are kept per catalog series)
  std::uint32_t first_cell;  // copied from the catalog so rendering reads one flat array
  layout::GaugeMode mode;
};

/// One exposed series. Everything a scrape reads lives in the Plan's flat arrays, so rendering
/// 100,000 series walks memory sequentially instead of chasing per-series heap blocks.
struct PlanSeries {
  std::uint32_t labels_offset, labels_length;   // `k="v",...` escaped, in Plan::text
  std::uint32_t pairs_offset, pairs_count;      // the same labels unescaped, in Plan::pairs
  std::uint32_t sources_offset, sources_count;  // in Plan::sources
  std::uint32_t bounds_offset, bounds_count;    // histogram: in Plan::le_text and Plan::bounds
  detail::NativeWindow native;  // native histogram: its sources' window; else 0 buckets
};

/// One label of a series as the protobuf format carries it: key and value unescaped (invalid
/// UTF-8 replaced, as in the text form), both in Plan::text.
struct PlanLabel {
  std::uint32_t key_offset, key_length, value_offset, value_length;
};

/// A label as a writer receives it.
struct LabelView {
  std::string_view key, value;
};

struct PlanFamily {
  std::string name;  // as exposed (after --base-units renaming)
  std::string help;
  layout::MetricType type{};
  layout::GaugeMode mode{};
  double scale = 1;  // applied to gauge values, quantiles, sums and bucket bounds (not counts)
  std::uint32_t series_begin = 0, series_end = 0;  // in Plan::series, sorted by labels
};

struct Plan {
  std::vector<PlanFamily> families;  // sorted by name
  std::vector<PlanSeries> series;
  std::vector<PlanSource> sources;
  std::string text;  // every series' rendered labels, back to back
  /// Histogram series' finite bucket bounds as served (scaled), rendered once as `le` values
  /// into `text`: (offset, length) of each, a series' bounds_count of them at its bounds_offset.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> le_text;
  /// The same bounds as doubles (scaled), for the protobuf format's upper_bound.
  std::vector<double> bounds;
  /// Every series' labels unescaped, back to back (PlanSeries::pairs_offset).
  std::vector<PlanLabel> pairs;
  /// Series that carried a label key outside their family's whitelist (each series once).
  std::vector<std::uint32_t> unknown_label_series;  // their catalog indexes
  /// Catalog indexes of the series not exposed, by layout::Rejected: kFamilyCap (beyond
  /// max_series_per_family), kNameClash (a family whose sample names another's uses),
  /// kTypeConflict (a family that already has another type, or histograms merged with other
  /// bounds).
  std::array<std::vector<std::uint32_t>, 3> rejected;
  std::uint64_t catalog_version = 0;

  std::string_view labels(const PlanSeries& s) const noexcept {
    return std::string_view(text).substr(s.labels_offset, s.labels_length);
  }
  std::span<const PlanSource> sources_of(const PlanSeries& s) const noexcept {
    return std::span<const PlanSource>(sources).subspan(s.sources_offset, s.sources_count);
  }
  /// A histogram series' finite bucket bounds as served (scaled), ascending.
  std::span<const double> bounds_of(const PlanSeries& s) const noexcept {
    return std::span<const double>(bounds).subspan(s.bounds_offset, s.bounds_count);
  }
  /// Label i (i < pairs_count) of a series, unescaped.
  LabelView pair(const PlanSeries& s, std::uint32_t i) const noexcept {
    const PlanLabel& l = pairs[s.pairs_offset + i];
    const std::string_view t(text);
    return {t.substr(l.key_offset, l.key_length), t.substr(l.value_offset, l.value_length)};
  }
  /// The `le` label value of a histogram series' finite bucket i (i < bounds_count).
  std::string_view le(const PlanSeries& s, std::uint32_t i) const noexcept {
    const auto& [offset, length] = le_text[s.bounds_offset + i];
    return std::string_view(text).substr(offset, length);
  }
};

/// Families the daemon itself exposes; a client series with one of these names is rejected.
inline constexpr std::string_view kObserveDroppedFamily =
    "voiceserver_metrics_observe_dropped_total";
inline constexpr std::string_view kUnknownLabelFamily = "voiceserver_metrics_unknown_label_total";
bool reserved_family(std::string_view name) noexcept;

/// The exposed name and value scale of a family under the given settings.
std::pair<std::string, double> exposed_family(std::string_view name, layout::MetricType type,
                                              bool base_units);

/// Builds the plan for the catalog's current content.
Plan build_plan(const Catalog& catalog, const PlanSettings& settings);

}  // namespace sipmetrics
