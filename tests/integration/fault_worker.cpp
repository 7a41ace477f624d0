// sipmetrics-fault-worker: the misbehaving SIP worker of faults_test. Public client API only, on
// $SIPMETRICS_SEGMENT (Client::global()).
//
//   sipmetrics-fault-worker burst THREADS
//       fault_burst_active.add(5) (gauge), then every thread loops
//       { fault_burst_total.inc(); fault_burst_seconds.observe(2.0); } until the process is killed.
//       Thread 0 binds its lane first, so with a lane quota of 2 it writes an exclusive lane and
//       the others share one. Prints `bursting` once every thread has done 1,000 iterations.
//   sipmetrics-fault-worker hostile
//       registers everything in hostile_cases.hpp: the values and limits that must be served, and
//       the names that must be refused (each handle is used anyway: a no-op). Prints `refused N`.
//   sipmetrics-fault-worker flood N VALUE_BYTES
//       registers fault_flood_total{n="<i>",v="<VALUE_BYTES x 'v'>"} for i < N and adds i + 1 to
//       each one accepted. Prints `valid K sum S` (S: the total added).
//
// Output: `attached` or `detached` first. Exit: 0, or 1 when a handle's validity is not what the
// mode expects, 2 on bad usage. A burst process dies on its own after 120 s (SIGALRM).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sipmetrics/client.hpp>

#include "hostile_cases.hpp"

namespace sipmetrics {
namespace {

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "sipmetrics-fault-worker: %s\n", why);
  std::exit(2);
}

unsigned long parse_count(const char* s, unsigned long max) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (end == s || *end != '\0' || v > max) usage("bad number");
  return v;
}

std::vector<Label> views(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::vector<Label> out;
  for (const auto& [k, v] : labels) out.push_back(Label{k, v});
  return out;
}

[[noreturn]] void burst(Client& c, unsigned threads) {
  ::alarm(120);
  Counter calls = c.counter("fault_burst_total", "Burst counter.");
  Summary lat = c.summary("fault_burst_seconds", "Burst samples.");
  Gauge active = c.gauge("fault_burst_active", "Burst gauge.");
  if (!calls.valid() || !lat.valid() || !active.valid()) usage("a burst handle was refused");
  std::atomic<unsigned> warm{0};
  std::atomic<bool> first_bound{false};
  auto loop = [&](unsigned t) {
    if (t == 0) {
      active.add(5);
      first_bound.store(true);
    }
    for (std::uint64_t i = 0;; ++i) {
      calls.inc();
      lat.observe(2.0);
      if (i == 1000) warm.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  pool.emplace_back(loop, 0u);
  while (!first_bound.load()) std::this_thread::yield();
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(loop, t);
  while (warm.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  say("bursting");
  for (;;) ::pause();
}

int hostile(Client& c) {
  namespace h = test::hostile;
  bool ok = true;
  auto expect = [&ok](bool valid, bool want, const std::string& what) {
    if (valid == want) return;
    ok = false;
    std::fprintf(stderr, "sipmetrics-fault-worker: '%s' %s\n", what.c_str(),
                 want ? "was refused" : "was accepted");
  };

  const auto cases = h::value_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Label labels[] = {{"case", cases[i].id}, {"v", cases[i].raw}};
    Counter k = c.counter(h::kFamily, h::kHelpRaw, std::span<const Label>(labels));
    expect(k.valid(), true, cases[i].id);
    k.add(i + 1);
  }
  Counter help = c.counter(h::kLongHelpFamily, h::kLongHelpRaw);
  expect(help.valid(), true, h::kLongHelpFamily);
  help.add(6);
  Counter long_name = c.counter(h::kLongName, "Longest name.");
  expect(long_name.valid(), true, "200-byte name");
  long_name.add(7);
  Counter long_key = c.counter(h::kLongKeyFamily, "Longest key.", {{h::kLongKey, "v"}});
  expect(long_key.valid(), true, "200-byte label key");
  long_key.add(8);
  std::vector<std::pair<std::string, std::string>> sixteen;
  for (int i = 0; i < 16; ++i) sixteen.emplace_back("l" + std::to_string(100 + i), "v");
  const auto many_views = views(sixteen);
  Counter many =
      c.counter(h::kManyLabelsFamily, "Most labels.", std::span<const Label>(many_views));
  expect(many.valid(), true, "16 labels");
  many.add(9);

  unsigned refused = 0;
  for (const h::Refused& r : h::refused()) {
    const auto labels = views(r.labels);
    const Labels l{std::span<const Label>(labels)};
    const std::string what =
        r.name + (r.labels.empty() ? "" : "{" + r.labels.front().first + "...}");
    switch (r.kind) {
      case h::Refused::Kind::kCounter: {
        Counter k = c.counter(r.name, "Refused.", l);
        expect(k.valid(), false, what);
        k.inc();
        break;
      }
      case h::Refused::Kind::kGauge: {
        Gauge g = c.gauge(r.name, "Refused.", l);
        expect(g.valid(), false, what);
        g.add(1);
        g.set(3);
        break;
      }
      case h::Refused::Kind::kSummary: {
        Summary m = c.summary(r.name, "Refused.", l);
        expect(m.valid(), false, what);
        m.observe(1);
        break;
      }
      case h::Refused::Kind::kWhitelist: {
        std::vector<std::string_view> keys;
        for (const auto& [k, v] : r.labels) keys.push_back(k);
        c.register_labels(r.name, std::span<const std::string_view>(keys));
        break;
      }
    }
    ++refused;
  }
  say("refused " + std::to_string(refused));
  return ok ? 0 : 1;
}

int flood(Client& c, unsigned long n, unsigned long value_bytes) {
  const std::string value(value_bytes, 'v');
  unsigned long valid = 0, sum = 0;
  for (unsigned long i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    Counter k = c.counter("fault_flood_total", "Flood.", {{"n", id}, {"v", value}});
    if (!k.valid()) continue;
    k.add(i + 1);
    ++valid;
    sum += i + 1;
  }
  say("valid " + std::to_string(valid) + " sum " + std::to_string(sum));
  return 0;
}

}  // namespace
}  // namespace sipmetrics

int main(int argc, char** argv) {
  using namespace sipmetrics;
  if (argc < 2) usage("usage: burst THREADS | hostile | flood N VALUE_BYTES");
  const std::string_view mode = argv[1];
  Client& c = Client::global();
  say(c.attached() ? "attached" : "detached");
  if (mode == "burst" && argc == 3) {
    const auto threads = static_cast<unsigned>(parse_count(argv[2], 64));
    if (threads == 0) usage("burst needs at least one thread");
    burst(c, threads);
  }
  if (mode == "hostile" && argc == 2) return hostile(c);
  if (mode == "flood" && argc == 4)
    return flood(c, parse_count(argv[2], 1u << 20), parse_count(argv[3], 1u << 16));
  usage("usage: burst THREADS | hostile | flood N VALUE_BYTES");
}
