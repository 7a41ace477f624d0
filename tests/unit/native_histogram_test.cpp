// Native histograms end to end: the bucket index against client_golang's definition, the
// window NativeOptions ask for (and the options refused), where each kind of value lands, the
// hot path from many threads (exclusive and shared lanes), the daemon's side (catalog checks,
// spans and deltas in the protobuf format beside the classic buckets, the cap under a racing
// scrape, folding when a writer dies and a daemon restart, classic-only in --base-units).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <sipmetrics/client.hpp>
#include <sipmetrics/segment/native.hpp>
#include <string>
#include <thread>
#include <vector>

#include "exporter.hpp"
#include "protobuf_support.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

namespace sipmetrics {
namespace {

using test::client_for;
using test::entry_named;
using test::fast;
using test::has_line;
using test::refusals;
using test::view_of;
using test::Writer;
namespace pb = io::prometheus::client;

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::nan("");

/// client_golang's index, written as it computes it: frexp, then a search of the fraction over
/// the schema's bounds (here the same table), plus the octave.
std::int32_t reference_index(std::int32_t schema, double v) {
  int exp = 0;
  const double frac = std::frexp(v, &exp);
  const std::int32_t n = std::int32_t{1} << schema;
  const double* bounds = detail::native_mantissa_bounds(schema);
  const auto i = static_cast<std::int32_t>(std::lower_bound(bounds, bounds + n, frac) - bounds);
  return i + (exp - 1) * n;
}

std::vector<pb::MetricFamily> scrape_pb(Exporter& e) {
  std::string out;
  e.scrape(out, Format::kProtobuf);
  return test::parse(out);
}

const pb::Histogram& only_histogram(const std::vector<pb::MetricFamily>& fams,
                                    std::string_view name) {
  const pb::MetricFamily* f = test::family(fams, name);
  REQUIRE(f != nullptr);
  REQUIRE(f->type() == pb::HISTOGRAM);
  REQUIRE(f->metric_size() == 1);
  return f->metric(0).histogram();
}

}  // namespace

TEST_CASE("the native index is client_golang's: the smallest index with v <= 2^(index/2^schema)") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-60, 60);
  for (std::int32_t schema = 0; schema <= layout::kMaxNativeSchema; ++schema) {
    const double* m = detail::native_mantissa_bounds(schema);
    const std::int32_t n = std::int32_t{1} << schema;
    CHECK(m[0] == 0.5);
    for (int i = 0; i < 20'000; ++i) {
      const double v = std::exp2(exponent(rng));
      REQUIRE(detail::native_index(m, schema, v) == reference_index(schema, v));
    }
    // Exact powers of two are the upper edges of their buckets: 2^k has index k * 2^schema.
    for (int k = -20; k <= 20; ++k) {
      CHECK(detail::native_index(m, schema, std::ldexp(1.0, k)) == k * n);
      CHECK(detail::native_index(m, schema, std::nextafter(std::ldexp(1.0, k), kInf)) == k * n + 1);
    }
    CHECK(detail::native_index(m, schema, std::numeric_limits<double>::max()) == 1024 * n);
    CHECK(detail::native_index(m, schema, kInf) >= 1024 * n);  // past every window
  }
  // Schema 3 around 1: bucket 1 is (1, 2^(1/8)].
  const double* m3 = detail::native_mantissa_bounds(3);
  CHECK(detail::native_index(m3, 3, 1.05) == 1);
  CHECK(detail::native_index(m3, 3, 1.0905) == 1);
  CHECK(detail::native_index(m3, 3, 1.0906) == 2);
  CHECK(detail::native_index(m3, 3, 0.99) == 0);
  CHECK(detail::native_index(m3, 3, 0.9) == -1);
}

