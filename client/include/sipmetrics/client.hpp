// sipmetrics client: record counters, gauges and latency samples from SIP worker processes into
// the shared-memory segment that sipmetricsd serves on /metrics.
//
//   #include <sipmetrics/client.hpp>        // needs Boost headers, -pthread, -lrt; nothing else
//
//   auto& c = sipmetrics::Client::global();
//   // Cold path (once, at init): resolve handles.
//   sipmetrics::Counter calls = c.counter("voiceserver_calls_total", "Calls.",
//                                         {{"transport", "sip"}, {"status", "ok"}});
//   // Hot path (per call): no lock, no allocation, no system call, no string work.
//   calls.inc();
//
// Guarantees
//   * Every function is noexcept. A process that cannot attach (no permission, no space, a
//     segment of another layout version) prints one line on stderr and runs detached: every
//     handle is a no-op and the SIP worker goes on.
//   * Handles are small values, valid for the life of the process, usable from any thread, and
//     stay valid across fork(): a child writes into a writer slot of its own.
//   * A handle update costs an owner-only load and store on the calling thread's lane (threads
//     beyond the per-process lane quota share one lane with atomic adds); a histogram's three.
//   * Series are identified by (name, type, labels): registering the same one again, from any
//     process, returns the same series; the daemon sums it over writers.
//   * Do not close a file descriptor of the segment file yourself: POSIX record locks, which
//     tell the daemon this process is alive, are released by any close of that file.
#pragma once

#include <errno.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include <sipmetrics/detail/attachment.hpp>
#include <sipmetrics/detail/bucket_search.hpp>
#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/key.hpp>
#include <sipmetrics/segment/native.hpp>

namespace sipmetrics {

using layout::GaugeMode;

/// Where and as whom to attach.
struct Options {
  /// POSIX shared-memory name, or a file path if it contains '/'. Empty: $SIPMETRICS_SEGMENT,
  /// else "sipmetrics".
  std::string segment;
  /// Shown by the daemon's writer list. Empty: the program's name.
  std::string writer_name;
  /// Capacities used only if this process happens to create the segment (the daemon usually
  /// does); an existing segment keeps its own.
  layout::Geometry geometry = layout::kDefaultGeometry;
};

/// A monotonically increasing count. Hot path: inc()/add() are wait-free and allocation-free.
class Counter {
 public:
  Counter() noexcept = default;
  void inc() const noexcept { add(1); }
  /// Adds n. Counters never go down: at 2^64 - 1 the count saturates (and stays there).
  void add(std::uint64_t n) const noexcept {
    if (std::atomic<std::uint64_t>* cells = detail::tls_exclusive[ref_.attachment]) [[likely]] {
      std::atomic<std::uint64_t>& c = cells[ref_.cell];
      c.store(detail::saturating_add(c.load(std::memory_order_relaxed), n),
              std::memory_order_relaxed);
      return;
    }
    add_slow(ref_, n);
  }
  /// False for a no-op handle (detached client or refused registration).
  bool valid() const noexcept { return ref_.attachment != detail::kNoopAttachment; }

