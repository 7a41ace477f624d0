// The protobuf exposition, parsed back with libprotobuf's own delimited reader: every type and
// the self-metrics, labels unescaped, classic buckets cumulative and capped, native buckets as
// spans and deltas that decode to the counts given, the same families as the text format; and
// content negotiation by q-value (Prometheus 2.42's Accept headers among them).
#include "protobuf_format.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <sipmetrics/client.hpp>
#include <string>
#include <vector>

#include "exporter.hpp"
#include "metrics.pb.h"
#include "negotiation.hpp"
#include "protobuf_support.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

namespace sipmetrics {
namespace {

using test::fast;

using test::family;
using test::label;
using test::native_buckets;
using test::parse;
namespace pb = io::prometheus::client;
using test::Writer;

}  // namespace

TEST_CASE("protobuf: every type, labels unescaped, the same families as the text format") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    c.counter("calls_total", "Calls.", {{"status", "ok"}, {"via", "a\"b\\c\nd"}}).add(41);
    c.counter("events", "No _total.", {}).inc();
    c.gauge("active_calls", "Live \"calls\".", {{"transport", "udp"}}).set(7.5);
    Summary s = c.summary("e2e_ms", "E2E.", {});
    for (int i = 1; i <= 100; ++i) s.observe(i);
    Histogram h = c.histogram("invite_ms", "INVITE.", {{"t", "\xff"}}, {0.5, 1, 2.5});
    for (double x : {0.25, 0.5, 0.75, 2.0, 3.0}) h.observe(x);
  });
  Exporter e(std::move(file), fast());
  std::string bytes;
  e.scrape(bytes, Format::kProtobuf);
  const std::vector<pb::MetricFamily> fams = parse(bytes);

  const pb::MetricFamily* calls = family(fams, "calls_total");
  REQUIRE(calls != nullptr);
  CHECK(calls->type() == pb::COUNTER);
  CHECK(calls->help() == "Calls.");
  REQUIRE(calls->metric_size() == 1);
  CHECK(calls->metric(0).counter().value() == 41);
  CHECK(label(calls->metric(0), "status") == "ok");
  CHECK(label(calls->metric(0), "via") == "a\"b\\c\nd");    // raw, not escaped
  const pb::MetricFamily* events = family(fams, "events");  // named as in text 0.0.4
  REQUIRE(events != nullptr);
  CHECK(events->metric(0).counter().value() == 1);

  const pb::MetricFamily* active = family(fams, "active_calls");
  REQUIRE(active != nullptr);
  CHECK(active->type() == pb::GAUGE);
  CHECK(active->help() == "Live \"calls\".");
  CHECK(active->metric(0).gauge().value() == 7.5);

  const pb::MetricFamily* e2e = family(fams, "e2e_ms");
  REQUIRE(e2e != nullptr);
  CHECK(e2e->type() == pb::SUMMARY);
  const pb::Summary& sum = e2e->metric(0).summary();
  CHECK(sum.sample_count() == 100);
  CHECK(sum.sample_sum() == 5050);
  REQUIRE(sum.quantile_size() == 4);
  CHECK(sum.quantile(0).quantile() == 0.5);
  CHECK(sum.quantile(3).quantile() == 0.99);
  CHECK(sum.quantile(3).value() == doctest::Approx(99).epsilon(0.02));

  const pb::MetricFamily* invite = family(fams, "invite_ms");
  REQUIRE(invite != nullptr);
  CHECK(invite->type() == pb::HISTOGRAM);
  CHECK(label(invite->metric(0), "t") == "\xEF\xBF\xBD");  // invalid UTF-8 replaced
  const pb::Histogram& h = invite->metric(0).histogram();
  CHECK(h.sample_count() == 5);
  CHECK(h.sample_sum() == 6.5);
  REQUIRE(h.bucket_size() == 3);  // finite bounds; +Inf is sample_count
  CHECK(h.bucket(0).upper_bound() == 0.5);
  CHECK(h.bucket(0).cumulative_count() == 2);
  CHECK(h.bucket(1).cumulative_count() == 3);
  CHECK(h.bucket(2).upper_bound() == 2.5);
  CHECK(h.bucket(2).cumulative_count() == 4);
  // Classic only: nothing that would make Prometheus read it as native.
  CHECK(h.positive_span_size() == 0);
  CHECK(h.zero_count() == 0);
  CHECK(h.zero_threshold() == 0);

  // Self-metrics come through, with their labels.
  const pb::MetricFamily* build = family(fams, "sipmetrics_build_info");
  REQUIRE(build != nullptr);
  CHECK(build->type() == pb::GAUGE);
  CHECK(label(build->metric(0), "layout") ==
        std::to_string(layout::kVersionMajor) + "." + std::to_string(layout::kVersionMinor));
  const pb::MetricFamily* refusals = family(fams, "sipmetrics_refusals_total");
  REQUIRE(refusals != nullptr);
  CHECK(refusals->type() == pb::COUNTER);
  CHECK(refusals->metric_size() == static_cast<int>(layout::kRefusalKinds));
  CHECK(family(fams, "sipmetrics_scrape_duration_seconds") != nullptr);

  // The same families, in the same order, as `# TYPE` lines of the text format.
  std::string text;
  e.scrape(text, Format::kText);
  std::vector<std::string> text_names;
  for (std::size_t at = text.find("# TYPE "); at != std::string::npos;
       at = text.find("# TYPE ", at + 1)) {
    const std::size_t begin = at + 7;
    text_names.push_back(text.substr(begin, text.find(' ', begin) - begin));
  }
  std::vector<std::string> proto_names;
  for (const pb::MetricFamily& f : fams) proto_names.push_back(f.name());
  CHECK(proto_names == text_names);

  // A second scrape into the same buffer: the reused messages carry nothing over.
  std::string again;
  e.scrape(again, Format::kProtobuf);
  const std::vector<pb::MetricFamily> fams2 = parse(again);
  CHECK(fams2.size() == fams.size());
  const pb::MetricFamily* invite2 = family(fams2, "invite_ms");
  const pb::MetricFamily* calls2 = family(fams2, "calls_total");
  REQUIRE(invite2 != nullptr);
  REQUIRE(calls2 != nullptr);
  CHECK(invite2->metric(0).histogram().bucket_size() == 3);
  CHECK(calls2->metric(0).label_size() == 2);
}

