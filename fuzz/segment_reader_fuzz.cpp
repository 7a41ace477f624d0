// libFuzzer target: sipmetricsd's segment reader on arbitrary segment contents.
//
// Input: one settings byte, then patches {u16 offset (little endian), u8 length, length bytes}
// written over a valid 64 KiB segment image (a small geometry; two live-looking writers with a
// lane each, a slot left mid-fold, a series of every type (a histogram too), a whitelist, samples
// in two rings, retained totals). The patch {0xffff, 0} is a barrier: patches after it land on the
// segment only after the first scrape, like a writer scribbling on a segment the daemon already
// reads. Each input runs twice:
//   * in memory, on a heap buffer (so ASan sees any access outside the segment):
//     SegmentView::adopt, Catalog::refresh, Drainer::drain_all and WriterTracker::sweep (no
//     process holds a writer lock here: every claimed slot is dead and gets folded);
//   * through a file and the whole Exporter, as sipmetricsd runs it: SegmentFile::open (header
//     checks, re-initialisation), the start-up sweep, tick(), scrape() in both formats, status(),
//     writers(), report().
// Every text exposition must pass the strict parser of the integration tests and every protobuf
// one must parse back as delimited MetricFamily messages (libprotobuf's own reader); anything else
// (crash, sanitizer report, leak, hang, an invariant below) is a finding.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/buckets.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/file.hpp>
#include <sipmetrics/segment/key.hpp>
#include <sipmetrics/segment/native.hpp>
#include <sipmetrics/segment/whitelist.hpp>

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>

#include "catalog.hpp"
#include "drain.hpp"
#include "exporter.hpp"
#include "exposition_parser.hpp"
#include "metrics.pb.h"
#include "writer_tracker.hpp"

