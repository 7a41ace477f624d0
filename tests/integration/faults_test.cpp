// Fault injection with the real sipmetricsd and real worker processes: writers SIGKILLed in the
// middle of a burst, pid reuse, a thousand short-lived writers, random bytes written over a live
// segment, hostile names and values, full tables, incompatible segments. Each case kills,
// corrupts or floods for real and then checks exact values on /metrics (and, where the segment
// itself is the evidence, in the segment file).
//
// The test process never attaches as a writer: it reads the segment file through a read-only
// mapping and scribbles on it with pwrite(2). It takes no record lock (except where a case says
// so), so opening and closing the file cannot disturb anyone's liveness lock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/liveness.hpp>

#include "exposition_parser.hpp"
#include "harness.hpp"
#include "hostile_cases.hpp"

#ifndef SIPMETRICS_FAULT_WORKER_PATH
#error "SIPMETRICS_FAULT_WORKER_PATH must name the sipmetrics-fault-worker binary"
#endif

namespace sipmetrics::test {
namespace {

constexpr const char* kWriters = "sipmetrics_writers";
constexpr const char* kWritersExited = "sipmetrics_writers_exited_total";
constexpr const char* kLanesUsed = "sipmetrics_segment_used{resource=\"lanes\"}";
constexpr const char* kWritersUsed = "sipmetrics_segment_used{resource=\"writers\"}";
constexpr const char* kSeriesUsed = "sipmetrics_segment_used{resource=\"series\"}";
constexpr const char* kArenaUsed = "sipmetrics_segment_used{resource=\"arena_bytes\"}";
constexpr const char* kCellsUsed = "sipmetrics_segment_used{resource=\"cells\"}";
constexpr const char* kWhitelistsUsed = "sipmetrics_segment_used{resource=\"whitelists\"}";
constexpr const char* kDropped = "voiceserver_metrics_observe_dropped_total";
constexpr const char* kDrained = "sipmetrics_samples_drained_total";
constexpr const char* kCorruptCatalog = "sipmetrics_corrupt_entries_total{region=\"catalog\"}";
constexpr const char* kCorruptRing = "sipmetrics_corrupt_entries_total{region=\"ring\"}";
constexpr const char* kCorruptLane = "sipmetrics_corrupt_entries_total{region=\"lane\"}";
constexpr const char* kCorruptWhitelist = "sipmetrics_corrupt_entries_total{region=\"whitelist\"}";
constexpr const char* kRefusalReasons[] = {
    "catalog_full",    "arena_full",     "cells_full",     "invalid_name", "writers_full",
    "lanes_full",      "whitelist_full", "type_conflict",  "family_full",  "label_too_long",
    "duplicate_label", "reserved_label", "invalid_buckets"};

std::string refusals(const char* reason) {
  return std::string("sipmetrics_refusals_total{reason=\"") + reason + "\"}";
}

double value_in(const std::string& text, std::string_view series) {
  return sample(text, series).value_or(kNaN);
}

// ---- Processes ----------------------------------------------------------------------------------

int g_seq = 0;  // output file names; doctest runs the cases of one binary one after the other

Process spawn(const Sandbox& box, const std::string& program, std::vector<std::string> args,
              std::vector<std::pair<std::string, std::string>> env = {}) {
  const std::string base = "f" + std::to_string(++g_seq);
  return Process({program, std::move(args), std::move(env), box.dir() / (base + ".out"),
                  box.dir() / (base + ".err")});
}

Process fault_worker(const Sandbox& box, std::vector<std::string> args) {
  return spawn(box, SIPMETRICS_FAULT_WORKER_PATH, std::move(args),
               {{"SIPMETRICS_SEGMENT", box.segment()}});
}

/// sipmetricsd on the sandbox's segment and a loopback port, with `extra` flags; drains every
/// 2 ms and sweeps every 50 ms unless `extra` says otherwise. Not waited for.
Process spawn_daemon(const Sandbox& box, int port, const std::vector<std::string>& extra,
                     std::vector<std::pair<std::string, std::string>> env = {}) {
  std::vector<std::string> args{"--segment",
                                box.segment(),
                                "--listen",
                                "127.0.0.1:" + std::to_string(port),
                                "--drain-interval-ms",
                                "2"};
  if (std::find(extra.begin(), extra.end(), "--housekeeping-interval-ms") == extra.end())
    args.insert(args.end(), {"--housekeeping-interval-ms", "50"});
  args.insert(args.end(), extra.begin(), extra.end());
  return spawn(box, kDaemonPath, std::move(args), std::move(env));
}

/// spawn_daemon, then waits until /healthz answers; throws if the daemon does not come up.
Daemon start_daemon(const Sandbox& box, const std::vector<std::string>& extra = {},
                    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int port = free_loopback_port();
    Daemon d(spawn_daemon(box, port, extra, env), port);
    if (eventually([&] { return d.get("/healthz").has_value() || !d.process().running(); }, 10s) &&
        d.process().running())
      return d;
    why = d.log();
    if (why.find("cannot listen") == std::string::npos) break;
  }
  throw std::runtime_error("sipmetricsd did not come up:\n" + why);
}

// ---- The segment file, seen from outside --------------------------------------------------------

/// A read-only mapping of a segment file to look at, and pwrite() to scribble on it.
class SegmentImage {
 public:
  explicit SegmentImage(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
    struct stat st {};
    REQUIRE(::fstat(fd_, &st) == 0);
    size_ = static_cast<std::size_t>(st.st_size);
    REQUIRE(size_ >= sizeof(layout::Header));
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<const char*>(p);
    geo_ = header().geometry;
    REQUIRE(layout::geometry_valid(geo_));
    reg_ = layout::regions_for(geo_);
    REQUIRE(reg_.total <= size_);
  }
  SegmentImage(const SegmentImage&) = delete;
  SegmentImage& operator=(const SegmentImage&) = delete;
  ~SegmentImage() {
    ::munmap(const_cast<char*>(base_), size_);
    ::close(fd_);
  }

  const layout::Header& header() const { return *reinterpret_cast<const layout::Header*>(base_); }
  const layout::Geometry& geometry() const { return geo_; }
  const layout::Regions& regions() const { return reg_; }
  int fd() const { return fd_; }

  std::uint64_t writer_at(std::uint32_t i) const {
    return reg_.writers + i * sizeof(layout::WriterSlot);
  }
  std::uint64_t lane_at(std::uint32_t i) const { return reg_.lanes + i * sizeof(layout::Lane); }
  std::uint64_t entry_at(std::uint32_t i) const {
    return reg_.catalog + i * sizeof(layout::SeriesEntry);
  }
  std::uint64_t whitelist_at(std::uint32_t i) const {
    return reg_.whitelist + i * sizeof(layout::WhitelistEntry);
  }
  std::uint64_t ring_at(std::uint32_t lane, std::uint64_t position) const {
    return reg_.rings +
           (std::uint64_t{lane} * geo_.ring_capacity + (position & (geo_.ring_capacity - 1))) *
               sizeof(layout::RingEntry);
  }
  template <typename T>
  const T& at(std::uint64_t offset) const {
    return *reinterpret_cast<const T*>(base_ + offset);
  }
  const layout::WriterSlot& writer(std::uint32_t i) const {
    return at<layout::WriterSlot>(writer_at(i));
  }
  const layout::Lane& lane(std::uint32_t i) const { return at<layout::Lane>(lane_at(i)); }
  const layout::SeriesEntry& entry(std::uint32_t i) const {
    return at<layout::SeriesEntry>(entry_at(i));
  }

