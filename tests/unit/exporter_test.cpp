// The daemon's parts on a real segment: catalog decoding, whitelist plan, exposition text,
// writer folding. Writers are forked children: a process cannot see its own record locks, so
// the test process itself never writes.
#include "exporter.hpp"
#include "gzip.hpp"
#include "negotiation.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <sipmetrics/client.hpp>
#include <string>

#include "test_support.hpp"
#include "writer_process.hpp"

namespace sipmetrics {
namespace {

using test::fast;

using test::has_line;

using test::Writer;

std::string scrape(Exporter& e) {
  std::string out;
  e.scrape(out);
  return out;
}

}  // namespace

TEST_CASE("exposition: families sorted, one HELP/TYPE each, labels escaped, summaries complete") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.counter("b_total", "B \\ help\nline", {{"path", "a\"b\\c\nd"}}).add(3);
    c.counter("b_total", "", {{"path", "plain"}}).add(4);
    c.gauge("a_gauge", "A.").set(2.5);
    Summary s = c.summary("lat_ms", "Latency.", {{"transport", "sip"}});
    for (int i = 1; i <= 100; ++i) s.observe(i);
  });
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(text.find("# HELP a_gauge A.\n# TYPE a_gauge gauge\na_gauge 2.5\n") == 0);
  CHECK(has_line(text, "# HELP b_total B \\\\ help\\nline"));
  CHECK(has_line(text, "b_total{path=\"a\\\"b\\\\c\\nd\"} 3"));
  CHECK(has_line(text, "b_total{path=\"plain\"} 4"));
  CHECK(has_line(text, "lat_ms{transport=\"sip\",quantile=\"0.5\"} 50"));
  CHECK(has_line(text, "lat_ms{transport=\"sip\",quantile=\"0.9\"} 90"));
  CHECK(has_line(text, "lat_ms{transport=\"sip\",quantile=\"0.99\"} 99"));
  CHECK(has_line(text, "lat_ms_sum{transport=\"sip\"} 5050"));
  CHECK(has_line(text, "lat_ms_count{transport=\"sip\"} 100"));
  std::size_t helps = 0;
  for (std::size_t at = 0; (at = text.find("# HELP b_total", at)) != std::string::npos; ++at)
    ++helps;
  CHECK(helps == 1);
  CHECK(text.find("a_gauge") < text.find("b_total"));
  CHECK(text.find("b_total") < text.find("lat_ms"));
  CHECK(has_line(text, "sipmetrics_writers 1"));
}

TEST_CASE("whitelists drop undeclared keys, merge the series that collapse and count them") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.register_labels("calls_total", {"transport"});
    c.counter("calls_total", "", {{"transport", "sip"}, {"call_id", "a"}}).add(2);
    c.counter("calls_total", "", {{"transport", "sip"}, {"call_id", "b"}}).add(5);
    c.counter("calls_total", "", {{"transport", "webrtc"}}).add(1);
    c.counter("other_total", "", {{"x", "1"}, {"y", "2"}}).add(1);
  });
  Exporter e(std::move(file), fast());
  std::string text = scrape(e);
  CHECK(has_line(text, "calls_total{transport=\"sip\"} 7"));
  CHECK(has_line(text, "calls_total{transport=\"webrtc\"} 1"));
  CHECK(text.find("call_id") == std::string::npos);
  CHECK(has_line(text, "other_total{x=\"1\",y=\"2\"} 1"));  // no whitelist: all keys kept
  CHECK(has_line(text, "voiceserver_metrics_unknown_label_total 2"));

  // The operator's whitelist replaces the client's declaration.
  ExporterSettings s = fast();
  s.plan.whitelists["calls_total"] = {"call_id", "transport"};
  s.plan.whitelists["other_total"] = {"x"};
  e.apply(s);
  text = scrape(e);
  CHECK(has_line(text, "calls_total{call_id=\"a\",transport=\"sip\"} 2"));
  CHECK(has_line(text, "other_total{x=\"1\"} 1"));
  // A counter: each series found outside its whitelist once, whichever whitelist found it.
  CHECK(has_line(text, "voiceserver_metrics_unknown_label_total 3"));

  // A family cap bounds a runaway label.
  s.plan.max_series_per_family = 1;
  e.apply(s);
  text = scrape(e);
  CHECK(has_line(text, "sipmetrics_series_rejected_total{reason=\"family_cap\"} 2"));

  // A reload that restores the first whitelists does not take the counter back ...
  e.apply(fast());
  CHECK(has_line(scrape(e), "voiceserver_metrics_unknown_label_total 3"));
}

