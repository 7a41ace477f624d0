// The benchmark peer: prometheus-cpp (Debian's prometheus-cpp-dev, core library) doing what
// bench_client.cpp and bench_daemon.cpp time for sipmetrics, with the same threads, values and
// series. bench/run_benchmarks.py prints each sipmetrics figure as a ratio to its pair here,
// measured in the same run:
//   BM_Peer_Counter_Increment      Counter::Increment()               BM_Counter_Inc
//   BM_Peer_Gauge_Set              Gauge::Set(v)                      BM_Gauge_Set
//   BM_Peer_Gauge_Increment        Gauge::Increment()                 BM_Gauge_Add
//   BM_Peer_Summary_Observe        Summary::Observe(v), quantiles     BM_Summary_Observe
//                                  0.5, 0.9, 0.95, 0.99, 60 s window
//   BM_Peer_Histogram_Observe      Histogram::Observe(v), 10 bounds   BM_Histogram_Observe_10Bounds
//   BM_Peer_Histogram_Observe_14Bounds  kSipLatencyBucketsMs          BM_Histogram_Observe
//   BM_Peer_Serialize/N            Registry::Collect() and            BM_Exporter_Scrape/N
//                                  TextSerializer of N counters
//   BM_Peer_SerializeMixed         the same over 8,500 counters, 500  BM_Exporter_ScrapeMixed/text
//                                  gauges, 1,000 histograms
// One metric object is shared by every thread of a benchmark, as one sipmetrics handle is: the
// same series updated from N threads.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>

#include <cstdint>
#include <string>
#include <vector>

#include <sipmetrics/client.hpp>

#include "bench_values.hpp"

