// Histograms end to end: the bucket search, registration (bounds checked, stored, compared),
// the hot path from many threads, the rule for NaN, ±Inf and negative values, and the daemon's
// side (catalog validation, cumulative exposition in both formats, folding when a writer dies,
// a daemon restart). Client cases attach a segment of their own in this process (at most
// detail::kMaxAttachments in all); daemon cases write from forked children (test::Writer).
#include "exporter.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <cmath>
#include <limits>
#include <sipmetrics/client.hpp>
#include <sipmetrics/segment/buckets.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "writer_process.hpp"

namespace sipmetrics {
namespace {

using test::fast;

using test::client_for;
using test::view_of;

using test::has_line;
using test::refusals;

using test::Writer;

const layout::SeriesEntry* entry_named(const detail::SegmentView& v, std::string_view name) {
  return test::entry_named(v, name, layout::MetricType::kHistogram);
}
constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::nan("");

/// A cell's f64 total over every counted lane (no retained part: no writer died).
double sum_total(const detail::SegmentView& v, std::uint32_t cell) {
  double s = detail::bits_f64(current_retained(v)[cell].load());
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l)
    if (lane_counted(v, l)) s += detail::bits_f64(v.cells(l)[cell].load());
  return s;
}

std::string scrape(Exporter& e, Format f = Format::kText) {
  std::string out;
  e.scrape(out, f);
  return out;
}

}  // namespace

TEST_CASE("the bucket search finds the first bound >= v; NaN and values past the last go to +Inf") {
  const std::vector<std::vector<double>> sets = {
      {0}, {1}, {1, 2}, {0, 1, 2}, {0.5, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7}};
  std::vector<double> all(kSipLatencyBucketsMs.begin(), kSipLatencyBucketsMs.end());
  std::vector<std::vector<double>> with_big = sets;
  with_big.push_back(all);
  std::vector<double> many;
  for (std::uint32_t i = 0; i < layout::kMaxHistogramBounds; ++i) many.push_back(i * 1.5);
  with_big.push_back(many);
  // Either side of the bound count where bucket_index switches searches.
  for (std::uint32_t n : {detail::kLinearSearchBounds, detail::kLinearSearchBounds + 1})
    with_big.emplace_back(many.begin(), many.begin() + n);
  for (const auto& b : with_big) {
    const auto n = static_cast<std::uint32_t>(b.size());
    std::vector<double> probes = {kNaN, kInf, -kInf, -1, -0.0, 0, 1e300, -1e300};
    for (double x : b) {
      probes.push_back(x);
      probes.push_back(std::nextafter(x, kInf));
      probes.push_back(std::nextafter(x, -kInf));
    }
    for (double v : probes) {
      std::uint32_t want = n;
      for (std::uint32_t i = 0; i < n; ++i)
        if (v <= b[i]) {
          want = i;
          break;
        }
      CAPTURE(n);
      CAPTURE(v);
      CHECK(detail::bucket_index(b.data(), n, v) == want);
      CHECK(detail::bucket_index_linear(b.data(), n, v) == want);
      CHECK(detail::bucket_index_binary(b.data(), n, v) == want);
    }
  }
  // Whatever a scribbled arena holds, the index stays within [0, n].
  const double junk[] = {kNaN, 5, -kInf, 1, kNaN};
  for (double v : {kNaN, 0.0, 3.0, 100.0, -kInf}) {
    CHECK(detail::bucket_index_linear(junk, 5, v) <= 5);
    CHECK(detail::bucket_index_binary(junk, 5, v) <= 5);
  }
}

