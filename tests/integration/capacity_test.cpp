// Capacity chosen at creation never loses an update: writers beyond the writer slots and threads
// beyond the lane pool write through the segment's spill lane (layout.hpp), a refused writer gets
// a slot of its own once one frees, and exited writers' slots come back at once. Real daemon,
// real worker processes; every total is exact.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
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

namespace {

/// Scrapes 127.0.0.1:port every few milliseconds on its own thread and remembers, per series,
/// the last value of every counter-like sample (`_total`, `_count`, `_bucket`, `_sum`): a value
/// below the one before is a counter going backwards, as Prometheus would read it (a reset).
class MonotonicScraper {
 public:
  explicit MonotonicScraper(int port) : port_(port), thread_([this] { run(); }) {}
  ~MonotonicScraper() { stop(); }
  MonotonicScraper(const MonotonicScraper&) = delete;
  MonotonicScraper& operator=(const MonotonicScraper&) = delete;

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t scrapes() const { return scrapes_; }
  const std::vector<std::string>& backwards() const { return backwards_; }

 private:
  void run() {
    while (!stopping_) {
      httplib::Client cli("127.0.0.1", port_);
      cli.set_connection_timeout(0, 200'000);
      cli.set_read_timeout(2, 0);
      if (auto res = cli.Get("/metrics"); res && res->status == 200) {
        check(res->body);
        ++scrapes_;
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  void check(const std::string& text) {
    std::size_t at = 0;
    while (at < text.size()) {
      std::size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + at, end - at);
      at = end + 1;
      if (line.empty() || line[0] == '#') continue;
      const std::size_t space = line.rfind(' ');
      if (space == std::string_view::npos) continue;
      const std::string key(line.substr(0, space));
      const std::string_view name = line.substr(0, std::min(line.find('{'), space));
      if (name.starts_with("sipmetrics_scrape_duration")) continue;  // the scrape's own time
      if (!name.ends_with("_total") && !name.ends_with("_count") && !name.ends_with("_bucket") &&
          !name.ends_with("_sum"))
        continue;
      const double v = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
      auto [it, fresh] = last_.try_emplace(key, v);
      if (!fresh && v < it->second && backwards_.size() < 20)
        backwards_.push_back(key + ": " + std::to_string(it->second) + " -> " + std::to_string(v));
      it->second = std::max(it->second, v);
    }
  }

  const int port_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> scrapes_{0};
  std::map<std::string, double> last_;
  std::vector<std::string> backwards_;
  std::thread thread_;
};

double sum_of(const std::string& text, std::string_view family) {
  double sum = 0;
  for (std::size_t at = text.find(family); at != std::string::npos;
       at = text.find(family, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const std::size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    if (line.compare(family.size(), 1, "{") != 0 && line.compare(family.size(), 1, " ") != 0)
      continue;
    sum += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return sum;
}

}  // namespace

TEST_CASE(
    "a scrape loop across reloads, restarts, SIGKILLs and exhausted capacity: nothing "
    "goes backwards, nothing is lost") {
  Sandbox box;
  const std::string config = (box.dir() / "sipmetricsd.toml").string();
  std::ofstream(config) << "label-whitelist = [\"mono_calls_total=transport\"]\n";
  // 8 writer slots and 11 lanes for 10 processes of 3 threads, and a SIGKILLed burst.
  const std::vector<std::string> flags{"--config", config,        "--max-writers",
                                       "8",        "--lane-pool", "12"};
  const int port = free_loopback_port();
  auto start = [&] {
    Daemon d(box.spawn_daemon(port, flags), port);
    // Generous: under TSan, with ten workers on two cores, a start can take seconds.
    REQUIRE_MESSAGE(eventually([&] { return d.get("/healthz").has_value(); }, 30s), d.log());
    return d;
  };
  std::optional<Daemon> d(start());
  MonotonicScraper scraper(port);

  std::vector<Process> workers;
  for (int i = 0; i < 10; ++i)
    workers.push_back(box.worker({"--counter", "mono_calls_total{transport=sip,call=x}",
                                  "--increments", "20000", "--threads", "3", "--summary",
                                  "mono_lat_ms", "--observe", "1000", "--value", "1", "--hold"}));
  for (Process& w : workers) REQUIRE(w.wait_for_line("ready", 1, 60s));
  auto again = [&](std::size_t round) {
    for (Process& w : workers) REQUIRE(w.signal(SIGUSR1));
    for (Process& w : workers) REQUIRE(w.wait_for_line("ready", round, 60s));
  };

  // A reload that widens the whitelist, and one that narrows it again.
  std::ofstream(config) << "label-whitelist = [\"mono_calls_total=transport,call\"]\n";
  REQUIRE(d->process().signal(SIGHUP));
  std::this_thread::sleep_for(100ms);
  again(2);
  std::ofstream(config) << "label-whitelist = [\"mono_calls_total=transport\"]\n";
  REQUIRE(d->process().signal(SIGHUP));
  std::this_thread::sleep_for(100ms);

  // A worker SIGKILLed mid-burst; a daemon SIGKILLed, then one stopped cleanly.
  Process burst({SIPMETRICS_FAULT_WORKER_PATH,
                 {"burst", "2"},
                 {{"SIPMETRICS_SEGMENT", box.segment()}},
                 box.dir() / "burst.out",
                 box.dir() / "burst.err"});
  REQUIRE(burst.wait_for_line("bursting", 1, 30s));
  REQUIRE(burst.signal(SIGKILL));
  REQUIRE(d->process().signal(SIGKILL));
  (void)exit_status(d->process(), 30s);  // gone, its lock released, before the next one starts
  d.reset();
  d.emplace(start());
  again(3);
  REQUIRE(d->process().signal(SIGTERM));
  (void)exit_status(d->process(), 30s);  // stopped, its lock released
  d.reset();
  d.emplace(start());
  std::this_thread::sleep_for(200ms);
  scraper.stop();

  INFO("daemon log:\n" << d->log());
  CHECK(scraper.scrapes() > 20);
  CHECK_MESSAGE(scraper.backwards().empty(), "went backwards: " << scraper.backwards().front());
  const auto text = d->metrics();
  REQUIRE(text.has_value());
  // 3 rounds x 10 processes x 3 threads x 20,000; 3 x 10 x 1,000 samples.
  CHECK(sum_of(*text, "mono_calls_total") == 1'800'000);
  CHECK(sum_of(*text, "mono_lat_ms_count") == 30'000);
  CHECK(sample(*text, "sipmetrics_spill_bindings_total").value_or(0) > 0);  // capacity ran out
  for (Process& w : workers) REQUIRE(w.signal(SIGTERM));
  for (Process& w : workers) CHECK(exit_status(w, 30s) == 0);
}
