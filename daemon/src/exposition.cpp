#include "exposition.hpp"

#include <algorithm>
#include <cmath>

#include "quantiles.hpp"
#include "text_format.hpp"

namespace sipmetrics {
namespace {

std::string_view type_name(layout::MetricType t) {
  switch (t) {
    case layout::MetricType::kCounter: return "counter";
    case layout::MetricType::kGauge: return "gauge";
    case layout::MetricType::kSummary: return "summary";
    case layout::MetricType::kHistogram:
    case layout::MetricType::kNativeHistogram: return "histogram";
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
/// requires; Prometheus rejects a protobuf histogram whose buckets exceed its count) and every
/// sample monotonic from scrape to scrape; once writers pause, bucket totals and _count agree
/// exactly.
void render_histogram(MetricWriter& out, const Plan& plan, const PlanSeries& ps,
                      const SeriesLabels& labels, std::span<const PlanSource> sources,
                      const CellTotals& t, double scale, RenderScratch& scratch) {
  const std::uint32_t n = ps.bounds_count;
  const std::uint32_t k =
      ps.native.buckets;  // cells: n buckets, +Inf, [zero, k native,] sum, count
  const std::uint32_t sum_cell = k == 0 ? n + 1 : n + 2 + k;
  std::vector<std::uint64_t>& buckets = scratch.buckets;
  std::vector<std::uint64_t>& native = scratch.native;
  buckets.assign(n, 0);
  native.assign(k + 1, 0);  // the zero bucket, then the window's
  double sum = 0;
  std::uint64_t count = 0;
  for (const PlanSource& src : sources) {
    const std::uint32_t c = src.first_cell;
    for (std::uint32_t b = 0; b < n; ++b)
      buckets[b] = detail::saturating_add(buckets[b], t.u[c + b]);
    if (k != 0)
      for (std::uint32_t b = 0; b <= k; ++b)
        native[b] = detail::saturating_add(native[b], t.u[c + n + 1 + b]);
    sum += t.f[c + sum_cell];
    count = detail::saturating_add(count, t.u[c + sum_cell + 1]);
  }
  std::uint64_t cumulative = 0;
  scratch.le.resize(n);
  for (std::uint32_t b = 0; b < n; ++b) {
    cumulative = detail::saturating_add(cumulative, buckets[b]);
    buckets[b] = std::min(cumulative, count);
    scratch.le[b] = plan.le(ps, b);
  }
  HistogramValues h;
  h.bounds = plan.bounds_of(ps);
  h.le = scratch.le;
  h.cumulative = buckets;
  h.sum = sum * scale;
  h.count = count;
  // Native buckets scale only by powers of two; --base-units' 1e-3 is not one, so a family
  // served in seconds keeps its classic buckets only.
  NativeBuckets nb;
  if (k != 0 && scale == 1.0) {
    // The same cap: the zero bucket and the window, in index order, never add up above _count.
    std::uint64_t room = count;
    for (std::uint64_t& c : native) {
      c = std::min(c, room);
      room -= c;
    }
    nb.schema = static_cast<std::uint8_t>(ps.native.schema);  // 0..8: checked by the catalog
    nb.zero_threshold = detail::native_zero_threshold(ps.native);
    nb.zero_count = native[0];
    nb.first_index = ps.native.first;
    nb.counts = std::span<const std::uint64_t>(native).subspan(1);
    h.native = &nb;
  }
  out.histogram(labels, h);
}

}  // namespace

// ---- Text 0.0.4 and OpenMetrics
// ------------------------------------------------------------------

void TextWriter::family(std::string_view name, std::string_view help, layout::MetricType type) {
  std::string_view family_name = name;
  sample_name_.assign(name);
  if (format_ == Format::kOpenMetrics && type == layout::MetricType::kCounter) {
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
  out_ += type_name(type);
  out_ += '\n';
}

void TextWriter::series_name(std::string_view suffix, std::string_view labels) {
  out_ += sample_name_;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
}

void TextWriter::sample(std::string_view suffix, std::string_view labels, double v) {
  series_name(suffix, labels);
  append_double(out_, v);
  out_ += '\n';
}

void TextWriter::sample(std::string_view suffix, std::string_view labels, std::uint64_t v) {
  series_name(suffix, labels);
  append_uint(out_, v);
  out_ += '\n';
}

void TextWriter::counter(const SeriesLabels& labels, std::uint64_t value) {
  sample("", labels.text, value);
}

void TextWriter::gauge(const SeriesLabels& labels, double value) { sample("", labels.text, value); }

void TextWriter::gauge(const SeriesLabels& labels, std::uint64_t value) {
  sample("", labels.text, value);
}

void TextWriter::summary(const SeriesLabels& labels, std::span<const double> quantiles, double sum,
                         std::uint64_t count) {
  for (std::size_t q = 0; q < quantiles.size() && q < std::size(kQuantiles); ++q) {
    extra_.assign(labels.text);
    if (!extra_.empty()) extra_ += ',';
    extra_ += "quantile=\"";
    append_double(extra_, kQuantiles[q]);
    extra_ += '"';
    sample("", extra_, quantiles[q]);
  }
  sample("_sum", labels.text, sum);
  sample("_count", labels.text, count);
}

void TextWriter::histogram(const SeriesLabels& labels, const HistogramValues& h) {
  auto bucket = [&](std::string_view le, std::uint64_t v) {
    extra_.assign(labels.text);
    if (!extra_.empty()) extra_ += ',';
    extra_ += "le=\"";
    extra_ += le;
    extra_ += '"';
    sample("_bucket", extra_, v);
  };
  for (std::size_t b = 0; b < h.cumulative.size(); ++b) bucket(h.le[b], h.cumulative[b]);
  bucket("+Inf", h.count);
  sample("_sum", labels.text, h.sum);
  sample("_count", labels.text, h.count);
}

void TextWriter::finish() {
  if (format_ == Format::kOpenMetrics) out_ += "# EOF\n";
}

// ---- The plan
// --------------------------------------------------------------------------------------

void render_plan(MetricWriter& out, const Plan& plan, const CellTotals& totals, Drainer& drainer,
                 RenderScratch& scratch) {
  double q_out[std::size(kQuantiles)];
  const bool pairs = out.wants_label_pairs();
  for (const PlanFamily& fam : plan.families) {
    if (fam.series_begin == fam.series_end) continue;
    out.family(fam.name, fam.help, fam.type);
    for (std::uint32_t i = fam.series_begin; i < fam.series_end; ++i) {
      const PlanSeries& ps = plan.series[i];
      scratch.pairs.resize(pairs ? ps.pairs_count : 0);
      for (std::uint32_t p = 0; p < scratch.pairs.size(); ++p) scratch.pairs[p] = plan.pair(ps, p);
      const SeriesLabels labels{plan.labels(ps), scratch.pairs};
      const std::span<const PlanSource> sources = plan.sources_of(ps);
      switch (fam.type) {
        case layout::MetricType::kCounter: {
          std::uint64_t v = 0;
          for (const PlanSource& src : sources)
            v = detail::saturating_add(v, totals.u[src.first_cell]);
          out.counter(labels, v);
          break;
        }
        case layout::MetricType::kGauge:
          out.gauge(labels, gauge_value(fam, sources, totals) * fam.scale);
          break;
        case layout::MetricType::kSummary: {
          double sum = 0;
          std::uint64_t count = 0;
          scratch.samples.clear();
          for (const PlanSource& src : sources) {
            sum += totals.f[src.first_cell];
            count += totals.u[src.first_cell + 1];
            if (SampleWindow* w = drainer.window(src.series)) w->append_values(scratch.samples);
          }
          compute_quantiles(scratch.samples, kQuantiles, q_out);
          for (double& q : q_out) q *= fam.scale;
          out.summary(labels, q_out, sum * fam.scale, count);
          break;
        }
        case layout::MetricType::kHistogram:
        case layout::MetricType::kNativeHistogram:
          render_histogram(out, plan, ps, labels, sources, totals, fam.scale, scratch);
          break;
        default: break;
      }
    }
  }
}

}  // namespace sipmetrics
