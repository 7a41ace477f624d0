#include "protobuf_format.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "metrics.pb.h"
#include "text_format.hpp"

namespace sipmetrics {

namespace pb = io::prometheus::client;

struct ProtobufWriter::State {
  // One message per family, in render order, kept across scrapes. While the structure key is
  // the one of the previous scrape (the same plan: the same families, series and labels in the
  // same order), a scrape only overwrites values: labels, names and help are already in place.
  std::vector<std::unique_ptr<pb::MetricFamily>> families;
  std::string* out = nullptr;
  pb::MetricFamily* current = nullptr;  // the open family, not yet written
  std::size_t slot = 0;                 // next family slot
  int next_metric = 0;                  // next metric of the open family
  bool replay = false;
  std::uint64_t key = 0;
  bool have_key = false;

  /// Writes the open family as one delimited message.
  void flush() {
    if (current == nullptr) return;
    pb::MetricFamily& f = *current;
    current = nullptr;
    if (next_metric < f.metric_size())  // fewer series than last time (a structure change)
      f.mutable_metric()->DeleteSubrange(next_metric, f.metric_size() - next_metric);
    const std::size_t size = f.ByteSizeLong();
    std::uint8_t length[10];
    std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(
        static_cast<std::uint64_t>(size), length);
    out->append(reinterpret_cast<const char*>(length), static_cast<std::size_t>(end - length));
    const std::size_t at = out->size();
    out->resize(at + size);
    f.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out->data() + at));
  }

  /// The next metric of the open family, with its labels.
  pb::Metric& metric(const SeriesLabels& labels) {
    pb::MetricFamily& f = *current;
    if (replay && next_metric < f.metric_size()) return *f.mutable_metric(next_metric++);
    replay = false;
    ++next_metric;
    pb::Metric& m = *f.add_metric();  // recycles a cleared one when it can
    for (const LabelView& l : labels.pairs) {
      pb::LabelPair& p = *m.add_label();
      // Already UTF-8 and unescaped (the plan's pairs): copied as they are.
      p.mutable_name()->assign(l.key);
      p.mutable_value()->assign(l.value);
    }
    return m;
  }
};

ProtobufWriter::ProtobufWriter() : s_(std::make_unique<State>()) {}
ProtobufWriter::~ProtobufWriter() = default;

void ProtobufWriter::begin(std::string& out, std::uint64_t structure) {
  s_->out = &out;
  s_->current = nullptr;
  s_->slot = 0;
  s_->replay = s_->have_key && s_->key == structure;
  s_->key = structure;
  s_->have_key = true;
}

void ProtobufWriter::family(std::string_view name, std::string_view help, layout::MetricType type) {
  State& s = *s_;
  s.flush();
  if (s.slot == s.families.size()) {
    s.families.push_back(std::make_unique<pb::MetricFamily>());
    s.replay = false;
  }
  pb::MetricFamily& f = *s.families[s.slot++];
  s.current = &f;
  s.next_metric = 0;
  if (s.replay && f.name() == name) return;
  s.replay = false;  // from here on, this scrape rebuilds what it renders
  f.Clear();
  f.mutable_name()->assign(name);
  append_utf8(*f.mutable_help(), help);  // the client's help bytes are not trusted to be UTF-8
  switch (type) {
    case layout::MetricType::kCounter: f.set_type(pb::COUNTER); break;
    case layout::MetricType::kGauge: f.set_type(pb::GAUGE); break;
    case layout::MetricType::kSummary: f.set_type(pb::SUMMARY); break;
    case layout::MetricType::kHistogram:
    case layout::MetricType::kNativeHistogram: f.set_type(pb::HISTOGRAM); break;
    default: f.set_type(pb::UNTYPED); break;
  }
}

void ProtobufWriter::counter(const SeriesLabels& labels, std::uint64_t value) {
  s_->metric(labels).mutable_counter()->set_value(static_cast<double>(value));
}

void ProtobufWriter::gauge(const SeriesLabels& labels, double value) {
  s_->metric(labels).mutable_gauge()->set_value(value);
}

void ProtobufWriter::gauge(const SeriesLabels& labels, std::uint64_t value) {
  s_->metric(labels).mutable_gauge()->set_value(static_cast<double>(value));
}

