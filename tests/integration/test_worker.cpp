// sipmetrics-test-worker: a SIP worker stand-in for the integration tests. It uses only the
// public client API, on $SIPMETRICS_SEGMENT (or --segment), resolving every handle once up front.
//
//   sipmetrics-test-worker [--segment NAME|PATH]
//       [--counter SERIES[@N]]...  [--increments N] [--threads T]
//       [--gauge SERIES --add V]
//       [--summary SERIES --observe N --value V [--step S]]
//       [--e2e-first-byte --observe N --value V [--step S]]
//       [--whitelist FAMILY=KEY[,KEY...]]...
//       [--children K [--pre-fork N]]
//       [--alias NAME|PATH]...
//       [--hold]
//
// SERIES is `name` or `name{key=value,...}`. Each counter gets N increments (its own @N, else
// --increments) from each of T threads; the threads start together, so up to T lanes are in use
// at once. The gauge gets add(V); the summary observes V, V+S, V+2S, ... (N samples).
// --e2e-first-byte: the same samples (as whole ms) through sip::observe_e2e_first_byte(), so with
// SIPMETRICS_LATENCY_HISTOGRAMS=1 they land in its histogram twin too.
// --children K: after resolving the handles (and, with --pre-fork, incrementing each counter N
// times in the parent), fork K children; the parent and every child then run the workload.
// --hold: print `ready` once the workload is done (in every process), then wait: SIGUSR1 runs
// the workload once more and prints `ready` again; SIGTERM exits 0.
// --alias: after the first workload, also construct a Client on each NAME|PATH (meant to be the
// same segment spelled differently); the handles keep writing through the first Client.
//
// Output: `attached` or `detached` first, then `ready` lines. Exit: 0 on success, 1 when a
// handle was refused while attached or a child failed, 2 on bad usage.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sipmetrics/client.hpp>
#include <sipmetrics/sip.hpp>

namespace sipmetrics {
namespace {

struct SeriesSpec {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  std::optional<std::uint64_t> amount;  // the `@N` suffix

