#include "exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

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

/// Combines a gauge's sources according to its mode.
double gauge_value(const PlanFamily& fam, std::span<const PlanSource> sources, const CellTotals& t) {
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

std::string_view content_type(Format f) noexcept {
  return f == Format::kOpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                   : "text/plain; version=0.0.4; charset=utf-8";
}

namespace {
bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters; the tokens compared have no others
         });
}

/// The q weight of the first element of a comma-separated header (Accept, Accept-Encoding)
/// whose value (before any parameters) satisfies `match`; nothing when none does.
template <class Match>
std::optional<double> weight_of(std::string_view header, Match match) noexcept {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    std::string_view value = item.substr(0, item.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!match(value)) continue;
    double weight = 1;
    if (const auto q = item.find("q="); q != std::string_view::npos) {
      const std::string_view v = item.substr(q + 2);
      if (std::from_chars(v.data(), v.data() + v.size(), weight).ec != std::errc{}) weight = 0;
    }
    return weight;
  }
  return std::nullopt;
}
}  // namespace

Format negotiate(std::string_view accept) noexcept {
  const auto w = weight_of(accept, [](std::string_view v) {
    return v.starts_with("application/openmetrics-text");
  });
  return w && *w > 0 ? Format::kOpenMetrics : Format::kText;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  auto w = weight_of(accept_encoding, [](std::string_view v) {
    return iequals(v, "gzip") || iequals(v, "x-gzip");
  });
  if (!w) w = weight_of(accept_encoding, [](std::string_view v) { return v == "*"; });
  return w && *w > 0;
}

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
  std::string qlabels;
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
          for (const PlanSource& src : sources) v += totals.u[src.first_cell];
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
        default: break;
      }
    }
  }
}

}  // namespace sipmetrics
