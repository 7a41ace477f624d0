// Exposition of a plan and its values. render_plan() owns the rules (how a family's sources add
// up, gauges by mode, histograms made cumulative and capped at _count, summary quantiles); a
// MetricWriter only formats what it is handed: TextWriter the Prometheus text format 0.0.4 and
// OpenMetrics 1.0, ProtobufWriter (protobuf_format.hpp) the delimited protobuf format. Which
// format a scraper gets is HTTP's business (negotiation.hpp).
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
  kProtobuf,     // io.prometheus.client.MetricFamily messages, each preceded by its varint length
};

/// A series' labels in both forms the formats need (either may be empty: no labels).
struct SeriesLabels {
  std::string_view text;             // `k="v",...`, escaped for the text formats
  std::span<const LabelView> pairs;  // the same labels unescaped (UTF-8), in the same order
};

/// Native (sparse exponential) buckets of a histogram, as client_golang defines them: bucket
/// index i of schema s holds observations in (2^((i-1)/2^s), 2^(i/2^s)]; observations with
/// |v| <= zero_threshold are in the zero bucket. Absolute counts over a window of consecutive
/// indexes; the writer turns them into spans and deltas.
struct NativeBuckets {
  std::int32_t schema = 3;
  double zero_threshold = 0;
  std::uint64_t zero_count = 0;
  std::int32_t first_index = 0;           // index of counts[0]
  std::span<const std::uint64_t> counts;  // positive buckets, not cumulative
};

/// A histogram series as served. Every rule is applied before a writer sees it: `cumulative`
/// never exceeds `count`, which is also the +Inf bucket.
struct HistogramValues {
  std::span<const double> bounds;             // finite upper bounds, ascending, scaled
  std::span<const std::string_view> le;       // the same bounds as `le` label values
  std::span<const std::uint64_t> cumulative;  // one per finite bound
  double sum = 0;
  std::uint64_t count = 0;
  const NativeBuckets* native = nullptr;  // null: classic buckets only
};

/// Formats families and their series. Calls come in order: family(), then that family's series
/// (each of the family's type), ..., then finish(). Not thread-safe; one exposition at a time.
class MetricWriter {
 public:
  virtual ~MetricWriter() = default;
  /// Whether the writer reads SeriesLabels::pairs (else render_plan leaves them empty).
  virtual bool wants_label_pairs() const noexcept = 0;
  /// Starts a family. `help` is raw (each format escapes or sanitises it its own way).
  virtual void family(std::string_view name, std::string_view help, layout::MetricType type) = 0;
  virtual void counter(const SeriesLabels& labels, std::uint64_t value) = 0;
  virtual void gauge(const SeriesLabels& labels, double value) = 0;
  virtual void gauge(const SeriesLabels& labels, std::uint64_t value) = 0;
  /// `quantiles[i]` is the value of kQuantiles[i] (NaN when the window is empty).
  virtual void summary(const SeriesLabels& labels, std::span<const double> quantiles, double sum,
                       std::uint64_t count) = 0;
  virtual void histogram(const SeriesLabels& labels, const HistogramValues& h) = 0;
  /// Ends the exposition (`# EOF` for OpenMetrics; the last message for protobuf).
  virtual void finish() = 0;
};

/// The text formats, appended to a string.
class TextWriter final : public MetricWriter {
 public:
  /// `format` is kText or kOpenMetrics.
  TextWriter(std::string& out, Format format) : out_(out), format_(format) {}

  bool wants_label_pairs() const noexcept override { return false; }
  void family(std::string_view name, std::string_view help, layout::MetricType type) override;
  void counter(const SeriesLabels& labels, std::uint64_t value) override;
  void gauge(const SeriesLabels& labels, double value) override;
  void gauge(const SeriesLabels& labels, std::uint64_t value) override;
  void summary(const SeriesLabels& labels, std::span<const double> quantiles, double sum,
               std::uint64_t count) override;
  void histogram(const SeriesLabels& labels, const HistogramValues& h) override;
  void finish() override;

 private:
  void series_name(std::string_view suffix, std::string_view labels);
  void sample(std::string_view suffix, std::string_view labels, double v);
  void sample(std::string_view suffix, std::string_view labels, std::uint64_t v);
  std::string& out_;
  Format format_;
  std::string sample_name_;  // the family's sample name (OpenMetrics: a counter's with _total)
  std::string extra_;        // labels plus `le` or `quantile`
};

/// Buffers render_plan reuses from scrape to scrape, so that a scrape allocates nothing once
/// their capacities settle.
struct RenderScratch {
  std::vector<double> samples;         // a summary's quantile input
  std::vector<std::uint64_t> buckets;  // a histogram's cumulative buckets
  std::vector<std::uint64_t> native;   // its zero bucket and native buckets
  std::vector<std::string_view> le;
  std::vector<LabelView> pairs;
};

/// Renders every family of the plan.
void render_plan(MetricWriter& out, const Plan& plan, const CellTotals& totals, Drainer& drainer,
                 RenderScratch& scratch);

}  // namespace sipmetrics