TEST_CASE("protobuf: an empty catalog is still a valid stream of self-metrics") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Exporter e(std::move(file), fast());
  std::string bytes;
  e.scrape(bytes, Format::kProtobuf);
  const auto fams = parse(bytes);
  CHECK(fams.size() > 5);
  for (const pb::MetricFamily& f : fams) CHECK(f.metric_size() >= 1);
}

TEST_CASE("protobuf: a native count past int64 (a scribbled segment) is served as 2^63 - 1") {
  // Prometheus adds the deltas up in an int64: 2^63 + 5 would decode as a negative count.
  const std::vector<std::uint64_t> counts = {3, (std::uint64_t{1} << 63) + 5, 7};
  NativeBuckets n;
  n.zero_threshold = 0.5;
  n.counts = counts;
  const double bounds[] = {1.0};
  const std::string_view le[] = {"1"};
  const std::uint64_t cumulative[] = {0};
  HistogramValues hv;
  hv.bounds = bounds;
  hv.le = le;
  hv.cumulative = cumulative;
  hv.count = ~std::uint64_t{0};
  hv.native = &n;
  ProtobufWriter w;
  std::string bytes;
  w.begin(bytes, 1);
  w.family("lat_ms", "", layout::MetricType::kNativeHistogram);
  w.histogram(SeriesLabels{}, hv);
  w.finish();
  const auto fams = parse(bytes);
  REQUIRE(fams.size() == 1);
  CHECK(fams[0].type() == pb::HISTOGRAM);
  const std::map<std::int32_t, std::int64_t> want = {
      {0, 3}, {1, std::numeric_limits<std::int64_t>::max()}, {2, 7}};
  CHECK(native_buckets(fams[0].metric(0).histogram()) == want);
}

