// Capacity chosen at creation never loses an update: writers beyond the writer slots and threads
// beyond the lane pool write through the segment's spill lane (layout.hpp), a refused writer gets
// a slot of its own once one frees, and exited writers' slots come back at once. Real daemon,
// real worker processes; every total is exact.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "harness.hpp"

using namespace sipmetrics::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kWriters = "sipmetrics_writers";
constexpr const char* kSpill = "sipmetrics_spill_bindings_total";
constexpr const char* kWritersFull = "sipmetrics_refusals_total{reason=\"writers_full\"}";
constexpr const char* kLanesFull = "sipmetrics_refusals_total{reason=\"lanes_full\"}";

}  // namespace

TEST_CASE("lanes run out: 40 processes x 8 live threads against 160 lanes lose no increment") {
  Sandbox box;
  Daemon d = box.start_daemon();  // the default pool: 159 lanes and the spill lane
  INFO("daemon log:\n" << d.log());
  std::vector<Process> workers;
  for (int i = 0; i < 40; ++i)
    workers.push_back(
        box.worker({"--counter", "cap_lanes_total", "--increments", "10000", "--threads", "8",
                    "--summary", "cap_lanes_ms", "--observe", "1000", "--value", "1", "--hold"}));
  for (Process& w : workers) REQUIRE(w.wait_for_line("ready", 1, 60s));
  // 40 x 8 x 10,000 increments; 40 x 1,000 samples of 1 ms from each main thread (the
  // summary's _sum and _count), half of them from processes that found no lane at all.
  CHECK(await_value(d, "cap_lanes_total", 3'200'000) == 3'200'000);
  CHECK(await_value(d, "cap_lanes_ms_count", 40'000) == 40'000);
  CHECK(value_of(d, "cap_lanes_ms_sum") == 40'000);
  CHECK(value_of(d, kLanesFull) > 0);  // the pool did run out ...
  CHECK(value_of(d, kSpill) > 0);      // ... and those threads took the spill lane
  CHECK(value_of(d, kWriters) == 40);
  for (Process& w : workers) REQUIRE(w.signal(SIGTERM));
  for (Process& w : workers) CHECK(exit_status(w, 30s) == 0);
  CHECK(await_value(d, kWriters, 0) == 0);
  CHECK(value_of(d, "cap_lanes_total") == 3'200'000);  // nothing lost when they fold either
}

TEST_CASE("writer slots run out: every increment lands, and a refused writer gets a slot later") {
  Sandbox box;
  Daemon d = box.start_daemon({"--max-writers", "4"});
  INFO("daemon log:\n" << d.log());
  std::vector<Process> workers;
  for (int i = 0; i < 6; ++i) {
    workers.push_back(box.worker({"--counter", "cap_slots_total", "--increments", "1000", "--gauge",
                                  "cap_slots_active", "--add", "1", "--hold"}));
    REQUIRE(workers.back().wait_for_line("ready", 1, 30s));  // in order: the last two are refused
  }
  CHECK(await_value(d, "cap_slots_total", 6000) == 6000);
  CHECK(value_of(d, kWriters) == 4);
  CHECK(value_of(d, kWritersFull) >= 2);
  CHECK(value_of(d, kSpill) >= 2);
  // Gauges are not written to the spill lane: only the four writers with slots count.
  CHECK(value_of(d, "cap_slots_active") == 4);

  // Two slot holders leave; the two spilled writers take their slots at their next write.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(workers[static_cast<std::size_t>(i)].signal(SIGTERM));
    CHECK(exit_status(workers[static_cast<std::size_t>(i)], 10s) == 0);
  }
  CHECK(await_value(d, kWriters, 2) == 2);
  for (std::size_t i = 4; i < 6; ++i) {
    REQUIRE(workers[i].signal(SIGUSR1));
    REQUIRE(workers[i].wait_for_line("ready", 2, 30s));
  }
  CHECK(await_value(d, kWriters, 4) == 4);  // the once-refused writers now hold slots
  CHECK(await_value(d, "cap_slots_total", 8000) == 8000);
  CHECK(await_value(d, "cap_slots_active", 4) == 4);  // 2 left, 2 whose add() now counts
  for (std::size_t i = 2; i < 6; ++i) REQUIRE(workers[i].signal(SIGTERM));
  for (std::size_t i = 2; i < 6; ++i) CHECK(exit_status(workers[i], 10s) == 0);
  CHECK(await_value(d, kWriters, 0) == 0);
  CHECK(value_of(d, "cap_slots_total") == 8000);
}

TEST_CASE("200 short-lived children forked back to back: every count lands") {
  Sandbox box;
  // The default housekeeping pass (500 ms): reclaiming exited children's slots must not wait
  // for it.
  Daemon d = box.start_daemon({"--housekeeping-interval-ms", "500", "--max-writers", "64"});
  INFO("daemon log:\n" << d.log());
  Process p =
      box.worker({"--counter", "cap_forks_total", "--increments", "1000", "--children", "200"});
  CHECK(exit_status(p, 60s) == 0);
  CHECK(await_value(d, "cap_forks_total", 201'000) == 201'000);
  CHECK(await_value(d, kWriters, 0) == 0);
  CHECK(value_of(d, "cap_forks_total") == 201'000);
}
