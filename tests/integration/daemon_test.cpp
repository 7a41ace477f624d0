// Integration tests: the real sipmetricsd and real worker processes (sipmetrics-test-worker) on a
// segment file of their own, checked through exact values on /metrics.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sipmetrics/layout.hpp>

#include "harness.hpp"

namespace sipmetrics::test {
namespace {

constexpr const char* kWriters = "sipmetrics_writers";
// sipmetricsd's exit statuses (its --help footer): an unusable configuration, another failure.
constexpr int kExitConfiguration = 2;
constexpr int kExitFailure = 1;
constexpr const char* kWritersExited = "sipmetrics_writers_exited_total";
constexpr const char* kLanesUsed = "sipmetrics_segment_used{resource=\"lanes\"}";
constexpr const char* kUnknownLabels = "voiceserver_metrics_unknown_label_total";

std::string log_of(const std::optional<Daemon>& d) {
  return d ? d->log() : std::string("(no daemon)");
}

}  // namespace

TEST_CASE("exact totals across 4 processes and across 12 threads of one process") {
  Sandbox box;
  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());

  const std::string calls = R"(voiceserver_calls_total{status="ok",transport="sip"})";
  std::vector<Process> workers;
  for (int i = 0; i < 4; ++i)
    workers.push_back(box.worker({"--counter", "voiceserver_calls_total{transport=sip,status=ok}",
                                  "--increments", "1000000"}));
  for (Process& w : workers) {
    CHECK(exit_status(w, 30s) == 0);
    CHECK(w.out() == "attached\n");
  }
  CHECK(await_value(d, calls, 4'000'000) == 4'000'000);
  CHECK(await_value(d, kWritersExited, 4) == 4);
  CHECK(await_value(d, kWriters, 0) == 0);
  CHECK(value_of(d, calls) == 4'000'000);

  // 12 threads counting at once: more than the 8 lanes (7 exclusive + 1 shared) a writer may
  // take by default, so 5 threads add atomically on the shared lane.
  Process t = box.worker({"--counter", "voiceserver_thread_ops_total", "--increments", "100000",
                          "--threads", "12", "--hold"});
  REQUIRE(t.wait_for_line("ready", 1, 30s));
  CHECK(await_value(d, "voiceserver_thread_ops_total", 1'200'000) == 1'200'000);
  CHECK(await_value(d, kLanesUsed, 8) == 8);
  CHECK(await_value(d, kWriters, 1) == 1);
  // 12 new threads: they take over the lanes the first 12 left behind, values included.
  REQUIRE(t.signal(SIGUSR1));
  REQUIRE(t.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, "voiceserver_thread_ops_total", 2'400'000) == 2'400'000);
  CHECK(value_of(d, kLanesUsed) == 8);
  REQUIRE(t.signal(SIGTERM));
  CHECK(exit_status(t, 10s) == 0);
  CHECK(await_value(d, kWritersExited, 5) == 5);
  CHECK(value_of(d, "voiceserver_thread_ops_total") == 2'400'000);
  CHECK(value_of(d, calls) == 4'000'000);
  CHECK(value_of(d, kLanesUsed) == 0);
}

TEST_CASE("workers that ran before the daemon started are served") {
  Sandbox box;
  // Two workers race to create the segment: one through Client::global() and
  // $SIPMETRICS_SEGMENT, one through Client{Options} and its --segment flag.
  Process a = box.worker({"--counter", "voiceserver_calls_total{transport=sip}", "--increments",
                          "250000", "--threads", "2"});
  Process b =
      box.worker({"--counter", "voiceserver_calls_total{transport=sip}", "--increments", "100000"},
                 Sandbox::Via::kOptions);
  for (Process* w : {&a, &b}) {
    CHECK(exit_status(*w, 30s) == 0);
    CHECK(w->out() == "attached\n");
    CHECK(w->err().empty());
  }
  REQUIRE(std::filesystem::exists(box.segment()));

  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());
  // Exact from the first scrape: the daemon sweeps writers before it serves.
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  CHECK(sample(*text, R"(voiceserver_calls_total{transport="sip"})").value_or(kNaN) == 600'000);
  CHECK(sample(*text, kWritersExited).value_or(kNaN) == 2);
  CHECK(sample(*text, kWriters).value_or(kNaN) == 0);
}

