// Daemon-side costs against their floors, measured in the same run:
//   BM_Floor_ToChars/N        — formatting N `name{labels} value` lines with std::to_chars into a
//                               reused buffer: the floor for rendering N series;
//   BM_Exporter_Scrape/N      — sipmetricsd's whole scrape of N counter series (catalog check,
//                               lane sums, exposition) into a reused buffer;
//   BM_Floor_NthElement       — copy + nth_element for 4 quantiles over 100 windows of 4,096;
//   BM_Exporter_Quantiles     — the exporter's scrape of 100 summaries with full windows;
//   BM_Http_Scrape/N          — GET /metrics over loopback HTTP, read whole by a plain client;
//   BM_Http_Scrape_Gzip/N     — the same with Accept-Encoding: gzip, as Prometheus asks;
//   BM_Exporter_Scrape_16Writers — 16 writer processes sharing 1,000 series;
//   BM_Exporter_ScrapeMixed/text, /protobuf — the whole scrape of 10,000 series, 1,000 of them
//                               histograms (kSipLatencyBucketsMs), in text 0.0.4 and in the
//                               protobuf format: protobuf against text is the ratio reported.
// Writers are forked children that stay alive while measured (a process cannot see its own
// record locks, so the benchmark process itself never writes).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sipmetrics/client.hpp>

#include "exporter.hpp"
#include "http_server.hpp"

namespace {

using sipmetrics::Client;

struct Segment {
  std::string path;
  explicit Segment(const char* tag) {
    path = std::string("/dev/shm/sipmetrics-bench-") + tag + "-" + std::to_string(::getpid());
    ::unlink(path.c_str());
  }
  ~Segment() { ::unlink(path.c_str()); }
};

/// Forked writer processes that run `body` and then wait to be killed.
class Writers {
 public:
  Writers(const std::string& segment, const sipmetrics::layout::Geometry& g, int n,
          const std::function<void(Client&, int)>& body) {
    for (int i = 0; i < n; ++i) {
      int fds[2];
      if (::pipe(fds) != 0) std::abort();
      const pid_t pid = ::fork();
      if (pid == 0) {
        Client c{sipmetrics::Options{segment, "bench-writer", g}};
        body(c, i);
        const char r = 'r';
        (void)!::write(fds[1], &r, 1);
        for (;;) ::pause();
      }
      ::close(fds[1]);
      char r;
      (void)!::read(fds[0], &r, 1);
      ::close(fds[0]);
      pids_.push_back(pid);
    }
  }
  ~Writers() {
    for (pid_t p : pids_) ::kill(p, SIGKILL);
    for (pid_t p : pids_) ::waitpid(p, nullptr, 0);
  }