  void write(std::uint64_t offset, const void* bytes, std::size_t n) const {
    REQUIRE(offset + n <= size_);
    REQUIRE(::pwrite(fd_, bytes, n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
  }
  template <typename T>
  void put(std::uint64_t offset, T value) const {
    write(offset, &value, sizeof value);
  }

  /// The live writer slot of a process, by the pid its client wrote there.
  std::optional<std::uint32_t> slot_of(pid_t pid) const {
    for (std::uint32_t i = 0; i < geo_.max_writers; ++i)
      if (writer(i).state.load() == layout::kWriterLive &&
          writer(i).pid.load() == static_cast<std::uint32_t>(pid))
        return i;
    return std::nullopt;
  }
  std::vector<std::uint32_t> lanes_of(std::uint32_t slot) const {
    std::vector<std::uint32_t> out;
    for (std::uint32_t l = 0; l < geo_.lane_pool; ++l)
      if (lane(l).owner.load() == slot + 1) out.push_back(l);
    return out;
  }
  std::uint32_t slots_in_use() const {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < geo_.max_writers; ++i)
      n += writer(i).state.load() != layout::kWriterFree ? 1 : 0;
    return n;
  }
  /// Catalog index of the ready entry whose series name is `name` (first label set found).
  std::optional<std::uint32_t> entry_named(std::string_view name) const {
    for (std::uint32_t i = 0; i < geo_.max_series; ++i) {
      const layout::SeriesEntry& e = entry(i);
      if (layout::entry_state(e.state.load()) != layout::kEntryReady) continue;
      const std::uint64_t off = reg_.arena + e.key_offset;
      if (e.key_offset + 2 > geo_.arena_bytes) continue;
      const auto len = static_cast<std::size_t>(static_cast<unsigned char>(base_[off]) |
                                                (static_cast<unsigned char>(base_[off + 1]) << 8));
      if (e.key_offset + 2 + len <= geo_.arena_bytes &&
          std::string_view(base_ + off + 2, len) == name)
        return i;
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
  const char* base_ = nullptr;
  layout::Geometry geo_{};
  layout::Regions reg_{};
};

/// The 64 bytes of a catalog entry, laid out as layout::SeriesEntry.
std::array<char, sizeof(layout::SeriesEntry)> entry_bytes(
    std::uint32_t state, std::uint64_t key_offset, std::uint32_t key_length,
    std::uint32_t first_cell, std::uint16_t cell_count, std::uint8_t type) {
  std::array<char, sizeof(layout::SeriesEntry)> b{};
  auto put = [&b](std::size_t off, const auto& v) { std::memcpy(b.data() + off, &v, sizeof v); };
  put(offsetof(layout::SeriesEntry, state), state);
  put(offsetof(layout::SeriesEntry, key_offset), key_offset);
  put(offsetof(layout::SeriesEntry, help_offset), key_offset);
  put(offsetof(layout::SeriesEntry, key_length), key_length);
  put(offsetof(layout::SeriesEntry, help_length), std::uint32_t{0});
  put(offsetof(layout::SeriesEntry, first_cell), first_cell);
  put(offsetof(layout::SeriesEntry, cell_count), cell_count);
  put(offsetof(layout::SeriesEntry, type), type);
  return b;
}

/// The values a scrape reports for a set of series.
std::vector<double> values_in(const std::string& text, const std::vector<std::string>& series) {
  std::vector<double> out;
  for (const std::string& s : series) out.push_back(value_in(text, s));
  return out;
}

std::string show(const std::vector<std::string>& names, const std::vector<double>& values) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i)
    s += names[i] + " = " + std::to_string(values[i]) + "\n";
  return s;
}

}  // namespace

// ---- Crash and restart --------------------------------------------------------------------------

TEST_CASE(
    "a worker SIGKILLed mid-burst of increments and samples keeps every count, loses its gauge and "
    "ring") {
  Sandbox box;
  // Sweeps 3 s apart, so that many scrapes see the dead writer's lanes before its fold; a lane
  // quota of 2 gives the burst's 3 threads one exclusive lane and one shared lane; 64-sample
  // rings overflow within microseconds of a burst.
  Daemon d = start_daemon(box, {"--housekeeping-interval-ms", "3000", "--lanes-per-writer", "2",
                                "--ring-capacity", "64"});
  INFO("daemon log:\n" << d.log());
  const std::string calls = "fault_burst_total";
  const std::string count = "fault_burst_seconds_count";
  const std::string sum = "fault_burst_seconds_sum";
  const std::string active = "fault_burst_active";

  Process a = fault_worker(box, {"burst", "3"});
  REQUIRE(a.wait_for_line("bursting", 1, 30s));
  INFO("burst worker stderr:\n" << a.err());
  // The steady writer shares every series with the burst: 7,000 increments, samples 1..50
  // (fewer than a ring holds, so it never drops one).
  Process b = box.worker({"--counter", "fault_burst_total@7000", "--summary", "fault_burst_seconds",
                          "--observe", "50", "--value", "1", "--step", "1", "--gauge",
                          "fault_burst_active", "--add", "2", "--hold"});
  REQUIRE(b.wait_for_line("ready", 1, 30s));
  CHECK(await_value(d, active, 7) == 7);
  CHECK(await_value(d, kWriters, 2) == 2);
  CHECK(value_of(d, kLanesUsed) == 3);

  SegmentImage seg(box.segment());
  const auto a_slot = seg.slot_of(a.pid());
  REQUIRE(a_slot.has_value());
  CHECK(*a_slot == 0);  // it attached first
  const std::vector<std::uint32_t> a_lanes = seg.lanes_of(*a_slot);
  CHECK(a_lanes.size() == 2);
  CHECK(seg.lane(a_lanes[0]).mode.load() == layout::kLaneExclusive);
  CHECK(seg.lane(a_lanes[1]).mode.load() == layout::kLaneShared);

  // Find the sweep phase: a writer that exits is folded at the next sweep; right after that
  // fold, the next sweep is 3 s away.
  {
    Process probe = box.worker({"--counter", "fault_probe_total@1"});
    REQUIRE(exit_status(probe, 30s) == 0);
  }
  REQUIRE(await_value(d, kWritersExited, 1, 10s) == 1);
  // Still bursting, then killed in the middle of it.
  const double before = value_of(d, calls);
  std::this_thread::sleep_for(20ms);
  CHECK(value_of(d, calls) > before);
  REQUIRE(a.signal(SIGKILL));
  REQUIRE(exit_status(a, 10s) == 128 + SIGKILL);

  // Once the process is gone nothing changes its lanes: what the first scrape shows must be
  // served unchanged by every scrape before the fold, across it and after it.
  const std::vector<std::string> conserved{calls, count, sum, kDropped};
  const auto first = d.metrics();
  REQUIRE(first.has_value());
  const std::vector<double> at_kill = values_in(*first, conserved);
  INFO("at the kill:\n" << show(conserved, at_kill));
  REQUIRE(value_in(*first, kWritersExited) == 1);  // scraped before the fold
  int before_fold = 0, after_fold = 0, differing = 0;
  const auto deadline = Clock::now() + 15s;
  while (after_fold < 5 && Clock::now() < deadline) {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    if (values_in(*text, conserved) != at_kill) {
      ++differing;
      INFO("scrape " << before_fold + after_fold << ":\n"
                     << show(conserved, values_in(*text, conserved)));
      CHECK(values_in(*text, conserved) == at_kill);
    }
    (value_in(*text, kWritersExited) == 2 ? after_fold : before_fold) += 1;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(differing == 0);
  CHECK(before_fold >= 10);
  CHECK(after_fold == 5);
  MESSAGE("burst killed after " << at_kill[0] - 7000 << " increments; " << before_fold
                                << " scrapes before the fold, " << after_fold
                                << " after, all equal");

  // What the burst wrote, and how the kill could cut an iteration short: per thread, an
  // increment without its sample, or a sample's sum without its count.
  const double calls_a = at_kill[0] - 7000, count_a = at_kill[1] - 50, sum_a = at_kill[2] - 1275;
  CHECK(count_a > 3000);
  CHECK(calls_a >= count_a);
  CHECK(calls_a - count_a <= 3);
  CHECK(sum_a >= 2 * count_a);
  CHECK(sum_a - 2 * count_a <= 6);
  CHECK(std::fmod(sum_a, 2.0) == 0);
  CHECK(at_kill[3] > 0);  // the rings did overflow

  {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(value_in(*text, active) == 2);  // the burst's +5 left with it
    CHECK(value_in(*text, kWriters) == 1);
    CHECK(value_in(*text, kWritersUsed) == 1);
    CHECK(value_in(*text, kLanesUsed) == 1);
    CHECK(value_in(*text, kCorruptCatalog) == 0);
    CHECK(value_in(*text, kCorruptWhitelist) == 0);
    // A thread killed between reserving a shared-ring position and publishing it leaves a hole
    // the drain steps over and counts: at most one per thread on the shared lane.
    CHECK(value_in(*text, kCorruptRing) <= 2);
    for (const char* q : {"0.5", "0.9", "0.95", "0.99"}) {
      CAPTURE(q);
      const double v = value_in(*text, std::string("fault_burst_seconds{quantile=\"") + q + "\"}");
      CHECK(v >= 1);
      CHECK(v <= 50);
    }
  }
  for (std::uint32_t l : a_lanes) {
    CAPTURE(l);
    CHECK(seg.lane(l).owner.load() == 0);
    CHECK(seg.lane(l).ring_tail.load() == seg.lane(l).ring_head.load());  // ring reset
    CHECK(seg.lane(l).dropped.load() == 0);
  }
  CHECK(seg.writer(*a_slot).state.load() == layout::kWriterFree);

  // The survivor is undisturbed: another round adds exactly its amounts.
  REQUIRE(b.signal(SIGUSR1));
  REQUIRE(b.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, calls, at_kill[0] + 7000) == at_kill[0] + 7000);
  CHECK(await_value(d, count, at_kill[1] + 50) == at_kill[1] + 50);
  CHECK(value_of(d, sum) == at_kill[2] + 1275);
  CHECK(value_of(d, active) == 4);
  CHECK(value_of(d, kDropped) == at_kill[3]);

  // A new writer takes the dead one's slot and lanes: from zero, its samples all served.
  std::this_thread::sleep_for(50ms);  // the last of its samples drained
  const double drained = value_of(d, kDrained);
  const double ring_corrupt = value_of(d, kCorruptRing);
  Process c = box.worker({"--counter", "fault_burst_total@1000", "--summary", "fault_burst_seconds",
                          "--observe", "50", "--value", "9", "--hold"});
  REQUIRE(c.wait_for_line("ready", 1, 30s));
  CHECK(seg.slot_of(c.pid()) == a_slot);
  const std::vector<std::uint32_t> c_lanes = seg.lanes_of(*a_slot);
  REQUIRE(c_lanes.size() == 1);
  CHECK(c_lanes[0] == a_lanes[0]);
  CHECK(await_value(d, kDrained, drained + 50) == drained + 50);
  CHECK(await_value(d, calls, at_kill[0] + 8000) == at_kill[0] + 8000);
  CHECK(value_of(d, count) == at_kill[1] + 100);
  CHECK(value_of(d, sum) == at_kill[2] + 1275 + 450);
  CHECK(value_of(d, kCorruptRing) == ring_corrupt);
  CHECK(value_of(d, kDropped) == at_kill[3]);

  REQUIRE(b.signal(SIGTERM));
  REQUIRE(c.signal(SIGTERM));
  CHECK(exit_status(b, 10s) == 0);
  CHECK(exit_status(c, 10s) == 0);
  CHECK(await_value(d, kWritersExited, 4) == 4);
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  CHECK(value_in(*text, calls) == at_kill[0] + 8000);
  CHECK(value_in(*text, count) == at_kill[1] + 100);
  CHECK(value_in(*text, active) == 0);
  CHECK(value_in(*text, kWriters) == 0);
  CHECK(value_in(*text, kLanesUsed) == 0);
}

TEST_CASE(
    "the daemon SIGKILLed and restarted while a worker bursts: nothing goes back, nothing lost") {
  Sandbox box;
  std::optional<Daemon> d(start_daemon(box));
  INFO("daemon log:\n" << (d ? d->log() : std::string()));
  const std::vector<std::string> series{"fault_burst_total", "fault_burst_seconds_count",
                                        "fault_burst_seconds_sum", kDropped};
  Process a = fault_worker(box, {"burst", "2"});
  REQUIRE(a.wait_for_line("bursting", 1, 30s));
  Process b = box.worker({"--counter", "fault_burst_total@7000", "--hold"});
  REQUIRE(b.wait_for_line("ready", 1, 30s));
  CHECK(await_value(*d, kWriters, 2) == 2);

  // Three daemons in turn die without any clean-up while the burst goes on; each next one
  // starts from the segment and serves at least what the last one did.
  const auto first = d->metrics();
  REQUIRE(first.has_value());
  auto last = values_in(*first, series);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(d->process().signal(SIGKILL));
    REQUIRE(exit_status(d->process(), 10s) == 128 + SIGKILL);
    d.reset();
    std::this_thread::sleep_for(100ms);
    d.emplace(start_daemon(box));
    const auto text = d->metrics();
    REQUIRE(text.has_value());
    const auto now = values_in(*text, series);
    for (std::size_t i = 0; i < series.size(); ++i) {
      CAPTURE(series[i]);
      CHECK(now[i] >= last[i]);
    }
    CHECK(now[0] > last[0]);  // the burst went on while no daemon ran
    CHECK(value_in(*text, kWriters) == 2);
    CHECK(value_in(*text, kWritersExited) == 0);
    last = now;
  }

