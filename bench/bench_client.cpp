// Hot-path cost of the client against the physical floor, measured in the same run:
//   BM_Raw_ShmFetchAdd — a relaxed fetch_add (lock add) on a shared-memory cache line: the floor
//                        any shared-counter design pays;
//   BM_Raw_ShmStore    — an owner-only relaxed load+store on a shared-memory line: the limit.
// BM_Histogram_Observe runs on SIP-like latencies spread over every bucket of
// kSipLatencyBucketsMs (BM_Histogram_Observe_10Bounds: on the 10 bounds bench_peer.cpp gives
// prometheus-cpp); BM_Histogram_BucketIndex/{binary,linear} time the two bucket searches.
// bench/run_benchmarks.py turns the medians into ratios against these floors.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <sipmetrics/sipmetrics.h>
#include <sipmetrics/client.hpp>

#include "bench_values.hpp"

namespace {

/// A segment file of the benchmark's own, removed at exit.
struct BenchSegment {
  std::string path;
  BenchSegment() {
    char tmpl[] = "/dev/shm/sipmetrics-bench-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    ::unlink(tmpl);  // the client creates it afresh
    path = tmpl;
  }
  ~BenchSegment() { ::unlink(path.c_str()); }
};

BenchSegment& segment() {
  static BenchSegment s;
  return s;
}

sipmetrics::Client& client() {
  static sipmetrics::Client c{
      sipmetrics::Options{segment().path, "bench", sipmetrics::layout::kDefaultGeometry}};
  return c;
}

/// One cache line per thread in a MAP_SHARED mapping, like the segment's cells.
std::atomic<std::uint64_t>* shm_lines() {
  static void* p = ::mmap(nullptr, std::size_t{64} * 64, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return static_cast<std::atomic<std::uint64_t>*>(p);
}

void BM_Raw_ShmFetchAdd(benchmark::State& state) {
  std::atomic<std::uint64_t>& c = shm_lines()[static_cast<std::size_t>(state.thread_index()) * 8];
  for (auto _ : state) c.fetch_add(1, std::memory_order_relaxed);
  benchmark::DoNotOptimize(c.load());
}
BENCHMARK(BM_Raw_ShmFetchAdd)->Threads(1)->Threads(2);

void BM_Raw_ShmStore(benchmark::State& state) {
  std::atomic<std::uint64_t>& c = shm_lines()[static_cast<std::size_t>(state.thread_index()) * 8];
  for (auto _ : state) c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  benchmark::DoNotOptimize(c.load());
}
BENCHMARK(BM_Raw_ShmStore)->Threads(1)->Threads(2);

void BM_Counter_Inc(benchmark::State& state) {
  static sipmetrics::Counter c = client().counter("bench_counter_total", "Bench.");
  for (auto _ : state) c.inc();
}
BENCHMARK(BM_Counter_Inc)->Threads(1)->Threads(2)->Threads(4);

void BM_Gauge_Set(benchmark::State& state) {
  static sipmetrics::Gauge g =
      client().gauge("bench_gauge", "Bench.", {}, sipmetrics::GaugeMode::kMax);
  // Values from an integer counter: `v += 1` on a double would put the benchmark's own
  // floating-point dependency chain (3 cycles an iteration) under the figure.
  std::int64_t i = 0;
  for (auto _ : state) g.set(static_cast<double>(++i));
}
BENCHMARK(BM_Gauge_Set)->Threads(1)->Threads(2)->Threads(4);

void BM_Gauge_Add(benchmark::State& state) {
  static sipmetrics::Gauge g = client().gauge("bench_gauge_sum", "Bench.");
  for (auto _ : state) g.add(1);
}
BENCHMARK(BM_Gauge_Add)->Threads(1)->Threads(2)->Threads(4);

/// Observations before the timed loop of a summary benchmark without a drain: enough to fill
/// the calling thread's ring whatever an earlier benchmark left in it (repetitions run in random
/// order), so that every repetition times the same path.
constexpr std::int64_t kFillRing =
    std::int64_t{2} * sipmetrics::layout::kDefaultGeometry.ring_capacity;

void BM_Summary_Observe(benchmark::State& state) {
  static sipmetrics::Summary s = client().summary("bench_latency_ms", "Bench.");
  // Nobody drains the rings here: the benchmark measures the full-ring (drop) path, which costs
  // the same as the push path plus one acquire load (BM_Summary_Observe_Drained: the push path).
  for (std::int64_t k = 0; k < kFillRing; ++k) s.observe(1);
  std::int64_t i = 0;
  for (auto _ : state) s.observe(static_cast<double>(++i) * 0.5);
}
BENCHMARK(BM_Summary_Observe)->Threads(1)->Threads(2)->Threads(4);

using sipmetrics::bench::latencies;

void BM_Histogram_Observe(benchmark::State& state) {
  static sipmetrics::Histogram h =
      client().histogram("bench_setup_ms", "Bench.", {}, sipmetrics::kSipLatencyBucketsMs);
  const double* v = latencies();
  std::uint32_t i = 0;
  for (auto _ : state) h.observe(v[++i & 4095]);
}
BENCHMARK(BM_Histogram_Observe)->Threads(1)->Threads(2)->Threads(4);

/// The same with 10 bounds (kTenBoundsMs), the pair of BM_Peer_Histogram_Observe (bench_peer.cpp).
void BM_Histogram_Observe_10Bounds(benchmark::State& state) {
  static sipmetrics::Histogram h =
      client().histogram("bench_setup10_ms", "Bench.", {}, sipmetrics::bench::kTenBoundsMs);
  const double* v = latencies();
  std::uint32_t i = 0;
  for (auto _ : state) h.observe(v[++i & 4095]);
}
BENCHMARK(BM_Histogram_Observe_10Bounds)->Threads(1)->Threads(2)->Threads(4);

/// The two bucket searches alone over kSipLatencyBucketsMs (14 bounds), same values.
template <std::uint32_t (*Search)(const double*, std::uint32_t, double)>
void BM_Histogram_BucketIndex(benchmark::State& state) {
  const auto& b = sipmetrics::kSipLatencyBucketsMs;
  const double* v = latencies();
  std::uint32_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(Search(b.data(), static_cast<std::uint32_t>(b.size()), v[++i & 4095]));
}
std::uint32_t search_binary(const double* b, std::uint32_t n, double v) {
  return sipmetrics::detail::bucket_index_binary(b, n, v);
}
std::uint32_t search_linear(const double* b, std::uint32_t n, double v) {
  return sipmetrics::detail::bucket_index_linear(b, n, v);
}
BENCHMARK(BM_Histogram_BucketIndex<search_binary>)->Name("BM_Histogram_BucketIndex/binary");
BENCHMARK(BM_Histogram_BucketIndex<search_linear>)->Name("BM_Histogram_BucketIndex/linear");

/// Observes on `s` for the benchmark's iterations with the calling thread's ring emptied every
/// 4,096 samples, as a daemon that keeps up would (one store in 4,096 iterations), so the ring
/// never fills: the push path. False (and the benchmark skipped) if a sample was dropped.
bool observe_drained(benchmark::State& state, sipmetrics::Summary s) {
  s.observe(0);  // binds this thread's lane
  sipmetrics::layout::Lane* lane = nullptr;
  for (const auto& b : sipmetrics::detail::tls_lanes)
    if (b.cells != nullptr && !b.shared) lane = b.lane;
  if (lane == nullptr) {
    state.SkipWithError("no exclusive lane");
    return false;
  }
  // Earlier benchmarks on this thread's lane left its ring full: start empty.
  lane->ring_tail.store(lane->ring_head.load(std::memory_order_relaxed), std::memory_order_release);
  const std::uint64_t dropped = lane->dropped.load();
  std::int64_t i = 0;
  for (auto _ : state) {
    s.observe(static_cast<double>(++i) * 0.5);
    if ((i & 4095) == 0)
      lane->ring_tail.store(lane->ring_head.load(std::memory_order_relaxed),
                            std::memory_order_release);
  }
  if (lane->dropped.load() == dropped) return true;
  state.SkipWithError("samples dropped: the ring filled");
  return false;
}

/// The push path (observe_drained).
void BM_Summary_Observe_Drained(benchmark::State& state) {
  static sipmetrics::Summary s = client().summary("bench_drained_ms", "Bench.");
  (void)observe_drained(state, s);
}
BENCHMARK(BM_Summary_Observe_Drained)->Threads(1)->Threads(2);

/// The same observe() on summaries whose cells sit at different offsets within their 4 KiB page
/// (the argument, in cells: the nearest allocated summary at or after it). Every offset should
/// cost the same: the cells that would share a page offset with the lane's producer line (and
/// so delay its next load of ring_head) are never allocated. The push path (observe_drained).
void BM_Summary_Observe_AtCell(benchmark::State& state) {
  struct Placed {
    sipmetrics::Summary s;
    std::uint32_t cell;
  };
  static const std::vector<Placed> placed = [] {
    std::vector<Placed> out;
    for (int i = 0; i < 300; ++i) {  // 600 cells: every page offset at least once
      sipmetrics::Summary s =
          client().summary("bench_cells_ms", "Bench.", {{"n", std::to_string(i)}});
      out.push_back({s, 0});
    }
    // Read each one's first cell back from the catalog, as the daemon would.
    const sipmetrics::detail::SegmentView& v = sipmetrics::detail::registry().items[0]->view();
    for (std::uint32_t e = 0; e < v.geometry().max_series; ++e) {
      const auto& entry = v.entry(e);
      sipmetrics::detail::DecodedKey k;
      if (sipmetrics::layout::entry_state(entry.state.load()) != sipmetrics::layout::kEntryReady ||
          !sipmetrics::detail::decode_key(*v.arena_bytes(entry.key_offset, entry.key_length), k) ||
          k.name != "bench_cells_ms")
        continue;
      out[static_cast<std::size_t>(std::stoi(std::string(k.labels[0].value)))].cell =
          entry.first_cell;
    }
    return out;
  }();
  const auto want = static_cast<std::uint32_t>(state.range(0));
  const Placed* pick = nullptr;
  for (const Placed& p : placed)
    if (p.cell % 512 >= want && (pick == nullptr || p.cell % 512 < pick->cell % 512)) pick = &p;
  if (pick == nullptr) {
    state.SkipWithError("no summary at that offset");
    return;
  }
  if (!observe_drained(state, pick->s)) return;
  state.counters["cell"] = static_cast<double>(pick->cell);
}
BENCHMARK(BM_Summary_Observe_AtCell)->Arg(0)->Arg(1)->Arg(4)->Arg(8)->Arg(64)->Arg(256)->Arg(510);
// The C API (libsipmetrics.so, a call per update) against the C++ handles above, same loops.
// libsipmetrics has an attachment of its own: a second writer on the same segment file.
sipmetrics_client* c_client() {
  static sipmetrics_client* c = [] {
    sipmetrics_client* out = nullptr;
    (void)sipmetrics_client_open(segment().path.c_str(), "bench-c", &out);
    return out;
  }();
  return c;
}

void BM_CApi_CounterInc(benchmark::State& state) {
  static sipmetrics_counter c = [] {
    sipmetrics_counter h{};
    if (sipmetrics_counter_get(c_client(), "bench_c_counter_total", "Bench.", nullptr, 0, &h) !=
        SIPMETRICS_OK)
      std::abort();
    return h;
  }();
  for (auto _ : state) sipmetrics_counter_inc(c);
}
BENCHMARK(BM_CApi_CounterInc)->Threads(1)->Threads(2)->Threads(4);

void BM_CApi_GaugeAdd(benchmark::State& state) {
  static sipmetrics_gauge g = [] {
    sipmetrics_gauge h{};
    if (sipmetrics_gauge_get(c_client(), "bench_c_gauge_sum", "Bench.", nullptr, 0,
                             SIPMETRICS_GAUGE_SUM, &h) != SIPMETRICS_OK)
      std::abort();
    return h;
  }();
  for (auto _ : state) sipmetrics_gauge_add(g, 1);
}
BENCHMARK(BM_CApi_GaugeAdd)->Threads(1)->Threads(2)->Threads(4);

void BM_CApi_SummaryObserve(benchmark::State& state) {
  static sipmetrics_summary s = [] {
    sipmetrics_summary h{};
    if (sipmetrics_summary_get(c_client(), "bench_c_latency_ms", "Bench.", nullptr, 0, 0, &h) !=
        SIPMETRICS_OK)
      std::abort();
    return h;
  }();
  for (std::int64_t k = 0; k < kFillRing; ++k) sipmetrics_summary_observe(s, 1);  // as above
  std::int64_t i = 0;
  for (auto _ : state) sipmetrics_summary_observe(s, static_cast<double>(++i) * 0.5);
}
BENCHMARK(BM_CApi_SummaryObserve)->Threads(1)->Threads(2)->Threads(4);

void BM_CApi_HistogramObserve(benchmark::State& state) {
  static const sipmetrics_histogram h = [] {
    sipmetrics_histogram out{};
    std::size_t n = 0;
    const double* bounds = sipmetrics_sip_latency_buckets_ms(&n);
    if (sipmetrics_histogram_get(c_client(), "bench_c_setup_ms", "Bench.", nullptr, 0, bounds, n,
                                 &out) != SIPMETRICS_OK)
      std::abort();
    return out;
  }();
  const double* v = latencies();  // the values of BM_Histogram_Observe
  std::uint32_t i = 0;
  for (auto _ : state) sipmetrics_histogram_observe(&h, v[++i & 4095]);
}
BENCHMARK(BM_CApi_HistogramObserve)->Threads(1)->Threads(2)->Threads(4);

/// Two processes incrementing one series: aggregate throughput against one process, both timed
/// here with the same code. Reports increments per second as `items_per_second`.
void run_processes(benchmark::State& state, int processes) {
  sipmetrics::Counter c = client().counter("bench_processes_total", "Bench.");
  const std::int64_t per_process = state.range(0);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    pid_t pids[8];
    for (int p = 0; p < processes; ++p) {
      pids[p] = ::fork();
      if (pids[p] == 0) {
        for (std::int64_t i = 0; i < per_process; ++i) c.inc();
        ::_exit(0);
      }
    }
    for (int p = 0; p < processes; ++p) ::waitpid(pids[p], nullptr, 0);
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * per_process * processes);
}
void BM_Processes_OneSeries_1(benchmark::State& state) { run_processes(state, 1); }
void BM_Processes_OneSeries_2(benchmark::State& state) { run_processes(state, 2); }
BENCHMARK(BM_Processes_OneSeries_1)->Arg(200'000'000)->UseManualTime()->Iterations(3);
BENCHMARK(BM_Processes_OneSeries_2)->Arg(200'000'000)->UseManualTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
