#include <sipmetrics/client.hpp>

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

// Each test case attaches one segment of its own; a process may attach at most
// detail::kMaxAttachments segments, so keep this file below that.

namespace sipmetrics {
namespace {

using test::refusals;

using test::client_for;
using test::view_of;

std::uint32_t first_cell(const detail::SegmentView& v, std::string_view name) {
  for (std::uint32_t i = 0; i < v.geometry().max_series; ++i) {
    const layout::SeriesEntry& e = v.entry(i);
    if (layout::entry_state(e.state.load()) != layout::kEntryReady) continue;
    detail::DecodedKey k;
    if (detail::decode_key(*v.arena_bytes(e.key_offset, e.key_length), k) && k.name == name)
      return e.first_cell;
  }
  return 0xffffffffu;
}

}  // namespace

TEST_CASE("registration is idempotent; label order does not matter, a key given twice is refused") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  REQUIRE(c.attached());
  Counter a = c.counter("sip_x_total", "X.", {{"transport", "sip"}, {"status", "ok"}});
  Counter b =
      c.counter("sip_x_total", "other help is ignored", {{"status", "ok"}, {"transport", "sip"}});
  Counter d =
      c.counter("sip_x_total", "X.", {{"status", "x"}, {"transport", "sip"}, {"status", "ok"}});
  CHECK_FALSE(d.valid());  // {status=x, status=ok} is no label set: never "the last one wins"
  Counter other = c.counter("sip_x_total", "X.", {{"transport", "webrtc"}, {"status", "ok"}});
  REQUIRE(a.valid());
  a.inc();
  b.add(2);
  d.inc();
  other.add(10);
  // The seed-compatible lookups land on the same series.
  c.inc_counter("sip_x_total", "X.", {{"transport", "sip"}, {"status", "ok"}});
  c.add_counter("sip_x_total", "X.", {{"status", "ok"}, {"transport", "sip"}}, 5);
  const auto& v = view_of(seg);
  CHECK(v.header().series_count.load() == 2);
  CHECK(refusals(v, layout::Refusal::kDuplicateLabel) == 1);
  // Cells are handed out in registration order: the (sip, ok) series first.
  const auto cells = test::first_cells(2, 1);
  CHECK(count_total(v, cells[0]) == 9);
  CHECK(count_total(v, cells[1]) == 10);

  // Whitelists: a repeated identical declaration is stored once, a different one appended.
  c.register_labels("sip_x_total", {"transport", "status"});
  c.register_labels("sip_x_total", {"transport", "status"});
  CHECK(v.header().whitelist_count.load() == 1);
  c.register_labels("sip_x_total", {"transport"});
  CHECK(v.header().whitelist_count.load() == 2);
}

TEST_CASE("invalid names and full tables are refused, counted and harmless") {
  test::TempSegment seg;
  Client& c = client_for(seg, test::small_geometry());
  const auto& v = view_of(seg);
  CHECK_FALSE(c.counter("bad-name", "").valid());
  CHECK_FALSE(c.counter("", "").valid());
  CHECK_FALSE(c.counter("ok_total", "", {{"__reserved", "x"}}).valid());
  CHECK_FALSE(c.counter("ok_total", "", {{"le", "1"}}).valid());
  CHECK_FALSE(c.summary("ok_ms", "", {{"quantile", "0.5"}}).valid());
  CHECK(refusals(v, layout::Refusal::kReservedLabel) == 3);
  CHECK_FALSE(c.counter("ok_total", "", {{"bad key", "x"}}).valid());
  std::vector<std::string> keys;
  std::vector<Label> many;
  for (int i = 0; i < 17; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) many.push_back({k, "v"});
  CHECK_FALSE(c.counter("ok_total", "", Labels(std::span<const Label>(many))).valid());
  CHECK(refusals(v, layout::Refusal::kInvalidName) == 4);
  Counter noop;
  noop.inc();  // a default handle is a no-op too

  // The catalog holds 16 entries.
  int ok = 0;
  for (int i = 0; i < 20; ++i)
    ok += c.counter("fill_total", "", {{"n", std::to_string(i)}}).valid() ? 1 : 0;
  CHECK(ok == 16);
  CHECK(refusals(v, layout::Refusal::kCatalogFull) == 4);
  // Existing series keep working.
  auto all_cells = [&v] {
    std::uint64_t sum = 0;
    for (std::uint32_t cell = 0; cell < v.header().cells_used.load(); ++cell)
      sum += count_total(v, cell);
    return sum;
  };
  Counter first = c.counter("fill_total", "", {{"n", "0"}});
  CHECK(first.valid());
  const std::uint64_t before = all_cells();
  first.add(3);
  CHECK(all_cells() == before + 3);
}

TEST_CASE("the arena filling up refuses new series without touching old ones") {
  test::TempSegment seg;
  layout::Geometry g = test::small_geometry();
  g.max_series = 64;
  Client& c = client_for(seg, g);
  const auto& v = view_of(seg);
  const std::string long_value(1000, 'v');
  int ok = 0;
  for (int i = 0; i < 10; ++i)
    ok +=
        c.counter("long_total", "", {{"n", std::to_string(i)}, {"v", long_value}}).valid() ? 1 : 0;
  CHECK(ok == 3);  // 4 KiB of arena, the family's name included
  CHECK(refusals(v, layout::Refusal::kArenaFull) == 7);
  CHECK(v.header().arena_used.load() <= g.arena_bytes);
}