  // Then the burst is killed: what it wrote is all kept, and b is exact.
  REQUIRE(a.signal(SIGKILL));
  REQUIRE(exit_status(a, 10s) == 128 + SIGKILL);
  const auto killed = d->metrics();
  REQUIRE(killed.has_value());
  const auto at_kill = values_in(*killed, series);
  CHECK(await_value(*d, kWritersExited, 1) == 1);
  const auto folded = d->metrics();
  REQUIRE(folded.has_value());
  CHECK(values_in(*folded, series) == at_kill);
  const double calls_a = at_kill[0] - 7000, count_a = at_kill[1];
  CHECK(calls_a - count_a >= 0);
  CHECK(calls_a - count_a <= 2);
  CHECK(at_kill[2] - 2 * count_a >= 0);
  CHECK(at_kill[2] - 2 * count_a <= 4);
  CHECK(value_in(*folded, "fault_burst_active") == 0);
  REQUIRE(b.signal(SIGUSR1));
  REQUIRE(b.wait_for_line("ready", 2, 30s));
  CHECK(await_value(*d, "fault_burst_total", at_kill[0] + 7000) == at_kill[0] + 7000);
}

TEST_CASE("pid reuse: a dead writer whose pid names a live process is folded, a live one never") {
  Sandbox box;
  std::optional<Daemon> d(start_daemon(box));
  INFO("daemon log:\n" << (d ? d->log() : std::string()));
  const std::string calls = "fault_pid_total", active = "fault_pid_active";
  Process a = box.worker(
      {"--counter", "fault_pid_total@1000", "--gauge", "fault_pid_active", "--add", "5", "--hold"});
  REQUIRE(a.wait_for_line("ready", 1, 30s));
  Process b = box.worker(
      {"--counter", "fault_pid_total@20", "--gauge", "fault_pid_active", "--add", "2", "--hold"});
  REQUIRE(b.wait_for_line("ready", 1, 30s));
  CHECK(await_value(*d, calls, 1020) == 1020);
  CHECK(await_value(*d, active, 7) == 7);
  CHECK(await_value(*d, kWriters, 2) == 2);

  SegmentImage seg(box.segment());
  const auto sa = seg.slot_of(a.pid()), sb = seg.slot_of(b.pid());
  REQUIRE(sa.has_value());
  REQUIRE(sb.has_value());

  // With no daemon running, `a` dies; its slot still says live, with a's pid.
  REQUIRE(d->process().signal(SIGTERM));
  REQUIRE(exit_status(d->process(), 10s) == 0);
  d.reset();
  const pid_t dead = a.pid();
  REQUIRE(a.signal(SIGKILL));
  REQUIRE(exit_status(a, 10s) == 128 + SIGKILL);
  CHECK(seg.writer(*sa).state.load() == layout::kWriterLive);
  CHECK(seg.writer(*sa).pid.load() == static_cast<std::uint32_t>(dead));

  // An unrelated process now holds that pid: really, when this process may choose the next pid
  // (root and a writable /proc/sys/kernel/ns_last_pid), else by writing its pid into the slot.
  // Its start time goes into the slot too, so (pid, start time) name a live process exactly.
  std::optional<Process> u;
  for (int attempt = 0; attempt < 20 && !(u && u->pid() == dead); ++attempt) {
    std::ofstream last("/proc/sys/kernel/ns_last_pid");
    if (!(last << (dead - 1)).flush()) break;
    last.close();
    u.emplace(spawn(box, "/bin/sleep", {"60"}));
  }
  const bool real_reuse = u && u->pid() == dead;
  if (!real_reuse) u.emplace(spawn(box, "/bin/sleep", {"60"}));
  MESSAGE(std::string(real_reuse ? "pid reused for real: " : "no pid choice here, slot rewritten: ")
          << "the dead writer's slot names pid " << u->pid() << ", a live /bin/sleep");
  REQUIRE(u->running());
  REQUIRE(eventually([&] { return detail::process_start_time(u->pid()) != 0; }, 5s));
  seg.put(seg.writer_at(*sa) + offsetof(layout::WriterSlot, pid),
          static_cast<std::uint32_t>(u->pid()));
  seg.put(seg.writer_at(*sa) + offsetof(layout::WriterSlot, start_time),
          detail::process_start_time(u->pid()));
  // And the live writer's slot names a process that is gone.
  pid_t gone = 0;
  {
    Process t = spawn(box, "/bin/true", {});
    REQUIRE(exit_status(t, 10s) == 0);
    gone = t.pid();
  }
  seg.put(seg.writer_at(*sb) + offsetof(layout::WriterSlot, pid), static_cast<std::uint32_t>(gone));
  seg.put(seg.writer_at(*sb) + offsetof(layout::WriterSlot, start_time), std::uint64_t{1});

  d.emplace(start_daemon(box));
  {
    const auto text = d->metrics();  // the daemon sweeps before it serves
    REQUIRE(text.has_value());
    CHECK(value_in(*text, kWritersExited) == 1);
    CHECK(value_in(*text, kWriters) == 1);
    CHECK(value_in(*text, calls) == 1020);
    CHECK(value_in(*text, active) == 2);
  }
  CHECK(seg.writer(*sa).state.load() == layout::kWriterFree);
  CHECK(seg.writer(*sb).state.load() == layout::kWriterLive);
  CHECK(u->running());
  std::this_thread::sleep_for(300ms);  // several sweeps
  CHECK(value_of(*d, kWritersExited) == 1);
  CHECK(value_of(*d, kWriters) == 1);
  CHECK(seg.writer(*sb).state.load() == layout::kWriterLive);

  REQUIRE(b.signal(SIGUSR1));
  REQUIRE(b.wait_for_line("ready", 2, 30s));
  CHECK(await_value(*d, calls, 1040) == 1040);
  CHECK(await_value(*d, active, 4) == 4);
  REQUIRE(b.signal(SIGTERM));
  CHECK(exit_status(b, 10s) == 0);
  CHECK(await_value(*d, kWritersExited, 2) == 2);
  CHECK(value_of(*d, calls) == 1040);
  CHECK(value_of(*d, active) == 0);
  CHECK(value_of(*d, kWriters) == 0);
}