namespace {

using namespace sipmetrics;

constexpr layout::Geometry kGeometry{
    .max_writers = 4,
    .lane_pool = 6,
    .lanes_per_writer = 4,
    .max_series = 16,
    .max_cells = 64,
    .ring_capacity = 16,
    .max_whitelists = 4,
    .family_series_limit = 8,
    .arena_bytes = 4096,
};
constexpr layout::Regions kRegions = layout::regions_for(kGeometry);
static_assert(layout::geometry_valid(kGeometry));
static_assert(kRegions.total == 65536, "a u16 patch offset reaches every byte");
constexpr std::uint16_t kBarrier = 0xffff;

[[noreturn]] void finding(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "segment_reader_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// A writable reference into the segment (the check misses that the cast result is written).
template <typename T>
// NOLINTNEXTLINE(readability-non-const-parameter)
T& at(unsigned char* base, std::uint64_t offset) {
  return *reinterpret_cast<T*>(base + offset);
}

/// A valid segment with a little of everything in it.
std::vector<unsigned char> base_image() {
  std::vector<unsigned char> img(kRegions.total, 0);
  unsigned char* b = img.data();
  auto& h = at<layout::Header>(b, 0);
  detail::init_segment(b, kGeometry, 1, 1);

  // Series: arena keys and help, catalog entries spread over the table.
  std::uint64_t arena = 0;
  std::uint32_t cell = 0, published = 0;
  auto series = [&](std::uint32_t index, layout::MetricType type, layout::GaugeMode mode,
                    std::string_view name, Labels labels, std::string_view help,
                    std::uint32_t window, std::span<const double> bounds = {},
                    detail::NativeWindow native = {}) {
    detail::SortedLabels sorted;
    detail::sort_labels(labels, sorted);
    auto& e = at<layout::SeriesEntry>(b, kRegions.catalog + index * sizeof(layout::SeriesEntry));
    e.key_offset = arena;
    detail::encode_key(name, sorted, [&](const char* p, std::size_t n) {
      std::memcpy(b + kRegions.arena + arena, p, n);
      arena += n;
    });
    e.key_length = static_cast<std::uint32_t>(arena - e.key_offset);
    e.help_offset = arena;
    std::memcpy(b + kRegions.arena + arena, help.data(), help.size());
    arena += help.size();
    e.help_length = static_cast<std::uint32_t>(help.size());
    if (!bounds.empty()) {
      arena = layout::align_up(arena, alignof(double));
      e.bounds_offset = static_cast<std::uint32_t>(arena);
      detail::write_bounds(bounds, reinterpret_cast<char*>(b + kRegions.arena + arena));
      arena += detail::bounds_bytes(static_cast<std::uint32_t>(bounds.size()));
    }
    const std::uint32_t ncells =
        detail::cells_for(type, static_cast<std::uint32_t>(bounds.size()), native.buckets);
    e.native_first_index = native.first;
    e.native_buckets = native.buckets;
    e.native_schema = native.schema;
    e.first_cell = cell;
    e.cell_count = static_cast<std::uint16_t>(ncells);
    e.type = type;
    e.gauge_mode = mode;
    e.window_samples = window;
    e.state.store(layout::kEntryReady);
    cell += ncells;
    ++published;
  };
  using layout::GaugeMode;
  using layout::MetricType;
  series(0, MetricType::kCounter, GaugeMode::kSum, "c_total", {{"a", "x"}}, "C.", 0);    // cell 0
  series(5, MetricType::kGauge, GaugeMode::kSum, "g", {}, "G.", 0);                      // 1-2
  series(9, MetricType::kSummary, GaugeMode::kSum, "s_ms", {{"t", "u\"v"}}, "S\n.", 8);  // 3-4
  series(14, MetricType::kGauge, GaugeMode::kMax, "m", {{"k", "1"}, {"j", "2"}}, "M.", 0);  // 5-6
  series(15, MetricType::kGauge, GaugeMode::kLast, "l", {}, "", 0);                         // 7-8

  // A whitelist for c_total.
  auto& w = at<layout::WhitelistEntry>(b, kRegions.whitelist);
  const std::string_view wl_keys[] = {"a"};
  const std::size_t wl_length = detail::whitelist_length("c_total", wl_keys);
  detail::encode_whitelist("c_total", wl_keys, reinterpret_cast<char*>(b + kRegions.arena + arena));
  w.offset = arena;
  w.length = static_cast<std::uint32_t>(wl_length);
  w.state.store(layout::kWhitelistReady);
  arena += wl_length;

  // A histogram (3.1) after everything else, so the offsets of the rest stay as they were.
  const double bounds[] = {0.5, 250};
  series(12, MetricType::kHistogram, GaugeMode::kSum, "h_ms", {{"t", "udp"}}, "H.", 0,
         bounds);  // 9-13: le=0.5, le=250, +Inf, sum, count
  // A native histogram (3.2): schema 0 over (1, 16], so 14-22: le=4, +Inf, zero, 4 native, sum,
  // count.
  const double native_bounds[] = {4};
  series(13, MetricType::kNativeHistogram, GaugeMode::kSum, "n_ms", {}, "N.", 0, native_bounds,
         detail::NativeWindow{1, 4, 0});

  h.arena_used.store(arena);
  h.cells_used.store(cell);
  h.series_count.store(published);
  h.whitelist_count.store(1);
  h.refusals[3].store(2);
  h.retained_epoch.store(1);
  h.retained_dropped[1].store(5);
  h.writers_folded.store(3);

  // Writers: two claimed, one left mid-fold by a previous daemon, one free.
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto& s = at<layout::WriterSlot>(b, kRegions.writers + i * sizeof(layout::WriterSlot));
    s.state.store(i < 2 ? layout::kWriterLive : layout::kWriterFolding);
    s.pid.store(100 + i);
    s.generation.store(1);
    s.fold_epoch.store(i == 2 ? 1 : 0);
  }

  // Lanes, cells and rings.
  const std::uint64_t stride = layout::lane_cells_stride(kGeometry);
  auto cells = [&](std::uint32_t lane) {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(b + kRegions.cells + lane * stride);
  };
  auto ring = [&](std::uint32_t lane, std::uint64_t pos, std::uint32_t s, double v) {
    auto& e =
        at<layout::RingEntry>(b, kRegions.rings + (std::uint64_t{lane} * kGeometry.ring_capacity +
                                                   (pos & (kGeometry.ring_capacity - 1))) *
                                                      sizeof(layout::RingEntry));
    e.value.store(detail::f64_bits(v));
    e.tag.store(layout::ring_tag(pos, s));
  };
  auto lane = [&](std::uint32_t i) -> layout::Lane& {
    return at<layout::Lane>(b, kRegions.lanes + i * sizeof(layout::Lane));
  };
  lane(0).owner.store(1);
  lane(0).mode.store(layout::kLaneExclusive);
  cells(0)[0].store(5);
  cells(0)[1].store(detail::f64_bits(2.5));
  cells(0)[2].store(3);
  cells(0)[3].store(detail::f64_bits(6.0));
  cells(0)[4].store(3);
  cells(0)[5].store(detail::f64_bits(7.0));
  cells(0)[6].store(1);
  cells(0)[7].store(detail::f64_bits(-1.0));
  cells(0)[8].store(12345);
  cells(0)[9].store(2);
  cells(0)[10].store(1);
  cells(0)[11].store(1);
  cells(0)[12].store(detail::f64_bits(101.0));
  cells(0)[13].store(4);
  for (std::uint64_t p = 0; p < 3; ++p) ring(0, p, 9, 1.0 + static_cast<double>(p));
  lane(0).ring_head.store(3);
  lane(0).dropped.store(1);
  lane(1).owner.store(2);
  lane(1).mode.store(layout::kLaneShared);
  cells(1)[0].store(7);
  cells(1)[1].store(detail::f64_bits(-1.0));
  ring(1, 16, 9, 4.0);
  ring(1, 17, 9, 5.0);
  lane(1).ring_head.store(18);
  lane(1).ring_tail.store(16);
  lane(2).owner.store(3);  // the slot left mid-fold still owns a lane
  lane(2).mode.store(layout::kLaneIdle);

  auto* retained = reinterpret_cast<std::atomic<std::uint64_t>*>(b + kRegions.retained);
  retained[kGeometry.max_cells + 0].store(10);
  retained[kGeometry.max_cells + 3].store(detail::f64_bits(1.5));
  retained[kGeometry.max_cells + 4].store(1);
  retained[kGeometry.max_cells + 10].store(3);
  retained[kGeometry.max_cells + 12].store(detail::f64_bits(300.0));
  retained[kGeometry.max_cells + 13].store(3);
  return img;
}

struct Patch {
  std::uint16_t offset;
  const std::uint8_t* bytes;
  std::size_t length;
};

/// Splits the input into settings, patches before the barrier and patches after it.
void parse(const std::uint8_t* data, std::size_t size, std::uint8_t& settings,
           std::vector<Patch>& before, std::vector<Patch>& after) {
  settings = size > 0 ? data[0] : 0;
  std::size_t i = 1;
  bool barrier = false;
  while (i + 3 <= size) {
    const auto offset = static_cast<std::uint16_t>(data[i] | (data[i + 1] << 8));
    std::size_t length = data[i + 2];
    i += 3;
    if (offset == kBarrier && length == 0) {
      barrier = true;
      continue;
    }
    length = std::min({length, size - i, std::size_t{kRegions.total} - offset});
    (barrier ? after : before).push_back(Patch{offset, data + i, length});
    i += length;
  }
}

void apply_patches(unsigned char* base, const std::vector<Patch>& patches) {
  for (const Patch& p : patches) std::memcpy(base + p.offset, p.bytes, p.length);
}

ExporterSettings settings_for(std::uint8_t bits) {
  ExporterSettings s;
  s.plan.base_units = (bits & 1) != 0;
  if ((bits & 2) != 0) s.plan.max_series_per_family = 1;
  if ((bits & 4) != 0) s.plan.whitelists["c_total"] = {};
  if ((bits & 8) != 0) s.plan.whitelists["s_ms"] = {"t"};
  s.windows.default_samples = (bits & 16) != 0 ? 1 : 64;
  s.windows.max_age_ns = (bits & 32) != 0 ? 1 : 600'000'000'000;
  return s;
}

/// What a reader must guarantee about the series it accepted, whatever the segment held.
void check_catalog(const Catalog& catalog, const layout::Geometry& g) {
  std::vector<bool> taken(g.max_cells, false);
  for (std::uint32_t idx : catalog.order()) {
    const SeriesInfo* s = catalog.series(idx);
    if (s == nullptr) finding("order() names a series that series() does not return");
    if (!detail::valid_metric_name(s->name)) finding("accepted an invalid metric name", s->name);
    if (s->labels.size() > layout::kMaxLabels) finding("accepted too many labels", s->name);
    for (const auto& [k, v] : s->labels)
      if (!detail::valid_label_name(k) || v.size() > layout::kMaxLabelValueBytes)
        finding("accepted an invalid label", s->name + " " + k);
    if (s->help.size() > layout::kMaxHelpBytes) finding("accepted an over-long help", s->name);
    if (s->first_cell >= g.max_cells || s->cell_count > g.max_cells - s->first_cell)
      finding("accepted cells outside the lane", s->name);
    if (s->type == layout::MetricType::kHistogram &&
        (s->cell_count != s->bounds.size() + 3 || !detail::valid_bounds(s->bounds)))
      finding("accepted a histogram with invalid bounds", s->name);
    if (s->type == layout::MetricType::kNativeHistogram &&
        (s->cell_count != s->bounds.size() + 4 + s->native.buckets ||
         !detail::valid_bounds(s->bounds) || !detail::native_window_valid(s->native)))
      finding("accepted a native histogram with an invalid shape or window", s->name);
    if (!layout::is_histogram(s->type) && !s->bounds.empty())
      finding("accepted bounds for a series that is not a histogram", s->name);
    if (s->type != layout::MetricType::kNativeHistogram && s->native.buckets != 0)
      finding("accepted a native window for a series that is not native", s->name);
    for (std::uint32_t c = s->first_cell; c < s->first_cell + s->cell_count; ++c) {
      if (taken[c]) finding("accepted two series on one cell", s->name);
      taken[c] = true;
    }
  }
}

void check_text(const std::string& text) {
  // Tolerated: a family named like another summary's _sum/_count samples. A known product bug
  // (see faults_test, "a family named like a summary's _sum or _count series ..."); the fuzzer
  // must not stop on it while it looks for others.
  const test::Exposition e = test::parse_exposition(text, {.tolerate_suffix_collisions = true});
  if (!e.ok())
    finding(
        ("invalid text exposition, line " + std::to_string(e.error_line) + ": " + e.error).c_str(),
        text);
}

void check_openmetrics(const std::string& text) {
  if (!test::valid_utf8(text)) finding("OpenMetrics exposition is not UTF-8", text);
  if (!text.ends_with("# EOF\n")) finding("OpenMetrics exposition does not end with # EOF", text);
}

/// The protobuf exposition: delimited MetricFamily messages to the last byte, each family with a
/// name and at least one metric of its type, histogram buckets never above the count.
void check_protobuf(const std::string& bytes, std::size_t families) {
  namespace pb = io::prometheus::client;
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  std::size_t seen = 0;
  for (;;) {
    pb::MetricFamily f;
    bool eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&f, &in, &eof)) {
      if (!eof) finding("protobuf exposition does not parse");
      break;
    }
    ++seen;
    if (f.name().empty() || f.metric_size() == 0) finding("protobuf family without name or metric");
    for (const pb::Metric& m : f.metric()) {
      const bool typed = (f.type() == pb::COUNTER && m.has_counter()) ||
                         (f.type() == pb::GAUGE && m.has_gauge()) ||
                         (f.type() == pb::SUMMARY && m.has_summary()) ||
                         (f.type() == pb::HISTOGRAM && m.has_histogram());
      if (!typed) finding("protobuf metric not of its family's type", f.name());
      if (!m.has_histogram()) continue;
      const pb::Histogram& h = m.histogram();
      for (const pb::Bucket& b : h.bucket())
        if (b.cumulative_count() > h.sample_count())
          finding("protobuf bucket above sample_count", f.name());
      // Native buckets: every decoded count >= 0, and with the zero bucket never above the
      // count (Prometheus rejects the histogram otherwise).
      std::int64_t count = 0;
      std::uint64_t total = h.zero_count();
      for (const std::int64_t d : h.positive_delta()) {
        count += d;
        if (count < 0) finding("protobuf native bucket below zero", f.name());
        total += static_cast<std::uint64_t>(count);
      }
      if (total > h.sample_count()) finding("protobuf native buckets above sample_count", f.name());
      if (h.positive_span_size() > 0 && !(h.zero_threshold() > 0))
        finding("protobuf native histogram without a zero threshold", f.name());
    }
  }
  if (seen != families) finding("protobuf and text expositions differ in families");
}