TEST_CASE("bounds: sorted, finite, non-negative, 1..64; others refused and counted") {
  CHECK(detail::valid_bounds(kSipLatencyBucketsMs));
  CHECK(detail::valid_bounds(std::vector<double>{0}));
  CHECK_FALSE(detail::valid_bounds({}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{2, 1}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{1, 1}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{-0.0, 0}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{1, kNaN}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{1, kInf}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{-kInf, 1}));
  CHECK_FALSE(detail::valid_bounds(std::vector<double>{-1, 1}));
  std::vector<double> many;
  for (std::uint32_t i = 0; i < layout::kMaxHistogramBounds; ++i) many.push_back(i);
  CHECK(detail::valid_bounds(many));
  many.push_back(1000);
  CHECK_FALSE(detail::valid_bounds(many));

  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  const std::uint64_t before = refusals(v, layout::Refusal::kInvalidBuckets);
  const std::uint64_t names_before = refusals(v, layout::Refusal::kInvalidName);
  const std::vector<std::vector<double>> bad = {{},        {2, 1},  {1, 1}, {1, kNaN},
                                                {1, kInf}, {-1, 1}, many};
  for (const auto& b : bad) {
    Histogram h = c.histogram("bad_ms", "", {}, b);
    CHECK_FALSE(h.valid());
    CHECK(h.bounds().empty());
    h.observe(1);  // a no-op
  }
  CHECK(refusals(v, layout::Refusal::kInvalidBuckets) == before + bad.size());
  CHECK(entry_named(v, "bad_ms") == nullptr);
  CHECK_FALSE(c.histogram("bad name", "", {}, {1.0}).valid());
  CHECK(refusals(v, layout::Refusal::kInvalidName) == names_before + 1);

  // The same series again: the same cells; with other bounds: a type conflict.
  Histogram a = c.histogram("setup_ms", "Setup.", {{"t", "udp"}}, kSipLatencyBucketsMs);
  REQUIRE(a.valid());
  Histogram b = c.histogram("setup_ms", "", {{"t", "udp"}}, kSipLatencyBucketsMs);
  REQUIRE(b.valid());
  CHECK(a.bounds().data() == b.bounds().data());
  const std::uint64_t conflicts = refusals(v, layout::Refusal::kTypeConflict);
  CHECK_FALSE(c.histogram("setup_ms", "", {{"t", "udp"}}, {5.0, 10.0}).valid());
  std::vector<double> shifted(kSipLatencyBucketsMs.begin(), kSipLatencyBucketsMs.end());
  shifted.back() = 64000;
  CHECK_FALSE(c.histogram("setup_ms", "", {{"t", "udp"}}, shifted).valid());
  CHECK(refusals(v, layout::Refusal::kTypeConflict) == conflicts + 2);
  // A summary of the same name is another series (types do not share a series).
  CHECK(c.summary("setup_ms", "", {{"t", "udp"}}).valid());

  // Stored as registered: in the arena, aligned, -0 written as 0.
  const layout::SeriesEntry* e = entry_named(v, "setup_ms");
  REQUIRE(e != nullptr);
  CHECK(e->type == layout::MetricType::kHistogram);
  CHECK(e->cell_count == kSipLatencyBucketsMs.size() + 3);
  CHECK(e->bounds_offset % 8 == 0);
  CHECK(a.bounds().data() == reinterpret_cast<const double*>(v.arena() + e->bounds_offset));
  Histogram z = c.histogram("zero_ms", "", {}, {-0.0, 1.0});
  REQUIRE(z.valid());
  CHECK_FALSE(std::signbit(z.bounds()[0]));
}