  // Label views into this spec's strings: valid while the spec lives.
  std::vector<Label> label_views() const {
    std::vector<Label> out;
    for (const auto& [k, v] : labels) out.push_back(Label{k, v});
    return out;
  }
};

struct Config {
  std::optional<std::string> segment;
  std::vector<SeriesSpec> counters;
  std::uint64_t increments = 0;
  unsigned threads = 1;
  std::optional<SeriesSpec> gauge;
  double gauge_add = 0;
  std::optional<SeriesSpec> summary;
  bool e2e = false;
  std::uint64_t observations = 0;
  double value = 0;
  double step = 0;
  std::vector<std::pair<std::string, std::vector<std::string>>> whitelists;
  unsigned children = 0;
  std::uint64_t pre_fork = 0;
  std::vector<std::string> aliases;
  bool hold = false;
};

struct Handles {
  Client* client = nullptr;
  std::vector<std::pair<Counter, std::uint64_t>> counters;  // handle, increments per thread
  Gauge gauge;
  Summary summary;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "sipmetrics-test-worker: %s\n", why.c_str());
  std::exit(2);
}

std::uint64_t parse_u64(std::string_view s, std::string_view what) {
  const std::string str(s);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(str.c_str(), &end, 10);
  if (str.empty() || errno != 0 || *end != '\0')
    usage("bad " + std::string(what) + ": '" + str + "'");
  return v;
}

double parse_double(std::string_view s, std::string_view what) {
  const std::string str(s);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (str.empty() || *end != '\0') usage("bad " + std::string(what) + ": '" + str + "'");
  return v;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

SeriesSpec parse_series(std::string_view s) {
  SeriesSpec spec;
  if (const auto at = s.rfind('@'); at != std::string_view::npos) {
    spec.amount = parse_u64(s.substr(at + 1), "@N");
    s = s.substr(0, at);
  }
  const auto brace = s.find('{');
  spec.name = std::string(s.substr(0, brace));
  if (brace != std::string_view::npos) {
    if (!s.ends_with('}')) usage("bad series: '" + std::string(s) + "'");
    for (const std::string& kv : split(s.substr(brace + 1, s.size() - brace - 2), ',')) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) usage("bad label: '" + kv + "'");
      spec.labels.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  return spec;
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--segment") {
      cfg.segment = std::string(value());
    } else if (arg == "--counter") {
      cfg.counters.push_back(parse_series(value()));
    } else if (arg == "--increments") {
      cfg.increments = parse_u64(value(), "--increments");
    } else if (arg == "--threads") {
      cfg.threads = static_cast<unsigned>(parse_u64(value(), "--threads"));
      if (cfg.threads == 0 || cfg.threads > 256) usage("--threads must be 1..256");
    } else if (arg == "--gauge") {
      cfg.gauge = parse_series(value());
    } else if (arg == "--add") {
      cfg.gauge_add = parse_double(value(), "--add");
    } else if (arg == "--e2e-first-byte") {
      cfg.e2e = true;
    } else if (arg == "--summary") {
      cfg.summary = parse_series(value());
    } else if (arg == "--observe") {
      cfg.observations = parse_u64(value(), "--observe");
    } else if (arg == "--value") {
      cfg.value = parse_double(value(), "--value");
    } else if (arg == "--step") {
      cfg.step = parse_double(value(), "--step");
    } else if (arg == "--whitelist") {
      const std::string spec(value());
      const auto eq = spec.find('=');
      if (eq == std::string::npos) usage("bad --whitelist: '" + spec + "'");
      cfg.whitelists.emplace_back(spec.substr(0, eq),
                                  split(std::string_view(spec).substr(eq + 1), ','));
    } else if (arg == "--children") {
      cfg.children = static_cast<unsigned>(parse_u64(value(), "--children"));
      if (cfg.children > 512) usage("--children must be at most 512");
    } else if (arg == "--pre-fork") {
      cfg.pre_fork = parse_u64(value(), "--pre-fork");
    } else if (arg == "--alias") {
      cfg.aliases.emplace_back(value());
    } else if (arg == "--hold") {
      cfg.hold = true;
    } else {
      usage("unknown argument '" + std::string(arg) + "'");
    }
  }
  return cfg;
}

/// Resolves every handle (cold path); false if the client is attached and one was refused.
bool resolve(Client& client, const Config& cfg, Handles& h) {
  bool ok = true;
  for (const auto& [family, keys] : cfg.whitelists) {
    const std::vector<std::string_view> views(keys.begin(), keys.end());
    client.register_labels(family, std::span<const std::string_view>(views));
  }
  for (const SeriesSpec& s : cfg.counters) {
    const std::vector<Label> labels = s.label_views();
    Counter c = client.counter(s.name, "Test counter.", std::span<const Label>(labels));
    ok = ok && c.valid();
    h.counters.emplace_back(c, s.amount.value_or(cfg.increments));
  }
  if (cfg.gauge) {
    const std::vector<Label> labels = cfg.gauge->label_views();
    h.gauge = client.gauge(cfg.gauge->name, "Test gauge.", std::span<const Label>(labels));
    ok = ok && h.gauge.valid();
  }
  if (cfg.summary) {
    const std::vector<Label> labels = cfg.summary->label_views();
    h.summary = client.summary(cfg.summary->name, "Test summary.", std::span<const Label>(labels));
    ok = ok && h.summary.valid();
  }
  return ok || !client.attached();
}

void count(std::vector<std::pair<Counter, std::uint64_t>>& counters, std::barrier<>* start) {
  // The first increment binds this thread's lane; the barrier then makes every thread hold its
  // lane at once, so threads beyond the lane quota really share one.
  bool first_done = false;
  if (!counters.empty() && counters[0].second > 0) {
    counters[0].first.inc();
    first_done = true;
  }
  if (start != nullptr) start->arrive_and_wait();
  for (std::size_t c = 0; c < counters.size(); ++c) {
    auto& [counter, n] = counters[c];
    for (std::uint64_t i = (c == 0 && first_done) ? 1 : 0; i < n; ++i) counter.inc();
  }
}

