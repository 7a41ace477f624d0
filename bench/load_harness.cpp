// sipmetrics-load: a whole-process load run. Starts sipmetricsd on a segment of its own, forks
// worker processes producing SIP-shaped traffic at set rates (typed helpers plus summary
// samples), scrapes /metrics in a loop, and reports what an operator would ask:
//   drops, daemon CPU and RSS, scrape latency p50/p99, and the workers' hot-path cost with and
//   without scrapes running.
//
//   sipmetrics-load --daemon PATH [--workers 2] [--samples-per-sec 500000] [--ops-per-sec 100000]
//                   [--seconds 30] [--scrape-ms 1000] [--series 0] [--idle-writers 0]
//                   [--histograms 0] [--buckets 14] [--scrape-formats gzip]
//
// --histograms N: every worker registers the same N histogram series (N series in all, written
// in each worker's lane) and observes each of them once a millisecond; --buckets sets their
// bound count (14: kSipLatencyBucketsMs). --scrape-formats cycles the scrapes through text,
// gzip (text, Accept-Encoding: gzip), protobuf and protobuf-gzip.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <CLI/CLI.hpp>
#include <sipmetrics/sip.hpp>

namespace {

using Clock = std::chrono::steady_clock;
namespace sip = sipmetrics::sip;

struct Settings {
  std::string daemon;
  int workers = 2;
  double samples_per_sec = 500'000;  // per worker
  double ops_per_sec = 100'000;      // SIP helper calls per worker
  double seconds = 30;
  int scrape_ms = 1000;
  int series = 0;  // extra counter series registered (and bumped) per worker
  int idle_writers = 0;
  int histograms = 0;  // histogram series, the same in every worker
  int buckets = 14;    // finite bounds of each
  std::vector<std::string> scrape_formats{"gzip"};
  int port = 0;
};

/// Bucket bounds of the --histograms series: kSipLatencyBucketsMs for 14, otherwise n bounds
/// spread geometrically from 1 ms to 32 s.
std::vector<double> histogram_bounds(int n) {
  if (n == static_cast<int>(sipmetrics::kSipLatencyBucketsMs.size()))
    return {sipmetrics::kSipLatencyBucketsMs.begin(), sipmetrics::kSipLatencyBucketsMs.end()};
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(n == 1 ? 1.0 : std::round(std::exp2(15.0 * i / (n - 1)) * 1000) / 1000);
  return out;
}

long proc_field_kb(pid_t pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  return -1;
}

/// Resident kB of the mappings of `path` in pid (/proc/PID/smaps).
long mapping_rss_kb(pid_t pid, const std::string& path) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool in = false;
  long kb = 0;
  while (std::getline(f, line)) {
    if (line.rfind("Rss:", 0) == 0) {
      if (in) kb += std::atol(line.c_str() + 4);
    } else if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) != 0 &&
               line.find('-') < line.find(' ')) {
      in = line.ends_with(" " + path);
    }
  }
  return kb;
}

double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(f, s);
  const auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double metric(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + series.size() + 2);
}

double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

