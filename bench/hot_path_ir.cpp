// Instructions per hot-path call, counted by callgrind: repeatable whatever else the machine does,
// unlike timings on a shared 2-core VM. Each run_* function makes kCalls calls of one handle
// operation on the calling thread's exclusive lane:
//   valgrind --tool=callgrind --callgrind-out-file=cg.out build-bench/bench/hot_path_ir /tmp/seg
//   callgrind_annotate --inclusive=yes cg.out | grep run_
// (divide by kCalls). The segment is a scratch file path; no daemon is needed.
#include <sipmetrics/client.hpp>

#include <cstdio>

namespace {

constexpr int kCalls = 1'000'000;

[[gnu::noinline]] void run_counter(sipmetrics::Counter& c) {
  for (int i = 0; i < kCalls; ++i) c.inc();
}
[[gnu::noinline]] void run_gauge(sipmetrics::Gauge& g) {
  for (int i = 0; i < kCalls; ++i) g.add(1);
}
[[gnu::noinline]] void run_summary(sipmetrics::Summary& s) {
  for (int i = 0; i < kCalls; ++i) s.observe(1.5);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: hot_path_ir SEGMENT_PATH\n");
    return 2;
  }
  sipmetrics::Options o;
  o.segment = argv[1];
  sipmetrics::Client c(o);
  sipmetrics::Counter k = c.counter("hp_total", "");
  sipmetrics::Gauge g = c.gauge("hp_gauge", "");
  sipmetrics::Summary s = c.summary("hp_ms", "");
  k.inc();  // bind the lane first: the runs measure the steady state
  g.add(1);
  s.observe(1);
  run_counter(k);
  run_gauge(g);
  run_summary(s);
  return k.valid() && g.valid() && s.valid() ? 0 : 1;
}
