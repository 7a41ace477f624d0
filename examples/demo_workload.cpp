// sipmetrics-demo: a few forked "SIP workers" producing SIP-shaped traffic through the client:
// calls starting and ending, INVITE results, BYEs, first-byte latencies. Used by the quick
// start; also a compact example of the client API (resolve handles once, then only hot-path
// calls).
//
//   sipmetrics-demo [--workers N] [--seconds S] [--cps CALLS_PER_SECOND_PER_WORKER]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <vector>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>

#include <sipmetrics/client.hpp>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Handles {
  sipmetrics::Counter calls_ok, calls_failed;
  sipmetrics::Gauge active;
  std::array<sipmetrics::Counter, 6> invite_inbound;  // 1xx..6xx
  sipmetrics::Counter bye_remote_normal, bye_local_hangup, bye_local_timer;
  sipmetrics::Summary e2e, llm, tts;

  explicit Handles(sipmetrics::Client& c) {
    c.register_labels("voiceserver_calls_total", {"transport", "status"});
    c.register_labels("voiceserver_active_calls", {"transport"});
    c.register_labels("sip_invite_result_total", {"direction", "code_class"});
    c.register_labels("sip_bye_total", {"direction", "by", "reason_class"});
    calls_ok = c.counter("voiceserver_calls_total", "Calls ended, by transport and status.",
                         {{"transport", "sip"}, {"status", "ok"}});
    calls_failed = c.counter("voiceserver_calls_total", "Calls ended, by transport and status.",
                             {{"transport", "sip"}, {"status", "pipeline-error"}});
    active = c.gauge("voiceserver_active_calls", "Calls live right now.", {{"transport", "sip"}});
    static constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"};
    for (std::size_t i = 0; i < invite_inbound.size(); ++i)
      invite_inbound[i] = c.counter("sip_invite_result_total", "INVITE responses by direction and class.",
                                    {{"direction", "inbound"}, {"code_class", kClasses[i]}});
    const char* bye_help = "BYE events by direction, initiator and reason class.";
    bye_remote_normal = c.counter("sip_bye_total", bye_help,
                                  {{"direction", "inbound"}, {"by", "remote"}, {"reason_class", "normal"}});
    bye_local_hangup = c.counter("sip_bye_total", bye_help,
                                 {{"direction", "outbound"}, {"by", "local"}, {"reason_class", "user-hangup"}});
    bye_local_timer = c.counter("sip_bye_total", bye_help,
                                {{"direction", "outbound"}, {"by", "local"}, {"reason_class", "timer-expired"}});
    e2e = c.summary("voiceserver_e2e_first_byte_ms", "ASR final to first audible AI byte, ms.");
    llm = c.summary("voiceserver_llm_first_byte_ms", "Time to first LLM token, ms.");
    tts = c.summary("voiceserver_tts_first_byte_ms", "Speak to first PCM frame, ms.");
  }
};

int worker(int index, double seconds, double cps) {
  sipmetrics::Client& client = sipmetrics::Client::global();
  Handles h(client);
  std::mt19937_64 rng(static_cast<std::uint64_t>(::getpid()) * 7919u + static_cast<unsigned>(index));
  std::uniform_real_distribution<double> u(0, 1);
  std::lognormal_distribution<double> e2e(std::log(650.0), 0.35), llm(std::log(320.0), 0.4),
      tts(std::log(180.0), 0.3);
  std::deque<std::chrono::steady_clock::time_point> live;  // end times of live calls
  const auto start = std::chrono::steady_clock::now();
  const auto tick = std::chrono::milliseconds(10);
  while (g_stop == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (seconds > 0 && now - start > std::chrono::duration<double>(seconds)) break;
    if (u(rng) < cps * 0.01) {  // one tick is 10 ms
      h.invite_inbound[0].inc();  // 100 Trying
      const double r = u(rng);
      if (r < 0.90) {
        h.invite_inbound[1].inc();
        h.active.add(1);
        live.push_back(now + std::chrono::milliseconds(2000 + static_cast<int>(u(rng) * 20000)));
        for (int turn = 0; turn < 3; ++turn) {
          h.e2e.observe(e2e(rng));
          h.llm.observe(llm(rng));
          h.tts.observe(tts(rng));
        }
      } else {
        h.invite_inbound[r < 0.95 ? 3 : (r < 0.99 ? 4 : 5)].inc();
        h.calls_failed.inc();
      }
    }
    while (!live.empty() && live.front() <= now) {
      live.pop_front();
      h.active.add(-1);
      h.calls_ok.inc();
      const double r = u(rng);
      (r < 0.6 ? h.bye_remote_normal : r < 0.97 ? h.bye_local_hangup : h.bye_local_timer).inc();
    }
    std::this_thread::sleep_for(tick);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 3;
  double seconds = 0, cps = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sipmetrics-demo: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--workers") workers = std::atoi(next());
    else if (a == "--seconds") seconds = std::atof(next());
    else if (a == "--cps") cps = std::atof(next());
    else {
      std::fprintf(stderr, "usage: sipmetrics-demo [--workers N] [--seconds S] [--cps N]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (workers < 1 || workers > 64 || cps < 0) {
    std::fprintf(stderr, "sipmetrics-demo: --workers must be 1..64 and --cps >= 0\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::printf("sipmetrics-demo: %d workers, %.1f calls/s each\n", workers, cps);
  std::fflush(stdout);
  std::vector<pid_t> children;
  for (int w = 0; w < workers; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) _exit(worker(w, seconds, cps));
    if (pid < 0) std::perror("fork");
    else children.push_back(pid);
  }
  int status = 0;
  bool forwarded = false;
  while (::wait(&status) > 0 || errno == EINTR) {
    if (g_stop != 0 && !forwarded) {
      for (pid_t c : children) ::kill(c, SIGTERM);
      forwarded = true;
    }
  }
  return 0;
}
