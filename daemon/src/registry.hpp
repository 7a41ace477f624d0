// The exposition plan: catalog series grouped into families, label whitelists applied, series
// that collapse merged, per-family caps enforced. Rebuilt only when the catalog or the
// whitelists change; each scrape only fills in values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog.hpp"

namespace sipmetrics {

/// The label keys of every seed family, sorted.
std::map<std::string, std::vector<std::string>> seed_whitelists();

/// Operator settings that shape the plan.
struct PlanSettings {
  /// Operator whitelists (config); they replace a client's declaration for the same family.
  std::map<std::string, std::vector<std::string>> whitelists;
  /// Built-in whitelists of the seed's families (from <sipmetrics/sip.hpp>), used when neither
  /// the operator nor any client declared one: an undeclared key on a seed metric is always
  /// caught, whether or not the writer uses the typed helpers.
  std::map<std::string, std::vector<std::string>> default_whitelists = seed_whitelists();
  std::uint32_t max_series_per_family = 2000;
  /// Serve `*_ms` summaries and gauges as `*_seconds`, values scaled by 1/1000 (Prometheus base
  /// units) instead of the seed's names.
  bool base_units = false;
};

/// One exposed series: its rendered label set and the catalog series merged into it.
struct PlanSeries {
  std::string labels;                 // `k="v",...` escaped, without braces; may be empty
  std::vector<std::uint32_t> sources; // catalog indexes, all of the family's type
};

struct PlanFamily {
  std::string name;  // as exposed (after --base-units renaming)
  std::string help;
  layout::MetricType type{};
  layout::GaugeMode mode{};
  double scale = 1;  // applied to gauge values, quantiles and sums (not counts)
  std::vector<PlanSeries> series;  // sorted by labels
};

struct Plan {
  std::vector<PlanFamily> families;  // sorted by name
  /// Series that carried a label key outside their family's whitelist (each series once).
  std::uint64_t unknown_label_series = 0;
  std::uint64_t rejected_type_conflict = 0;  // series whose family already has another type
  std::uint64_t rejected_family_cap = 0;     // series beyond max_series_per_family
  std::uint64_t catalog_version = 0;
};

/// Families the daemon itself exposes; a client series with one of these names is rejected.
inline constexpr std::string_view kObserveDroppedFamily = "voiceserver_metrics_observe_dropped_total";
inline constexpr std::string_view kUnknownLabelFamily = "voiceserver_metrics_unknown_label_total";
bool reserved_family(std::string_view name) noexcept;

/// The exposed name and value scale of a family under the given settings.
std::pair<std::string, double> exposed_family(std::string_view name, layout::MetricType type,
                                              bool base_units);

/// Builds the plan for the catalog's current content.
Plan build_plan(const Catalog& catalog, const PlanSettings& settings);

}  // namespace sipmetrics
