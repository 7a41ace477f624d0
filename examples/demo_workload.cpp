// sipmetrics-demo: a few forked "SIP workers" producing SIP-shaped traffic through the typed
// helpers of <sipmetrics/sip.hpp>: INVITE results, STIR and DTLS outcomes, voice attaches, calls
// going live and ending, per-turn first-byte latencies, BYEs, session-timer refreshes and
// per-call QoS. Used by the quick start; also a compact example of the helpers (one call per
// event, no handles to keep, nothing allocated per call).
//
//   sipmetrics-demo [--workers N] [--seconds S] [--cps CALLS_PER_SECOND_PER_WORKER]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sipmetrics/client.hpp>
#include <sipmetrics/sip.hpp>

namespace {

namespace sip = sipmetrics::sip;
using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct LiveCall {
  Clock::time_point end;
  Clock::duration length;
  sip::Transport transport;
  sip::Direction direction;
  bool operator>(const LiveCall& o) const { return end > o.end; }
};

class Worker {
 public:
  explicit Worker(int index)
      : rng_(static_cast<std::uint64_t>(::getpid()) * 7919u + static_cast<unsigned>(index)) {}

  /// One call attempt: INVITE transaction, identity / media security, voice attach, and, if all
  /// went well, a live call with a few AI turns.
  void place_call(Clock::time_point now) {
    const sip::Transport transport = u() < 0.8 ? sip::Transport::sip : sip::Transport::webrtc;
    const sip::Direction direction = u() < 0.7 ? sip::Direction::inbound : sip::Direction::outbound;
    if (direction == sip::Direction::outbound && u() < 0.01) {
      sip::transaction_timeout("INVITE");  // timer B fired: no response at all
      return;
    }
    sip::invite_result(direction, 100);
    sip::invite_result(direction, 180);
    const double r = u();
    const int final_code = r < 0.88 ? 200 : r < 0.94 ? 486 : r < 0.97 ? 480 : r < 0.99 ? 503 : 603;
    sip::invite_result(direction, final_code);
    if (final_code != 200) return;

    if (direction == sip::Direction::inbound && transport == sip::Transport::sip) {
      const double s = u();
      sip::stir_verify(s < 0.85   ? sip::StirResult::verified
                       : s < 0.95 ? sip::StirResult::no_identity
                       : s < 0.99 ? sip::StirResult::soft_fail
                                  : sip::StirResult::failed);
    }
    if (transport == sip::Transport::webrtc) {
      const double d = u();
      const sip::DtlsResult dtls = d < 0.97   ? sip::DtlsResult::ok
                                   : d < 0.98 ? sip::DtlsResult::timeout
                                   : d < 0.99 ? sip::DtlsResult::fail
                                              : sip::DtlsResult::fingerprint_mismatch;
      sip::dtls_handshake(dtls);
      if (dtls != sip::DtlsResult::ok) {
        sip::bye(direction, sip::ByeBy::local, sip::ByeReason::error);
        return;
      }
    }

    // OnACK: attach the voice engine.
    sip::VoiceAttachMode mode =
        u() < 0.7 ? sip::VoiceAttachMode::cascaded : sip::VoiceAttachMode::realtime;
    if (mode == sip::VoiceAttachMode::cascaded && u() < 0.02) {
      sip::voice_attach_mode_fallback(sip::VoiceMode::pipeline, sip::VoiceMode::realtime);
      mode = sip::VoiceAttachMode::realtime;
    }
    const bool attached = u() < 0.99;
    sip::voice_attach(mode, attached);
    if (mode == sip::VoiceAttachMode::cascaded && attached && u() < 0.3)
      sip::voice_attach_native(u() < 0.97);
    if (!attached) {  // config_error.wav played, then hang up
      sip::bye(direction, sip::ByeBy::local, sip::ByeReason::error);
      return;
    }

    sip::call_started(transport);
    for (int turn = 0; turn < 3; ++turn) {
      sip::observe_e2e_first_byte(static_cast<int>(e2e_(rng_)));
      sip::observe_llm_first_byte(static_cast<int>(llm_(rng_)));
      sip::observe_tts_first_byte(static_cast<int>(tts_(rng_)));
      if (u() < 0.1) sip::barge_in(transport);
      if (u() < 0.005) sip::asr_error(transport);
      if (u() < 0.005) sip::tts_error(transport);
    }
    const auto length = std::chrono::milliseconds(2000 + static_cast<int>(u() * 28000));
    live_.push(LiveCall{now + length, length, transport, direction});
  }

