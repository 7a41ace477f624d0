#include "exposition.hpp"

#include <cmath>

#include "text_format.hpp"

namespace sipmetrics {
namespace {

std::string_view type_name(layout::MetricType t) {
  switch (t) {
    case layout::MetricType::kCounter: return "counter";
    case layout::MetricType::kGauge: return "gauge";
    case layout::MetricType::kSummary: return "summary";
    default: return "untyped";
  }
}

void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view labels) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
}

/// Combines a gauge's sources according to its mode.
double gauge_value(const PlanFamily& fam, const PlanSeries& ps, const Catalog& catalog,
                   const CellTotals& t) {
  double v = 0;
  bool have = false;
  std::uint64_t best_stamp = 0;
  for (std::uint32_t idx : ps.sources) {
    const SeriesInfo* s = catalog.series(idx);
    if (s == nullptr) continue;  // plans only hold valid series; this keeps it local
    const std::uint32_t c = s->first_cell;
    if (fam.mode == layout::GaugeMode::kSum || s->mode == layout::GaugeMode::kSum) {
      v += t.f[c] + t.f[c + 1];
      have = true;
      continue;
    }
    if (t.u[c] == 0) continue;  // no live thread ever set it
    const double x = t.f[c];
    switch (fam.mode) {
      case layout::GaugeMode::kMax: v = have ? std::max(v, x) : x; break;
      case layout::GaugeMode::kMin: v = have ? std::min(v, x) : x; break;
      default:
        if (!have || t.u[c + 1] >= best_stamp) {
          v = x;
          best_stamp = t.u[c + 1];
        }
    }
    have = true;
  }
  return v;
}

}  // namespace

void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_help(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, double value) {
  append_series_name(out, name, suffix, labels);
  append_double(out, value);
  out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::uint64_t value) {
  append_series_name(out, name, suffix, labels);
  append_uint(out, value);
  out += '\n';
}

void render_plan(std::string& out, const Plan& plan, const Catalog& catalog,
                 const CellTotals& totals, Drainer& drainer, std::vector<double>& scratch) {
  std::string qlabels;
  double q_out[std::size(kQuantiles)];
  for (const PlanFamily& fam : plan.families) {
    if (fam.series.empty()) continue;
    append_family_header(out, fam.name, fam.help, type_name(fam.type));
    for (const PlanSeries& ps : fam.series) {
      switch (fam.type) {
        case layout::MetricType::kCounter: {
          std::uint64_t v = 0;
          for (std::uint32_t idx : ps.sources)
            if (const SeriesInfo* s = catalog.series(idx)) v += totals.u[s->first_cell];
          append_sample(out, fam.name, "", ps.labels, v);
          break;
        }
        case layout::MetricType::kGauge:
          append_sample(out, fam.name, "", ps.labels,
                        gauge_value(fam, ps, catalog, totals) * fam.scale);
          break;
        case layout::MetricType::kSummary: {
          double sum = 0;
          std::uint64_t count = 0;
          scratch.clear();
          for (std::uint32_t idx : ps.sources) {
            const SeriesInfo* s = catalog.series(idx);
            if (s == nullptr) continue;
            const std::uint32_t c = s->first_cell;
            sum += totals.f[c];
            count += totals.u[c + 1];
            if (SampleWindow* w = drainer.window(idx)) w->append_values(scratch);
          }
          compute_quantiles(scratch, kQuantiles, q_out);
          for (std::size_t q = 0; q < std::size(kQuantiles); ++q) {
            qlabels.assign(ps.labels);
            if (!qlabels.empty()) qlabels += ',';
            qlabels += "quantile=\"";
            append_double(qlabels, kQuantiles[q]);
            qlabels += '"';
            append_sample(out, fam.name, "", qlabels, q_out[q] * fam.scale);
          }
          append_sample(out, fam.name, "_sum", ps.labels, sum * fam.scale);
          append_sample(out, fam.name, "_count", ps.labels, count);
          break;
        }
        default: break;
      }
    }
  }
}

}  // namespace sipmetrics