 private:
  friend class Client;
  explicit Counter(detail::SeriesRef r) noexcept : ref_(r) {}
  // First use on a thread, a shared lane, or a no-op handle.
  [[gnu::noinline]] static void add_slow(detail::SeriesRef r, std::uint64_t n) noexcept {
    if (const detail::LaneBinding* b = detail::lane_for(r.attachment))
      detail::count_add(*b, r.cell, n);
  }
  detail::SeriesRef ref_;
};

/// A value that goes up and down. How writers combine is the family's GaugeMode (default: the
/// sum over live processes; a crashed process's contribution disappears with it).
class Gauge {
 public:
  Gauge() noexcept = default;
  /// Adds d (negative to subtract). kSum mode: this process's contribution changes by d;
  /// integral steps (the usual ±1) take an integer cell, so they are exact and cheapest.
  void add(double d) const noexcept {
    std::atomic<std::uint64_t>* cells = detail::tls_exclusive[ref_.attachment];
    if (cells == nullptr) [[unlikely]] {
      add_slow(ref_, mode_, d);
      return;
    }
    std::int64_t i = 0;
    if (mode_ == GaugeMode::kSum && detail::integral(d, i)) {
      std::atomic<std::uint64_t>& c = cells[ref_.cell + 1];
      c.store(c.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(i),
              std::memory_order_relaxed);
      return;
    }
    std::atomic<std::uint64_t>& c = cells[ref_.cell];
    c.store(detail::f64_bits(detail::bits_f64(c.load(std::memory_order_relaxed)) + d),
            std::memory_order_relaxed);
    if (mode_ != GaugeMode::kSum)
      cells[ref_.cell + 1].store(stamp(mode_), std::memory_order_relaxed);
  }
  void inc() const noexcept { add(1); }
  void dec() const noexcept { add(-1); }
  /// Sets the value. kSum mode: makes this process's contribution v (other threads' later
  /// add()s of this process count on top); reads this process's other lanes, a few loads.
  void set(double v) const noexcept {
    const detail::LaneBinding* b = detail::lane_for(ref_.attachment);
    if (b == nullptr || b->spill) return;  // a gauge cannot be withdrawn from the spill lane
    // Everything read before the first store: the compiler may not reuse a load across an
    // atomic store, so reading the handle and the binding after one costs a reload each.
    std::atomic<std::uint64_t>* const cells = b->cells;
    const std::uint32_t cell = ref_.cell;
    if (mode_ == GaugeMode::kSum) {
      const double others = b->owner->other_lanes_gauge(cell, b->lane_index);
      cells[cell + 1].store(0, std::memory_order_relaxed);
      cells[cell].store(detail::f64_bits(v - others), std::memory_order_relaxed);
      return;
    }
    const std::uint64_t s = stamp(mode_);
    cells[cell].store(detail::f64_bits(v), std::memory_order_relaxed);
    cells[cell + 1].store(s, std::memory_order_relaxed);
  }
  bool valid() const noexcept { return ref_.attachment != detail::kNoopAttachment; }