TEST_CASE(
    "writer churn: 1,000 short-lived workers leave the writer table and catalog at a steady size") {
  Sandbox box;
  Daemon d = start_daemon(box, {"--housekeeping-interval-ms", "20"});
  INFO("daemon log:\n" << d.log());
  Process keeper = box.worker({"--counter", "fault_churn_total@5", "--gauge", "fault_churn_active",
                               "--add", "1", "--hold"});
  REQUIRE(keeper.wait_for_line("ready", 1, 30s));
  auto churner = [&box] {
    return box.worker({"--counter", "fault_churn_total@3", "--gauge", "fault_churn_active", "--add",
                       "1", "--summary", "fault_churn_seconds", "--observe", "2", "--value",
                       "1.5"});
  };
  // The first one registers the summary; sizes after it are the baseline.
  {
    Process w = churner();
    REQUIRE(exit_status(w, 30s) == 0);
  }
  REQUIRE(await_value(d, kWritersExited, 1) == 1);
  const auto base = d.metrics();
  REQUIRE(base.has_value());
  const std::vector<std::string> sizes{kSeriesUsed, kArenaUsed, kCellsUsed, kWhitelistsUsed};
  const std::vector<double> baseline = values_in(*base, sizes);
  INFO("baseline:\n" << show(sizes, baseline));

  constexpr int kTotal = 1000, kAtOnce = 8;
  int started = 1, failed = 0;
  const auto deadline = Clock::now() + 240s;
  while (started < kTotal && Clock::now() < deadline) {
    std::vector<Process> batch;
    for (int i = 0; i < kAtOnce && started < kTotal; ++i, ++started) batch.push_back(churner());
    for (Process& w : batch)
      if (exit_status(w, 30s) != 0 || w.out() != "attached\n") {
        if (++failed <= 3) FAIL_CHECK("worker " << w.pid() << " failed:\n" << w.err());
      }
  }
  REQUIRE(started == kTotal);
  CHECK(failed == 0);
  CHECK(await_value(d, kWritersExited, kTotal, 30s) == kTotal);

  const auto text = d.metrics();
  REQUIRE(text.has_value());
  CHECK(value_in(*text, "fault_churn_total") == 5 + 3 * kTotal);
  CHECK(value_in(*text, "fault_churn_seconds_count") == 2 * kTotal);
  CHECK(value_in(*text, "fault_churn_seconds_sum") == 3 * kTotal);
  CHECK(value_in(*text, "fault_churn_active") == 1);
  CHECK(value_in(*text, kWriters) == 1);
  CHECK(value_in(*text, kWritersUsed) == 1);
  CHECK(value_in(*text, kLanesUsed) == 1);
  CHECK(values_in(*text, sizes) == baseline);
  for (const char* r : kRefusalReasons) {
    CAPTURE(r);
    CHECK(value_in(*text, refusals(r)) == 0);
  }
  CHECK(value_in(*text, kDropped) == 0);
  {
    SegmentImage seg(box.segment());
    CHECK(seg.slots_in_use() == 1);
  }

  REQUIRE(keeper.signal(SIGTERM));
  CHECK(exit_status(keeper, 10s) == 0);
  CHECK(await_value(d, kWritersExited, kTotal + 1) == kTotal + 1);
  CHECK(value_of(d, kWritersUsed) == 0);
  CHECK(value_of(d, kLanesUsed) == 0);
  CHECK(value_of(d, "fault_churn_total") == 5 + 3 * kTotal);
}