TEST_CASE("observe from a pool of threads: every bucket, _sum and _count exact") {
  test::TempSegment seg;
  layout::Geometry g = layout::kDefaultGeometry;
  g.lanes_per_writer = 4;  // 3 exclusive lanes, one shared by the other threads
  Client& c = client_for(seg, g);
  const auto& v = view_of(seg);
  Histogram h = c.histogram("pool_ms", "", {}, {1.0, 2.0, 4.0});
  REQUIRE(h.valid());
  constexpr int kThreads = 8, kRounds = 20'000;
  // Each round observes 0.5, 1, 1.5, 3, 4, 10: buckets le=1: 2, le=2: 1, le=4: 2, +Inf: 1.
  const double round[] = {0.5, 1, 1.5, 3, 4, 10};
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      h.observe(0);  // binds the lane (le=1)
      sync.arrive_and_wait();
      for (int r = 0; r < kRounds; ++r)
        for (double x : round) h.observe(x);
      sync.arrive_and_wait();  // no lane is released before all are done
    });
  for (auto& t : threads) t.join();
  const layout::SeriesEntry* e = entry_named(v, "pool_ms");
  REQUIRE(e != nullptr);
  const std::uint32_t cell = e->first_cell;
  const std::uint64_t rounds = std::uint64_t{kThreads} * kRounds;
  CHECK(count_total(v, cell + 0) == 2 * rounds + kThreads);
  CHECK(count_total(v, cell + 1) == rounds);
  CHECK(count_total(v, cell + 2) == 2 * rounds);
  CHECK(count_total(v, cell + 3) == rounds);
  CHECK(sum_total(v, cell + 4) == 20.0 * static_cast<double>(rounds));
  CHECK(count_total(v, cell + 5) == 6 * rounds + kThreads);
  int shared = 0;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l)
    shared += v.lane(l).owner.load() != 0 && v.lane(l).mode.load() == layout::kLaneShared;
  CHECK(shared == 1);  // the atomic path was exercised too
}

TEST_CASE("NaN, ±Inf and negatives: counted in a bucket and _count, never in _sum") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  Histogram h = c.histogram("odd_ms", "", {}, {0.0, 10.0});
  REQUIRE(h.valid());
  h.observe(kNaN);   // +Inf bucket
  h.observe(kInf);   // +Inf bucket
  h.observe(-kInf);  // first bucket (le=0)
  h.observe(-5);     // first bucket
  h.observe(-0.0);   // first bucket, adds nothing
  h.observe(0);      // first bucket
  h.observe(7.5);    // le=10
  h.observe(10);     // le=10 (bounds are inclusive)
  h.observe(11);     // +Inf
  const layout::SeriesEntry* e = entry_named(v, "odd_ms");
  REQUIRE(e != nullptr);
  const std::uint32_t cell = e->first_cell;
  CHECK(count_total(v, cell + 0) == 4);
  CHECK(count_total(v, cell + 1) == 2);
  CHECK(count_total(v, cell + 2) == 3);
  CHECK(sum_total(v, cell + 3) == 28.5);
  CHECK(count_total(v, cell + 4) == 9);
}

TEST_CASE("after fork a child observes through the parent's handle into its own slot") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  Histogram h = c.histogram("fork_ms", "", {}, {1.0});
  h.observe(0.5);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int i = 0; i < 10; ++i) h.observe(2);
    ::_exit(0);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  const std::uint32_t cell = entry_named(v, "fork_ms")->first_cell;
  CHECK(count_total(v, cell) == 1);
  CHECK(count_total(v, cell + 1) == 10);
  CHECK(count_total(v, cell + 3) == 11);
  std::uint64_t parent = 0, child = 0;
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l) {
    const std::uint32_t o = v.lane(l).owner.load();
    (o == 1 ? parent : child) += o != 0 ? v.cells(l)[cell + 3].load() : 0;
  }
  CHECK(((parent == 1 && child == 10) || (parent == 10 && child == 1)));
}

TEST_CASE("histogram cells are consecutive, disjoint and never on a reserved cell") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  std::vector<double> many;
  for (std::uint32_t i = 0; i < layout::kMaxHistogramBounds; ++i) many.push_back(i + 1.0);
  std::vector<bool> taken(v.geometry().max_cells, false);
  // Mixed sizes so that runs meet page ends at every phase; 64 bounds take 67 cells.
  const std::uint64_t full = refusals(v, layout::Refusal::kCellsFull);
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "h" + std::to_string(i) + "_ms";
    const std::size_t nb = i % 3 == 0 ? many.size() : i % 3 == 1 ? kSipLatencyBucketsMs.size() : 1;
    Histogram h = c.histogram(name, "", {}, std::span<const double>(many.data(), nb));
    if (!h.valid()) break;  // cells exhausted
    if (i % 5 == 0) c.counter("k" + std::to_string(i) + "_total", "").inc();
    const layout::SeriesEntry* e = entry_named(v, name);
    REQUIRE(e != nullptr);
    CHECK(e->cell_count == nb + 3);
    for (std::uint32_t k = e->first_cell; k < e->first_cell + e->cell_count; ++k) {
      CHECK_FALSE(layout::cell_reserved(k));
      CHECK_FALSE(taken[k]);
      taken[k] = true;
    }
  }
  CHECK(refusals(v, layout::Refusal::kCellsFull) == full + 1);  // ran until the cells ran out
  CHECK(std::count(taken.begin(), taken.end(), true) > 6500);
}