void run_workload(const Config& cfg, Handles& h) {
  if (cfg.threads == 1) {
    count(h.counters, nullptr);
  } else {
    std::barrier<> start(static_cast<std::ptrdiff_t>(cfg.threads));
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < cfg.threads; ++t)
      threads.emplace_back([&] { count(h.counters, &start); });
    for (std::thread& t : threads) t.join();
  }
  if (cfg.gauge) h.gauge.add(cfg.gauge_add);
  for (std::uint64_t i = 0; i < cfg.observations; ++i) {
    const double v = cfg.value + cfg.step * static_cast<double>(i);
    if (cfg.e2e)
      sip::observe_e2e_first_byte(*h.client, static_cast<int>(v));
    else
      h.summary.observe(v);
  }
}

void say(const char* line) {
  std::fputs(line, stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// Waits for SIGUSR1 (run again; then `again`) or SIGTERM/SIGINT (return).
template <typename Again>
void hold(const sigset_t& signals, const Config& cfg, Handles& h, Again again) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGUSR1) return;
    again([&] { run_workload(cfg, h); });
  }
}

bool write_byte(int fd) {
  const char b = 1;
  return ::write(fd, &b, 1) == 1;
}

bool read_bytes(int fd, unsigned n) {
  for (unsigned got = 0; got < n;) {
    char buf[64];
    const ssize_t r = ::read(fd, buf, std::min<std::size_t>(sizeof buf, n - got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<unsigned>(r);
  }
  return true;
}

int run(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv);

  // Blocked before any thread or child exists, so that all inherit it and sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::optional<Client> own;
  if (cfg.segment) {
    Options o;
    o.segment = *cfg.segment;
    o.writer_name = "test-worker";
    own.emplace(o);
  }
  Client& client = own ? *own : Client::global();
  say(client.attached() ? "attached" : "detached");

  Handles h;
  h.client = &client;
  if (!resolve(client, cfg, h)) {
    std::fprintf(stderr, "sipmetrics-test-worker: a registration was refused\n");
    return 1;
  }

  if (cfg.children == 0) {
    run_workload(cfg, h);
    std::vector<std::unique_ptr<Client>> aliases;
    for (const std::string& name : cfg.aliases) {
      Options o;
      o.segment = name;
      aliases.push_back(std::make_unique<Client>(o));
    }
    if (!cfg.hold) return 0;
    say("ready");
    hold(signals, cfg, h, [](auto work) {
      work();
      say("ready");
    });
    return 0;
  }

  for (auto& [counter, n] : h.counters)
    for (std::uint64_t i = 0; i < cfg.pre_fork; ++i) counter.inc();
  std::fflush(stdout);  // or the children would print the parent's buffered lines again
  int done[2];
  if (::pipe(done) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::vector<pid_t> children;
  for (unsigned k = 0; k < cfg.children; ++k) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      for (pid_t c : children) ::kill(c, SIGKILL);
      return 1;
    }
    if (pid == 0) {
      // A child must not outlive its parent, whatever kills the parent.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() == 1) ::_exit(1);
      ::close(done[0]);
      run_workload(cfg, h);
      if (!write_byte(done[1])) ::_exit(1);
      if (cfg.hold)
        hold(signals, cfg, h, [&](auto work) {
          work();
          if (!write_byte(done[1])) ::_exit(1);
        });
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(done[1]);

  run_workload(cfg, h);
  bool ok = read_bytes(done[0], cfg.children);
  if (cfg.hold && ok) {
    say("ready");
    hold(signals, cfg, h, [&](auto work) {
      for (pid_t c : children) ::kill(c, SIGUSR1);
      work();
      if (!read_bytes(done[0], cfg.children)) std::exit(1);
      say("ready");
    });
    for (pid_t c : children) ::kill(c, SIGTERM);
  }
  for (pid_t c : children) {
    int status = 0;
    while (::waitpid(c, &status, 0) < 0 && errno == EINTR) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok) std::fprintf(stderr, "sipmetrics-test-worker: a child failed\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sipmetrics

int main(int argc, char** argv) { return sipmetrics::run(argc, argv); }