std::size_t text_families(const std::string& text) {
  std::size_t n = 0;
  for (std::size_t at = text.find("# TYPE "); at != std::string::npos;
       at = text.find("# TYPE ", at + 1))
    if (at == 0 || text[at - 1] == '\n') ++n;  // a line of its own (help text is escaped)
  return n;
}

struct Scratch {
  std::string path;
  int fd = -1;
  unsigned char* heap = nullptr;
};

Scratch& scratch() {
  static Scratch s = [] {
    Scratch x;
    const char* dirs[] = {std::getenv("TMPDIR"), "/dev/shm", "/tmp"};
    for (const char* dir : dirs) {
      if (dir == nullptr) continue;
      std::string tmpl = std::string(dir) + "/sipmetrics-fuzz-XXXXXX";
      const int fd = ::mkstemp(tmpl.data());
      if (fd < 0) continue;
      x.path = tmpl;
      x.fd = fd;
      break;
    }
    if (x.fd < 0) finding("cannot create a scratch file");
    std::atexit([] { ::unlink(scratch().path.c_str()); });
    x.heap = static_cast<unsigned char*>(std::aligned_alloc(4096, kRegions.total));
    return x;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<unsigned char> base = base_image();
  Scratch& s = scratch();
  std::uint8_t bits = 0;
  std::vector<Patch> before, after;
  parse(data, size, bits, before, after);
  static const std::vector<ExporterSettings> all_settings = [] {
    std::vector<ExporterSettings> v;
    for (unsigned b = 0; b < 64; ++b) v.push_back(settings_for(static_cast<std::uint8_t>(b)));
    return v;
  }();
  const ExporterSettings& settings = all_settings[bits & 63u];
  const std::int64_t now = 1'000'000'000'000;

  // ---- In memory: the parts that index into the segment, with exact bounds.
  std::memcpy(s.heap, base.data(), base.size());
  apply_patches(s.heap, before);
  if (auto view = detail::SegmentView::adopt(s.heap, kRegions.total)) {
    Catalog catalog(*view);
    Drainer drainer(*view, settings.windows);
    WriterTracker tracker(*view, s.fd);  // nobody holds a lock on the scratch file
    catalog.refresh();
    drainer.drain_all(catalog, now);
    tracker.sweep(catalog, drainer, now);
    for (std::uint32_t i = 0; i < view->geometry().max_writers; ++i)
      if (view->writer(i).state.load() != layout::kWriterFree)
        finding("a writer with no lock held survived the sweep");
    check_catalog(catalog, view->geometry());
    if (before.empty() && (catalog.order().size() != 7 || catalog.corrupt_entries() != 0))
      finding("the unpatched image does not decode to its 7 series");
    apply_patches(s.heap, after);
    catalog.refresh();
    drainer.drain_all(catalog, now + 1);
    tracker.sweep(catalog, drainer, now + 1);
    drainer.expire(now + 2);
    (void)tracker.writers();
    (void)tracker.live_writers();
    (void)tracker.lanes_in_use();
    check_catalog(catalog, view->geometry());
  }

  // ---- Through a file and the Exporter, as the daemon runs.
  std::memcpy(s.heap, base.data(), base.size());
  apply_patches(s.heap, before);
  if (::ftruncate(s.fd, 0) != 0 ||
      ::pwrite(s.fd, s.heap, kRegions.total, 0) != static_cast<ssize_t>(kRegions.total))
    finding("cannot write the scratch file");
  auto opened = detail::SegmentFile::open(s.path, kGeometry);
  if (auto* f = std::get_if<std::unique_ptr<detail::SegmentFile>>(&opened)) {
    char* mapped = (*f)->view().base();
    Exporter e(std::move(*f), settings);
    std::string out;
    e.scrape(out);
    check_text(out);
    for (const Patch& p : after) std::memcpy(mapped + p.offset, p.bytes, p.length);
    e.tick(true);
    e.scrape(out);
    check_text(out);
    e.scrape(out, Format::kOpenMetrics);
    check_openmetrics(out);
    e.scrape(out);
    const std::size_t families = text_families(out);
    e.scrape(out, Format::kProtobuf);
    check_protobuf(out, families);
    (void)e.status();
    (void)e.writers();
    (void)e.report();
  }
  return 0;
}