// ---- Segment abuse ------------------------------------------------------------------------------

TEST_CASE("random bytes written over the segment while the daemon runs are skipped and counted") {
  Sandbox box;
  Daemon d = start_daemon(box);
  INFO("daemon log:\n" << d.log());
  Process w =
      box.worker({"--whitelist", "fault_good_total=k", "--counter", "fault_good_total{k=v}@4242",
                  "--gauge", "fault_good_active", "--add", "3", "--summary", "fault_good_seconds",
                  "--observe", "10", "--value", "1", "--step", "1", "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  const std::string good = R"(fault_good_total{k="v"})";
  CHECK(await_value(d, good, 4242) == 4242);
  CHECK(await_value(d, "fault_good_seconds_count", 10) == 10);
  CHECK(await_value(d, "fault_good_active", 3) == 3);

  // `phase1`: also the quantiles and the writer count, which random scribbles may legitimately
  // move (a scribbled ring sample can name the good summary; a scribbled slot looks live until
  // the next sweep folds it).
  auto good_exact = [&](const std::string& text, bool phase1) {
    CHECK(value_in(text, good) == 4242);
    CHECK(value_in(text, "fault_good_active") == 3);
    CHECK(value_in(text, "fault_good_seconds_count") == 10);
    CHECK(value_in(text, "fault_good_seconds_sum") == 55);
    if (phase1) {
      CHECK(value_in(text, R"(fault_good_seconds{quantile="0.5"})") == 5);
      CHECK(value_in(text, R"(fault_good_seconds{quantile="0.99"})") == 10);
      CHECK(value_in(text, kWriters) == 1);
    }
  };

  SegmentImage seg(box.segment());
  const layout::Geometry& g = seg.geometry();
  const auto ws = seg.slot_of(w.pid());
  REQUIRE(ws.has_value());
  const std::vector<std::uint32_t> w_lanes = seg.lanes_of(*ws);
  REQUIRE(w_lanes.size() == 1);
  const auto counter_idx = seg.entry_named("fault_good_total");
  const auto summary_idx = seg.entry_named("fault_good_seconds");
  const auto gauge_idx = seg.entry_named("fault_good_active");
  REQUIRE(counter_idx.has_value());
  REQUIRE(summary_idx.has_value());
  REQUIRE(gauge_idx.has_value());
  const std::vector<std::uint32_t> good_entries{*counter_idx, *summary_idx, *gauge_idx};
  REQUIRE(seg.header().whitelist_count.load() == 1);

  // ---- 1. Targeted: each kind of bad entry once, exact counts afterwards.
  std::vector<std::uint32_t> empty;
  for (std::uint32_t i = 0; i < g.max_series && empty.size() < 3; ++i)
    if (seg.entry(i).state.load() == layout::kEntryEmpty) empty.push_back(i);
  REQUIRE(empty.size() == 3);
  const layout::SeriesEntry& ce = seg.entry(*counter_idx);
  const std::uint32_t free_cell = seg.header().cells_used.load() + 10;
  const std::uint8_t counter = static_cast<std::uint8_t>(layout::MetricType::kCounter);
  // A key running past the arena, an unknown type, a cell taken by another series.
  const auto e1 = entry_bytes(layout::kEntryReady, g.arena_bytes - 2, 100, free_cell, 1, counter);
  const auto e2 =
      entry_bytes(layout::kEntryReady, ce.key_offset, ce.key_length, free_cell + 1, 1, 9);
  const auto e3 =
      entry_bytes(layout::kEntryReady, ce.key_offset, ce.key_length, ce.first_cell, 1, counter);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& bytes = i == 0 ? e1 : i == 1 ? e2 : e3;
    // Everything but the state word first, as a client publishes.
    seg.write(seg.entry_at(empty[i]) + 4, bytes.data() + 4, bytes.size() - 4);
    seg.put(seg.entry_at(empty[i]), layout::kEntryReady);
  }
  seg.put(offsetof(layout::Header, series_count), seg.header().series_count.load() + 3);

  // Whitelists: one pointing outside the arena, one in no known state.
  seg.put(seg.whitelist_at(1) + offsetof(layout::WhitelistEntry, offset), std::uint64_t{1} << 40);
  seg.put(seg.whitelist_at(1) + offsetof(layout::WhitelistEntry, length), std::uint32_t{10});
  seg.put(seg.whitelist_at(1) + offsetof(layout::WhitelistEntry, state), layout::kWhitelistReady);
  seg.put(seg.whitelist_at(2) + offsetof(layout::WhitelistEntry, state), std::uint32_t{7});
  seg.put(offsetof(layout::Header, whitelist_count), std::uint32_t{3});

  // A free lane made to look owned, with 16 published samples that are all bad: 6 name a
  // corrupt catalog entry, 5 a counter, 5 the good summary but carry NaN.
  const std::uint32_t fake = layout::spill_lane(g) - 1;  // the last lane a writer may own
  REQUIRE(seg.lane(fake).owner.load() == 0);
  const std::uint64_t h0 = seg.lane(fake).ring_head.load();
  REQUIRE(seg.lane(fake).ring_tail.load() == h0);
  for (std::uint64_t k = 0; k < 16; ++k) {
    const std::uint32_t series = k < 6 ? empty[1] : k < 11 ? *counter_idx : *summary_idx;
    const double v = k < 11 ? 1.0 : kNaN;
    seg.put(seg.ring_at(fake, h0 + k) + offsetof(layout::RingEntry, value),
            std::bit_cast<std::uint64_t>(v));
    seg.put(seg.ring_at(fake, h0 + k) + offsetof(layout::RingEntry, tag),
            layout::ring_tag(h0 + k, series));
  }
  seg.put(seg.lane_at(fake) + offsetof(layout::Lane, ring_head), h0 + 16);
  seg.put(seg.lane_at(fake) + offsetof(layout::Lane, mode), layout::kLaneExclusive);
  seg.put(seg.lane_at(fake) + offsetof(layout::Lane, owner), std::uint32_t{0x7fff0000});

  CHECK(await_value(d, kCorruptCatalog, 3) == 3);
  CHECK(await_value(d, kCorruptWhitelist, 2) == 2);
  CHECK(await_value(d, kCorruptRing, 16) == 16);
  REQUIRE(d.get("/healthz").has_value());
  {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    good_exact(*text, true);
    CHECK(value_in(*text, kSeriesUsed) == 3);
    const Exposition e = parse_exposition(*text);
    CHECK_MESSAGE(e.ok(), "line " << e.error_line << ": " << e.error);
  }

  // Header cursors and counters: absurd values change nothing that was already decoded.
  seg.put(offsetof(layout::Header, arena_used), std::uint64_t{1} << 62);
  seg.put(offsetof(layout::Header, cells_used), std::uint32_t{0xfffffff0});
  seg.put(offsetof(layout::Header, series_count), std::uint32_t{0x12345});
  seg.put(offsetof(layout::Header, whitelist_count), std::uint32_t{0xffffffff});
  for (std::uint32_t r = 0; r < layout::kRefusalKinds; ++r)
    seg.put(offsetof(layout::Header, refusals) + std::size_t{8} * r, std::uint64_t{0xdead0000} + r);
  std::this_thread::sleep_for(200ms);  // drains and sweeps
  {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    good_exact(*text, true);
    CHECK(value_in(*text, kCorruptCatalog) == 3);
    CHECK(value_in(*text, kCorruptWhitelist) == 2);
    CHECK(value_in(*text, kCorruptRing) == 16);
    CHECK(value_in(*text, refusals("catalog_full")) == 0xdead0000);
  }

  // ---- 2. Random: 600 scribbles over every region a reader must not trust, except the good
  // writer's own slot, lanes and rings and the good series' catalog entries (the daemon copied
  // those at first sight, but the writer still writes through them). Value cells and retained
  // totals are plain numbers no reader can validate: not touched.
  // Regions by kind; each scribble picks a kind, then a region of it, then bytes in it. A third
  // of the scribbles put a plausible state word at the start of an entry, so that the daemon
  // reads the garbage behind it; every batch also moves the publication counters.
  struct Region {
    std::uint64_t offset, length;
    std::uint64_t state;  // a word that makes the daemon look at this entry, 0: none
  };
  const auto& reg = seg.regions();
  std::vector<std::vector<Region>> kinds(7);
  kinds[0].push_back({0, sizeof(layout::Header), 0});
  for (std::uint32_t i = 0; i < g.max_writers; ++i)
    if (i != *ws)
      kinds[1].push_back({seg.writer_at(i), sizeof(layout::WriterSlot), layout::kWriterLive});
  for (std::uint32_t l = 0; l < g.lane_pool; ++l) {
    if (std::find(w_lanes.begin(), w_lanes.end(), l) != w_lanes.end()) continue;
    kinds[2].push_back({seg.lane_at(l), sizeof(layout::Lane), 0x7fff0001});  // owner
    kinds[3].push_back(
        {seg.ring_at(l, 0), std::uint64_t{g.ring_capacity} * sizeof(layout::RingEntry), 0});
  }
  for (std::uint32_t i = 0; i < g.max_series; ++i)
    if (std::find(good_entries.begin(), good_entries.end(), i) == good_entries.end())
      kinds[4].push_back({seg.entry_at(i), sizeof(layout::SeriesEntry), layout::kEntryReady});
  for (std::uint32_t i = 1; i < 16; ++i)  // near the published end, where a scan can reach them
    kinds[5].push_back(
        {seg.whitelist_at(i), sizeof(layout::WhitelistEntry), layout::kWhitelistReady});
  kinds[6].push_back({reg.arena, g.arena_bytes, 0});

  std::mt19937_64 rng(0x5157'4d45'5452'4943ULL);
  const std::uint64_t interesting[] = {0,          1,     2,  3,   0xff, 0xffffffffULL,
                                       1ULL << 32, ~0ULL, 64, 4096};
  double last_catalog = 3, last_whitelist = 2;
  for (int batch = 0; batch < 20; ++batch) {
    for (int k = 0; k < 30; ++k) {
      const std::vector<Region>& kind = kinds[rng() % kinds.size()];
      const Region& r = kind[rng() % kind.size()];
      if (r.state != 0 && rng() % 3 == 0) {
        seg.put(r.offset, static_cast<std::uint32_t>(r.state));
        continue;
      }
      std::uint64_t off = r.offset + rng() % r.length;
      if (rng() % 2 == 0) off = std::max(r.offset, off & ~std::uint64_t{7});
      std::array<unsigned char, 64> bytes{};
      const auto n = static_cast<std::size_t>(
          std::min<std::uint64_t>(1 + rng() % 64, r.offset + r.length - off));
      if (rng() % 4 == 0 && n >= 8) {
        const std::uint64_t v = interesting[rng() % std::size(interesting)];
        std::memcpy(bytes.data(), &v, 8);
        seg.write(off, bytes.data(), 8);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(rng());
      seg.write(off, bytes.data(), n);
    }
    seg.put(offsetof(layout::Header, series_count), static_cast<std::uint32_t>(rng()));
    seg.put(offsetof(layout::Header, whitelist_count), static_cast<std::uint32_t>(rng() % 16));
    CAPTURE(batch);
    std::this_thread::sleep_for(30ms);
    REQUIRE(d.process().running());
    REQUIRE(d.get("/healthz").has_value());
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    good_exact(*text, false);
    const Exposition e = parse_exposition(*text);
    CHECK_MESSAGE(e.ok(), "line " << e.error_line << ": " << e.error);
    const double catalog = value_in(*text, kCorruptCatalog),
                 whitelist = value_in(*text, kCorruptWhitelist);
    CHECK(catalog >= last_catalog);
    CHECK(whitelist >= last_whitelist);
    last_catalog = catalog;
    last_whitelist = whitelist;
  }
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  MESSAGE("after the random scribbles: corrupt catalog "
          << value_in(*text, kCorruptCatalog) << ", whitelist "
          << value_in(*text, kCorruptWhitelist) << ", ring " << value_in(*text, kCorruptRing));
  CHECK(value_in(*text, kCorruptCatalog) > 3);
  CHECK(value_in(*text, kCorruptWhitelist) > 2);

  // The good writer exits: its counts are folded exactly, its gauge goes; the daemon stops cleanly.
  REQUIRE(w.signal(SIGTERM));
  CHECK(exit_status(w, 10s) == 0);
  CHECK(eventually([&] { return seg.writer(*ws).state.load() == layout::kWriterFree; }, 10s));
  const auto after = d.metrics();
  REQUIRE(after.has_value());
  CHECK(value_in(*after, good) == 4242);
  CHECK(value_in(*after, "fault_good_seconds_count") == 10);
  CHECK(value_in(*after, "fault_good_seconds_sum") == 55);
  CHECK(value_in(*after, "fault_good_active") == 0);
  REQUIRE(d.process().signal(SIGTERM));
  CHECK(exit_status(d.process(), 10s) == 0);
}

TEST_CASE("a lane scribbled with a far-ahead ring head and an owner that names no writer") {
  // One corrupt event is counted for the ring (not the 2^62 its positions differ by), the lane
  // is folded and returned to the pool, and the real writer is untouched.
  Sandbox box;
  Daemon d = start_daemon(box, {"--ring-capacity", "64"});
  INFO("daemon log:\n" << d.log());
  Process w = box.worker({"--counter", "fault_ring_total@1", "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  SegmentImage seg(box.segment());
  const std::uint32_t fake = layout::spill_lane(seg.geometry()) - 1;
  REQUIRE(seg.lane(fake).owner.load() == 0);
  seg.put(seg.lane_at(fake) + offsetof(layout::Lane, ring_head), std::uint64_t{1} << 62);
  seg.put(seg.lane_at(fake) + offsetof(layout::Lane, owner), std::uint32_t{0x7fff0000});
  REQUIRE(eventually([&] { return value_of(d, kCorruptRing) > 0; }, 10s));
  CHECK(value_of(d, kCorruptRing) <= 64 + 1);
  CHECK(await_value(d, kCorruptLane, 1) == 1);
  CHECK(await_value(d, kLanesUsed, 1) == 1);
  CHECK(seg.lane(fake).owner.load() == 0);
  CHECK(value_of(d, kCorruptRing) <= 64 + 1);
  CHECK(value_of(d, "fault_ring_total") == 1);
  REQUIRE(w.signal(SIGUSR1));
  REQUIRE(w.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, "fault_ring_total", 2) == 2);
}

TEST_CASE(
    "catalog or arena full: new series refused and counted on /metrics, existing ones exact") {
  SUBCASE("catalog") {
    Sandbox box;
    Daemon d = start_daemon(box, {"--max-series", "16", "--family-series-limit", "16"});
    INFO("daemon log:\n" << d.log());
    Process e = box.worker({"--counter", "fault_existing_total@100", "--hold"});
    REQUIRE(e.wait_for_line("ready", 1, 30s));
    Process f = fault_worker(box, {"flood", "40", "0"});
    REQUIRE(exit_status(f, 30s) == 0);
    CHECK(f.out() == "attached\nvalid 15 sum 120\n");  // 16 entries, one taken: i = 0..14
    CHECK(await_value(d, kWritersExited, 1) == 1);
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(value_in(*text, refusals("catalog_full")) == 25);
    CHECK(value_in(*text, kSeriesUsed) == 16);
    CHECK(value_in(*text, "sipmetrics_segment_capacity{resource=\"series\"}") == 16);
    CHECK(count_occurrences(*text, "\nfault_flood_total{") == 15);
    for (int i = 0; i < 15; ++i) {
      CAPTURE(i);
      CHECK(value_in(*text, "fault_flood_total{n=\"" + std::to_string(i) + "\",v=\"\"}") == i + 1);
    }
    CHECK(value_in(*text, "fault_existing_total") == 100);
    REQUIRE(e.signal(SIGUSR1));
    REQUIRE(e.wait_for_line("ready", 2, 30s));
    CHECK(await_value(d, "fault_existing_total", 200) == 200);
  }
  SUBCASE("arena") {
    Sandbox box;
    Daemon d = start_daemon(box, {"--arena-kib", "4"});
    INFO("daemon log:\n" << d.log());
    Process e = box.worker({"--counter", "fault_existing_total@100", "--hold"});
    REQUIRE(e.wait_for_line("ready", 1, 30s));
    const double used0 = await_value(d, kArenaUsed, value_of(d, kArenaUsed), 2s);
    // The arena format (layout.hpp): u16 + name, u8 count, per label u16 + key, u16 + value; then
    // the help text. fault_flood_total{n="<i>",v="<200 x v>"} with help "Flood." takes
    // 2+17+1 + 2+1+2+len(i) + 2+1+2+200 + 6 = 236 + len(i) bytes; and the family's name once
    // (the families table: 17 bytes).
    int fit = 0;
    std::uint64_t sum = 0;
    for (double used = used0 + 17;; ++fit) {
      const double need = 236 + static_cast<double>(std::to_string(fit).size());
      if (used + need > 4096) break;
      used += need;
      sum += static_cast<std::uint64_t>(fit) + 1;
    }
    REQUIRE(fit > 1);
    Process f = fault_worker(box, {"flood", "40", "200"});
    REQUIRE(exit_status(f, 30s) == 0);
    CHECK(f.out() ==
          "attached\nvalid " + std::to_string(fit) + " sum " + std::to_string(sum) + "\n");
    CHECK(await_value(d, kWritersExited, 1) == 1);
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(value_in(*text, refusals("arena_full")) == 40 - fit);
    CHECK(value_in(*text, refusals("catalog_full")) == 0);
    CHECK(value_in(*text, kArenaUsed) <= 4096);
    CHECK(value_in(*text, kSeriesUsed) == 1 + fit);
    CHECK(count_occurrences(*text, "\nfault_flood_total{") == static_cast<std::size_t>(fit));
    CHECK(value_in(*text, "fault_flood_total{n=\"0\",v=\"" + std::string(200, 'v') + "\"}") == 1);
    CHECK(value_in(*text, "fault_existing_total") == 100);
    REQUIRE(e.signal(SIGUSR1));
    REQUIRE(e.wait_for_line("ready", 2, 30s));
    CHECK(await_value(d, "fault_existing_total", 200) == 200);
  }
}

TEST_CASE("registrations refused for a full arena do not use up catalog entries") {
  // A refused registration claims no catalog entry, so arena_full refusals never turn into
  // catalog_full ones (the seed-compatible calls register on every call).
  Sandbox box;
  Daemon d = start_daemon(box, {"--arena-kib", "4", "--max-series", "64"});
  INFO("daemon log:\n" << d.log());
  Process f = fault_worker(box, {"flood", "100", "200"});
  REQUIRE(exit_status(f, 30s) == 0);
  REQUIRE(await_value(d, kWritersExited, 1) == 1);
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  const double fit = value_in(*text, kSeriesUsed);
  REQUIRE(fit > 1);
  REQUIRE(f.out().starts_with("attached\nvalid " + std::to_string(static_cast<int>(fit)) + " "));
  MESSAGE("100 registrations, " << fit << " fit the arena: refusals arena_full "
                                << value_in(*text, refusals("arena_full")) << ", catalog_full "
                                << value_in(*text, refusals("catalog_full")));
  CHECK(value_in(*text, refusals("catalog_full")) == 0);
}

TEST_CASE("an incompatible segment: refused without --recreate-incompatible, replaced with it") {
  const std::string ours =
      std::to_string(layout::kVersionMajor) + "." + std::to_string(layout::kVersionMinor);
  auto header_bytes = [](std::uint32_t major, std::uint64_t total) {
    std::string bytes(4096, '\0');
    const std::uint64_t magic = layout::kMagic;
    const std::uint32_t minor = 3, ready = layout::kInitReady;
    std::memcpy(bytes.data() + offsetof(layout::Header, magic), &magic, sizeof magic);
    std::memcpy(bytes.data() + offsetof(layout::Header, version_major), &major, sizeof major);
    std::memcpy(bytes.data() + offsetof(layout::Header, version_minor), &minor, sizeof minor);
    std::memcpy(bytes.data() + offsetof(layout::Header, init_state), &ready, sizeof ready);
    std::memcpy(bytes.data() + offsetof(layout::Header, total_size), &total, sizeof total);
    return bytes;
  };
  struct Kind {
    const char* name;
    std::string bytes;
    std::string says;  // in the refusal
  };
  std::string foreign(8192, '\0');
  for (std::size_t i = 0; i < foreign.size(); ++i)
    foreign[i] = static_cast<char>("not a segment "[i % 14]);
  const Kind kinds[] = {
      {"another layout version", header_bytes(9, 4096),
       "layout version 9.3, this build speaks " + ours},
      {"a foreign file", foreign, "not a sipmetrics segment"},
      {"a corrupt header", header_bytes(layout::kVersionMajor, std::uint64_t{1} << 40),
       "header claims"},
  };
  for (const Kind& k : kinds) {
    CAPTURE(k.name);
    for (const bool by_env : {false, true}) {
      CAPTURE(by_env);
      Sandbox box;
      {
        std::ofstream f(box.segment(), std::ios::binary);
        f.write(k.bytes.data(), static_cast<std::streamsize>(k.bytes.size()));
        REQUIRE(f.good());
      }
      // Without the flag: refused, file untouched.
      Process refused = spawn_daemon(box, free_loopback_port(), {});
      CHECK(exit_status(refused, 10s) == 2);
      CHECK(contains(refused.err(), k.says));
      CHECK(contains(refused.err(), "--recreate-incompatible"));
      CHECK(read_text(box.segment()) == k.bytes);

      // A daemon still serving it (here: this process holding the daemon lock byte) is never
      // pulled from under: refused, file untouched.
      if (!by_env) {
        const int fd = ::open(box.segment().c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
        REQUIRE(detail::try_lock_byte(fd, layout::kDaemonLockByte));
        Process blocked = spawn_daemon(box, free_loopback_port(), {"--recreate-incompatible"});
        CHECK(exit_status(blocked, 10s) == 2);
        CHECK(contains(blocked.err(),
                       "another sipmetricsd (pid " + std::to_string(::getpid()) + ")"));
        ::close(fd);  // drops the lock
        CHECK(read_text(box.segment()) == k.bytes);
      }

      // With it: replaced, logged, served.
      std::vector<std::string> flags;
      std::vector<std::pair<std::string, std::string>> env;
      if (by_env)
        env.emplace_back("SIPMETRICSD_RECREATE_INCOMPATIBLE", "1");
      else
        flags.push_back("--recreate-incompatible");
      Daemon d = start_daemon(box, flags, env);
      INFO("daemon log:\n" << d.log());
      CHECK(contains(d.log(), k.says));
      CHECK(contains(d.log(), "removed segment"));
      CHECK(contains(d.log(), "created"));
      Process w = box.worker({"--counter", "fault_fresh_total@42"});
      CHECK(exit_status(w, 30s) == 0);
      CHECK(w.out() == "attached\n");
      CHECK(await_value(d, "fault_fresh_total", 42) == 42);
      SegmentImage seg(box.segment());
      CHECK(seg.header().magic == layout::kMagic);
      CHECK(seg.header().version_major == layout::kVersionMajor);
    }
  }
}

// ---- Hostile input through the API --------------------------------------------------------------

namespace {

/// promtool's path; installs Debian's prometheus package when it is missing, as
/// prometheus_test.sh does (root or passwordless sudo). Empty when it still cannot be found.
std::string promtool() {
  auto which = [] {
    std::string path;
    if (FILE* p = ::popen("command -v promtool 2>/dev/null", "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p) != nullptr) path += buf;
      ::pclose(p);
    }
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    return path;
  };
  std::string path = which();
  if (!path.empty()) return path;
  (void)std::system(
      "if [ \"$(id -u)\" -eq 0 ]; then s=; elif command -v sudo >/dev/null; then s='sudo -n'; "
      "else exit 1; fi; timeout 240 $s env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
      "--no-install-recommends -o DPkg::Lock::Timeout=120 prometheus >/dev/null 2>&1");
  return which();
}

}  // namespace

TEST_CASE("hostile names are refused and counted, hostile label values and help come out valid") {
  namespace h = hostile;
  Sandbox box;
  Daemon d = start_daemon(box);
  INFO("daemon log:\n" << d.log());
  Process w = fault_worker(box, {"hostile"});
  REQUIRE(exit_status(w, 30s) == 0);
  INFO("worker stderr:\n" << w.err());
  CHECK(w.out() == "attached\nrefused " + std::to_string(h::refused().size()) + "\n");
  CHECK(await_value(d, kWritersExited, 1) == 1);

  const auto text = d.metrics();
  REQUIRE(text.has_value());
  for (const char* r : kRefusalReasons) {
    CAPTURE(r);
    const auto& all = h::refused();
    const auto want =
        std::count_if(all.begin(), all.end(), [r](const h::Refused& x) { return x.reason == r; });
    CHECK(value_in(*text, refusals(r)) == static_cast<double>(want));
  }
  CHECK(value_in(*text, "voiceserver_metrics_unknown_label_total") == 0);

  const Exposition e = parse_exposition(*text);
  REQUIRE_MESSAGE(e.ok(), "line " << e.error_line << ": " << e.error);
  const ExpoFamily* fam = e.family(h::kFamily);
  REQUIRE(fam != nullptr);
  CHECK(fam->type == "counter");
  CHECK(fam->help == h::kHelpServed);
  const auto cases = h::value_cases();
  CHECK(fam->samples.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].id);
    const ExpoSample* found = nullptr;
    for (const ExpoSample& s : fam->samples)
      if (s.label("case") == cases[i].id) found = &s;
    REQUIRE(found != nullptr);
    CHECK(found->labels.size() == 2);
    CHECK(found->label("v") == cases[i].served);
    CHECK(found->value == static_cast<double>(i + 1));
  }
  const ExpoFamily* long_help = e.family(h::kLongHelpFamily);
  REQUIRE(long_help != nullptr);
  CHECK(long_help->help == h::kLongHelpServed);
  const ExpoFamily* long_name = e.family(h::kLongName);
  REQUIRE(long_name != nullptr);
  CHECK(long_name->samples.at(0).value == 7);
  const ExpoFamily* long_key = e.family(h::kLongKeyFamily);
  REQUIRE(long_key != nullptr);
  CHECK(long_key->samples.at(0).label(h::kLongKey) == "v");
  CHECK(long_key->samples.at(0).value == 8);
  const ExpoFamily* many = e.family(h::kManyLabelsFamily);
  REQUIRE(many != nullptr);
  CHECK(many->samples.at(0).labels.size() == 16);
  CHECK(many->samples.at(0).value == 9);
  for (const ExpoFamily& f : e.families) {
    CAPTURE(f.name);
    CHECK(f.name.size() <= 200);
    CHECK(!contains(f.name, "refused"));
  }

  // The same text through Prometheus' own parser and linter.
  const std::string tool = promtool();
  REQUIRE_MESSAGE(!tool.empty(), "promtool unavailable (no root, no sudo, or apt-get failed)");
  const auto file = box.dir() / "metrics.txt", out = box.dir() / "promtool.out";
  {
    std::ofstream f(file, std::ios::binary);
    f << *text;
  }
  const int rc = std::system(
      (tool + " check metrics < '" + file.string() + "' > '" + out.string() + "' 2>&1").c_str());
  INFO("promtool says:\n" << read_text(out));
  CHECK(rc == 0);
  CHECK(read_text(out).empty());
}

TEST_CASE("a family named like a summary's _sum or _count series does not break the exposition") {
  // A gauge `x_sum` beside a summary `x` would make Prometheus reject the whole exposition
  // ("second HELP line for metric name"): the family registered later is not exposed, and counted.
  Sandbox box;
  Daemon d = start_daemon(box);
  INFO("daemon log:\n" << d.log());
  Process w =
      box.worker({"--summary", "fault_clash_seconds", "--observe", "1", "--value", "1", "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  Process g = box.worker({"--gauge", "fault_clash_seconds_sum", "--add", "5", "--hold"});
  REQUIRE(g.wait_for_line("ready", 1, 30s));
  CHECK(await_value(d, "fault_clash_seconds_count", 1) == 1);
  CHECK(await_value(d, "sipmetrics_series_rejected_total{reason=\"name_clash\"}", 1) == 1);
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  const Exposition e = parse_exposition(*text);
  CHECK_MESSAGE(e.ok(), "line " << e.error_line << ": " << e.error);
  CHECK(value_in(*text, "fault_clash_seconds_sum") == 1);
  CHECK(count_occurrences(*text, "\nfault_clash_seconds_sum ") == 1);
  CHECK(count_occurrences(*text, "# TYPE fault_clash_seconds_sum") == 0);
  CHECK(value_in(*text, "sipmetrics_series_rejected_total{reason=\"name_clash\"}") == 1);
}

}  // namespace sipmetrics::test
