// sipmetrics-prom-worker: writes a known, exact workload from several processes, for
// tests/integration/prometheus_test.sh (which checks it through promtool and a real Prometheus).
//
//   sipmetrics-prom-worker SEGMENT [PROCESSES [INCREMENTS [SAMPLES [LINGER_SECONDS]]]]
//
// The parent attaches, resolves every handle, then forks PROCESSES children. Each child does
// INCREMENTS x voiceserver_calls_total{transport="sip",status="ok"}.inc(), SAMPLES x
// voiceserver_e2e_first_byte_ms.observe(i % 100 + 0.25) (plus a NaN, ±Inf and a negative value,
// which a summary does not record: sipmetrics_invalid_samples_total), SAMPLES x
// voiceserver_test_setup_ms{transport="sip"}.observe(i * 37 % 40000), a histogram with
// kSipLatencyBucketsMs (plus one NaN, one +Inf and one negative value), and exits (so its counts
// must survive in the daemon's retained totals). The parent sets
// voiceserver_active_calls{transport="sip"} to kGaugeValue (a gauge only lives as long as its
// writer), prints the expected totals as "ready calls=... e2e_count=... e2e_sum=... active=...
// setup_count=... setup_sum=... setup_le_1000=..." and stays alive until SIGTERM/SIGINT or
// LINGER_SECONDS pass (so it can never outlive a broken test for long).
#include <sipmetrics/client.hpp>
#include <sipmetrics/sip.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr double kGaugeValue = 42;

long arg_or(int argc, char** argv, int i, long fallback) {
  if (i >= argc) return fallback;
  char* end = nullptr;
  const long v = std::strtol(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0' || v < 0) {
    std::fprintf(stderr, "sipmetrics-prom-worker: bad number '%s'\n", argv[i]);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: sipmetrics-prom-worker SEGMENT [PROCESSES [INCREMENTS [SAMPLES "
                 "[LINGER_SECONDS]]]]\n");
    return 2;
  }
  const long processes = arg_or(argc, argv, 2, 3);
  const long increments = arg_or(argc, argv, 3, 250000);
  const long samples = arg_or(argc, argv, 4, 1000);
  const long linger = arg_or(argc, argv, 5, 240);
  if (processes < 1 || processes > 64) {
    std::fprintf(stderr, "sipmetrics-prom-worker: PROCESSES must be 1..64\n");
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  sipmetrics::Options opts;
  opts.segment = argv[1];
  opts.writer_name = "prom-worker";
  sipmetrics::Client client(opts);
  if (!client.attached()) {
    std::fprintf(stderr, "sipmetrics-prom-worker: could not attach to %s\n", argv[1]);
    return 1;
  }
  client.register_labels("voiceserver_calls_total", {"transport", "status"});
  client.register_labels("voiceserver_active_calls", {"transport"});
  sipmetrics::Counter calls =
      client.counter("voiceserver_calls_total", "Calls ended, by transport and status.",
                     {{"transport", "sip"}, {"status", "ok"}});
  sipmetrics::Gauge active =
      client.gauge("voiceserver_active_calls", "Calls live right now.", {{"transport", "sip"}});
  sipmetrics::Summary e2e =
      client.summary("voiceserver_e2e_first_byte_ms", "ASR final to first audible AI byte, ms.");
  sipmetrics::Histogram setup =
      client.histogram("voiceserver_test_setup_ms", "Test call setup latency, ms.",
                       {{"transport", "sip"}}, sipmetrics::kSipLatencyBucketsMs);
  // The SIP latency histograms' names and bounds, as SIPMETRICS_LATENCY_HISTOGRAMS=1 registers
  // them, so that promtool sees them in both unit modes.
  std::vector<sipmetrics::Histogram> twins;
  for (const auto& t : sipmetrics::sip::kLatencyHistograms)
    twins.push_back(client.histogram(t.name, t.help, {}, t.bounds));
  for (const auto& h : twins)
    if (!h.valid()) return 1;
  if (!calls.valid() || !active.valid() || !e2e.valid() || !setup.valid()) {
    std::fprintf(stderr, "sipmetrics-prom-worker: a series registration was refused\n");
    return 1;
  }

  for (long p = 0; p < processes; ++p) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("sipmetrics-prom-worker: fork");
      return 1;
    }
    if (pid == 0) {
      // Handles resolved before fork() write into this child's own writer slot.
      for (long i = 0; i < increments; ++i) calls.inc();
      for (long i = 0; i < samples; ++i) e2e.observe(static_cast<double>(i % 100) + 0.25);
      for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL, -5.0}) e2e.observe(bad);  // not kept
      for (long i = 0; i < samples; ++i) setup.observe(static_cast<double>(i * 37 % 40000));
      setup.observe(std::nan(""));  // +Inf bucket and _count, not _sum
      setup.observe(HUGE_VAL);      // the same
      setup.observe(-1);            // the first bucket and _count, not _sum
      for (auto& h : twins) h.observe(h.bounds()[h.bounds().size() / 2]);
      _exit(0);
    }
  }
  int failed = 0;
  for (long p = 0; p < processes;) {
    int status = 0;
    const pid_t r = ::wait(&status);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::perror("sipmetrics-prom-worker: wait");
      return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    ++p;
  }
  if (failed != 0) {
    std::fprintf(stderr, "sipmetrics-prom-worker: %d child(ren) failed\n", failed);
    return 1;
  }

  active.set(kGaugeValue);

  // Every sample value is k + 0.25 with small k: all partial sums are exact in a double.
  double per_child_sum = 0;
  for (long i = 0; i < samples; ++i) per_child_sum += static_cast<double>(i % 100) + 0.25;
  double setup_sum = 0;
  long setup_le_1000 = 1;  // the negative value
  for (long i = 0; i < samples; ++i) {
    setup_sum += static_cast<double>(i * 37 % 40000);
    setup_le_1000 += i * 37 % 40000 <= 1000 ? 1 : 0;
  }
  std::printf(
      "ready calls=%ld e2e_count=%ld e2e_sum=%.2f active=%.0f setup_count=%ld setup_sum=%.0f "
      "setup_le_1000=%ld\n",
      processes * increments, processes * samples, per_child_sum * static_cast<double>(processes),
      kGaugeValue, processes * (samples + 3), setup_sum * static_cast<double>(processes),
      processes * setup_le_1000);
  std::fflush(stdout);

  for (long waited_ms = 0; g_stop == 0 && waited_ms < linger * 1000; waited_ms += 50)
    ::usleep(50 * 1000);
  return 0;
}