  /// Ends the calls whose time has come: session-timer refreshes for long calls, BYE, per-call
  /// QoS, and the call's status.
  void end_calls(Clock::time_point now) {
    while (!live_.empty() && live_.top().end <= now) {
      const LiveCall call = live_.top();
      live_.pop();
      if (call.length > std::chrono::seconds(15)) {
        const double s = u();
        sip::session_timer_refresh(s < 0.95   ? sip::RefreshResult::ok
                                   : s < 0.98 ? sip::RefreshResult::bumped_422
                                              : sip::RefreshResult::role_swap);
      }
      const double r = u();
      sip::CallStatus status = sip::CallStatus::ok;
      if (r > 0.99)
        status = call.transport == sip::Transport::webrtc ? sip::CallStatus::ice_failed
                                                          : sip::CallStatus::pipeline_error;
      else if (r > 0.97)
        status = sip::CallStatus::pipeline_error;
      else if (r > 0.90)
        status = sip::CallStatus::dialog_hangup;
      const double b = u();
      if (status == sip::CallStatus::pipeline_error)
        sip::bye(call.direction, sip::ByeBy::local, sip::ByeReason::error);
      else if (b < 0.55)
        sip::bye(call.direction, sip::ByeBy::remote, sip::ByeReason::normal);
      else if (b < 0.95)
        sip::bye(call.direction, sip::ByeBy::local, sip::ByeReason::user_hangup);
      else
        sip::bye(call.direction, sip::ByeBy::local, sip::ByeReason::timer_expired);
      sip::observe_call_qos(static_cast<std::uint32_t>(20 + u() * 100), jitter_(rng_),
                            u() < 0.3 ? 0.0 : loss_(rng_), 3.6 + u() * 0.8);
      sip::call_ended(call.transport, status);
    }
  }

  /// Background events not tied to a call.
  void background() {
    if (u() < 0.002) sip::transaction_timeout("OPTIONS");  // keepalive to a dead peer
    if (u() < 0.0005)
      sip::dialog_reconnect(u() < 0.5 ? sip::Transport::sip : sip::Transport::webrtc,
                            u() < 0.9 ? sip::DialogOutcome::ok : sip::DialogOutcome::fail);
  }

 private:
  double u() { return uniform_(rng_); }

  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0, 1};
  std::lognormal_distribution<double> e2e_{std::log(650.0), 0.35}, llm_{std::log(320.0), 0.4},
      tts_{std::log(180.0), 0.3}, jitter_{std::log(4.0), 0.5};
  std::exponential_distribution<double> loss_{200.0};  // mean 0.5 % loss
  std::priority_queue<LiveCall, std::vector<LiveCall>, std::greater<>> live_;
};

int worker(int index, double seconds, double cps) {
  sip::prepare();  // whitelists and every series registered now, off the call path
  Worker w(index);
  std::uniform_real_distribution<double> u(0, 1);
  std::mt19937_64 rng(static_cast<std::uint64_t>(index) + 1);
  const auto start = Clock::now();
  const auto tick = std::chrono::milliseconds(10);
  while (g_stop == 0) {
    const auto now = Clock::now();
    if (seconds > 0 && now - start > std::chrono::duration<double>(seconds)) break;
    if (u(rng) < cps * 0.01) w.place_call(now);  // one tick is 10 ms
    w.end_calls(now);
    w.background();
    std::this_thread::sleep_for(tick);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The demo shows the fleet form too: every latency summary gets its histogram twin (_bucket
  // series on /metrics, native buckets in the protobuf format), unless the environment says
  // otherwise.
  ::setenv("SIPMETRICS_LATENCY_HISTOGRAMS", "native", 0);
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
    if (a == "--workers")
      workers = std::atoi(next());
    else if (a == "--seconds")
      seconds = std::atof(next());
    else if (a == "--cps")
      cps = std::atof(next());
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
    if (pid < 0)
      std::perror("fork");
    else
      children.push_back(pid);
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