// ---- The daemon's side
// ---------------------------------------------------------------------------

TEST_CASE("exposition: cumulative buckets, le as Prometheus writes it, +Inf = _count") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    Histogram h =
        c.histogram("invite_ms", "INVITE to final.", {{"transport", "udp"}}, {0.5, 1, 2.5, 100000});
    for (double x : {0.25, 0.5, 0.75, 2.0, 3.0, 200000.0}) h.observe(x);
    h.observe(kNaN);
    c.histogram("empty_ms", "Never observed.", {}, {1.0}).valid();
  });
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(has_line(text, "# HELP invite_ms INVITE to final."));
  CHECK(has_line(text, "# TYPE invite_ms histogram"));
  CHECK(has_line(text, "invite_ms_bucket{transport=\"udp\",le=\"0.5\"} 2"));
  CHECK(has_line(text, "invite_ms_bucket{transport=\"udp\",le=\"1\"} 3"));
  CHECK(has_line(text, "invite_ms_bucket{transport=\"udp\",le=\"2.5\"} 4"));
  CHECK(has_line(text, "invite_ms_bucket{transport=\"udp\",le=\"1e+05\"} 5"));
  CHECK(has_line(text, "invite_ms_bucket{transport=\"udp\",le=\"+Inf\"} 7"));
  CHECK(has_line(text, "invite_ms_sum{transport=\"udp\"} 200006.5"));
  CHECK(has_line(text, "invite_ms_count{transport=\"udp\"} 7"));
  CHECK(has_line(text, "empty_ms_bucket{le=\"1\"} 0"));
  CHECK(has_line(text, "empty_ms_bucket{le=\"+Inf\"} 0"));
  CHECK(has_line(text, "empty_ms_sum 0"));
  CHECK(has_line(text, "empty_ms_count 0"));
  // OpenMetrics: the same family and samples, no _created, # EOF last.
  const std::string om = scrape(e, Format::kOpenMetrics);
  CHECK(has_line(om, "# TYPE invite_ms histogram"));
  CHECK(has_line(om, "invite_ms_bucket{transport=\"udp\",le=\"+Inf\"} 7"));
  CHECK(has_line(om, "invite_ms_count{transport=\"udp\"} 7"));
  CHECK(om.find("_created") == std::string::npos);
  CHECK(om.ends_with("# EOF\n"));
}

TEST_CASE("buckets, _sum and _count survive a writer's SIGKILL and a daemon restart") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  auto observe = [](Client& c, int n) {
    Histogram h = c.histogram("pdd_ms", "", {}, kSipLatencyBucketsMs);
    for (int i = 0; i < n; ++i) h.observe(2500);  // le=3000
    h.observe(40000);                             // +Inf
  };
  Writer alive(seg.path(), [&](Client& c) { observe(c, 100); });
  auto dying = std::make_unique<Writer>(seg.path(), [&](Client& c) { observe(c, 40); });
  {
    Exporter e(std::move(file), fast());
    std::string text = scrape(e);
    CHECK(has_line(text, "pdd_ms_bucket{le=\"2000\"} 0"));
    CHECK(has_line(text, "pdd_ms_bucket{le=\"3000\"} 140"));
    CHECK(has_line(text, "pdd_ms_bucket{le=\"32000\"} 140"));
    CHECK(has_line(text, "pdd_ms_bucket{le=\"+Inf\"} 142"));
    CHECK(has_line(text, "pdd_ms_count 142"));
    CHECK(has_line(text, "pdd_ms_sum 430000"));
    dying->kill();
    e.tick(true);
    text = scrape(e);
    CHECK(has_line(text, "sipmetrics_writers_exited_total 1"));
    CHECK(has_line(text, "pdd_ms_bucket{le=\"3000\"} 140"));
    CHECK(has_line(text, "pdd_ms_bucket{le=\"+Inf\"} 142"));
    CHECK(has_line(text, "pdd_ms_count 142"));
    CHECK(has_line(text, "pdd_ms_sum 430000"));
  }  // the daemon goes away
  // A new daemon on the same segment continues from the retained totals.
  auto again = test::open_segment(seg.path());
  REQUIRE(again);
  Writer later(seg.path(), [&](Client& c) { observe(c, 1); });
  Exporter e2(std::move(again), fast());
  const std::string text = scrape(e2);
  CHECK(has_line(text, "pdd_ms_bucket{le=\"3000\"} 141"));
  CHECK(has_line(text, "pdd_ms_bucket{le=\"+Inf\"} 144"));
  CHECK(has_line(text, "pdd_ms_count 144"));
  CHECK(has_line(text, "pdd_ms_sum 472500"));
}