/// One worker: paced in 1 ms ticks; reports its hot-path ns/op in windows with and without a
/// concurrent scrape (the parent flags scrapes in a shared word).
[[noreturn]] void run_worker(const Settings& s, int index, std::atomic<int>* scraping, int out_fd) {
  sip::prepare();
  auto& client = sipmetrics::Client::global();
  sipmetrics::Summary latency = client.summary("load_latency_ms", "Load harness samples.");
  std::vector<sipmetrics::Counter> extra;
  extra.reserve(static_cast<std::size_t>(s.series));
  for (int i = 0; i < s.series; ++i)
    extra.push_back(client.counter("load_series_total", "Load harness series.",
                                   {{"worker", std::to_string(index)}, {"n", std::to_string(i)}}));
  const std::vector<double> bounds = histogram_bounds(s.buckets);
  std::vector<sipmetrics::Histogram> histograms;
  histograms.reserve(static_cast<std::size_t>(s.histograms));
  // Labelled as bench_daemon.cpp's BM_Exporter_ScrapeMixed: 100 trunks, classes of 100.
  for (int i = 0; i < s.histograms; ++i)
    histograms.push_back(client.histogram(
        "sip_invite_setup_ms", "INVITE to final response.",
        {{"trunk", std::to_string(i % 100)}, {"class", std::to_string(i / 100)}}, bounds));
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(s.seconds);
  double samples_due = 0, ops_due = 0;
  double ns_quiet = 0, ns_busy = 0, n_quiet = 0, n_busy = 0;
  std::uint64_t tick = 0, value = 0;
  for (auto next = start; next < end; next += std::chrono::milliseconds(1), ++tick) {
    samples_due += s.samples_per_sec / 1000;
    ops_due += s.ops_per_sec / 1000;
    const bool busy = scraping->load(std::memory_order_relaxed) != 0;
    // Thread CPU time, not wall time: on a small machine the worker may be preempted by the
    // scrape itself, which is scheduling, not hot-path cost.
    const auto t0 = thread_cpu_ns();
    const auto samples = static_cast<std::uint64_t>(samples_due);
    samples_due -= static_cast<double>(samples);
    for (std::uint64_t i = 0; i < samples; ++i)
      latency.observe(static_cast<double>(++value % 1000));
    const auto ops = static_cast<std::uint64_t>(ops_due);
    ops_due -= static_cast<double>(ops);
    for (std::uint64_t i = 0; i < ops; ++i) {
      switch (value++ & 3) {
        case 0: sip::invite_result(sip::Direction::inbound, 200); break;
        case 1:
          sip::bye(sip::Direction::outbound, sip::ByeBy::local, sip::ByeReason::normal);
          break;
        case 2: sip::call_started(sip::Transport::sip); break;
        default: sip::call_ended(sip::Transport::sip, sip::CallStatus::ok);
      }
    }
    for (auto& c : extra) c.inc();
    for (std::size_t i = 0; i < histograms.size(); ++i)
      histograms[i].observe(static_cast<double>((value + i * 911) % 40000));
    const double ns = thread_cpu_ns() - t0;
    const double n = static_cast<double>(ops) + s.samples_per_sec / 1000 +
                     static_cast<double>(extra.size() + histograms.size());
    (busy ? ns_busy : ns_quiet) += ns;
    (busy ? n_busy : n_quiet) += n;
    std::this_thread::sleep_until(next + std::chrono::milliseconds(1));
  }
  char line[128];
  const int len =
      std::snprintf(line, sizeof line, "%.2f %.2f\n", n_quiet > 0 ? ns_quiet / n_quiet : 0,
                    n_busy > 0 ? ns_busy / n_busy : 0);
  (void)!::write(out_fd, line, static_cast<std::size_t>(len));
  ::_exit(0);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

int run(int argc, char** argv) {
  Settings s;
  CLI::App app{"sipmetrics-load: whole-process load run against a real sipmetricsd"};
  app.add_option("--daemon", s.daemon, "Path of sipmetricsd")->required();
  app.add_option("--workers", s.workers, "Worker processes")->check(CLI::Range(0, 256));
  app.add_option("--samples-per-sec", s.samples_per_sec, "Summary samples per second per worker");
  app.add_option("--ops-per-sec", s.ops_per_sec, "SIP helper calls per second per worker");
  app.add_option("--seconds", s.seconds, "Duration")->check(CLI::Range(1.0, 600.0));
  app.add_option("--scrape-ms", s.scrape_ms, "Scrape interval; 0: no scrapes")
      ->check(CLI::Range(0, 60000));
  app.add_option("--series", s.series, "Extra counter series per worker")
      ->check(CLI::Range(0, 100000));
  app.add_option("--idle-writers", s.idle_writers, "Attached writers that do nothing")
      ->check(CLI::Range(0, 1000));
  app.add_option("--histograms", s.histograms, "Histogram series, the same in every worker")
      ->check(CLI::Range(0, 100000));
  app.add_option("--buckets", s.buckets, "Finite bounds of each histogram (14: the SIP bounds)")
      ->check(CLI::Range(1, static_cast<int>(sipmetrics::layout::kMaxHistogramBounds)));
  app.add_option("--scrape-formats", s.scrape_formats,
                 "Scrapes cycle through these: text, gzip, protobuf, protobuf-gzip")
      ->delimiter(',')
      ->check(CLI::IsMember({"text", "gzip", "protobuf", "protobuf-gzip"}));
  CLI11_PARSE(app, argc, argv);

  char dir[] = "/tmp/sipmetrics-load-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return 1;
  const std::string segment = std::string(dir) + "/segment";
  ::setenv("SIPMETRICS_SEGMENT", segment.c_str(), 1);
  {
    int probe = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
    socklen_t len = sizeof a;
    ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    s.port = ntohs(a.sin_port);
    ::close(probe);
  }
  const int max_series = std::max(
      4096, static_cast<int>(std::bit_ceil(
                static_cast<unsigned>(s.series * std::max(1, s.workers) + s.histograms + 256))));
  // A histogram takes buckets + 3 cells, and a run never straddles the 8 reserved cells of a
  // 512-cell page (layout::cell_reserved): room for the waste at the end of each page.
  const int histogram_cells = s.histograms * (s.buckets + 3);
  const int max_cells = max_series * 2 + histogram_cells + histogram_cells / 8;
  const int arena_kib =
      std::max(1024, (max_series * 128 + s.histograms * s.buckets * 8) / 1024 * 2);
  const std::string listen = "127.0.0.1:" + std::to_string(s.port);
  const std::string series_arg = std::to_string(max_series);
  const std::string cells_arg = std::to_string(max_cells);
  const std::string arena_arg = std::to_string(arena_kib);
  const std::string writers_arg = std::to_string(std::max(128, s.workers + s.idle_writers + 8));
  const std::string lanes_arg = std::to_string(std::max(192, 2 * (s.workers + s.idle_writers) + 8));
  const pid_t daemon = ::fork();
  if (daemon == 0) {
    ::execl(s.daemon.c_str(), s.daemon.c_str(), "--listen", listen.c_str(), "--segment",
            segment.c_str(), "--max-series", series_arg.c_str(), "--max-cells", cells_arg.c_str(),
            "--max-writers", writers_arg.c_str(), "--lane-pool", lanes_arg.c_str(), "--arena-kib",
            arena_arg.c_str(), "--family-series-limit", series_arg.c_str(),
            "--max-series-per-family", "1048576", "--log-level", "warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  httplib::Client http("127.0.0.1", s.port);
  http.set_read_timeout(10, 0);
  for (int i = 0; i < 100 && !http.Get("/healthz"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto* scraping = static_cast<std::atomic<int>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  std::vector<pid_t> children;
  for (int i = 0; i < s.idle_writers; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      sipmetrics::Client::global().counter("load_idle_total", "Idle writer.").inc();
      for (;;) ::pause();
    }
    children.push_back(pid);
  }
  int pipe_fds[2];  // after the idle writers: they must not hold its write end open
  if (::pipe(pipe_fds) != 0) return 1;
  std::vector<pid_t> workers;
  for (int i = 0; i < s.workers; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) run_worker(s, i, scraping, pipe_fds[1]);
    workers.push_back(pid);
  }
  ::close(pipe_fds[1]);

  const double cpu0 = cpu_seconds(daemon);
  const auto t0 = Clock::now();
  std::vector<double> scrape_ms;
  std::string last;
  std::size_t scrapes_failed = 0;
  for (std::size_t k = 0; Clock::now() - t0 < std::chrono::duration<double>(s.seconds); ++k) {
    if (s.scrape_ms == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // gzip by default, as Prometheus asks for it (the client inflates the body).
    const std::string& format = s.scrape_formats[k % s.scrape_formats.size()];
    httplib::Headers headers{{"Accept-Encoding", format.ends_with("gzip") ? "gzip" : "identity"}};
    if (format.starts_with("protobuf"))
      headers.emplace("Accept",
                      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=delimited");
    scraping->store(1);
    const auto a = Clock::now();
    auto res = http.Get("/metrics", headers);
    scrape_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
    scraping->store(0);
    if (!res || res->status != 200)
      ++scrapes_failed;
    else if (!format.starts_with("protobuf"))
      last = res->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(s.scrape_ms));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds(daemon) - cpu0;
  const long rss_kb = proc_field_kb(daemon, "VmRSS:");
  const long hwm_kb = proc_field_kb(daemon, "VmHWM:");
  const long anon_kb = proc_field_kb(daemon, "RssAnon:");
  const long mapped_kb = proc_field_kb(daemon, "RssFile:") + proc_field_kb(daemon, "RssShmem:");
  const long segment_kb = mapping_rss_kb(daemon, segment);
  std::error_code size_error;
  const auto segment_bytes = std::filesystem::file_size(segment, size_error);
  double quiet = 0, busy = 0;
  {
    FILE* in = ::fdopen(pipe_fds[0], "r");
    double q = 0, b = 0;
    int n = 0;
    while (in != nullptr && std::fscanf(in, "%lf %lf", &q, &b) == 2) quiet += q, busy += b, ++n;
    if (n > 0) quiet /= n, busy /= n;
  }
  for (pid_t p : workers) ::waitpid(p, nullptr, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the last samples drain
  if (auto res = http.Get("/metrics"); res && res->status == 200) last = res->body;
  for (pid_t p : children) ::kill(p, SIGKILL);
  for (pid_t p : children) ::waitpid(p, nullptr, 0);
  ::kill(daemon, SIGTERM);
  ::waitpid(daemon, nullptr, 0);
  std::filesystem::remove_all(dir);

  const double samples = metric(last, "load_latency_ms_count");
  // Series on the last page whose lines start with `prefix`.
  auto served = [&last](const std::string& prefix) {
    std::size_t n = 0;
    for (auto at = last.find("\n" + prefix); at != std::string::npos;
         at = last.find("\n" + prefix, at + 1))
      ++n;
    return n;
  };
  std::printf(
      "workers %d, idle writers %d, %.0f samples/s and %.0f SIP calls/s per worker, %d extra "
      "series each, %d histograms of %d bounds, %.0f s\n",
      s.workers, s.idle_writers, s.samples_per_sec, s.ops_per_sec, s.series, s.histograms,
      s.buckets, elapsed);
  std::printf("samples recorded            %.0f (%.0f/s)\n", samples, samples / elapsed);
  std::printf("samples dropped             %.0f\n",
              metric(last, "voiceserver_metrics_observe_dropped_total"));
  std::printf("samples drained             %.0f\n",
              metric(last, "sipmetrics_samples_drained_total"));
  std::printf("daemon CPU                  %.2f %% of a core\n", 100 * cpu / elapsed);
  std::printf("daemon RSS                  %.1f MB (peak %.1f MB)\n",
              static_cast<double>(rss_kb) / 1024, static_cast<double>(hwm_kb) / 1024);
  std::printf(
      "daemon RSS by kind          %.1f MB anonymous, %.1f MB of the segment, %.1f MB of the "
      "binary and its libraries\n",
      static_cast<double>(anon_kb) / 1024, static_cast<double>(segment_kb) / 1024,
      static_cast<double>(mapped_kb - segment_kb) / 1024);
  std::printf("segment size                %.1f MB (the geometry's, reserved at creation)\n",
              size_error ? 0.0 : static_cast<double>(segment_bytes) / (1 << 20));
  std::printf("series served               %zu extra counters, %zu histograms\n",
              served("load_series_total{"), served("sip_invite_setup_ms_count{"));
  std::printf("scrapes                     %zu (%zu failed), p50 %.3f ms, p99 %.3f ms, %zu bytes\n",
              scrape_ms.size(), scrapes_failed, percentile(scrape_ms, 0.5),
              percentile(scrape_ms, 0.99), last.size());
  std::printf("worker hot path             %.2f ns/op quiet, %.2f ns/op during scrapes\n", quiet,
              busy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sipmetrics-load: %s\n", e.what());
    return 1;
  }
}