TEST_CASE("unknown_label_total never goes back, across reloads and daemon restarts") {
  test::TempSegment seg;
  Writer w(seg.path(), [](Client& c) {
    c.register_labels("calls_total", {"transport"});
    c.counter("calls_total", "", {{"transport", "sip"}, {"call_id", "a"}}).add(2);
  });
  std::vector<std::string> seen;
  for (int round = 0; round < 3; ++round) {  // three daemons, one after the other
    auto file = test::open_segment(seg.path());
    REQUIRE(file);
    Exporter e(std::move(file), fast());
    seen.push_back(scrape(e));
    ExporterSettings open = fast();
    open.plan.whitelists["calls_total"] = {"call_id", "transport"};  // nothing unknown now
    e.apply(open);
    seen.push_back(scrape(e));
  }
  for (const std::string& text : seen)
    CHECK(has_line(text, "voiceserver_metrics_unknown_label_total 1"));
}

TEST_CASE("a dead writer's counters and summary totals are kept, its gauges dropped") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer alive(seg.path(), [](Client& c) {
    c.counter("calls_total", "").add(100);
    c.gauge("active_calls", "").add(2);
  });
  Writer dying(seg.path(), [](Client& c) {
    c.counter("calls_total", "").add(40);
    c.gauge("active_calls", "").add(5);
    Summary s = c.summary("lat_ms", "");
    for (int i = 0; i < 10; ++i) s.observe(1.5);
  });
  Exporter e(std::move(file), fast());
  std::string text = scrape(e);
  CHECK(has_line(text, "calls_total 140"));
  CHECK(has_line(text, "active_calls 7"));
  CHECK(has_line(text, "sipmetrics_writers 2"));
  dying.kill();
  e.tick(true);
  text = scrape(e);
  CHECK(has_line(text, "calls_total 140"));
  CHECK(has_line(text, "active_calls 2"));
  CHECK(has_line(text, "lat_ms_count 10"));
  CHECK(has_line(text, "lat_ms_sum 15"));
  CHECK(has_line(text, "lat_ms{quantile=\"0.5\"} 1.5"));
  CHECK(has_line(text, "sipmetrics_writers 1"));
  CHECK(has_line(text, "sipmetrics_writers_exited_total 1"));
  CHECK(view.header().retained_epoch.load() == 1);
  // Its slot and lanes went back to the pools: a new writer reuses them without double counts.
  Writer next(seg.path(), [](Client& c) { c.counter("calls_total", "").add(1); });
  e.tick(true);
  CHECK(has_line(scrape(e), "calls_total 141"));
}

TEST_CASE("a counter near 2^64 saturates instead of wrapping: in a lane, across writers, folded") {
  constexpr std::uint64_t kNear = ~std::uint64_t{0} - 10;  // 2^64 - 11
  const std::string kMax = std::to_string(~std::uint64_t{0});
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  // One process: add(2^64 - 11) then add(20) on one lane.
  Writer one(seg.path(), [](Client& c) {
    Counter k = c.counter("big_total", "");
    k.add(kNear);
    k.add(20);
  });
  // Two processes: each below 2^64, their sum above.
  Writer a(seg.path(), [](Client& c) { c.counter("pair_total", "").add(kNear); });
  Writer b(seg.path(), [](Client& c) { c.counter("pair_total", "").add(20); });
  Exporter e(std::move(file), fast());
  std::string text = scrape(e);
  CHECK(has_line(text, "big_total " + kMax));
  CHECK(has_line(text, "pair_total " + kMax));
  // Folded into the retained totals (which saturate too) when they die: still the maximum.
  a.kill();
  b.kill();
  one.kill();
  e.tick(true);
  text = scrape(e);
  CHECK(has_line(text, "big_total " + kMax));
  CHECK(has_line(text, "pair_total " + kMax));
  Writer later(seg.path(), [](Client& c) { c.counter("pair_total", "").add(5); });
  CHECK(has_line(scrape(e), "pair_total " + kMax));
}

