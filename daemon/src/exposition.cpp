#include "exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "text_format.hpp"

namespace sipmetrics {
namespace {

std::string_view type_name(layout::MetricType t) {
  switch (t) {
    case layout::MetricType::kCounter: return "counter";
    case layout::MetricType::kGauge: return "gauge";
    case layout::MetricType::kSummary: return "summary";
    case layout::MetricType::kHistogram: return "histogram";
    default: return "untyped";
  }
}

/// Combines a gauge's sources according to its mode.
double gauge_value(const PlanFamily& fam, std::span<const PlanSource> sources,
                   const CellTotals& t) {
  double v = 0;
  bool have = false;
  std::uint64_t best_stamp = 0;
  for (const PlanSource& src : sources) {
    const std::uint32_t c = src.first_cell;
    if (fam.mode == layout::GaugeMode::kSum || src.mode == layout::GaugeMode::kSum) {
      v += t.f[c] + t.f[c + 1];
      have = true;
      continue;
    }
    if (t.u[c] == 0) continue;  // no live thread ever set it
    if (gauge_prefers(fam.mode, t.f[c], t.u[c + 1], have, v, best_stamp)) {
      v = t.f[c];
      best_stamp = t.u[c + 1];
    }
    have = true;
  }
  return v;
}

/// One histogram series: its sources' buckets added up, then made cumulative. _count is the
/// count cell's total and the +Inf bucket is _count; a finite bucket's cumulative count is
/// capped at it. A scrape reads cells while writers update them one after the other, so an
/// observation may be seen in its bucket but not yet in _count, or the other way round: the cap
/// keeps every scrape valid (buckets never above _count, +Inf equal to it, as OpenMetrics
/// requires) and every sample monotonic from scrape to scrape; once writers pause, bucket
/// totals and _count agree exactly.
void render_histogram(Exposition& out, const Plan& plan, const PlanSeries& ps,
                      std::string_view name, std::string_view labels,
                      std::span<const PlanSource> sources, const CellTotals& t, double scale,
                      std::vector<std::uint64_t>& buckets, std::string& blabels) {
  const std::uint32_t n = ps.bounds_count;
  buckets.assign(n, 0);
  double sum = 0;
  std::uint64_t count = 0;
  for (const PlanSource& src : sources) {
    const std::uint32_t c = src.first_cell;
    for (std::uint32_t b = 0; b < n; ++b)
      buckets[b] = detail::saturating_add(buckets[b], t.u[c + b]);
    sum += t.f[c + n + 1];
    count = detail::saturating_add(count, t.u[c + n + 2]);
  }
  std::uint64_t cumulative = 0;
  auto bucket = [&](std::string_view le, std::uint64_t v) {
    blabels.assign(labels);
    if (!blabels.empty()) blabels += ',';
    blabels += "le=\"";
    blabels += le;
    blabels += '"';
    out.sample(name, "_bucket", blabels, v);
  };
  for (std::uint32_t b = 0; b < n; ++b) {
    cumulative = detail::saturating_add(cumulative, buckets[b]);
    bucket(plan.le(ps, b), std::min(cumulative, count));
  }
  bucket("+Inf", count);
  out.sample(name, "_sum", labels, sum * scale);
  out.sample(name, "_count", labels, count);
}

}  // namespace

std::string_view Exposition::family(std::string_view name, std::string_view help,
                                    std::string_view type) {
  std::string_view family_name = name;
  sample_name_.assign(name);
  if (format_ == Format::kOpenMetrics && type == "counter") {
    if (family_name.ends_with("_total"))
      family_name.remove_suffix(6);
    else
      sample_name_ += "_total";
  }
  out_ += "# HELP ";
  out_ += family_name;
  out_ += ' ';
  // OpenMetrics escapes HELP like a label value (quotes too); the text format only \\ and \n.
  if (format_ == Format::kOpenMetrics)
    append_label_value(out_, help);
  else
    append_help(out_, help);
  out_ += "\n# TYPE ";
  out_ += family_name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return sample_name_;
}

void Exposition::series_name(std::string_view name, std::string_view suffix,
                             std::string_view labels) {
  out_ += name;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::sample(std::string_view name, std::string_view suffix, std::string_view labels,
                        double v) {
  series_name(name, suffix, labels);
  append_double(out_, v);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, std::string_view suffix, std::string_view labels,
                        std::uint64_t v) {
  series_name(name, suffix, labels);
  append_uint(out_, v);
  out_ += '\n';
}

void Exposition::finish() {
  if (format_ == Format::kOpenMetrics) out_ += "# EOF\n";
}

void render_plan(Exposition& out, const Plan& plan, const CellTotals& totals, Drainer& drainer,
                 std::vector<double>& scratch) {
  std::string qlabels, blabels;
  std::vector<std::uint64_t> buckets;
  double q_out[std::size(kQuantiles)];
  for (const PlanFamily& fam : plan.families) {
    if (fam.series_begin == fam.series_end) continue;
    const std::string name(out.family(fam.name, fam.help, type_name(fam.type)));
    for (std::uint32_t i = fam.series_begin; i < fam.series_end; ++i) {
      const PlanSeries& ps = plan.series[i];
      const std::string_view labels = plan.labels(ps);
      const std::span<const PlanSource> sources = plan.sources_of(ps);
      switch (fam.type) {
        case layout::MetricType::kCounter: {
          std::uint64_t v = 0;
          for (const PlanSource& src : sources)
            v = detail::saturating_add(v, totals.u[src.first_cell]);
          out.sample(name, "", labels, v);
          break;
        }
        case layout::MetricType::kGauge:
          out.sample(name, "", labels, gauge_value(fam, sources, totals) * fam.scale);
          break;
        case layout::MetricType::kSummary: {
          double sum = 0;
          std::uint64_t count = 0;
          scratch.clear();
          for (const PlanSource& src : sources) {
            sum += totals.f[src.first_cell];
            count += totals.u[src.first_cell + 1];
            if (SampleWindow* w = drainer.window(src.series)) w->append_values(scratch);
          }
          compute_quantiles(scratch, kQuantiles, q_out);
          for (std::size_t q = 0; q < std::size(kQuantiles); ++q) {
            qlabels.assign(labels);
            if (!qlabels.empty()) qlabels += ',';
            qlabels += "quantile=\"";
            append_double(qlabels, kQuantiles[q]);
            qlabels += '"';
            out.sample(name, "", qlabels, q_out[q] * fam.scale);
          }
          out.sample(name, "_sum", labels, sum * fam.scale);
          out.sample(name, "_count", labels, count);
          break;
        }
        case layout::MetricType::kHistogram:
          render_histogram(out, plan, ps, name, labels, sources, totals, fam.scale, buckets,
                           blabels);
          break;
        default: break;
      }
    }
  }
}

}  // namespace sipmetrics