TEST_CASE("more threads than lanes count exactly, and a lane outlives its thread") {
  test::TempSegment seg;
  layout::Geometry g = layout::kDefaultGeometry;
  g.lanes_per_writer = 4;  // 3 exclusive lanes and one shared by the rest
  Client& c = client_for(seg, g);
  const auto& v = view_of(seg);
  Counter ctr = c.counter("lanes_total", "");
  constexpr int kThreads = 10, kPerThread = 100'000;
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      ctr.inc();  // bind the lane, then start together
      sync.arrive_and_wait();
      for (int i = 1; i < kPerThread; ++i) ctr.inc();
      sync.arrive_and_wait();  // nobody exits (and frees a lane) before all are done
    });
  for (auto& t : threads) t.join();
  const std::uint32_t cell = first_cell(v, "lanes_total");
  CHECK(count_total(v, cell) == std::uint64_t{kThreads} * kPerThread);
  int owned = 0, shared = 0;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l) {
    if (v.lane(l).owner.load() == 0) continue;
    ++owned;
    shared += v.lane(l).mode.load() == layout::kLaneShared ? 1 : 0;
  }
  CHECK(owned == 4);
  CHECK(shared == 1);

  // A new thread takes an idle lane: counts continue, no new lane is claimed.
  std::thread([&] { ctr.add(5); }).join();
  CHECK(count_total(v, cell) == std::uint64_t{kThreads} * kPerThread + 5);
  owned = 0;
  for (std::uint32_t l = 0; l < layout::spill_lane(g); ++l)
    owned += v.lane(l).owner.load() != 0 ? 1 : 0;
  CHECK(owned == 4);
  CHECK(v.header().spill_bindings.load() == 0);  // nobody needed the spill lane
}

TEST_CASE("after fork a child writes through old handles into a writer slot of its own") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  Counter ctr = c.counter("fork_total", "");
  ctr.add(10);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ctr.add(20);
    ::_exit(0);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  ctr.add(1);
  const std::uint32_t cell = first_cell(v, "fork_total");
  CHECK(count_total(v, cell) == 31);
  // Two slots were claimed, and the parent's and child's lanes belong to different slots.
  std::uint64_t by_owner[3] = {};
  int slots = 0;
  for (std::uint32_t i = 0; i < v.geometry().max_writers; ++i)
    slots += v.writer(i).state.load() != layout::kWriterFree ? 1 : 0;
  CHECK(slots == 2);
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l) {
    const std::uint32_t o = v.lane(l).owner.load();
    if (o >= 1 && o <= 2) by_owner[o] += v.cells(l)[cell].load();
  }
  CHECK(((by_owner[1] == 11 && by_owner[2] == 20) || (by_owner[1] == 20 && by_owner[2] == 11)));
}

TEST_CASE("summaries keep sum and count exact; a full ring drops samples and counts them") {
  test::TempSegment seg;
  Client& c = client_for(seg, test::small_geometry());  // 64-entry rings, no daemon draining
  const auto& v = view_of(seg);
  Summary s = c.summary("lat_ms", "", {}, 500);
  for (int i = 1; i <= 100; ++i) s.observe(i);
  s.observe(std::nan(""));  // ignored
  const std::uint32_t cell = first_cell(v, "lat_ms");
  std::uint32_t lane = 0;
  while (v.lane(lane).owner.load() == 0) ++lane;
  CHECK(detail::bits_f64(v.cells(lane)[cell].load()) == 5050.0);
  CHECK(v.cells(lane)[cell + 1].load() == 100);
  CHECK(v.lane(lane).ring_head.load() == 64);
  CHECK(v.lane(lane).dropped.load() == 36);
  const layout::RingEntry& e = v.ring(lane)[5];
  CHECK((e.tag.load() >> 32) == 6);
  CHECK(detail::bits_f64(e.value.load()) == 6.0);
  CHECK(v.entry(e.tag.load() & 0xffffffffu).window_samples == 500);
}

