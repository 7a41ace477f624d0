// Exposition of a plan and its values: Prometheus text format 0.0.4, or OpenMetrics 1.0. Only
// formatting: which format a scraper gets is HTTP's business (negotiation.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog.hpp"
#include "drain.hpp"
#include "plan.hpp"
#include "snapshot.hpp"

namespace sipmetrics {

/// Quantiles every summary exposes.
inline constexpr double kQuantiles[] = {0.5, 0.9, 0.95, 0.99};

/// Exposition formats /metrics can answer in.
enum class Format {
  kText,         // Prometheus text format 0.0.4
  kOpenMetrics,  // OpenMetrics 1.0: counter families named without _total, `# EOF` at the end
};

/// Appends families and samples to `out` in one format.
class Exposition {
 public:
  Exposition(std::string& out, Format format) : out_(out), format_(format) {}

  /// Writes `# HELP` and `# TYPE` for a family (`type`: counter, gauge, summary, histogram) and
  /// returns the name its samples must use: the family name, except for an OpenMetrics counter not
  /// ending in _total, whose samples get the suffix (OpenMetrics names the family without it).
  std::string_view family(std::string_view name, std::string_view help, std::string_view type);
  /// Writes one sample line: name+suffix, then `{labels}` (labels may be empty), then the value.
  void sample(std::string_view name, std::string_view suffix, std::string_view labels, double v);
  void sample(std::string_view name, std::string_view suffix, std::string_view labels,
              std::uint64_t v);
  /// Ends the exposition (`# EOF` for OpenMetrics).
  void finish();

 private:
  void series_name(std::string_view name, std::string_view suffix, std::string_view labels);
  std::string& out_;
  Format format_;
  std::string sample_name_;
};

/// Renders every family of the plan. `scratch` is reused between scrapes (quantile input).
void render_plan(Exposition& out, const Plan& plan, const CellTotals& totals, Drainer& drainer,
                 std::vector<double>& scratch);

}  // namespace sipmetrics