TEST_CASE("native windows: the SIP default, the segment's checks, options refused and counted") {
  const detail::NativeWindow sip{-23, 152, 3};
  CHECK(detail::native_window_valid(sip));
  CHECK(detail::native_zero_threshold(sip) == 0.125);
  CHECK(detail::native_edge(3, -23 + 152 - 1) == 65536);
  CHECK_FALSE(detail::native_window_valid({0, 0, 3}));
  CHECK_FALSE(detail::native_window_valid({0, layout::kMaxNativeBuckets + 1, 3}));
  CHECK_FALSE(detail::native_window_valid({0, 10, 9}));
  CHECK_FALSE(detail::native_window_valid({0, 10, -1}));
  CHECK(detail::native_window_valid({-1021, 10, 0}));  // lower edge 2^-1022: the smallest normal
  CHECK_FALSE(detail::native_window_valid({-1022, 10, 0}));
  CHECK(detail::native_window_valid({1014, 10, 0}));  // upper edge 2^1023
  CHECK_FALSE(detail::native_window_valid({1015, 10, 0}));

  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  Histogram h = c.histogram("pdd_ms", "", {}, kSipLatencyBucketsMs, kSipLatencyNativeMs);
  REQUIRE(h.valid());
  CHECK(h.native());
  const layout::SeriesEntry* e = entry_named(v, "pdd_ms");
  REQUIRE(e != nullptr);
  CHECK(e->type == layout::MetricType::kNativeHistogram);
  CHECK(e->native_first_index == -23);
  CHECK(e->native_buckets == 152);
  CHECK(e->native_schema == 3);
  CHECK(e->cell_count == kSipLatencyBucketsMs.size() + 4 + 152);
  // lowest and highest that are not bucket edges round up to one.
  Histogram r = c.histogram("round_ms", "", {}, {1.0}, NativeOptions{0, 0.3, 5});
  REQUIRE(r.valid());
  const layout::SeriesEntry* re = entry_named(v, "round_ms");
  CHECK(re->native_first_index == 0);  // zero threshold 0.5 (>= 0.3), first bucket (0.5, 1]
  CHECK(re->native_buckets == 4);      // up to (4, 8], which holds 5
  CHECK_FALSE(c.histogram("classic_ms", "", {}, {1.0}).native());

  const std::uint64_t before = refusals(v, layout::Refusal::kInvalidBuckets);
  const NativeOptions bad[] = {{9, 1, 2},    {-1, 1, 2},     {3, 0, 2},    {3, -1, 2},
                               {3, 2, 2},    {3, 2, 1},      {3, kNaN, 2}, {3, 1, kNaN},
                               {3, 1, kInf}, {3, 1e-320, 2},  // subnormal lowest
                               {8, 1, 2.1}};                  // 257 buckets
  for (const NativeOptions& o : bad) CHECK_FALSE(c.histogram("bad_ms", "", {}, {1.0}, o).valid());
  CHECK(refusals(v, layout::Refusal::kInvalidBuckets) == before + std::size(bad));
  // One window per series: the same series with another window, or classic, is another thing.
  CHECK(c.histogram("pdd_ms", "", {}, kSipLatencyBucketsMs, kSipLatencyNativeMs).valid());
  CHECK_FALSE(
      c.histogram("pdd_ms", "", {}, kSipLatencyBucketsMs, NativeOptions{2, 0.125, 65536}).valid());
  CHECK(refusals(v, layout::Refusal::kTypeConflict) == 1);
}

TEST_CASE("where values land: zero bucket, window, last bucket; NaN in no native bucket") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    // Schema 0 over (1, 16]: native buckets 1 (1,2], 2 (2,4], 3 (4,8], 4 (8,16].
    Histogram h =
        c.histogram("lat_ms", "Latency.", {{"dir", "in"}}, {2.0, 10.0}, NativeOptions{0, 1, 16});
    for (double x : {0.0, -0.0, -3.0, -kInf, 0.5, 1.0})
      h.observe(x);                                     // zero bucket (threshold 1): 6
    h.observe(1.5);                                     // (1, 2]
    h.observe(2.0);                                     // (1, 2]
    h.observe(3.0);                                     // (2, 4]
    h.observe(16.0);                                    // (8, 16]
    for (double x : {17.0, 1e300, kInf}) h.observe(x);  // above: the last bucket
    h.observe(kNaN);                                    // count and +Inf only
  });
  Exporter e(std::move(file), fast());
  const auto fams = scrape_pb(e);
  const pb::Histogram& h = only_histogram(fams, "lat_ms");
  CHECK(h.sample_count() == 14);
  CHECK(h.sample_sum() == 0.5 + 1 + 1.5 + 2 + 3 + 16 + 17 + 1e300);
  CHECK(h.schema() == 0);
  CHECK(h.zero_threshold() == 1.0);
  CHECK(h.zero_count() == 6);
  const std::map<std::int32_t, std::int64_t> want = {{1, 2}, {2, 1}, {3, 0}, {4, 4}};
  CHECK(test::native_buckets(h) == want);
  // The classic buckets beside them: le=2: 8 (negatives in the first), le=10: 9, +Inf = 14.
  REQUIRE(h.bucket_size() == 2);
  CHECK(h.bucket(0).upper_bound() == 2.0);
  CHECK(h.bucket(0).cumulative_count() == 8);
  CHECK(h.bucket(1).cumulative_count() == 9);
  // The text formats carry the classic histogram only.
  std::string text;
  e.scrape(text, Format::kText);
  CHECK(has_line(text, "# TYPE lat_ms histogram"));
  CHECK(has_line(text, "lat_ms_bucket{dir=\"in\",le=\"2\"} 8"));
  CHECK(has_line(text, "lat_ms_bucket{dir=\"in\",le=\"+Inf\"} 14"));
  CHECK(has_line(text, "lat_ms_count{dir=\"in\"} 14"));
  std::string om;
  e.scrape(om, Format::kOpenMetrics);
  CHECK(has_line(om, "lat_ms_count{dir=\"in\"} 14"));
}