TEST_CASE("a bucket seen before its _count, or after: every scrape stays cumulative") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer w(seg.path(), [](Client& c) {
    Histogram h = c.histogram("race_ms", "", {}, {1.0, 2.0});
    h.observe(0.5);
    h.observe(1.5);
  });
  std::uint32_t lane = 0;
  while (view.lane(lane).owner.load() == 0) ++lane;
  Exporter e(std::move(file), fast());
  std::string text = scrape(e);
  const std::uint32_t cell = test::first_cells(1, 5)[0];
  // An observation whose bucket store is not yet seen: _count leads, it shows in +Inf only.
  view.cells(lane)[cell + 4].store(3);
  text = scrape(e);
  CHECK(has_line(text, "race_ms_bucket{le=\"2\"} 2"));
  CHECK(has_line(text, "race_ms_bucket{le=\"+Inf\"} 3"));
  // Buckets ahead of _count: capped at it.
  view.cells(lane)[cell + 0].store(5);
  text = scrape(e);
  CHECK(has_line(text, "race_ms_bucket{le=\"1\"} 3"));
  CHECK(has_line(text, "race_ms_bucket{le=\"2\"} 3"));
  CHECK(has_line(text, "race_ms_bucket{le=\"+Inf\"} 3"));
  CHECK(has_line(text, "race_ms_count 3"));
}

TEST_CASE("histogram entries with bad bounds or shapes are skipped and counted as corrupt") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer w(seg.path(), [](Client& c) {
    for (const char* name : {"good_ms", "unsorted_ms", "outside_ms", "short_ms", "nan_ms",
                             "unaligned_ms", "toomany_ms"})
      c.histogram(name, "", {}, {1.0, 2.0, 3.0}).observe(1);
  });
  for (std::uint32_t i = 0; i < view.geometry().max_series; ++i) {
    layout::SeriesEntry& en = view.entry(i);
    if (layout::entry_state(en.state.load()) != layout::kEntryReady) continue;
    detail::DecodedKey k;
    REQUIRE(detail::decode_key(*view.arena_bytes(en.key_offset, en.key_length), k));
    auto* bounds = reinterpret_cast<double*>(view.arena() + en.bounds_offset);
    if (k.name == "unsorted_ms") std::swap(bounds[0], bounds[2]);
    if (k.name == "outside_ms") en.bounds_offset = 1u << 30;
    if (k.name == "short_ms") en.cell_count = 3;  // no finite bound at all
    if (k.name == "nan_ms") bounds[1] = kNaN;
    if (k.name == "unaligned_ms") en.bounds_offset += 4;
    if (k.name == "toomany_ms") en.cell_count = layout::kMaxHistogramBounds + 4;
  }
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(has_line(text, "good_ms_count 1"));
  for (const char* name :
       {"unsorted_ms", "outside_ms", "short_ms", "nan_ms", "unaligned_ms", "toomany_ms"})
    CHECK(text.find(name) == std::string::npos);
  CHECK(has_line(text, "sipmetrics_corrupt_entries_total{region=\"catalog\"} 6"));
}

