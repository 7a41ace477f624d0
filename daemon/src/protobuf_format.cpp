#include "protobuf_format.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <cmath>

#include "metrics.pb.h"
#include "text_format.hpp"

namespace sipmetrics {

namespace pb = io::prometheus::client;

struct ProtobufWriter::State {
  pb::MetricFamily family;
  std::string* out = nullptr;
  bool open = false;  // `family` holds a family not yet written

  /// Writes the open family as one delimited message.
  void flush() {
    if (!open) return;
    open = false;
    const std::size_t size = family.ByteSizeLong();
    std::uint8_t length[10];
    std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(
        static_cast<std::uint64_t>(size), length);
    out->append(reinterpret_cast<const char*>(length), static_cast<std::size_t>(end - length));
    const std::size_t at = out->size();
    out->resize(at + size);
    family.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out->data() + at));
  }

  /// A new metric of the open family, with its labels.
  pb::Metric& metric(const SeriesLabels& labels) {
    pb::Metric& m = *family.add_metric();
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

void ProtobufWriter::begin(std::string& out) {
  s_->out = &out;
  s_->open = false;
}

void ProtobufWriter::family(std::string_view name, std::string_view help, layout::MetricType type) {
  s_->flush();
  pb::MetricFamily& f = s_->family;
  f.Clear();
  f.mutable_name()->assign(name);
  std::string& h = *f.mutable_help();
  append_utf8(h, help);  // the client's help bytes are not trusted to be UTF-8
  switch (type) {
    case layout::MetricType::kCounter: f.set_type(pb::COUNTER); break;
    case layout::MetricType::kGauge: f.set_type(pb::GAUGE); break;
    case layout::MetricType::kSummary: f.set_type(pb::SUMMARY); break;
    case layout::MetricType::kHistogram: f.set_type(pb::HISTOGRAM); break;
    default: f.set_type(pb::UNTYPED); break;
  }
  s_->open = true;
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
  for (std::size_t q = 0; q < quantiles.size() && q < std::size(kQuantiles); ++q) {
    pb::Quantile& e = *s.add_quantile();
    e.set_quantile(kQuantiles[q]);
    e.set_value(quantiles[q]);
  }
}

void ProtobufWriter::histogram(const SeriesLabels& labels, const HistogramValues& h) {
  pb::Histogram& m = *s_->metric(labels).mutable_histogram();
  m.set_sample_count(h.count);
  m.set_sample_sum(h.sum);
  // The +Inf bucket is left out, as client_golang does: it is sample_count.
  for (std::size_t b = 0; b < h.cumulative.size() && b < h.bounds.size(); ++b) {
    pb::Bucket& e = *m.add_bucket();
    e.set_cumulative_count(h.cumulative[b]);
    e.set_upper_bound(h.bounds[b]);
  }
  if (h.native == nullptr) return;
  const NativeBuckets& n = *h.native;
  m.set_schema(n.schema);
  // A zero threshold above 0 makes Prometheus read the histogram as native even before its
  // first observation, so a family never switches between classic and native.
  m.set_zero_threshold(n.zero_threshold);
  m.set_zero_count(n.zero_count);
  // Spans over the populated buckets: a run of empty buckets longer than two starts a new span
  // (a span costs two varints, an empty bucket inside one a one-byte delta), as client_golang.
  constexpr std::size_t kMaxGap = 2;
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
      m.add_positive_delta(static_cast<std::int64_t>(n.counts[k] - previous));
      previous = n.counts[k];
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