TEST_CASE("native observe from a pool of threads, exclusive and shared lanes: exact") {
  test::TempSegment seg;
  layout::Geometry g = layout::kDefaultGeometry;
  g.lanes_per_writer = 4;  // 3 exclusive lanes, one shared by the other threads
  Client& c = client_for(seg, g);
  const auto& v = view_of(seg);
  Histogram h = c.histogram("pool_ms", "", {}, {1.0, 4.0}, NativeOptions{1, 0.5, 8});
  REQUIRE(h.valid());
  constexpr int kThreads = 8, kRounds = 20'000;
  const double round[] = {0.25, 0.75, 1.2, 3, 100};
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      h.observe(0.25);  // binds the lane
      sync.arrive_and_wait();
      for (int r = 0; r < kRounds; ++r)
        for (double x : round) h.observe(x);
      sync.arrive_and_wait();
    });
  for (auto& t : threads) t.join();
  const layout::SeriesEntry* e = entry_named(v, "pool_ms");
  REQUIRE(e != nullptr);
  // Schema 1 over (0.5, 8]: index(0.5) = -2, so the window is indexes -1..6 (8 buckets).
  REQUIRE(e->native_first_index == -1);
  REQUIRE(e->native_buckets == 8);
  const std::uint32_t cell = e->first_cell, zero = cell + 3;
  const std::uint64_t rounds = std::uint64_t{kThreads} * kRounds;
  auto native = [&](std::int32_t index) { return count_total(v, zero + 1 + (index + 1)); };
  CHECK(count_total(v, zero) == rounds + kThreads);                  // 0.25
  CHECK(native(0) == rounds);                                        // 0.75 in (2^-0.5, 1]
  CHECK(native(1) == rounds);                                        // 1.2 in (1, 1.41]
  CHECK(native(4) == rounds);                                        // 3 in (2.83, 4]
  CHECK(native(6) == rounds);                                        // 100 clamped into (5.66, 8]
  CHECK(count_total(v, zero + 1 + 8 + 1) == 5 * rounds + kThreads);  // _count, after _sum
  int shared = 0;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l)
    shared += v.lane(l).owner.load() != 0 && v.lane(l).mode.load() == layout::kLaneShared;
  CHECK(shared == 1);
}

TEST_CASE("native buckets survive a writer's SIGKILL and a daemon restart, capped under a race") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  auto observe = [](Client& c, int n) {
    Histogram h = c.histogram("pdd_ms", "", {}, kSipLatencyBucketsMs, kSipLatencyNativeMs);
    for (int i = 0; i < n; ++i) h.observe(2500);
    h.observe(0.01);
  };
  const std::int32_t index_2500 = detail::native_index(detail::native_mantissa_bounds(3), 3, 2500);
  Writer alive(seg.path(), [&](Client& c) { observe(c, 100); });
  auto dying = std::make_unique<Writer>(seg.path(), [&](Client& c) { observe(c, 40); });
  {
    Exporter e(std::move(file), fast());
    pb::Histogram h = only_histogram(scrape_pb(e), "pdd_ms");
    CHECK(h.sample_count() == 142);
    CHECK(h.zero_count() == 2);
    CHECK(test::native_buckets(h) == std::map<std::int32_t, std::int64_t>{{index_2500, 140}});
    dying->kill();
    e.tick(true);
    h = only_histogram(scrape_pb(e), "pdd_ms");
    CHECK(h.sample_count() == 142);
    CHECK(h.zero_count() == 2);
    CHECK(test::native_buckets(h) == std::map<std::int32_t, std::int64_t>{{index_2500, 140}});

    // A scrape racing a writer sees a native bucket ahead of _count: capped, never above it.
    std::uint32_t lane = 0;
    while (view.lane(lane).owner.load() == 0) ++lane;
    const layout::SeriesEntry* en = entry_named(view, "pdd_ms");
    std::atomic<std::uint64_t>& cell =
        view.cells(lane)[en->first_cell + kSipLatencyBucketsMs.size() + 2 + (index_2500 + 23)];
    const std::uint64_t was = cell.load();
    cell.store(was + 1000);
    h = only_histogram(scrape_pb(e), "pdd_ms");
    CHECK(h.sample_count() == 142);
    CHECK(test::native_buckets(h) == std::map<std::int32_t, std::int64_t>{{index_2500, 140}});
    cell.store(was);
  }
  auto again = test::open_segment(seg.path());
  REQUIRE(again);
  Writer later(seg.path(), [&](Client& c) { observe(c, 1); });
  Exporter e2(std::move(again), fast());
  const pb::Histogram h = only_histogram(scrape_pb(e2), "pdd_ms");
  CHECK(h.sample_count() == 144);
  CHECK(h.zero_count() == 3);
  CHECK(test::native_buckets(h) == std::map<std::int32_t, std::int64_t>{{index_2500, 141}});
}