TEST_CASE("gauges: set makes the process's contribution exact across threads; modes stamp") {
  test::TempSegment seg;
  Client& c = client_for(seg);
  const auto& v = view_of(seg);
  Gauge g = c.gauge("active_calls", "");
  g.add(5);
  std::thread([&] { g.add(3); }).join();  // another lane of this process
  const std::uint32_t cell = first_cell(v, "active_calls");
  auto sum = [&] {
    double s = 0;
    for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l)
      if (v.lane(l).owner.load() != 0)
        s += detail::bits_f64(v.cells(l)[cell].load()) +
             static_cast<double>(static_cast<std::int64_t>(v.cells(l)[cell + 1].load()));
    return s;
  };
  CHECK(sum() == 8.0);
  g.set(10);
  CHECK(sum() == 10.0);
  g.dec();
  CHECK(sum() == 9.0);

  Gauge last = c.gauge("queue_depth", "", {}, GaugeMode::kLast);
  last.set(42);
  const std::uint32_t lc = first_cell(v, "queue_depth");
  std::uint32_t lane = 0;
  while (v.lane(lane).owner.load() == 0 || v.cells(lane)[lc + 1].load() == 0) ++lane;
  CHECK(detail::bits_f64(v.cells(lane)[lc].load()) == 42.0);
  CHECK(v.cells(lane)[lc + 1].load() > 1'600'000'000ull * 1'000'000'000ull);  // realtime ns
  // Same name, other mode: refused rather than silently mixed.
  CHECK_FALSE(c.gauge("queue_depth", "", {}, GaugeMode::kMax).valid());
  CHECK(refusals(v, layout::Refusal::kTypeConflict) == 1);
}

}  // namespace sipmetrics

namespace sipmetrics {

TEST_CASE("series get cells the layout does not reserve, consecutive and disjoint") {
  test::TempSegment seg;
  // In a child: this binary's process has its own attachments to keep under kMaxAttachments.
  const pid_t pid = ::fork();
  if (pid == 0) {
    Options o;
    o.segment = seg.path();
    Client c(o);
    bool ok = c.attached();
    for (int i = 0; i < 700; ++i) {  // past the first page of cells, summaries straddling its end
      const std::string n = std::to_string(i);
      ok = ok && (i % 3 == 0 ? c.summary("alloc_ms", "", {{"n", n}}).valid()
                             : c.counter("alloc_total", "", {{"n", n}}).valid());
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView& v = file->view();
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;  // [first, first + count)
  for (std::uint32_t i = 0; i < v.geometry().max_series; ++i) {
    const layout::SeriesEntry& e = v.entry(i);
    if (layout::entry_state(e.state.load()) == layout::kEntryReady)
      runs.emplace_back(e.first_cell, e.first_cell + e.cell_count);
  }
  REQUIRE(runs.size() == 700);
  std::sort(runs.begin(), runs.end());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (std::uint32_t cell = runs[i].first; cell < runs[i].second; ++cell)
      CHECK_FALSE(layout::cell_reserved(cell));
    if (i > 0) CHECK(runs[i - 1].second <= runs[i].first);
  }
  CHECK(runs.back().second > layout::kCellsPerPage);
}

TEST_CASE("concurrent registration from threads and processes yields one series each") {
  test::TempSegment seg;
  constexpr int kSeries = 200, kThreads = 4, kProcesses = 4;
  auto register_all = [&seg] {
    Options o;
    o.segment = seg.path();
    Client c(o);
    for (int i = 0; i < kSeries; ++i)
      c.counter("race_total", "Race.", {{"n", std::to_string(i)}, {"k", "v"}}).inc();
  };
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) threads.emplace_back(register_all);
      for (auto& t : threads) t.join();
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  // Read it as the daemon would (this process never attached to it as a writer).
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView& v = file->view();
  CHECK(v.header().series_count.load() == kSeries);
  const auto cells = test::first_cells(kSeries, 1);
  CHECK(v.header().cells_used.load() == cells.back() + 1);
  for (std::uint32_t cell : cells) CHECK(count_total(v, cell) == kThreads * kProcesses);
}

TEST_CASE("a runaway family cannot take the catalog from the others; long values never merge") {
  test::TempSegment seg;
  Client& c = client_for(seg);  // 4,096 series, a family 1,024 at most
  const auto& v = view_of(seg);
  REQUIRE(v.geometry().family_series_limit == 1024);
  int ok = 0;
  for (int i = 0; i < 5000; ++i)
    ok += c.counter("runaway_total", "", {{"call_id", std::to_string(i)}}).valid() ? 1 : 0;
  CHECK(ok == 1024);
  CHECK(refusals(v, layout::Refusal::kFamilyFull) == 5000 - 1024);
  CHECK(refusals(v, layout::Refusal::kCatalogFull) == 0);
  // Every other family still registers, and the runaway's existing series still resolve.
  for (int i = 0; i < 100; ++i)
    CHECK(c.counter("other_total", "", {{"n", std::to_string(i)}}).valid());
  CHECK(c.counter("runaway_total", "", {{"call_id", "7"}}).valid());
  CHECK(refusals(v, layout::Refusal::kFamilyFull) == 5000 - 1024);

  // Label values longer than 1024 bytes are refused, never cut: two values that differ past the
  // cut would otherwise become one series.
  const std::uint32_t series = v.header().series_count.load();
  const std::string a = std::string(1 << 20, 'x') + "a", b = std::string(1 << 20, 'x') + "b";
  CHECK_FALSE(c.counter("long_total", "", {{"v", a}}).valid());
  CHECK_FALSE(c.counter("long_total", "", {{"v", b}}).valid());
  CHECK(refusals(v, layout::Refusal::kLabelTooLong) == 2);
  CHECK(c.counter("long_total", "", {{"v", std::string(1024, 'x')}}).valid());  // the limit
  CHECK(v.header().series_count.load() == series + 1);
}

}  // namespace sipmetrics