TEST_CASE("daemon restarts after SIGTERM and SIGKILL lose nothing") {
  Sandbox box;
  std::optional<Daemon> d(box.start_daemon());
  INFO("daemon log:\n" << log_of(d));

  const std::string counter = "voiceserver_calls_total{transport=sip}";
  const std::string calls = R"(voiceserver_calls_total{transport="sip"})";
  const std::string e2e_count = "voiceserver_e2e_first_byte_ms_count";
  const std::string e2e_sum = "voiceserver_e2e_first_byte_ms_sum";
  Process a =
      box.worker({"--counter", counter, "--increments", "100000", "--summary",
                  "voiceserver_e2e_first_byte_ms", "--observe", "100", "--value", "10", "--hold"});
  Process b = box.worker({"--counter", counter, "--increments", "100000", "--hold"});
  REQUIRE(a.wait_for_line("ready", 1, 30s));
  REQUIRE(b.wait_for_line("ready", 1, 30s));
  CHECK(await_value(*d, calls, 200'000) == 200'000);
  CHECK(await_value(*d, e2e_count, 100) == 100);
  CHECK(await_value(*d, kWriters, 2) == 2);

  // SIGTERM: a clean stop. The next daemon serves the same totals from its first scrape.
  REQUIRE(d->process().signal(SIGTERM));
  CHECK(exit_status(d->process(), 10s) == 0);
  d.emplace(box.start_daemon());
  {
    const auto text = d->metrics();
    REQUIRE(text.has_value());
    CHECK(sample(*text, calls).value_or(kNaN) == 200'000);
    CHECK(sample(*text, e2e_count).value_or(kNaN) == 100);
    CHECK(sample(*text, e2e_sum).value_or(kNaN) == 1000);
    CHECK(sample(*text, kWriters).value_or(kNaN) == 2);
    CHECK(sample(*text, kWritersExited).value_or(kNaN) == 0);
  }

  // SIGKILL: no clean-up at all. While no daemon runs, a held writer counts on, a new writer
  // counts and exits, and a held writer is killed: all of it is served once a daemon is back.
  REQUIRE(d->process().signal(SIGKILL));
  CHECK(exit_status(d->process(), 10s) == 128 + SIGKILL);
  REQUIRE(a.signal(SIGUSR1));
  REQUIRE(a.wait_for_line("ready", 2, 30s));
  Process c = box.worker({"--counter", counter, "--increments", "50000"});
  CHECK(exit_status(c, 30s) == 0);
  REQUIRE(b.signal(SIGKILL));
  CHECK(exit_status(b, 10s) == 128 + SIGKILL);

  d.emplace(box.start_daemon());
  {
    const auto text = d->metrics();
    REQUIRE(text.has_value());
    CHECK(sample(*text, calls).value_or(kNaN) == 350'000);  // a 200k, b 100k, c 50k
    CHECK(sample(*text, e2e_count).value_or(kNaN) == 200);
    CHECK(sample(*text, e2e_sum).value_or(kNaN) == 2000);
    CHECK(sample(*text, kWriters).value_or(kNaN) == 1);
    CHECK(sample(*text, kWritersExited).value_or(kNaN) == 2);
  }

  REQUIRE(a.signal(SIGTERM));
  CHECK(exit_status(a, 10s) == 0);
  CHECK(await_value(*d, kWritersExited, 3) == 3);
  CHECK(value_of(*d, kWriters) == 0);
  CHECK(value_of(*d, calls) == 350'000);
  CHECK(value_of(*d, e2e_count) == 200);
}

TEST_CASE("a worker killed with SIGKILL keeps its counts and loses its gauge") {
  Sandbox box;
  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());

  const std::string counter = "voiceserver_calls_total{transport=sip}";
  const std::string gauge = "voiceserver_active_calls{transport=sip}";
  const std::string calls = R"(voiceserver_calls_total{transport="sip"})";
  const std::string active = R"(voiceserver_active_calls{transport="sip"})";
  const std::string e2e_count = "voiceserver_e2e_first_byte_ms_count";
  const std::string e2e_sum = "voiceserver_e2e_first_byte_ms_sum";
  Process a = box.worker({"--counter", counter, "--increments", "300000", "--gauge", gauge, "--add",
                          "5", "--summary", "voiceserver_e2e_first_byte_ms", "--observe", "1000",
                          "--value", "1", "--step", "1", "--hold"});
  Process b = box.worker(
      {"--counter", counter, "--increments", "7000", "--gauge", gauge, "--add", "2", "--hold"});
  REQUIRE(a.wait_for_line("ready", 1, 30s));
  REQUIRE(b.wait_for_line("ready", 1, 30s));
  CHECK(await_value(d, calls, 307'000) == 307'000);
  CHECK(await_value(d, active, 7) == 7);
  CHECK(await_value(d, e2e_count, 1000) == 1000);
  CHECK(value_of(d, e2e_sum) == 500'500);
  CHECK(await_value(d, kWriters, 2) == 2);
  CHECK(value_of(d, kWritersExited) == 0);

  REQUIRE(a.signal(SIGKILL));
  CHECK(exit_status(a, 10s) == 128 + SIGKILL);
  // Before, during and after the fold: no count lost, none counted twice.
  bool steady = true;
  const bool folded = eventually(
      [&] {
        const auto text = d.metrics();
        if (!text) return false;
        steady = steady && sample(*text, calls) == 307'000.0 &&
                 sample(*text, e2e_count) == 1000.0 && sample(*text, e2e_sum) == 500'500.0;
        return sample(*text, kWritersExited) == 1.0;
      },
      10s);
  CHECK(folded);
  CHECK(steady);
  {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(sample(*text, active).value_or(kNaN) == 2);  // a's +5 is gone with it
    CHECK(sample(*text, calls).value_or(kNaN) == 307'000);
    CHECK(sample(*text, e2e_count).value_or(kNaN) == 1000);
    CHECK(sample(*text, e2e_sum).value_or(kNaN) == 500'500);
    CHECK(sample(*text, kWriters).value_or(kNaN) == 1);
    CHECK(sample(*text, kWritersExited).value_or(kNaN) == 1);
  }

  // The survivor writes on as before.
  REQUIRE(b.signal(SIGUSR1));
  REQUIRE(b.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, calls, 314'000) == 314'000);
  CHECK(await_value(d, active, 4) == 4);
  // A new writer takes the freed slot and lanes: they must start from zero.
  Process c = box.worker(
      {"--counter", counter, "--increments", "1000", "--gauge", gauge, "--add", "1", "--hold"});
  REQUIRE(c.wait_for_line("ready", 1, 30s));
  CHECK(await_value(d, calls, 315'000) == 315'000);
  CHECK(await_value(d, active, 5) == 5);
  CHECK(await_value(d, kWriters, 2) == 2);

  REQUIRE(b.signal(SIGTERM));
  REQUIRE(c.signal(SIGTERM));
  CHECK(exit_status(b, 10s) == 0);
  CHECK(exit_status(c, 10s) == 0);
  CHECK(await_value(d, kWritersExited, 3) == 3);
  CHECK(value_of(d, active) == 0);
  CHECK(value_of(d, calls) == 315'000);
  CHECK(value_of(d, kWriters) == 0);
}

TEST_CASE("handles resolved before fork write to each child's own writer slot") {
  Sandbox box;
  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());

  // The parent resolves the handle and increments 1,000 times (binding its lane) before it
  // forks 3 children; then each of the 4 processes increments 200,000 times.
  Process p = box.worker({"--counter", "voiceserver_forked_total", "--increments", "200000",
                          "--children", "3", "--pre-fork", "1000", "--hold"});
  REQUIRE(p.wait_for_line("ready", 1, 30s));
  INFO("worker stderr:\n" << p.err());
  CHECK(await_value(d, "voiceserver_forked_total", 801'000) == 801'000);
  CHECK(await_value(d, kWriters, 4) == 4);
  CHECK(value_of(d, kLanesUsed) == 4);

  REQUIRE(p.signal(SIGUSR1));  // every process runs its 200,000 again
  REQUIRE(p.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, "voiceserver_forked_total", 1'601'000) == 1'601'000);

  REQUIRE(p.signal(SIGTERM));
  CHECK(exit_status(p, 10s) == 0);
  CHECK(p.out() == "attached\nready\nready\n");
  CHECK(await_value(d, kWritersExited, 4) == 4);
  CHECK(value_of(d, kWriters) == 0);
  CHECK(value_of(d, "voiceserver_forked_total") == 1'601'000);
}

TEST_CASE("summary _count and _sum are exact and quantiles lie in the observed range") {
  Sandbox box;
  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());

  // Samples 1, 2, ..., 1000: fewer than the default window (1024) and ring (4096) hold. Not a
  // seed family: the daemon would drop `transport` from one (seed families are whitelisted).
  Process w = box.worker({"--summary", "test_first_byte_ms{transport=sip}", "--observe", "1000",
                          "--value", "1", "--step", "1", "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  const std::string base = "test_first_byte_ms";
  const std::string count = base + R"(_count{transport="sip"})";
  const std::string sum = base + R"(_sum{transport="sip"})";
  CHECK(await_value(d, "sipmetrics_samples_drained_total", 1000) == 1000);

  auto check_summary = [&](const std::string& text) {
    CHECK(sample(text, count).value_or(kNaN) == 1000);
    CHECK(sample(text, sum).value_or(kNaN) == 500'500);
    CHECK(sample(text, "voiceserver_metrics_observe_dropped_total").value_or(kNaN) == 0);
    CHECK(sample(text, kUnknownLabels).value_or(kNaN) == 0);
    // Nearest rank over 1..1000.
    const std::pair<std::string, double> quantiles[] = {
        {"0.5", 500}, {"0.9", 900}, {"0.95", 950}, {"0.99", 990}};
    for (const auto& quantile : quantiles) {
      const std::string& q = quantile.first;
      const double want = quantile.second;
      CAPTURE(q);
      const auto v = sample(text, base + R"({transport="sip",quantile=")" + q + "\"}");
      REQUIRE(v.has_value());
      CHECK(*v >= 1);
      CHECK(*v <= 1000);
      CHECK(*v == want);
    }
  };
  {
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    check_summary(*text);
  }

  // After the writer is gone and folded: _sum and _count retained, the window still served.
  REQUIRE(w.signal(SIGTERM));
  CHECK(exit_status(w, 10s) == 0);
  CHECK(await_value(d, kWritersExited, 1) == 1);
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  check_summary(*text);
}

TEST_CASE("label whitelists from the client and from the operator merge series") {
  SUBCASE("register_labels drops call_id and merges the series that collapse") {
    Sandbox box;
    Daemon d = box.start_daemon();
    INFO("daemon log:\n" << d.log());
    Process w = box.worker({"--whitelist", "voiceserver_calls_total=transport", "--counter",
                            "voiceserver_calls_total{transport=sip,call_id=a}@10", "--counter",
                            "voiceserver_calls_total{transport=sip,call_id=b}@32"});
    CHECK(exit_status(w, 30s) == 0);
    CHECK(await_value(d, R"(voiceserver_calls_total{transport="sip"})", 42) == 42);
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(sample(*text, kUnknownLabels).value_or(kNaN) == 2);
    CHECK(count_occurrences(*text, "\nvoiceserver_calls_total{") == 1);
    CHECK_FALSE(contains(*text, "call_id"));
  }

  SUBCASE("the operator's --label-whitelist overrides register_labels") {
    Sandbox box;
    Daemon d = box.start_daemon({"--label-whitelist", "voiceserver_calls_total=transport,status"});
    INFO("daemon log:\n" << d.log());
    Process w =
        box.worker({"--whitelist", "voiceserver_calls_total=transport", "--counter",
                    "voiceserver_calls_total{transport=sip,status=ok,call_id=a}@3", "--counter",
                    "voiceserver_calls_total{transport=sip,status=ok,call_id=b}@4", "--counter",
                    "voiceserver_calls_total{transport=sip,status=busy,call_id=c}@5"});
    CHECK(exit_status(w, 30s) == 0);
    CHECK(await_value(d, R"(voiceserver_calls_total{status="ok",transport="sip"})", 7) == 7);
    const auto text = d.metrics();
    REQUIRE(text.has_value());
    CHECK(
        sample(*text, R"(voiceserver_calls_total{status="busy",transport="sip"})").value_or(kNaN) ==
        5);
    CHECK(sample(*text, kUnknownLabels).value_or(kNaN) == 3);
    CHECK(count_occurrences(*text, "\nvoiceserver_calls_total{") == 2);
    CHECK_FALSE(contains(*text, "call_id"));
  }
}

TEST_CASE("a segment of another layout version is refused by the daemon and detaches the client") {
  Sandbox box;
  // A fully initialised header of layout 9.0: right magic, ready, another major version.
  std::string bytes(4096, '\0');
  const std::uint64_t magic = layout::kMagic;
  const std::uint32_t major = 9, minor = 0, ready = layout::kInitReady;
  std::memcpy(bytes.data() + offsetof(layout::Header, magic), &magic, sizeof magic);
  std::memcpy(bytes.data() + offsetof(layout::Header, version_major), &major, sizeof major);
  std::memcpy(bytes.data() + offsetof(layout::Header, version_minor), &minor, sizeof minor);
  std::memcpy(bytes.data() + offsetof(layout::Header, init_state), &ready, sizeof ready);
  {
    std::ofstream f(box.segment(), std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(f.good());
  }
  const std::string ours =
      std::to_string(layout::kVersionMajor) + "." + std::to_string(layout::kVersionMinor);

  Process d = box.spawn_daemon(free_loopback_port());
  const int status = exit_status(d, 5s);
  const std::string log = d.err();
  INFO("daemon log:\n" << log);
  CHECK(status == kExitConfiguration);
  CHECK(contains(log, "9.0"));
  CHECK(contains(log, ours));

  Process w = box.worker({"--counter", "voiceserver_calls_total", "--increments", "1000", "--gauge",
                          "voiceserver_active_calls", "--add", "1", "--summary",
                          "voiceserver_e2e_first_byte_ms", "--observe", "10", "--value", "5"});
  CHECK(exit_status(w, 10s) == 0);
  CHECK(w.out() == "detached\n");
  const std::string err = w.err();
  INFO("worker stderr:\n" << err);
  CHECK(count_occurrences(err, "\n") == 1);
  CHECK(contains(err, "9.0"));
  CHECK(contains(err, ours));
  // Neither side re-initialised, resized or wrote to the foreign segment.
  CHECK(read_text(box.segment()) == bytes);
}

TEST_CASE("a second daemon on a served segment exits") {
  Sandbox box;
  Daemon first = box.start_daemon();
  INFO("daemon log:\n" << first.log());
  Process w = box.worker({"--counter", "voiceserver_calls_total", "--increments", "42", "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  CHECK(await_value(first, "voiceserver_calls_total", 42) == 42);

  for (int attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    Process other = box.spawn_daemon(free_loopback_port());
    const int status = exit_status(other, 5s);
    const std::string log = other.err();
    INFO("second daemon log:\n" << log);
    CHECK(status == kExitFailure);
    CHECK(contains(log, "already served"));
    CHECK(contains(log, "pid " + std::to_string(first.process().pid())));
  }

  // The refused daemons took nothing from the first: it still serves, and still owns the segment.
  CHECK(first.process().running());
  CHECK(value_of(first, "voiceserver_calls_total") == 42);
  CHECK(await_value(first, kWriters, 1) == 1);
}

TEST_CASE("a second Client on the same segment file spelled differently keeps the writer alive") {
  // Regression test. Closing any descriptor of the segment file drops all of the process's
  // POSIX record locks, its writer-slot lock included; the daemon then folds a live writer and
  // the writer's later updates go to a freed lane, uncounted. Until d0ca585, attaching the file
  // again under another spelling ("dir/./segment") did exactly that (SegmentFile::open()
  // open()ed and close()d the file first). A hard link is a spelling canonicalisation cannot
  // unify: the process attaches the file twice, which is fine as long as nothing is closed.
  Sandbox box;
  Daemon d = box.start_daemon();
  INFO("daemon log:\n" << d.log());
  const auto link = box.dir() / "segment-link";
  std::filesystem::create_hard_link(box.segment(), link);
  Process w =
      box.worker({"--counter", "voiceserver_calls_total", "--increments", "5", "--alias",
                  (box.dir() / "." / "segment").string(), "--alias", link.string(), "--hold"});
  REQUIRE(w.wait_for_line("ready", 1, 30s));
  INFO("worker stderr:\n" << w.err());
  CHECK(await_value(d, "voiceserver_calls_total", 5) == 5);
  std::this_thread::sleep_for(300ms);  // several housekeeping sweeps
  CHECK(value_of(d, kWritersExited) == 0);
  CHECK(value_of(d, kWriters) == 1);

  REQUIRE(w.signal(SIGUSR1));  // 5 more through the handle resolved on the first Client
  REQUIRE(w.wait_for_line("ready", 2, 30s));
  CHECK(await_value(d, "voiceserver_calls_total", 10, 2s) == 10);
  CHECK(value_of(d, kWritersExited) == 0);
  CHECK(value_of(d, kWriters) == 1);
}

}  // namespace sipmetrics::test

namespace sipmetrics::test {

TEST_CASE("SIGHUP reloads the config file and a broken file keeps the running configuration") {
  Sandbox box;
  const std::string config = (box.dir() / "sipmetricsd.toml").string();
  std::ofstream(config) << "label-whitelist = [\"voiceserver_calls_total=transport\"]\n";
  Daemon d = box.start_daemon({"--config", config});
  INFO("daemon log:\n" << d.log());
  Process w = box.worker({"--counter", "voiceserver_calls_total{transport=sip,status=ok}@4",
                          "--counter", "voiceserver_calls_total{transport=sip,status=busy}@6"});
  CHECK(exit_status(w, 30s) == 0);
  CHECK(await_value(d, R"(voiceserver_calls_total{transport="sip"})", 10) == 10);

  std::ofstream(config) << "label-whitelist = [\"voiceserver_calls_total=transport,status\"]\n";
  d.process().signal(SIGHUP);
  CHECK(await_value(d, R"(voiceserver_calls_total{status="busy",transport="sip"})", 6) == 6);
  CHECK(d.value(R"(voiceserver_calls_total{status="ok",transport="sip"})").value_or(kNaN) == 4);

  std::ofstream(config) << "label-whitelist = [\"not a valid spec\"]\n";
  d.process().signal(SIGHUP);
  CHECK(eventually([&] { return contains(d.log(), "reload failed"); }, 5s));
  CHECK(d.value(R"(voiceserver_calls_total{status="ok",transport="sip"})").value_or(kNaN) == 4);
  CHECK(d.process().running());
}

}  // namespace sipmetrics::test

namespace sipmetrics::test {
namespace {

constexpr const char* kReloadFailures = "sipmetrics_config_reload_failures_total";

/// Replaces the file's content at once (a SIGHUP never reads a half-written file).
void write_config(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".new";
  std::ofstream(tmp, std::ios::binary) << text;
  std::filesystem::rename(tmp, path);
}

}  // namespace

TEST_CASE("SIGHUP with an unterminated array on the last line keeps the running whitelist") {
  Sandbox box;
  const std::filesystem::path config = box.dir() / "sipmetricsd.toml";
  write_config(config, "label-whitelist = [\"voiceserver_calls_total=transport,status\"]\n");
  Daemon d = box.start_daemon({"--config", config.string()});
  INFO("daemon log:\n" << d.log());
  Process w = box.worker({"--counter", "voiceserver_calls_total{transport=sip,status=ok}@4",
                          "--counter", "voiceserver_calls_total{transport=sip,status=busy}@6"});
  CHECK(exit_status(w, 30s) == 0);
  CHECK(await_value(d, R"(voiceserver_calls_total{status="busy",transport="sip"})", 6) == 6);
  CHECK(value_of(d, kReloadFailures) == 0);

  write_config(config,
               "log-level = \"info\"\nlabel-whitelist = [\"voiceserver_calls_total=transport\"");
  d.process().signal(SIGHUP);
  CHECK(eventually([&] { return contains(d.log(), "reload failed"); }, 5s));
  CHECK(contains(d.log(), config.string() + ":2:"));
  CHECK(await_value(d, kReloadFailures, 1) == 1);
  const auto text = d.metrics();
  REQUIRE(text.has_value());
  CHECK(sample(*text, R"(voiceserver_calls_total{status="ok",transport="sip"})").value_or(kNaN) ==
        4);
  CHECK(sample(*text, R"(voiceserver_calls_total{status="busy",transport="sip"})").value_or(kNaN) ==
        6);
  CHECK_FALSE(contains(*text, R"(voiceserver_calls_total{transport="sip"})"));
  CHECK(d.process().running());
}

TEST_CASE("SIGHUP with a misspelled key keeps the running whitelist") {
  Sandbox box;
  const std::filesystem::path config = box.dir() / "sipmetricsd.toml";
  write_config(config, "label-whitelist = [\"voiceserver_calls_total=transport\"]\n");
  Daemon d = box.start_daemon({"--config", config.string()});
  INFO("daemon log:\n" << d.log());
  Process w = box.worker({"--counter", "voiceserver_calls_total{transport=sip,status=ok}@4",
                          "--counter", "voiceserver_calls_total{transport=sip,status=busy}@6"});
  CHECK(exit_status(w, 30s) == 0);
  CHECK(await_value(d, R"(voiceserver_calls_total{transport="sip"})", 10) == 10);

  write_config(config, "label-whitelst = [\"voiceserver_calls_total=transport\"]\n");
  d.process().signal(SIGHUP);
  CHECK(eventually([&] { return contains(d.log(), "reload failed"); }, 5s));
  CHECK(contains(d.log(), config.string() + ":1:1: unknown key \"label-whitelst\" (did you mean "
                                            "\"label-whitelist\"?)"));
  CHECK(await_value(d, kReloadFailures, 1) == 1);
  CHECK(value_of(d, R"(voiceserver_calls_total{transport="sip"})") == 10);
  CHECK(std::isnan(value_of(d, R"(voiceserver_calls_total{status="ok",transport="sip"})")));

  // Corrected, the file applies again.
  write_config(config, "label-whitelist = [\"voiceserver_calls_total=transport,status\"]\n");
  d.process().signal(SIGHUP);
  CHECK(await_value(d, R"(voiceserver_calls_total{status="ok",transport="sip"})", 4) == 4);
  CHECK(value_of(d, kReloadFailures) == 1);
}

TEST_CASE("a broken config file stops the start with the file, the line and the reason") {
  Sandbox box;
  const std::filesystem::path config = box.dir() / "sipmetricsd.toml";
  write_config(config, "listen = \"127.0.0.1:0\"\n\nlabel-whitelst = [\"a_total=x\"]\n");
  Process d = box.spawn_daemon(free_loopback_port(), {"--config", config.string()});
  const int status = exit_status(d, 5s);
  const std::string log = d.err();
  INFO("daemon log:\n" << log);
  CHECK(status == kExitConfiguration);
  CHECK(contains(log, "sipmetricsd: " + config.string() +
                          ":3:1: unknown key \"label-whitelst\" (did you mean "
                          "\"label-whitelist\"?)\n"));
}

TEST_CASE("a bad flag, config file or web config file exits 2, --help 0") {
  Sandbox box;
  const std::filesystem::path web = box.dir() / "web.yml";
  write_config(web, "tls_server_config: [\n");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c :
       {Case{{"--http-threads", "0"}, "--http-threads"}, Case{{"--no-such-flag"}, "--no-such-flag"},
        Case{{"--config", (box.dir() / "absent.toml").string()}, "absent.toml"},
        Case{{"--web-config", web.string()}, "--web-config"}}) {
    CAPTURE(c.says);
    Process d = box.spawn_daemon(free_loopback_port(), c.args);
    const int status = exit_status(d, 5s);
    const std::string log = d.err();
    INFO("daemon log:\n" << log);
    CHECK(status == kExitConfiguration);
    CHECK(contains(log, c.says));
  }
  Process help = box.spawn_daemon(free_loopback_port(), {"--help"});
  CHECK(exit_status(help, 5s) == 0);
  CHECK(contains(help.out(), "Exit status: 0"));
}

}  // namespace sipmetrics::test