TEST_CASE("native entries with a bad window or shape are skipped and counted as corrupt") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer w(seg.path(), [](Client& c) {
    for (const char* name : {"good_ms", "schema_ms", "none_ms", "wide_ms", "edge_ms", "cells_ms"})
      c.histogram(name, "", {}, {1.0, 2.0}, NativeOptions{2, 0.5, 4}).observe(1);
  });
  for (std::uint32_t i = 0; i < view.geometry().max_series; ++i) {
    layout::SeriesEntry& en = view.entry(i);
    if (layout::entry_state(en.state.load()) != layout::kEntryReady) continue;
    detail::DecodedKey k;
    REQUIRE(detail::decode_key(*view.arena_bytes(en.key_offset, en.key_length), k));
    if (k.name == "schema_ms") en.native_schema = 9;
    if (k.name == "none_ms") en.native_buckets = 0;
    if (k.name == "wide_ms") en.native_buckets = layout::kMaxNativeBuckets + 1;
    if (k.name == "edge_ms") en.native_first_index = 1024 * 4;  // upper edge past 2^1024
    if (k.name == "cells_ms") en.native_buckets = static_cast<std::uint16_t>(en.native_buckets - 1);
  }
  Exporter e(std::move(file), fast());
  std::string text;
  e.scrape(text, Format::kText);
  CHECK(has_line(text, "good_ms_count 1"));
  for (const char* name : {"schema_ms", "none_ms", "wide_ms", "edge_ms", "cells_ms"})
    CHECK(text.find(name) == std::string::npos);
  CHECK(has_line(text, "sipmetrics_corrupt_entries_total{region=\"catalog\"} 5"));
}

TEST_CASE("one family, one kind; merged sources need one window; --base-units serves classic") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.histogram("mixed_ms", "", {{"k", "a"}}, {1.0}).observe(0.5);
    c.histogram("mixed_ms", "", {{"k", "b"}}, {1.0}, NativeOptions{0, 1, 4}).observe(0.5);
    c.register_labels("merge_ms", {"t"});
    c.histogram("merge_ms", "", {{"t", "u"}, {"call", "1"}}, {1.0}, NativeOptions{0, 1, 4})
        .observe(3);
    c.histogram("merge_ms", "", {{"t", "u"}, {"call", "2"}}, {1.0}, NativeOptions{0, 1, 4})
        .observe(3);
    c.histogram("merge_ms", "", {{"t", "u"}, {"call", "3"}}, {1.0}, NativeOptions{1, 1, 4})
        .observe(3);
    c.histogram("setup_ms", "", {}, kSipLatencyBucketsMs, kSipLatencyNativeMs).observe(450);
  });
  ExporterSettings s = fast();
  Exporter e(std::move(file), s);
  auto fams = scrape_pb(e);
  const pb::MetricFamily* mixed = test::family(fams, "mixed_ms");
  REQUIRE(mixed != nullptr);
  CHECK(mixed->metric_size() == 1);  // the later registered kind is refused
  const pb::Histogram& merged = only_histogram(fams, "merge_ms");
  CHECK(merged.sample_count() == 2);  // two sources of one window; the third is refused
  CHECK(test::native_buckets(merged) == std::map<std::int32_t, std::int64_t>{{2, 2}});
  std::string text;
  e.scrape(text, Format::kText);
  CHECK(has_line(text, "sipmetrics_series_rejected_total{reason=\"type_conflict\"} 2"));

  s.plan.base_units = true;
  e.apply(s);
  fams = scrape_pb(e);
  const pb::Histogram& seconds = only_histogram(fams, "setup_seconds");
  CHECK(seconds.sample_count() == 1);
  CHECK(seconds.sample_sum() == doctest::Approx(0.45));
  CHECK_FALSE(seconds.has_zero_threshold());
  CHECK(seconds.positive_span_size() == 0);
  CHECK(seconds.bucket_size() == static_cast<int>(kSipLatencyBucketsMs.size()));
}

}  // namespace sipmetrics