TEST_CASE("a fold a previous daemon finished flipping is not applied twice") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  {
    Writer w(seg.path(), [](Client& c) { c.counter("calls_total", "").add(7); });
  }  // killed: its slot still says live, its lock is gone
  // Simulate a daemon that flipped the retained totals and died before cleaning up.
  std::uint32_t slot = 0;
  while (view.writer(slot).state.load() == layout::kWriterFree) ++slot;
  view.retained(1)[test::first_cells(1, 1)[0]].store(7);
  view.writer(slot).state.store(layout::kWriterFolding);
  view.writer(slot).fold_epoch.store(1);
  view.header().retained_epoch.store(1);
  Exporter e(std::move(file), fast());  // sweeps once on start
  CHECK(has_line(scrape(e), "calls_total 7"));
  CHECK(view.writer(slot).state.load() == layout::kWriterFree);
}

TEST_CASE("corrupt catalog entries are skipped and counted; serving goes on") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  Writer w(seg.path(), [](Client& c) {
    c.counter("good_total", "").add(1);
    c.counter("bad_total", "").add(1);
    c.counter("worse_total", "").add(1);
  });
  for (std::uint32_t i = 0; i < view.geometry().max_series; ++i) {
    layout::SeriesEntry& en = view.entry(i);
    if (layout::entry_state(en.state.load()) != layout::kEntryReady) continue;
    detail::DecodedKey k;
    REQUIRE(detail::decode_key(*view.arena_bytes(en.key_offset, en.key_length), k));
    if (k.name == "bad_total") en.key_length = 1u << 30;                      // runs past the arena
    if (k.name == "worse_total") en.first_cell = test::first_cells(1, 1)[0];  // good_total's cell
  }
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(text.find("bad_total") == std::string::npos);
  CHECK(text.find("worse_total") == std::string::npos);
  const bool good_first = text.find("good_total 1") != std::string::npos;
  CHECK(good_first);
  CHECK(has_line(text, "sipmetrics_corrupt_entries_total{region=\"catalog\"} 2"));
}

}  // namespace sipmetrics

namespace sipmetrics {

TEST_CASE("base units: _ms summaries and gauges are served as _seconds, scaled") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    Summary s = c.summary("lat_ms", "Latency.");
    s.observe(1000);
    s.observe(2000);
    c.gauge("rtt_ms", "RTT.").set(250);
    c.counter("calls_total", "").add(5);
  });
  ExporterSettings s = fast();
  s.plan.base_units = true;
  Exporter e(std::move(file), s);
  const std::string text = scrape(e);
  CHECK(text.find("lat_ms") == std::string::npos);
  CHECK(has_line(text, "# TYPE lat_seconds summary"));
  CHECK(has_line(text, "lat_seconds{quantile=\"0.5\"} 1"));
  CHECK(has_line(text, "lat_seconds_sum 3"));
  CHECK(has_line(text, "lat_seconds_count 2"));
  CHECK(has_line(text, "rtt_seconds 0.25"));
  CHECK(has_line(text, "calls_total 5"));
}

}  // namespace sipmetrics

namespace sipmetrics {

TEST_CASE("seed families are whitelisted even when no client declared them") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    // A worker that ships a per-call identifier on a seed metric, without the typed helpers.
    c.counter("voiceserver_calls_total", "",
              {{"transport", "sip"}, {"status", "ok"}, {"call_id", "a1"}})
        .add(2);
  });
  Exporter e(std::move(file), fast());
  const std::string text = scrape(e);
  CHECK(has_line(text, "voiceserver_calls_total{status=\"ok\",transport=\"sip\"} 2"));
  CHECK(text.find("call_id") == std::string::npos);
  CHECK(has_line(text, "voiceserver_metrics_unknown_label_total 1"));
}

}  // namespace sipmetrics

namespace sipmetrics {

TEST_CASE("OpenMetrics: counter families without _total, samples with it, # EOF last") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.counter("calls_total", "Calls \"quoted\".", {{"transport", "sip"}}).add(3);
    c.counter("events", "Events.").add(2);
    c.gauge("active_calls", "Active.").set(4);
  });
  Exporter e(std::move(file), fast());
  std::string text;
  e.scrape(text, Format::kOpenMetrics);
  CHECK(has_line(text, "# HELP calls Calls \\\"quoted\\\"."));
  CHECK(has_line(text, "# TYPE calls counter"));
  CHECK(has_line(text, "calls_total{transport=\"sip\"} 3"));
  CHECK(has_line(text, "# TYPE events counter"));
  CHECK(has_line(text, "events_total 2"));
  CHECK(has_line(text, "# TYPE active_calls gauge"));
  CHECK(has_line(text, "active_calls 4"));
  CHECK(has_line(text, "# TYPE voiceserver_metrics_observe_dropped counter"));
  CHECK(text.ends_with("\n# EOF\n"));
  // The text format keeps the family names as registered.
  e.scrape(text, Format::kText);
  CHECK(has_line(text, "# TYPE calls_total counter"));
  CHECK(has_line(text, "events 2"));
  CHECK(text.find("# EOF") == std::string::npos);
}

