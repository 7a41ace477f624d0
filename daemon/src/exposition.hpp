// Prometheus text exposition (format 0.0.4) of a plan and its values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog.hpp"
#include "drain.hpp"
#include "registry.hpp"

namespace sipmetrics {

/// Per-cell totals of one scrape: u64 for counts and gauge stamps, f64 for sums and gauges.
struct CellTotals {
  std::vector<std::uint64_t> u;
  std::vector<double> f;
};

/// Quantiles every summary exposes.
inline constexpr double kQuantiles[] = {0.5, 0.9, 0.95, 0.99};

/// Writes `# HELP` and `# TYPE` lines.
void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          std::string_view type);
/// Writes one sample line: name+suffix, then `{labels}` (labels may be empty), then the value.
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, double value);
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::uint64_t value);

/// Renders every family of the plan. `scratch` is reused between scrapes (quantile input).
void render_plan(std::string& out, const Plan& plan, const Catalog& catalog,
                 const CellTotals& totals, Drainer& drainer, std::vector<double>& scratch);

}  // namespace sipmetrics