 private:
  std::vector<pid_t> pids_;
};

sipmetrics::layout::Geometry geometry_for(std::uint32_t series) {
  sipmetrics::layout::Geometry g = sipmetrics::layout::kDefaultGeometry;
  std::uint32_t cap = 4096;
  while (cap < series + series / 4) cap *= 2;
  g.max_series = cap;
  g.max_cells = cap * 2;
  g.lane_pool = 64;
  g.max_writers = 64;
  g.ring_capacity = 4096;
  g.arena_bytes = std::uint64_t{cap} * 96;
  g.family_series_limit = cap;  // every benchmark family is one family: no registration refused
  return g;
}

/// Exporter settings for benchmarks: no per-family cap (every benchmark family is one family).
sipmetrics::ExporterSettings uncapped() {
  sipmetrics::ExporterSettings s;
  s.plan.max_series_per_family = 1u << 20;
  return s;
}

std::unique_ptr<sipmetrics::detail::SegmentFile> open(const std::string& path,
                                                      const sipmetrics::layout::Geometry& g) {
  auto r = sipmetrics::detail::SegmentFile::open(path, g);
  return std::move(std::get<std::unique_ptr<sipmetrics::detail::SegmentFile>>(r));
}

/// N counter series in a family of SIP-like label sets, each incremented once by a writer.
void counters(Client& c, int n) {
  for (int i = 0; i < n; ++i)
    c.counter("sip_requests_total", "Requests.",
              {{"method", "INVITE"}, {"code", std::to_string(i)}, {"direction", "inbound"}})
        .add(static_cast<std::uint64_t>(i) + 1);
}

long minor_faults() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

void BM_Floor_ToChars(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  std::vector<std::string> prefixes;
  prefixes.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    prefixes.push_back("sip_requests_total{code=\"" + std::to_string(i) +
                       "\",direction=\"inbound\",method=\"INVITE\"} ");
  std::string out;
  for (auto _ : state) {
    out.clear();
    char buf[24];
    for (int i = 0; i < n; ++i) {
      out += prefixes[static_cast<std::size_t>(i)];
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(i) + 1);
      out.append(buf, r.ptr);
      out += '\n';
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Floor_ToChars)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_Exporter_Scrape(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Segment seg("scrape");
  const auto g = geometry_for(n);
  auto file = open(seg.path, g);
  Writers w(seg.path, g, 1, [n](Client& c, int) { counters(c, static_cast<int>(n)); });
  sipmetrics::Exporter e(std::move(file), uncapped());
  std::string out;
  e.scrape(out);
  e.scrape(out);
  const long faults0 = minor_faults();
  for (auto _ : state) {
    e.scrape(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["page_faults_per_scrape"] =
      static_cast<double>(minor_faults() - faults0) / static_cast<double>(state.iterations());
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_Exporter_Scrape)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);

/// 10,000 series: 8,500 counters, 500 gauges, 1,000 histograms with the SIP latency bounds.
void BM_Exporter_ScrapeMixed(benchmark::State& state, sipmetrics::Format format) {
  Segment seg(format == sipmetrics::Format::kProtobuf ? "mixed-pb" : "mixed-text");
  const auto g = geometry_for(10000);
  auto file = open(seg.path, g);
  Writers w(seg.path, g, 1, [](Client& c, int) {
    counters(c, 8500);
    for (int i = 0; i < 500; ++i)
      c.gauge("sip_active_dialogs", "Dialogs.", {{"trunk", std::to_string(i)}})
          .set(static_cast<double>(i) + 0.5);
    for (int i = 0; i < 1000; ++i) {
      sipmetrics::Histogram h =
          c.histogram("sip_invite_setup_ms", "INVITE to final.",
                      {{"trunk", std::to_string(i % 100)}, {"class", std::to_string(i / 100)}},
                      sipmetrics::kSipLatencyBucketsMs);
      for (int k = 0; k < 20; ++k) h.observe(static_cast<double>((i * 37 + k * 911) % 40000));
    }
  });
  sipmetrics::Exporter e(std::move(file), uncapped());
  std::string out;
  e.scrape(out, format);
  e.scrape(out, format);
  const long faults0 = minor_faults();
  for (auto _ : state) {
    e.scrape(out, format);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["page_faults_per_scrape"] =
      static_cast<double>(minor_faults() - faults0) / static_cast<double>(state.iterations());
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK_CAPTURE(BM_Exporter_ScrapeMixed, text, sipmetrics::Format::kText)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Exporter_ScrapeMixed, protobuf, sipmetrics::Format::kProtobuf)
    ->Unit(benchmark::kMicrosecond);

void BM_Exporter_Scrape_16Writers(benchmark::State& state) {
  Segment seg("writers");
  const auto g = geometry_for(1000);
  auto file = open(seg.path, g);
  Writers w(seg.path, g, 16, [](Client& c, int) { counters(c, 1000); });
  sipmetrics::Exporter e(std::move(file), uncapped());
  std::string out;
  e.scrape(out);
  for (auto _ : state) {
    e.scrape(out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Exporter_Scrape_16Writers)->Unit(benchmark::kMicrosecond);

constexpr int kWindows = 100;
constexpr int kWindowSamples = 4096;

void BM_Floor_NthElement(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> d(6, 0.5);
  std::vector<std::vector<double>> windows(kWindows, std::vector<double>(kWindowSamples));
  for (auto& w : windows)
    for (double& v : w) v = d(rng);
  std::vector<double> scratch;
  scratch.reserve(kWindowSamples);
  for (auto _ : state) {
    for (const auto& w : windows) {
      scratch.assign(w.begin(), w.end());
      for (double q : {0.5, 0.9, 0.95, 0.99}) {
        const auto k = static_cast<std::ptrdiff_t>(q * kWindowSamples);
        std::nth_element(scratch.begin(), scratch.begin() + k, scratch.end());
        benchmark::DoNotOptimize(scratch[static_cast<std::size_t>(k)]);
      }
    }
  }
}
BENCHMARK(BM_Floor_NthElement)->Unit(benchmark::kMicrosecond);

void BM_Exporter_Quantiles(benchmark::State& state) {
  Segment seg("quantiles");
  const auto g = geometry_for(kWindows);
  auto file = open(seg.path, g);
  sipmetrics::ExporterSettings s;
  s.windows.default_samples = kWindowSamples;
  sipmetrics::Exporter e(std::move(file), s);
  // Fill each window through the rings while the exporter's loop drains them.
  std::jthread loop([&e](const std::stop_token& st) { e.run(st); });
  Writers w(seg.path, g, 1, [](Client& c, int) {
    std::mt19937_64 rng(1);
    std::lognormal_distribution<double> d(6, 0.5);
    for (int k = 0; k < kWindows; ++k) {
      sipmetrics::Summary sm = c.summary("sip_latency_ms", "L.", {{"n", std::to_string(k)}});
      for (int i = 0; i < kWindowSamples; ++i) sm.observe(d(rng));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the drain keep up
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  loop.request_stop();
  loop.join();
  std::string out;
  e.scrape(out);
  for (auto _ : state) {
    e.scrape(out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Exporter_Quantiles)->Unit(benchmark::kMicrosecond);

/// A keep-alive HTTP/1.1 client reading like a scraper does (Prometheus' Go client reads the
/// body in large pieces): blocking socket, 1 MiB reads, gzip inflated with zlib.
class RawScraper {
 public:
  explicit RawScraper(int port) : port_(port), buf_(1 << 20) { connect(); }
  ~RawScraper() { ::close(fd_); }

  /// One GET /metrics; the body's size (inflated), or 0 on any failure.
  std::size_t get(bool gzip) {
    const std::string req =
        std::string("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: ") +
        (gzip ? "gzip" : "identity") + "\r\n\r\n";
    if (!ok_ ||
        ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return 0;
    std::size_t have = 0, head = std::string::npos;
    while (head == std::string::npos) {
      if (!fill(have)) return 0;
      head = std::string_view(buf_.data(), have).find("\r\n\r\n");
    }
    const std::string_view h(buf_.data(), head);
    const auto cl = h.find("Content-Length: ");
    if (!h.starts_with("HTTP/1.1 200") || cl == std::string::npos) return 0;
    const std::size_t length = std::strtoull(h.data() + cl + 16, nullptr, 10);
    body_.resize(length);
    std::size_t got = std::min(length, have - head - 4);
    std::memcpy(body_.data(), buf_.data() + head + 4, got);
    while (got < length) {
      const ssize_t n = ::recv(fd_, body_.data() + got, length - got, 0);
      if (n <= 0) return 0;
      got += static_cast<std::size_t>(n);
    }
    // The daemon closes a connection after 100 requests, as a scraper would see it reconnect.
    if (h.find("Connection: close") != std::string::npos) connect();
    if (!gzip) return length;
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return 0;
    if (plain_.size() < 16 * length) plain_.resize(16 * length);
    zs.next_in = reinterpret_cast<Bytef*>(body_.data());
    zs.avail_in = static_cast<uInt>(length);
    zs.next_out = reinterpret_cast<Bytef*>(plain_.data());
    zs.avail_out = static_cast<uInt>(plain_.size());
    const int r = inflate(&zs, Z_FINISH);
    const std::size_t out = zs.total_out;
    inflateEnd(&zs);
    return r == Z_STREAM_END ? out : 0;
  }

 private:
  bool fill(std::size_t& have) {
    if (have == buf_.size()) return false;
    const ssize_t n = ::recv(fd_, buf_.data() + have, buf_.size() - have, 0);
    if (n <= 0) return false;
    have += static_cast<std::size_t>(n);
    return true;
  }
  void connect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  int port_;
  int fd_ = -1;
  bool ok_ = false;
  std::vector<char> buf_, body_, plain_;
};

/// GET /metrics of N counter series over loopback, the body read whole by the client.
/// `gzip`: Accept-Encoding: gzip, as Prometheus asks, inflated by the client.
void http_scrape(benchmark::State& state, bool gzip) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Segment seg("http");
  const auto g = geometry_for(n);
  auto file = open(seg.path, g);
  Writers w(seg.path, g, 1, [n](Client& c, int) { counters(c, static_cast<int>(n)); });
  sipmetrics::Exporter e(std::move(file), uncapped());
  sipmetrics::HttpSettings settings;
  settings.host = "127.0.0.1";
  settings.port = 0;
  settings.threads = 2;
  sipmetrics::HttpServer http(e, settings);
  std::string err;
  if (!http.bind(err)) {
    state.SkipWithError(err.c_str());
    return;
  }
  std::thread server([&http] { http.serve(); });
  {
    RawScraper scraper(http.port());
    std::size_t bytes = 0;
    for (auto _ : state) {
      bytes = scraper.get(gzip);
      if (bytes < std::size_t{20} * n) {
        state.SkipWithError("scrape failed");
        break;
      }
    }
    state.counters["body_bytes"] = static_cast<double>(bytes);
  }
  http.stop();
  server.join();
}
void BM_Http_Scrape(benchmark::State& state) { http_scrape(state, false); }
void BM_Http_Scrape_Gzip(benchmark::State& state) { http_scrape(state, true); }
BENCHMARK(BM_Http_Scrape)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Http_Scrape_Gzip)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