TEST_CASE("families whose names clash in either format: the first registered is kept") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.summary("lat_seconds", "Latency.").observe(2);
    c.gauge("lat_seconds_count", "Clashes with the summary's count.").set(9);
    c.counter("events", "Events.").add(1);
    c.counter("events_total", "Same OpenMetrics family as events.").add(5);
    c.counter("jobs_total", "Jobs.").add(3);
    c.gauge("jobs", "Same OpenMetrics family as jobs_total.").set(7);
    c.counter("voiceserver_metrics_observe_dropped", "The daemon's own family.").add(4);
    c.gauge("lat_seconds_total", "No clash: a gauge suffix is its own.").set(6);
  });
  Exporter e(std::move(file), fast());
  for (const Format f : {Format::kText, Format::kOpenMetrics}) {
    CAPTURE(static_cast<int>(f));
    std::string text;
    e.scrape(text, f);
    CHECK(has_line(text, "lat_seconds_count 1"));
    CHECK(text.find("lat_seconds_count 9") == std::string::npos);
    CHECK(has_line(text, f == Format::kText ? "events 1" : "events_total 1"));
    CHECK(text.find("events_total 5") == std::string::npos);
    CHECK(has_line(text, "jobs_total 3"));
    CHECK(text.find("jobs 7") == std::string::npos);
    CHECK(text.find("voiceserver_metrics_observe_dropped 4") == std::string::npos);
    CHECK(text.find("voiceserver_metrics_observe_dropped_total 4") == std::string::npos);
    CHECK(has_line(text, "voiceserver_metrics_observe_dropped_total 0"));
    CHECK(has_line(text, "lat_seconds_total 6"));
    CHECK(has_line(text, "sipmetrics_series_rejected_total{reason=\"name_clash\"} 4"));
  }
}

TEST_CASE("content negotiation follows the Accept header") {
  CHECK(negotiate("") == Format::kText);
  CHECK(negotiate("text/plain;version=0.0.4") == Format::kText);
  CHECK(negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
        Format::kOpenMetrics);
  CHECK(negotiate("text/plain, application/openmetrics-text; q=0") == Format::kText);
  CHECK(negotiate("application/openmetrics-text; version=1.0.0; q=0.3") == Format::kOpenMetrics);
  CHECK(content_type(Format::kOpenMetrics)
            .starts_with("application/openmetrics-text; version=1.0.0"));
  CHECK(content_type(Format::kText) == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("gzip follows the Accept-Encoding header; other codings are never chosen") {
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("br"));
  CHECK_FALSE(accepts_gzip("gzipper"));
  CHECK(accepts_gzip("gzip"));  // what Prometheus sends
  CHECK(accepts_gzip("br, gzip, deflate"));
  CHECK(accepts_gzip("deflate,  GZip ;q=0.5"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0, *"));  // the explicit refusal wins over the wildcard
  CHECK_FALSE(accepts_gzip("*;q=0.0"));
  CHECK_FALSE(accepts_gzip("gzip;q=x"));
}

TEST_CASE("the gzip encoder round-trips, again and again on one state") {
  GzipEncoder gz;
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "calls_total{n=\"" + std::to_string(i) + "\"} 1\n";
  for (const std::string& in : {big, std::string(), std::string("x"), big.substr(0, 1000), big}) {
    CAPTURE(in.size());
    const std::string_view out = gz.encode(in);
    REQUIRE(out.size() >= 18);
    CHECK(static_cast<unsigned char>(out[0]) == 0x1f);  // gzip magic
    CHECK(static_cast<unsigned char>(out[1]) == 0x8b);
    if (in.size() > 1000) CHECK(out.size() < in.size() / 4);
    std::string back(in.size() + 1, '\0');
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(out.data()));
    zs.avail_in = static_cast<uInt>(out.size());
    zs.next_out = reinterpret_cast<Bytef*>(back.data());
    zs.avail_out = static_cast<uInt>(back.size());
    CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
    back.resize(zs.total_out);
    inflateEnd(&zs);
    CHECK(back == in);
  }
}

}  // namespace sipmetrics