 private:
  friend class Client;
  Gauge(detail::SeriesRef r, GaugeMode m) noexcept : ref_(r), mode_(m) {}
  static std::uint64_t stamp(GaugeMode m) noexcept {
    return m == GaugeMode::kLast ? detail::coarse_realtime_ns() : 1;
  }
  [[gnu::noinline]] static void add_slow(detail::SeriesRef r, GaugeMode m, double d) noexcept {
    const detail::LaneBinding* b = detail::lane_for(r.attachment);
    if (b == nullptr || b->spill) return;  // a gauge cannot be withdrawn from the spill lane
    std::int64_t i = 0;
    if (m == GaugeMode::kSum && detail::integral(d, i)) {
      detail::cell_add(*b, r.cell + 1, static_cast<std::uint64_t>(i));
      return;
    }
    detail::cell_add_f64(*b, r.cell, d);
    if (m != GaugeMode::kSum) detail::cell_store(*b, r.cell + 1, stamp(m));
  }
  detail::SeriesRef ref_;
  GaugeMode mode_ = GaugeMode::kSum;
};

/// Latency-style samples: the daemon serves P50/P90/P95/P99 over a sliding window plus exact
/// _sum and _count. observe() adds to sum and count and queues the sample on the thread's ring;
/// a full ring drops the sample for the quantiles only (counted), never for _sum/_count.
class Summary {
 public:
  Summary() noexcept = default;
  /// Records one sample (units are the metric's, e.g. milliseconds). Only finite, non-negative
  /// samples are recorded (detail::valid_sample): NaN, ±Inf and negatives are counted in
  /// sipmetrics_invalid_samples_total and left out of _sum, _count and the quantiles.
  void observe(double v) const noexcept {
    std::atomic<std::uint64_t>* cells = detail::tls_exclusive[ref_.attachment];
    if (cells == nullptr || !detail::valid_sample(v)) [[unlikely]] {
      observe_slow(ref_, v);
      return;
    }
    // The ring first: its loads (handle, binding, positions) then come before any store (see
    // Gauge::set); the cells are addressed from registers afterwards.
    std::atomic<std::uint64_t>& sum = cells[ref_.cell];
    std::atomic<std::uint64_t>& count = cells[ref_.cell + 1];
    detail::ring_push(detail::tls_lanes[ref_.attachment], ref_.series, v);
    sum.store(detail::f64_bits(detail::bits_f64(sum.load(std::memory_order_relaxed)) + v),
              std::memory_order_relaxed);
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  bool valid() const noexcept { return ref_.attachment != detail::kNoopAttachment; }

 private:
  friend class Client;
  explicit Summary(detail::SeriesRef r) noexcept : ref_(r) {}
  [[gnu::noinline]] static void observe_slow(detail::SeriesRef r, double v) noexcept {
    const detail::LaneBinding* b = detail::lane_for(r.attachment);
    if (b == nullptr) return;
    if (!detail::valid_sample(v)) {
      b->owner->count_invalid_sample();
      return;
    }
    detail::cell_add_f64(*b, r.cell, v);
    detail::cell_add(*b, r.cell + 1, 1);
    detail::ring_push(*b, r.series, v);
  }
  detail::SeriesRef ref_;
};

/// Bucket bounds, in milliseconds, for SIP latencies (transaction response times, post-dial
/// delay, call setup): 5 ms to 32 s, 14 bounds (17 cells a series).
///   * 5 .. 250: ordinary transaction round trips, Envoy's millisecond progression;
///   * 500: T1 (RFC 3261): over UDP, the first retransmission goes out;
///   * 1000, 2000, 4000: the retransmission intervals that follow, doubling from T1;
///   * 3000: the post-dial delay at which callers notice; 8000: the one at which they abandon;
///   * 16000, 32000: up to timer B (64 x T1 = 32 s), when an INVITE transaction times out.
/// Beyond 32 s lands in +Inf. For seconds, register a `_seconds` family with bounds / 1000.
inline constexpr std::array<double, 14> kSipLatencyBucketsMs = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2000, 3000, 4000, 8000, 16000, 32000};

/// Native (sparse exponential) buckets for a histogram, as Prometheus' native histograms define
/// them: bucket edges are powers of 2^(2^-schema) (schema 3: a factor of 1.09, at most 4.5 %
/// error on a quantile), so no bound has to be chosen and every host's buckets line up. They are
/// kept over a fixed window: observations at or below `lowest` (rounded up to a bucket edge; 0
/// and negatives too) count in the zero bucket, those above `highest` (rounded up to one; +Inf
/// too) in the window's last bucket. A window costs one cell per bucket in every lane
/// (docs/architecture.md): at most layout::kMaxNativeBuckets (256) buckets.
struct NativeOptions {
  std::int32_t schema = 3;  // 0..8
  double lowest = 0.125;    // > 0, a normal double
  double highest = 65536;   // > lowest, finite
};

/// Native buckets for SIP latencies in milliseconds: schema 3 over (0.125 ms, 65.5 s], 152
/// buckets (170 cells a series with kSipLatencyBucketsMs).
inline constexpr NativeOptions kSipLatencyNativeMs{3, 0.125, 65536};

namespace detail {
/// The window NativeOptions ask for, or one with 0 buckets when they are not valid (schema out
/// of 0..8, lowest not a positive normal double, highest not finite or not above lowest, more
/// than layout::kMaxNativeBuckets buckets between them). Cold.
inline NativeWindow native_window(const NativeOptions& o) noexcept {
  if (o.schema < 0 || o.schema > layout::kMaxNativeSchema || !std::isnormal(o.lowest) ||
      !(o.lowest > 0) || !(o.highest > o.lowest) || !std::isfinite(o.highest))
    return {};
  const double* m = native_mantissa_bounds(o.schema);
  const std::int64_t first = std::int64_t{native_index(m, o.schema, o.lowest)} + 1;
  const std::int64_t last = native_index(m, o.schema, o.highest);
  if (last < first || last - first + 1 > layout::kMaxNativeBuckets) return {};
  return {static_cast<std::int32_t>(first), static_cast<std::uint16_t>(last - first + 1),
          static_cast<std::int8_t>(o.schema)};
}
}  // namespace detail

/// A Prometheus histogram: per-bucket counts, _sum and _count (and, when registered with
/// NativeOptions, native buckets beside the classic ones), all kept in the calling thread's
/// lane cells, so they are exact (never sampled, never dropped), fold like counters when a
/// writer dies and add up across processes in PromQL. The daemon serves cumulative
/// `_bucket{le="..."}` samples, `_sum` and `_count`, and in the protobuf format the native
/// buckets too. Handles are small values, usable from any thread, valid across fork(); a no-op
/// handle (detached client, refused registration) ignores every call.
///
/// Values outside [0, +Inf), chosen so that every exposition format stays valid (OpenMetrics
/// forbids a NaN or negative _sum, and wants _count equal to the +Inf bucket):
///   * negative (and -Inf): counted in the first bucket (and the zero bucket) and _count; not
///     added to _sum;
///   * +Inf: counted in the +Inf bucket (and the last native bucket) and _count; not added to
///     _sum;
///   * NaN: counted in the +Inf bucket and _count (in no native bucket); not added to _sum.
/// (Summary::observe() records none of them: see detail::valid_sample.)
class Histogram {
 public:
  Histogram() noexcept = default;
  /// Records one observation (units are the metric's, e.g. milliseconds). Hot path: a
  /// branch-free search over the bounds (and, if native, over the schema's mantissa bounds),
  /// then three owner-only load+stores (four if native) on an exclusive lane (atomic adds on a
  /// shared lane); no lock, allocation or system call.
  void observe(double v) const noexcept {
    std::atomic<std::uint64_t>* cells = detail::tls_exclusive[ref_.attachment];
    if (cells == nullptr) [[unlikely]] {
      observe_slow(v);
      return;
    }
    // Everything read before the first store (see Gauge::set).
    std::atomic<std::uint64_t>* const series = cells + ref_.cell;
    std::atomic<std::uint64_t>& bucket = series[detail::bucket_index(bounds_, bound_count_, v)];
    std::atomic<std::uint64_t>& sum = series[sum_cell_];
    std::atomic<std::uint64_t>& count = series[sum_cell_ + 1];
    const double summed = sum_part(v);
    if (mantissa_ != nullptr) {
      std::atomic<std::uint64_t>& native = series[native_cell(v)];
      native.store(native.load(std::memory_order_relaxed) + (v == v ? 1 : 0),
                   std::memory_order_relaxed);
    }
    bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum.store(detail::f64_bits(detail::bits_f64(sum.load(std::memory_order_relaxed)) + summed),
              std::memory_order_relaxed);
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  bool valid() const noexcept { return ref_.attachment != detail::kNoopAttachment; }
  /// The finite bounds (ascending; the +Inf bucket follows them). Empty for a no-op handle.
  std::span<const double> bounds() const noexcept { return {bounds_, bound_count_}; }
  /// Whether the series keeps native buckets.
  bool native() const noexcept { return mantissa_ != nullptr; }

 private:
  friend class Client;
  Histogram(detail::SeriesRef r, const double* bounds, std::uint32_t n,
            detail::NativeWindow w) noexcept
      : ref_(r),
        bound_count_(n),
        sum_cell_(w.buckets == 0 ? n + 1 : n + 2 + w.buckets),
        bounds_(bounds),
        mantissa_(w.buckets == 0
                      ? nullptr
                      : detail::native_mantissa_bounds(static_cast<std::uint8_t>(w.schema))),
        native_first_(w.first),
        native_last_(w.buckets == 0 ? 0 : w.buckets - 1),
        schema_(static_cast<std::uint8_t>(w.schema)) {}  // 0..8: native_window() checked it
  /// What an observation adds to _sum: itself when finite and not negative, else 0.
  static double sum_part(double v) noexcept {
    return v >= 0 && v <= std::numeric_limits<double>::max() ? v : 0.0;
  }
  /// The series cell of v's native bucket: the zero bucket (cell n + 1) at or below the window
  /// and for negatives, else native bucket index - first clamped to the window's last.
  [[gnu::always_inline]] std::uint32_t native_cell(double v) const noexcept {
    std::int64_t at = std::int64_t{detail::native_index(mantissa_, schema_, v)} - native_first_;
    at = std::signbit(v) ? -1 : at;
    at = std::clamp<std::int64_t>(at, -1, native_last_);
    return static_cast<std::uint32_t>(std::int64_t{bound_count_} + 2 + at);
  }
  [[gnu::noinline]] void observe_slow(double v) const noexcept {
    const detail::LaneBinding* b = detail::lane_for(ref_.attachment);
    if (b == nullptr) return;
    const std::uint32_t c = ref_.cell;
    detail::cell_add(*b, c + detail::bucket_index(bounds_, bound_count_, v), 1);
    if (mantissa_ != nullptr && v == v) detail::cell_add(*b, c + native_cell(v), 1);
    if (const double summed = sum_part(v); summed != 0)
      detail::cell_add_f64(*b, c + sum_cell_, summed);
    detail::cell_add(*b, c + sum_cell_ + 1, 1);
  }
  detail::SeriesRef ref_;
  std::uint32_t bound_count_ = 0;
  std::uint32_t sum_cell_ = 0;
  const double* bounds_ = nullptr;    // in the mapped arena: immutable once registered
  const double* mantissa_ = nullptr;  // native: the schema's mantissa bounds; else null
  std::int32_t native_first_ = 0;
  std::int32_t native_last_ = 0;  // native buckets - 1
  std::int32_t schema_ = 0;
};

/// A process's connection to one segment. Cheap to construct again for the same segment: all
/// Clients of one segment in a process share one attachment and one writer slot.
class Client {
 public:
  /// Attaches (creating the segment if nobody has yet). Never throws; see attached().
  explicit Client(const Options& o = {}) noexcept
      : att_(detail::attach(o.segment.empty() ? detail::default_segment_name() : o.segment,
                            o.writer_name.empty() ? program_name() : o.writer_name, o.geometry)) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The process-wide client on the default segment (the seed's `Default`).
  static Client& global() noexcept {
    static Client c;
    return c;
  }

  /// False when running detached (every handle is then a no-op).
  bool attached() const noexcept { return att_->attached(); }

  // ---- Cold path: resolve handles once ----------------------------------------------------------
  /// Finds or registers a counter series. A name or label key outside Prometheus' grammar, or
  /// a full catalog, yields a no-op handle and a counted refusal.
  Counter counter(std::string_view name, std::string_view help, Labels labels = {}) noexcept {
    return Counter(att_->register_series(layout::MetricType::kCounter, name, help, labels,
                                         GaugeMode::kSum, 0));
  }
  /// Finds or registers a gauge series; `mode` says how processes combine (see GaugeMode).
  Gauge gauge(std::string_view name, std::string_view help, Labels labels = {},
              GaugeMode mode = GaugeMode::kSum) noexcept {
    return Gauge(att_->register_series(layout::MetricType::kGauge, name, help, labels, mode, 0),
                 mode);
  }
  /// Finds or registers a summary series. `window_samples` asks the daemon for a quantile
  /// window of that many samples (0: the daemon's default).
  Summary summary(std::string_view name, std::string_view help, Labels labels = {},
                  std::uint32_t window_samples = 0) noexcept {
    return Summary(att_->register_series(layout::MetricType::kSummary, name, help, labels,
                                         GaugeMode::kSum, window_samples));
  }

  /// Finds or registers a histogram series with these finite bucket bounds (a +Inf bucket is
  /// always added). Bounds must be 1 to layout::kMaxHistogramBounds (64) finite values, not
  /// negative, strictly increasing; otherwise (unsorted, duplicates, NaN, ±Inf, negative, too
  /// many, none) the handle is a no-op and the refusal is counted as invalid_buckets. The same
  /// series registered again with other bounds is refused as type_conflict. Bounds are copied
  /// into the segment. Cold path.
  Histogram histogram(std::string_view name, std::string_view help, Labels labels,
                      std::span<const double> bounds) noexcept {
    return register_histogram(layout::MetricType::kHistogram, name, help, labels, bounds, {});
  }
  Histogram histogram(std::string_view name, std::string_view help, Labels labels,
                      std::initializer_list<double> bounds) noexcept {
    return histogram(name, help, labels, std::span<const double>(bounds.begin(), bounds.size()));
  }
  /// The same with native buckets beside the classic ones (NativeOptions; e.g.
  /// kSipLatencyNativeMs), served in the protobuf format that Prometheus asks for when started
  /// with --enable-feature=native-histograms. Options out of their ranges, or a window of more
  /// than layout::kMaxNativeBuckets buckets, are refused (a no-op handle, counted as
  /// invalid_buckets). A name registered natively and classically is a type conflict: one
  /// family is one kind.
  Histogram histogram(std::string_view name, std::string_view help, Labels labels,
                      std::span<const double> bounds, const NativeOptions& native) noexcept {
    const detail::NativeWindow w = detail::native_window(native);
    return register_histogram(layout::MetricType::kNativeHistogram, name, help, labels, bounds, w);
  }
  Histogram histogram(std::string_view name, std::string_view help, Labels labels,
                      std::initializer_list<double> bounds, const NativeOptions& native) noexcept {
    return histogram(name, help, labels, std::span<const double>(bounds.begin(), bounds.size()),
                     native);
  }

  /// Declares the label keys allowed for a family; the daemon drops other keys, merges the
  /// series that collapse and counts each violation in voiceserver_metrics_unknown_label_total.
  /// Declaring again replaces the list (the newest declaration wins).
  void register_labels(std::string_view family,
                       std::initializer_list<std::string_view> keys) noexcept {
    att_->register_labels(family, std::span<const std::string_view>(keys.begin(), keys.size()));
  }
  void register_labels(std::string_view family, std::span<const std::string_view> keys) noexcept {
    att_->register_labels(family, keys);
  }

  // ---- Seed-compatible registry API -------------------------------------------------------------
  // Each call looks the series up in the shared catalog (a hash probe and a key compare, no
  // allocation once the series exists). Prefer resolved handles on hot paths.
  void inc_counter(std::string_view name, std::string_view help, Labels labels = {}) noexcept {
    counter(name, help, labels).inc();
  }
  void add_counter(std::string_view name, std::string_view help, Labels labels,
                   std::uint64_t n) noexcept {
    counter(name, help, labels).add(n);
  }
  void set_gauge(std::string_view name, std::string_view help, Labels labels, double v) noexcept {
    gauge(name, help, labels).set(v);
  }
  void add_gauge(std::string_view name, std::string_view help, Labels labels, double v) noexcept {
    gauge(name, help, labels).add(v);
  }
  void observe(std::string_view name, std::string_view help, double v) noexcept {
    summary(name, help).observe(v);
  }
  /// observe() with a quantile window of max_samples (the seed's ObserveN).
  void observe_n(std::string_view name, std::string_view help, double v, int max_samples) noexcept {
    summary(name, help, {}, max_samples > 0 ? static_cast<std::uint32_t>(max_samples) : 0)
        .observe(v);
  }
  /// The seed's ObserveAsync. observe() already never blocks: the sample goes through the
  /// thread's ring and a full ring drops it (counted) while _sum and _count stay exact.
  void observe_async(std::string_view name, std::string_view help, double v) noexcept {
    observe(name, help, v);
  }
  /// The seed's AsyncDroppedCount: samples this process's rings dropped because they were full
  /// (a fork child counts its own only). Cold: a few loads per lane.
  std::uint64_t async_dropped_count() const noexcept { return att_->own_lanes_dropped(); }

 private:
  /// Identifies the segment attachment this Client writes to (shared by all Clients of one
  /// segment in a process, alive as long as the process); for per-segment caches.
  friend const void* attachment_key(const Client& c) noexcept { return c.att_; }
  Histogram register_histogram(layout::MetricType type, std::string_view name,
                               std::string_view help, Labels labels, std::span<const double> bounds,
                               detail::NativeWindow native) noexcept {
    const double* stored = nullptr;
    const detail::SeriesRef r = att_->register_series(type, name, help, labels, GaugeMode::kSum, 0,
                                                      bounds, &stored, native);
    if (r.attachment == detail::kNoopAttachment || stored == nullptr) return Histogram();
    return Histogram(r, stored, static_cast<std::uint32_t>(bounds.size()), native);
  }
  static std::string program_name() {
    // glibc's, declared in <errno.h>.
    return program_invocation_short_name != nullptr ? program_invocation_short_name : "worker";
  }
  detail::Attachment* att_;
};

}  // namespace sipmetrics