TEST_CASE("protobuf: native buckets become spans and deltas that decode to the counts") {
  // Counts over indexes 10..29 with gaps of 1, 2 and 5 empty buckets, and a leading gap.
  const std::vector<std::uint64_t> counts = {0, 0, 3, 0, 1, 0, 0, 4, 4, 0,
                                             0, 0, 0, 0, 9, 1, 0, 0, 0, 0};
  NativeBuckets n;
  n.schema = 3;
  n.zero_threshold = 0x1p-128;
  n.zero_count = 2;
  n.first_index = 10;
  n.counts = counts;
  std::uint64_t total = n.zero_count;
  for (std::uint64_t c : counts) total += c;
  const double bounds[] = {1.0};
  const std::string_view le[] = {"1"};
  const std::uint64_t cumulative[] = {5};
  HistogramValues hv;
  hv.bounds = bounds;
  hv.le = le;
  hv.cumulative = cumulative;
  hv.sum = 123;
  hv.count = total;
  hv.native = &n;

  ProtobufWriter w;
  std::string bytes;
  w.begin(bytes, 1);
  w.family("lat_ms", "", layout::MetricType::kHistogram);
  w.histogram(SeriesLabels{}, hv);
  w.finish();
  const auto fams = parse(bytes);
  REQUIRE(fams.size() == 1);
  const pb::Histogram& h = fams[0].metric(0).histogram();
  CHECK(h.schema() == 3);
  CHECK(h.zero_threshold() == 0x1p-128);
  CHECK(h.zero_count() == 2);
  CHECK(h.sample_count() == total);
  CHECK(h.bucket_size() == 1);  // the classic buckets beside the native ones
  const auto decoded = native_buckets(h);
  std::uint64_t in_buckets = h.zero_count();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const auto it = decoded.find(10 + static_cast<std::int32_t>(i));
    if (counts[i] != 0) {
      REQUIRE(it != decoded.end());
      CHECK(it->second == static_cast<std::int64_t>(counts[i]));
    } else if (it != decoded.end()) {
      CHECK(it->second == 0);  // an empty bucket inside a span
    }
  }
  for (const auto& [index, c] : decoded) {
    CHECK(c >= 0);
    in_buckets += static_cast<std::uint64_t>(c);
  }
  CHECK(in_buckets <= h.sample_count());
  CHECK(in_buckets == total);
  // Gaps of up to two empty buckets stay inside a span, longer ones start a new one.
  REQUIRE(h.positive_span_size() == 2);
  CHECK(h.positive_span(0).offset() == 12);
  CHECK(h.positive_span(0).length() == 7);  // 12..18
  CHECK(h.positive_span(1).offset() == 5);  // 19..23 empty
  CHECK(h.positive_span(1).length() == 2);  // 24, 25

  // No observation yet: no span, but a zero threshold, so Prometheus reads it as native.
  const std::vector<std::uint64_t> none(8, 0);
  n.counts = none;
  n.zero_count = 0;
  hv.count = 0;
  hv.sum = 0;
  std::string empty;
  w.begin(empty, 1);  // the same structure: the values of the first are overwritten
  w.family("lat_ms", "", layout::MetricType::kHistogram);
  w.histogram(SeriesLabels{}, hv);
  w.finish();
  const auto fe = parse(empty);
  REQUIRE(fe.size() == 1);
  CHECK(fe[0].metric(0).histogram().positive_span_size() == 0);
  CHECK(fe[0].metric(0).histogram().zero_threshold() > 0);
}

TEST_CASE("negotiation: the highest q among the formats served wins") {
  // Prometheus 2.42 with --enable-feature=native-histograms (scrape.go).
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                  "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                  "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                  "q=0.5,*/*;q=0.1") == Format::kProtobuf);
  // Later releases' protobuf-first header.
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                  "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1") ==
        Format::kProtobuf);
  // Prometheus 2.42 without the feature.
  CHECK(negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
        Format::kOpenMetrics);
  // q-values, not order.
  CHECK(negotiate("text/plain;q=0.9, application/vnd.google.protobuf;"
                  "proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5") ==
        Format::kText);
  CHECK(negotiate("application/openmetrics-text;q=0.2, application/vnd.google.protobuf;"
                  "proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4") ==
        Format::kProtobuf);
  CHECK(negotiate("text/plain;q=0.4,application/openmetrics-text;q=0.6") == Format::kOpenMetrics);
  // Parameters in any order, spaces, case, quoted values.
  CHECK(negotiate("Application/Vnd.Google.Protobuf; encoding=\"delimited\"; "
                  "proto=io.prometheus.client.MetricFamily; Q=0.9") == Format::kProtobuf);
  // Encodings and messages not served, q=0, unreadable q: never chosen.
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                  "encoding=text") == Format::kText);
  CHECK(negotiate("application/vnd.google.protobuf;proto=other.Message;encoding=delimited") ==
        Format::kText);
  CHECK(negotiate("application/vnd.google.protobuf;encoding=delimited") == Format::kText);
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                  "encoding=delimited;q=0") == Format::kText);
  CHECK(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                  "encoding=delimited;q=x,application/openmetrics-text;q=0.1") ==
        Format::kOpenMetrics);
  // A tie goes to the first listed.
  CHECK(negotiate("application/openmetrics-text,text/plain") == Format::kOpenMetrics);
  CHECK(negotiate("text/plain,application/openmetrics-text") == Format::kText);
  CHECK(negotiate("*/*") == Format::kText);
  CHECK(negotiate("") == Format::kText);
  CHECK(content_type(Format::kProtobuf) ==
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
        "encoding=delimited");
}

}  // namespace sipmetrics