namespace {

using sipmetrics::bench::latencies;

prometheus::Registry& registry() {
  static prometheus::Registry r;
  return r;
}

/// The quantiles sipmetricsd serves (exposition.hpp's kQuantiles), with the errors
/// prometheus-cpp's documentation uses: tighter towards the tail.
const prometheus::Summary::Quantiles& quantiles() {
  static const prometheus::Summary::Quantiles q{
      {0.5, 0.05}, {0.9, 0.01}, {0.95, 0.005}, {0.99, 0.001}};
  return q;
}

template <typename Bounds>
prometheus::Histogram::BucketBoundaries boundaries(const Bounds& b) {
  return {b.begin(), b.end()};
}

void BM_Peer_Counter_Increment(benchmark::State& state) {
  static prometheus::Counter& c = prometheus::BuildCounter()
                                      .Name("bench_counter_total")
                                      .Help("Bench.")
                                      .Register(registry())
                                      .Add({});
  for (auto _ : state) c.Increment();
}
BENCHMARK(BM_Peer_Counter_Increment)->Threads(1)->Threads(2)->Threads(4);

void BM_Peer_Gauge_Set(benchmark::State& state) {
  static prometheus::Gauge& g =
      prometheus::BuildGauge().Name("bench_gauge").Help("Bench.").Register(registry()).Add({});
  std::int64_t i = 0;  // as BM_Gauge_Set: values from an integer counter
  for (auto _ : state) g.Set(static_cast<double>(++i));
}
BENCHMARK(BM_Peer_Gauge_Set)->Threads(1)->Threads(2)->Threads(4);

void BM_Peer_Gauge_Increment(benchmark::State& state) {
  static prometheus::Gauge& g =
      prometheus::BuildGauge().Name("bench_gauge_sum").Help("Bench.").Register(registry()).Add({});
  for (auto _ : state) g.Increment();
}
BENCHMARK(BM_Peer_Gauge_Increment)->Threads(1)->Threads(2)->Threads(4);

void BM_Peer_Summary_Observe(benchmark::State& state) {
  // Default max_age (60 s) and age buckets (5).
  static prometheus::Summary& s = prometheus::BuildSummary()
                                      .Name("bench_latency_ms")
                                      .Help("Bench.")
                                      .Register(registry())
                                      .Add({}, quantiles());
  std::int64_t i = 0;  // as BM_Summary_Observe
  for (auto _ : state) s.Observe(static_cast<double>(++i) * 0.5);
}
BENCHMARK(BM_Peer_Summary_Observe)->Threads(1)->Threads(2)->Threads(4);

void histogram_observe(benchmark::State& state, prometheus::Histogram& h) {
  const double* v = latencies();  // as BM_Histogram_Observe
  std::uint32_t i = 0;
  for (auto _ : state) h.Observe(v[++i & 4095]);
}

void BM_Peer_Histogram_Observe(benchmark::State& state) {
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_setup10_ms")
                                        .Help("Bench.")
                                        .Register(registry())
                                        .Add({}, boundaries(sipmetrics::bench::kTenBoundsMs));
  histogram_observe(state, h);
}
BENCHMARK(BM_Peer_Histogram_Observe)->Threads(1)->Threads(2)->Threads(4);

void BM_Peer_Histogram_Observe_14Bounds(benchmark::State& state) {
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_setup_ms")
                                        .Help("Bench.")
                                        .Register(registry())
                                        .Add({}, boundaries(sipmetrics::kSipLatencyBucketsMs));
  histogram_observe(state, h);
}
BENCHMARK(BM_Peer_Histogram_Observe_14Bounds)->Threads(1)->Threads(2)->Threads(4);

/// N counters shaped as bench_daemon.cpp's counters(): sip_requests_total{method="INVITE",
/// code="<i>",direction="inbound"} = i + 1.
void add_counters(prometheus::Registry& r, int n) {
  auto& f = prometheus::BuildCounter().Name("sip_requests_total").Help("Requests.").Register(r);
  for (int i = 0; i < n; ++i)
    f.Add({{"method", "INVITE"}, {"code", std::to_string(i)}, {"direction", "inbound"}})
        .Increment(static_cast<double>(i) + 1);
}

/// One scrape as prometheus-cpp's own /metrics handler makes it: collect every family from the
/// registry, then serialise them into a string.
void serialize(benchmark::State& state, const prometheus::Registry& r) {
  const prometheus::TextSerializer serializer;
  std::string out = serializer.Serialize(r.Collect());
  for (auto _ : state) {
    out = serializer.Serialize(r.Collect());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}

void BM_Peer_Serialize(benchmark::State& state) {
  prometheus::Registry r;
  add_counters(r, static_cast<int>(state.range(0)));
  serialize(state, r);
}
BENCHMARK(BM_Peer_Serialize)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

/// BM_Exporter_ScrapeMixed's 10,000 series: 8,500 counters, 500 gauges and 1,000 histograms with
/// kSipLatencyBucketsMs, each histogram observed 20 times with the same values.
void BM_Peer_SerializeMixed(benchmark::State& state) {
  prometheus::Registry r;
  add_counters(r, 8500);
  auto& gauges = prometheus::BuildGauge().Name("sip_active_dialogs").Help("Dialogs.").Register(r);
  for (int i = 0; i < 500; ++i)
    gauges.Add({{"trunk", std::to_string(i)}}).Set(static_cast<double>(i) + 0.5);
  auto& histograms =
      prometheus::BuildHistogram().Name("sip_invite_setup_ms").Help("INVITE to final.").Register(r);
  const prometheus::Histogram::BucketBoundaries bounds =
      boundaries(sipmetrics::kSipLatencyBucketsMs);
  for (int i = 0; i < 1000; ++i) {
    prometheus::Histogram& h = histograms.Add(
        {{"trunk", std::to_string(i % 100)}, {"class", std::to_string(i / 100)}}, bounds);
    for (int k = 0; k < 20; ++k) h.Observe(static_cast<double>((i * 37 + k * 911) % 40000));
  }
  serialize(state, r);
}
BENCHMARK(BM_Peer_SerializeMixed)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
