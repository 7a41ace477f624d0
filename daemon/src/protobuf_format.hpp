// The protobuf exposition: io.prometheus.client.MetricFamily messages (C++ generated at build
// time from Debian's metrics.proto, client_model 0.3.0), each preceded by its length as a
// varint, as Prometheus reads `application/vnd.google.protobuf;
// proto=io.prometheus.client.MetricFamily; encoding=delimited`. Only formatting: the values
// come from render_plan, which owns the rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "exposition.hpp"

namespace sipmetrics {

/// Writes one family message at a time into a string. One message per family is kept from
/// scrape to scrape (memory: a few hundred bytes per series, for as long as the plan has them):
/// while the structure key given to begin() stays the same, a scrape only overwrites values,
/// and once sizes settle it allocates nothing here. Not thread-safe: one exposition at a time
/// (the exporter renders under its lock).
class ProtobufWriter final : public MetricWriter {
 public:
  ProtobufWriter();
  ~ProtobufWriter() override;
  ProtobufWriter(const ProtobufWriter&) = delete;
  ProtobufWriter& operator=(const ProtobufWriter&) = delete;

  /// Starts an exposition appended to `out`, which must outlive finish(). `structure` names
  /// the families, series and labels about to be rendered: the same value as the last scrape's
  /// promises the same ones in the same order (the exporter passes its plan's generation), any
  /// other value rebuilds them. A family whose name differs from last time rebuilds the rest of
  /// the scrape whatever the key.
  void begin(std::string& out, std::uint64_t structure);

  bool wants_label_pairs() const noexcept override { return true; }
  void family(std::string_view name, std::string_view help, layout::MetricType type) override;
  void counter(const SeriesLabels& labels, std::uint64_t value) override;
  void gauge(const SeriesLabels& labels, double value) override;
  void gauge(const SeriesLabels& labels, std::uint64_t value) override;
  void summary(const SeriesLabels& labels, std::span<const double> quantiles, double sum,
               std::uint64_t count) override;
  void histogram(const SeriesLabels& labels, const HistogramValues& h) override;
  void finish() override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sipmetrics