void ProtobufWriter::summary(const SeriesLabels& labels, std::span<const double> quantiles,
                             double sum, std::uint64_t count) {
  pb::Summary& s = *s_->metric(labels).mutable_summary();
  s.set_sample_count(count);
  s.set_sample_sum(sum);
  const int n = static_cast<int>(std::min(quantiles.size(), std::size(kQuantiles)));
  if (s.quantile_size() != n) {
    s.clear_quantile();
    for (int q = 0; q < n; ++q) s.add_quantile()->set_quantile(kQuantiles[q]);
  }
  for (int q = 0; q < n; ++q)
    s.mutable_quantile(q)->set_value(quantiles[static_cast<std::size_t>(q)]);
}

void ProtobufWriter::histogram(const SeriesLabels& labels, const HistogramValues& h) {
  pb::Histogram& m = *s_->metric(labels).mutable_histogram();
  m.set_sample_count(h.count);
  m.set_sample_sum(h.sum);
  // The +Inf bucket is left out, as client_golang does: it is sample_count.
  const int buckets = static_cast<int>(std::min(h.cumulative.size(), h.bounds.size()));
  if (m.bucket_size() != buckets) {
    m.clear_bucket();
    for (int b = 0; b < buckets; ++b) m.add_bucket();
  }
  for (int b = 0; b < buckets; ++b) {
    pb::Bucket& e = *m.mutable_bucket(b);
    e.set_cumulative_count(h.cumulative[static_cast<std::size_t>(b)]);
    e.set_upper_bound(h.bounds[static_cast<std::size_t>(b)]);
  }
  m.clear_positive_span();
  m.clear_positive_delta();
  if (h.native == nullptr) {
    m.clear_schema();
    m.clear_zero_threshold();
    m.clear_zero_count();
    return;
  }
  const NativeBuckets& n = *h.native;
  m.set_schema(n.schema);
  // A zero threshold above 0 makes Prometheus read the histogram as native even before its
  // first observation, so a family never switches between classic and native.
  m.set_zero_threshold(n.zero_threshold);
  m.set_zero_count(n.zero_count);
  // Spans over the populated buckets: a run of empty buckets longer than two starts a new span
  // (a span costs two varints, an empty bucket inside one a one-byte delta), as client_golang.
  constexpr std::size_t kMaxGap = 2;
  constexpr std::uint64_t kMaxBucketCount = std::numeric_limits<std::int64_t>::max();
  std::uint64_t previous = 0;
  std::size_t i = 0;
  std::int64_t next_index = 0;  // index just after the last span; its offset is relative to it
  bool first_span = true;
  const std::size_t size = n.counts.size();
  while (i < size) {
    if (n.counts[i] == 0) {
      ++i;
      continue;
    }
    // A span starts at i and runs to the last non-empty bucket before a gap > kMaxGap.
    std::size_t end = i + 1;
    std::size_t last = i;
    while (end < size && end - last <= kMaxGap + 1) {
      if (n.counts[end] != 0) last = end;
      ++end;
    }
    const std::int64_t index = std::int64_t{n.first_index} + static_cast<std::int64_t>(i);
    pb::BucketSpan& span = *m.add_positive_span();
    span.set_offset(static_cast<std::int32_t>(first_span ? index : index - next_index));
    span.set_length(static_cast<std::uint32_t>(last - i + 1));
    for (std::size_t k = i; k <= last; ++k) {
      // Deltas are int64 and Prometheus adds them up in an int64: a count above 2^63 - 1 (only a
      // scribbled segment has one) is served as that.
      const std::uint64_t c = std::min<std::uint64_t>(n.counts[k], kMaxBucketCount);
      m.add_positive_delta(static_cast<std::int64_t>(c) - static_cast<std::int64_t>(previous));
      previous = c;
    }
    next_index = std::int64_t{n.first_index} + static_cast<std::int64_t>(last) + 1;
    first_span = false;
    i = last + 1;
  }
}

void ProtobufWriter::finish() {
  s_->flush();
  s_->out = nullptr;
}

}  // namespace sipmetrics