TEST_CASE("an entry of a type this daemon does not know is skipped and counted, not misread") {
  // What an older daemon does with a type added after it (a 3.0 daemon and a histogram, a 3.1
  // daemon and a native histogram): its type check fails first. Type 6 is none yet.
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer w(seg.path(), [](Client& c) {
    c.counter("known_total", "").add(2);
    c.histogram("later_ms", "", {}, {1.0}).observe(1);
  });
  for (std::uint32_t i = 0; i < view.geometry().max_series; ++i) {
    layout::SeriesEntry& en = view.entry(i);
    if (layout::entry_state(en.state.load()) == layout::kEntryReady &&
        en.type == layout::MetricType::kHistogram)
      en.type = static_cast<layout::MetricType>(6);
  }
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(has_line(text, "known_total 2"));
  CHECK(text.find("later_ms") == std::string::npos);
  CHECK(has_line(text, "sipmetrics_corrupt_entries_total{region=\"catalog\"} 1"));
}

TEST_CASE("whitelists merge histograms with equal bounds; other bounds, caps and le are refused") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.register_labels("merge_ms", {"transport"});
    c.histogram("merge_ms", "", {{"transport", "udp"}, {"call", "a"}}, {1.0}).observe(0.5);
    c.histogram("merge_ms", "", {{"transport", "udp"}, {"call", "b"}}, {1.0}).observe(2);
    c.histogram("merge_ms", "", {{"transport", "udp"}, {"call", "c"}}, {5.0}).observe(2);
    c.histogram("merge_ms", "", {{"transport", "tcp"}}, {5.0}).observe(2);
    c.histogram("le_ms", "", {{"le", "7"}}, {1.0}).observe(2);
  });
  ExporterSettings s = fast();
  Exporter e(std::move(file), s);
  std::string text = scrape(e);
  CHECK(has_line(text, "merge_ms_bucket{transport=\"udp\",le=\"1\"} 1"));
  CHECK(has_line(text, "merge_ms_count{transport=\"udp\"} 2"));
  CHECK(has_line(text, "merge_ms_bucket{transport=\"tcp\",le=\"5\"} 1"));  // its own bounds
  CHECK(has_line(text, "sipmetrics_series_rejected_total{reason=\"type_conflict\"} 1"));
  CHECK(text.find("le_ms") == std::string::npos);  // a client's own `le`: refused at registration
  CHECK(has_line(text, "sipmetrics_refusals_total{reason=\"reserved_label\"} 1"));
  CHECK(has_line(text, "voiceserver_metrics_unknown_label_total 3"));
  s.plan.max_series_per_family = 1;
  e.apply(s);
  text = scrape(e);
  CHECK(has_line(text, "sipmetrics_series_rejected_total{reason=\"family_cap\"} 1"));
}

TEST_CASE("base units: an _ms histogram is served as _seconds, bounds and _sum scaled") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    Histogram h = c.histogram("setup_ms", "Setup.", {}, kSipLatencyBucketsMs);
    h.observe(450);
    h.observe(2500);
  });
  ExporterSettings s = fast();
  s.plan.base_units = true;
  Exporter e(std::move(file), s);
  const std::string text = scrape(e);
  CHECK(text.find("setup_ms") == std::string::npos);
  CHECK(has_line(text, "# TYPE setup_seconds histogram"));
  CHECK(has_line(text, "setup_seconds_bucket{le=\"0.005\"} 0"));
  CHECK(has_line(text, "setup_seconds_bucket{le=\"0.5\"} 1"));
  CHECK(has_line(text, "setup_seconds_bucket{le=\"3\"} 2"));
  CHECK(has_line(text, "setup_seconds_bucket{le=\"32\"} 2"));
  CHECK(has_line(text, "setup_seconds_sum 2.95"));
  CHECK(has_line(text, "setup_seconds_count 2"));
}

}  // namespace sipmetrics
