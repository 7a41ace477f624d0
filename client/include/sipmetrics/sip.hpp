// Typed SIP and VoiceServer helpers: the seed metrics package's exported helpers, with its metric
// names, label keys, label values and series bounds, so existing dashboards work unchanged.
//
//   #include <sipmetrics/sip.hpp>
//   namespace sip = sipmetrics::sip;
//
//   sip::prepare();                                      // optional, at worker start (cold)
//   sip::invite_result(sip::Direction::inbound, 486);    // sip_invite_result_total{...,4xx} += 1
//   sip::call_started(sip::Transport::sip);              // voiceserver_active_calls{sip} += 1
//   sip::call_ended(sip::Transport::sip, sip::CallStatus::ok);
//   sip::bye(own_client, sip::Direction::outbound, sip::ByeBy::local, sip::ByeReason::user_hangup);
//
// Every helper exists twice: on Client::global() (the seed's package-level functions) and on an
// explicit Client&. docs/metrics.md lists every family, its labels, values and bound; a test
// keeps it equal to kFamilies (<sipmetrics/sip_families.hpp>) and to what a worker really
// exposes.
//
// Cost
//   * Cold, once per Client (the first helper call, or prepare()): declares the label whitelist
//     of every seed family (Client::register_labels) and registers every series of every family
//     (92 series), so they are all exposed from the start at zero. One heap allocation, kept for
//     the life of the process.
//   * Hot, every other call: finding the Client's handle table (a static for the global client,
//     a short pointer-compare list walk for an explicit one), an array index, and one handle
//     update. No lock, no allocation, no system call, no string formatting.
//   * Thread-safety: every helper may be called from any thread at any time, also concurrently
//     with the first call for the same Client; handles stay valid across fork().
//
// Inputs
//   * Helpers take enums and integers. An enumerator is spelled like the label value it produces
//     where that is an identifier (Direction::inbound -> "inbound"; ByeReason::timer_expired ->
//     "timer-expired"). A value outside an enum's range (only reachable through a cast) is
//     dropped, except where the family has an overflow value (method -> "other").
//   * An out-of-range SIP status code is counted as code_class="other"; an unknown method name
//     as method="other". Neither ever creates a new series.
//
// Lifetime: handle tables belong to the segment attachment, which lives as long as the process;
// all Clients of one segment share one table, and a Client may be destroyed at any time.
//
// Fleets: with SIPMETRICS_LATENCY_HISTOGRAMS=1 in the worker's environment (read once, when its
// table is resolved), every latency helper also records a histogram twin of its summary
// (kLatencyHistograms: `sip_call_rtt_hist_ms` beside `sip_call_rtt_ms`, ...), which adds up
// across hosts in PromQL: histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))). The
// summaries keep their names and quantiles, so existing dashboards are unaffected. Cost: 7
// histograms, 109 more series per host; about 10 ns more per latency helper call. With
// SIPMETRICS_LATENCY_HISTOGRAMS=native the twins keep native buckets too (kLatencyHistograms'
// windows; 980 cells per lane instead of 109, 1.1 MB more segment with the default 160 lanes).
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <cstdlib>

#include <sipmetrics/client.hpp>
#include <sipmetrics/sip_families.hpp>

namespace sipmetrics::sip {

// ---- Latency histograms (the fleet-wide twins of the latency summaries)
// ---------------------------
/// Bounds for media round-trip time and jitter, ms: what RTCP reports on a good path (1..50) up
/// to the 300 ms one-way delay past which a conversation breaks down (ITU-T G.114) and beyond.
inline constexpr std::array<double, 14> kSipMediaBucketsMs = {1,  2,   5,   10,  20,  30,  50,
                                                              75, 100, 150, 200, 300, 500, 1000};
/// Bounds for the packet-loss fraction: 0.1 % (inaudible) to 50 %.
inline constexpr std::array<double, 9> kSipLossBuckets = {0.001, 0.005, 0.01, 0.02, 0.03,
                                                          0.05,  0.1,   0.2,  0.5};
/// Bounds for the MOS estimate (1..5): the G.107 user-satisfaction bands.
inline constexpr std::array<double, 9> kSipMosBuckets = {1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4};

/// Native windows (schema 3) for the twins that are not milliseconds: the loss fraction over
/// (2^-10, 1] (0.1 % up), the MOS over (1, 8] (MOS is 1..5).
inline constexpr NativeOptions kSipLossNative{3, 0x1p-10, 1};
inline constexpr NativeOptions kSipMosNative{3, 1, 8};

/// A latency summary's histogram twin: its name, help, bounds and native window.
struct HistogramTwin {
  detail::FamilyId summary;
  std::string_view name;
  std::string_view help;
  std::span<const double> bounds;
  NativeOptions native;
};
inline constexpr std::array<HistogramTwin, 7> kLatencyHistograms{{
    {detail::kCallRttId, "sip_call_rtt_hist_ms", "Media round-trip time, ms (histogram).",
     kSipMediaBucketsMs, kSipLatencyNativeMs},
    {detail::kCallJitterId, "sip_call_jitter_hist_ms", "Media jitter, ms (histogram).",
     kSipMediaBucketsMs, kSipLatencyNativeMs},
    {detail::kCallLossId, "sip_call_loss_fraction_hist", "Media packet-loss fraction (histogram).",
     kSipLossBuckets, kSipLossNative},
    {detail::kCallMosId, "sip_call_mos_estimate_hist", "Estimated MOS (histogram).", kSipMosBuckets,
     kSipMosNative},
    {detail::kE2EFirstByteId, "voiceserver_e2e_first_byte_hist_ms",
     "ASR final to first audible AI byte, ms (histogram).", kSipLatencyBucketsMs,
     kSipLatencyNativeMs},
    {detail::kLlmFirstByteId, "voiceserver_llm_first_byte_hist_ms",
     "Dialog app's time to first LLM token, ms (histogram).", kSipLatencyBucketsMs,
     kSipLatencyNativeMs},
    {detail::kTtsFirstByteId, "voiceserver_tts_first_byte_hist_ms",
     "Speak to first PCM frame, ms (histogram).", kSipLatencyBucketsMs, kSipLatencyNativeMs},
}};

/// Which histogram twins this process records, from SIPMETRICS_LATENCY_HISTOGRAMS: none (unset,
/// or anything else), classic (1, true, yes or on), or classic with native buckets beside them
/// (native). Cold (read when a Client's handle table is resolved).
enum class LatencyHistograms : std::uint8_t { kNone, kClassic, kNative };
inline LatencyHistograms latency_histograms() noexcept {
  const char* v = std::getenv("SIPMETRICS_LATENCY_HISTOGRAMS");
  if (v == nullptr) return LatencyHistograms::kNone;
  const std::string_view s(v);
  if (s == "native") return LatencyHistograms::kNative;
  return s == "1" || s == "true" || s == "yes" || s == "on" ? LatencyHistograms::kClassic
                                                            : LatencyHistograms::kNone;
}

// ---- Pre-resolved handles -----------------------------------------------------------------------
namespace detail {

/// Every series of every family, resolved once per Client. Each array is indexed in kFamilies'
/// label order, the last key varying fastest (e.g. bye[(direction * 2 + by) * 4 + reason]).
struct Handles {
  std::array<Counter, 14> invite;
  std::array<Counter, 16> bye;
  std::array<Counter, 15> transaction_timeout;
  std::array<Counter, 5> session_timer_refresh;
  std::array<Counter, 4> dtls_handshake;
  std::array<Counter, 4> stir_verify;
  std::array<Summary, 1> call_rtt, call_jitter, call_loss, call_mos;
  std::array<Counter, 4> voice_attach;
  std::array<Counter, 1> voice_attach_fallback;
  std::array<Counter, 2> voice_attach_native;
  std::array<Gauge, 2> active_calls;
  std::array<Counter, 8> calls_total;
  std::array<Counter, 2> asr_errors, tts_errors, barge_in;
  std::array<Counter, 4> dialog_reconnect;
  std::array<Summary, 1> e2e_first_byte, llm_first_byte, tts_first_byte;
  // The histogram twins, in kLatencyHistograms' order; valid only when `histograms`.
  bool histograms = false;
  std::array<Histogram, kLatencyHistograms.size()> twin;
};
/// Indexes into Handles::twin.
enum Twin : std::size_t {
  kRttTwin,
  kJitterTwin,
  kLossTwin,
  kMosTwin,
  kE2ETwin,
  kLlmTwin,
  kTtsTwin
};

template <typename Handle, std::size_t N>
consteval bool fits(FamilyId id) {
  constexpr layout::MetricType kType =
      std::is_same_v<Handle, Counter> ? layout::MetricType::kCounter
      : std::is_same_v<Handle, Gauge> ? layout::MetricType::kGauge
                                      : layout::MetricType::kSummary;
  return kFamilies[id].type == kType && kFamilies[id].series() == N &&
         kFamilies[id].labels.size() <= 3;
}
#define SIPMETRICS_SIP_FITS(member, id)                                                          \
  static_assert(                                                                                 \
      fits<decltype(Handles::member)::value_type, std::tuple_size_v<decltype(Handles::member)>>( \
          id),                                                                                   \
      "Handles::" #member " must match kFamilies[" #id "] in type and series bound")
SIPMETRICS_SIP_FITS(invite, kInviteResultId);
SIPMETRICS_SIP_FITS(bye, kByeId);
SIPMETRICS_SIP_FITS(transaction_timeout, kTransactionTimeoutId);
SIPMETRICS_SIP_FITS(session_timer_refresh, kSessionTimerRefreshId);
SIPMETRICS_SIP_FITS(dtls_handshake, kDtlsHandshakeId);
SIPMETRICS_SIP_FITS(stir_verify, kStirVerifyId);
SIPMETRICS_SIP_FITS(call_rtt, kCallRttId);
SIPMETRICS_SIP_FITS(call_jitter, kCallJitterId);
SIPMETRICS_SIP_FITS(call_loss, kCallLossId);
SIPMETRICS_SIP_FITS(call_mos, kCallMosId);
SIPMETRICS_SIP_FITS(voice_attach, kVoiceAttachId);
SIPMETRICS_SIP_FITS(voice_attach_fallback, kVoiceAttachFallbackId);
SIPMETRICS_SIP_FITS(voice_attach_native, kVoiceAttachNativeId);
SIPMETRICS_SIP_FITS(active_calls, kActiveCallsId);
SIPMETRICS_SIP_FITS(calls_total, kCallsTotalId);
SIPMETRICS_SIP_FITS(asr_errors, kAsrErrorsId);
SIPMETRICS_SIP_FITS(tts_errors, kTtsErrorsId);
SIPMETRICS_SIP_FITS(barge_in, kBargeInId);
SIPMETRICS_SIP_FITS(dialog_reconnect, kDialogReconnectId);
SIPMETRICS_SIP_FITS(e2e_first_byte, kE2EFirstByteId);
SIPMETRICS_SIP_FITS(llm_first_byte, kLlmFirstByteId);
SIPMETRICS_SIP_FITS(tts_first_byte, kTtsFirstByteId);
#undef SIPMETRICS_SIP_FITS

/// Registers family `id`'s series in mixed-radix order of its label domains.
template <typename Handle, std::size_t N>
void resolve(Client& c, FamilyId id, std::array<Handle, N>& out) noexcept {
  const FamilyInfo& f = kFamilies[id];
  for (std::size_t i = 0; i < N; ++i) {
    std::array<Label, 3> labels{};
    std::size_t rest = i;
    for (std::size_t k = f.labels.size(); k-- > 0;) {
      const LabelDomain& d = f.labels[k];
      labels[k] = Label{d.key, d.values[rest % d.values.size()]};
      rest /= d.values.size();
    }
    const Labels view(std::span<const Label>(labels.data(), f.labels.size()));
    if constexpr (std::is_same_v<Handle, Counter>)
      out[i] = c.counter(f.name, f.help, view);
    else if constexpr (std::is_same_v<Handle, Gauge>)
      out[i] = c.gauge(f.name, f.help, view, GaugeMode::kSum);  // active calls: add()-style
    else
      out[i] = c.summary(f.name, f.help, view);
  }
}

inline void resolve_all(Client& c, Handles& h) noexcept {
  for (const FamilyInfo& f : kFamilies) {
    std::array<std::string_view, 3> keys{};
    for (std::size_t k = 0; k < f.labels.size(); ++k) keys[k] = f.labels[k].key;
    c.register_labels(f.name, std::span<const std::string_view>(keys.data(), f.labels.size()));
  }
  resolve(c, kInviteResultId, h.invite);
  resolve(c, kByeId, h.bye);
  resolve(c, kTransactionTimeoutId, h.transaction_timeout);
  resolve(c, kSessionTimerRefreshId, h.session_timer_refresh);
  resolve(c, kDtlsHandshakeId, h.dtls_handshake);
  resolve(c, kStirVerifyId, h.stir_verify);
  resolve(c, kCallRttId, h.call_rtt);
  resolve(c, kCallJitterId, h.call_jitter);
  resolve(c, kCallLossId, h.call_loss);
  resolve(c, kCallMosId, h.call_mos);
  resolve(c, kVoiceAttachId, h.voice_attach);
  resolve(c, kVoiceAttachFallbackId, h.voice_attach_fallback);
  resolve(c, kVoiceAttachNativeId, h.voice_attach_native);
  resolve(c, kActiveCallsId, h.active_calls);
  resolve(c, kCallsTotalId, h.calls_total);
  resolve(c, kAsrErrorsId, h.asr_errors);
  resolve(c, kTtsErrorsId, h.tts_errors);
  resolve(c, kBargeInId, h.barge_in);
  resolve(c, kDialogReconnectId, h.dialog_reconnect);
  resolve(c, kE2EFirstByteId, h.e2e_first_byte);
  resolve(c, kLlmFirstByteId, h.llm_first_byte);
  resolve(c, kTtsFirstByteId, h.tts_first_byte);
  if (const LatencyHistograms kind = latency_histograms(); kind != LatencyHistograms::kNone) {
    h.histograms = true;
    for (std::size_t i = 0; i < kLatencyHistograms.size(); ++i) {
      const HistogramTwin& t = kLatencyHistograms[i];
      h.twin[i] = kind == LatencyHistograms::kNative
                      ? c.histogram(t.name, t.help, {}, t.bounds, t.native)
                      : c.histogram(t.name, t.help, {}, t.bounds);
    }
  }
}

/// A Client's handle table. Nodes are pushed with a CAS and never freed, so readers walk the
/// list without a lock; no lock also means a fork() in the middle of a build cannot leave a
/// child waiting on one.
struct HandlesNode {
  const void* attachment;  // the Client's attachment: one per segment, never freed
  Handles handles;
  HandlesNode* next;
};
inline std::atomic<HandlesNode*> handles_list{nullptr};

[[gnu::cold, gnu::noinline]] inline Handles& build_handles(Client& c) noexcept {
  auto* node = new (std::nothrow) HandlesNode{attachment_key(c), {}, nullptr};
  if (node == nullptr) {
    static Handles none;  // out of memory: every helper on this Client is a no-op
    return none;
  }
  resolve_all(c, node->handles);
  HandlesNode* head = handles_list.load(std::memory_order_acquire);
  for (;;) {
    for (HandlesNode* n = head; n != nullptr; n = n->next)
      if (n->attachment == node->attachment) {  // another thread won (same series: idempotent)
        delete node;
        return n->handles;
      }
    node->next = head;
    // Release: a reader that finds the node sees its handles complete.
    if (handles_list.compare_exchange_weak(head, node, std::memory_order_release,
                                           std::memory_order_acquire))
      return node->handles;
  }
}

/// The handle table of `c`, built on first use.
[[gnu::always_inline]] inline Handles& handles(Client& c) noexcept {
  const void* key = attachment_key(c);
  for (HandlesNode* n = handles_list.load(std::memory_order_acquire); n != nullptr; n = n->next)
    if (n->attachment == key) [[likely]]
      return n->handles;
  return build_handles(c);
}

/// The handle table of Client::global(): a static reference after the first call.
[[gnu::always_inline]] inline Handles& global_handles() noexcept {
  static Handles& h = handles(Client::global());
  return h;
}

// The helpers proper, on a resolved table.
inline void invite_result(Handles& h, Direction d, int code) noexcept {
  if (!in_range(d, kDirections)) return;
  h.invite[at(d) * kCodeClasses.size() + at(classify_code(code))].inc();
}
inline void bye(Handles& h, Direction d, ByeBy by, ByeReason reason) noexcept {
  if (!in_range(d, kDirections) || !in_range(by, kByeInitiators) || !in_range(reason, kByeReasons))
    return;
  h.bye[(at(d) * kByeInitiators.size() + at(by)) * kByeReasons.size() + at(reason)].inc();
}
inline void transaction_timeout(Handles& h, Method m) noexcept {
  h.transaction_timeout[in_range(m, kMethods) ? at(m) : at(Method::other)].inc();
}
template <typename E, std::size_t N, std::size_t M>
inline void count(std::array<Counter, N>& family, E e,
                  const std::array<std::string_view, M>& values) noexcept {
  static_assert(N == M);
  if (in_range(e, values)) family[at(e)].inc();
}
inline void observe_positive(Summary& s, double v) noexcept {
  if (v > 0 && std::isfinite(v)) s.observe(v);
}
/// observe_positive() on a summary and, when the table has them, its histogram twin.
inline void observe_latency(Handles& h, Summary& s, Twin twin, double v) noexcept {
  if (!(v > 0 && std::isfinite(v))) return;
  s.observe(v);
  if (h.histograms) h.twin[twin].observe(v);
}
inline void voice_attach(Handles& h, VoiceAttachMode mode, VoiceAttachResult result) noexcept {
  if (!in_range(mode, kVoiceAttachModes) || !in_range(result, kVoiceAttachResults)) return;
  h.voice_attach[at(mode) * kVoiceAttachResults.size() + at(result)].inc();
}
inline void voice_attach_mode_fallback(Handles& h, VoiceMode from, VoiceMode to) noexcept {
  if (from == VoiceMode::pipeline && to == VoiceMode::realtime) h.voice_attach_fallback[0].inc();
}
inline void call_ended(Handles& h, Transport t, CallStatus status) noexcept {
  if (!in_range(t, kTransports)) return;
  h.active_calls[at(t)].add(-1);
  if (in_range(status, kCallStatuses))
    h.calls_total[at(t) * kCallStatuses.size() + at(status)].inc();
}
inline void dialog_reconnect(Handles& h, Transport t, DialogOutcome outcome) noexcept {
  if (!in_range(t, kTransports) || !in_range(outcome, kDialogOutcomes)) return;
  h.dialog_reconnect[at(t) * kDialogOutcomes.size() + at(outcome)].inc();
}
inline void observe_call_qos(Handles& h, std::uint32_t rtt_ms, double jitter_ms,
                             double loss_fraction, double mos_estimate) noexcept {
  observe_latency(h, h.call_rtt[0], kRttTwin, static_cast<double>(rtt_ms));
  observe_latency(h, h.call_jitter[0], kJitterTwin, jitter_ms);
  observe_latency(h, h.call_loss[0], kLossTwin, loss_fraction);
  observe_latency(h, h.call_mos[0], kMosTwin, mos_estimate);
}

}  // namespace detail

// ---- Helpers ------------------------------------------------------------------------------------
// Each one is hot (see the top of this file), noexcept and callable from any thread.

/// Resolves this Client's handle table now (whitelists and all 92 series) instead of on the
/// first helper call. Cold; idempotent. Call it at worker start, before fork() if workers fork.
inline void prepare(Client& c) noexcept { (void)detail::handles(c); }
inline void prepare() noexcept { (void)detail::global_handles(); }

/// sip_invite_result_total{direction, code_class} += 1. code 100..699 counts under its class
/// "1xx".."6xx"; any other code under "other". Bound: 2 directions × 7 classes = 14 series.
inline void invite_result(Client& c, Direction direction, int code) noexcept {
  detail::invite_result(detail::handles(c), direction, code);
}
inline void invite_result(Direction direction, int code) noexcept {
  detail::invite_result(detail::global_handles(), direction, code);
}

/// sip_bye_total{direction, by, reason_class} += 1. direction: inbound|outbound; by:
/// local|remote; reason_class: normal|timer-expired|error|user-hangup. Bound: 16 series.
inline void bye(Client& c, Direction direction, ByeBy by, ByeReason reason) noexcept {
  detail::bye(detail::handles(c), direction, by, reason);
}
inline void bye(Direction direction, ByeBy by, ByeReason reason) noexcept {
  detail::bye(detail::global_handles(), direction, by, reason);
}
/// The seed's two-argument Bye(): bye() with direction outbound.
inline void bye(Client& c, ByeBy by, ByeReason reason) noexcept {
  detail::bye(detail::handles(c), Direction::outbound, by, reason);
}
inline void bye(ByeBy by, ByeReason reason) noexcept {
  detail::bye(detail::global_handles(), Direction::outbound, by, reason);
}

/// sip_transaction_timeout_total{method} += 1 (timer B or F fired). The name is classified
/// without allocating: one of the 14 methods of Method (exact, case-sensitive) or "other".
/// Bound: 15 series.
inline void transaction_timeout(Client& c, std::string_view method) noexcept {
  detail::transaction_timeout(detail::handles(c), classify_method(method));
}
inline void transaction_timeout(std::string_view method) noexcept {
  detail::transaction_timeout(detail::global_handles(), classify_method(method));
}
inline void transaction_timeout(Client& c, Method method) noexcept {
  detail::transaction_timeout(detail::handles(c), method);
}
inline void transaction_timeout(Method method) noexcept {
  detail::transaction_timeout(detail::global_handles(), method);
}

/// sip_session_timer_refresh_total{result} += 1; result: ok|422-bumped|422-gave-up|481|role-swap.
inline void session_timer_refresh(Client& c, RefreshResult result) noexcept {
  detail::count(detail::handles(c).session_timer_refresh, result, kRefreshResults);
}
inline void session_timer_refresh(RefreshResult result) noexcept {
  detail::count(detail::global_handles().session_timer_refresh, result, kRefreshResults);
}

/// sip_dtls_handshake_total{result} += 1; result: ok|fail|timeout|fingerprint-mismatch.
inline void dtls_handshake(Client& c, DtlsResult result) noexcept {
  detail::count(detail::handles(c).dtls_handshake, result, kDtlsResults);
}
inline void dtls_handshake(DtlsResult result) noexcept {
  detail::count(detail::global_handles().dtls_handshake, result, kDtlsResults);
}

/// sip_stir_verify_total{result} += 1; result: verified|failed|soft-fail|no-identity.
inline void stir_verify(Client& c, StirResult result) noexcept {
  detail::count(detail::handles(c).stir_verify, result, kStirResults);
}
inline void stir_verify(StirResult result) noexcept {
  detail::count(detail::global_handles().stir_verify, result, kStirResults);
}

/// Once per call, at cleanup: one sample each into sip_call_rtt_ms, sip_call_jitter_ms,
/// sip_call_loss_fraction and sip_call_mos_estimate (no labels). As in the seed, an input that
/// is zero or negative means "no data" and is skipped (a loss of exactly 0 included); NaN and
/// infinities are skipped too. Cold in practice (once per call).
inline void observe_call_qos(Client& c, std::uint32_t rtt_ms, double jitter_ms,
                             double loss_fraction, double mos_estimate) noexcept {
  detail::observe_call_qos(detail::handles(c), rtt_ms, jitter_ms, loss_fraction, mos_estimate);
}
inline void observe_call_qos(std::uint32_t rtt_ms, double jitter_ms, double loss_fraction,
                             double mos_estimate) noexcept {
  detail::observe_call_qos(detail::global_handles(), rtt_ms, jitter_ms, loss_fraction,
                           mos_estimate);
}

/// sip_voice_attach_total{mode, result} += 1 for one OnACK dispatch; mode: cascaded|realtime;
/// result: ok, or config_error when !ok (every failure that played config_error.wav).
/// Bound: 4 series.
inline void voice_attach(Client& c, VoiceAttachMode mode, bool ok) noexcept {
  detail::voice_attach(detail::handles(c), mode,
                       ok ? VoiceAttachResult::ok : VoiceAttachResult::config_error);
}
inline void voice_attach(VoiceAttachMode mode, bool ok) noexcept {
  detail::voice_attach(detail::global_handles(), mode,
                       ok ? VoiceAttachResult::ok : VoiceAttachResult::config_error);
}
inline void voice_attach(Client& c, VoiceAttachMode mode, VoiceAttachResult result) noexcept {
  detail::voice_attach(detail::handles(c), mode, result);
}
inline void voice_attach(VoiceAttachMode mode, VoiceAttachResult result) noexcept {
  detail::voice_attach(detail::global_handles(), mode, result);
}

/// sip_voice_attach_mode_fallback_total{from="pipeline", to="realtime"} += 1. That is the only
/// fallback the seed knows; any other (from, to) pair is dropped silently. Bound: 1 series.
inline void voice_attach_mode_fallback(Client& c, VoiceMode from, VoiceMode to) noexcept {
  detail::voice_attach_mode_fallback(detail::handles(c), from, to);
}
inline void voice_attach_mode_fallback(VoiceMode from, VoiceMode to) noexcept {
  detail::voice_attach_mode_fallback(detail::global_handles(), from, to);
}

/// sip_voice_attach_native_total{result} += 1; result: ok|err (engine.New and Attach both
/// succeeded, or not).
inline void voice_attach_native(Client& c, bool ok) noexcept {
  detail::handles(c).voice_attach_native[ok ? 0 : 1].inc();
}
inline void voice_attach_native(bool ok) noexcept {
  detail::global_handles().voice_attach_native[ok ? 0 : 1].inc();
}

/// A call went live: voiceserver_active_calls{transport} += 1 (sum over live processes; a
/// crashed worker's calls leave with it). Does NOT count voiceserver_calls_total: call_ended()
/// counts each call once, with its status (see docs/metrics.md).
inline void call_started(Client& c, Transport transport) noexcept {
  if (detail::in_range(transport, kTransports))
    detail::handles(c).active_calls[detail::at(transport)].add(1);
}
inline void call_started(Transport transport) noexcept {
  if (detail::in_range(transport, kTransports))
    detail::global_handles().active_calls[detail::at(transport)].add(1);
}

/// A call ended: voiceserver_active_calls{transport} -= 1 and
/// voiceserver_calls_total{transport, status} += 1; status: ok|dialog-hangup|ice-failed|
/// pipeline-error. Bound: 2 × 4 = 8 series.
inline void call_ended(Client& c, Transport transport, CallStatus status) noexcept {
  detail::call_ended(detail::handles(c), transport, status);
}
inline void call_ended(Transport transport, CallStatus status) noexcept {
  detail::call_ended(detail::global_handles(), transport, status);
}

/// voiceserver_asr_errors_total{transport} += 1 (recognizer error callback).
inline void asr_error(Client& c, Transport transport) noexcept {
  detail::count(detail::handles(c).asr_errors, transport, kTransports);
}
inline void asr_error(Transport transport) noexcept {
  detail::count(detail::global_handles().asr_errors, transport, kTransports);
}

/// voiceserver_tts_errors_total{transport} += 1 (Speak failed, or was interrupted or drained
/// before producing any audio).
inline void tts_error(Client& c, Transport transport) noexcept {
  detail::count(detail::handles(c).tts_errors, transport, kTransports);
}
inline void tts_error(Transport transport) noexcept {
  detail::count(detail::global_handles().tts_errors, transport, kTransports);
}

/// voiceserver_barge_in_total{transport} += 1 (VAD interrupted the AI's TTS).
inline void barge_in(Client& c, Transport transport) noexcept {
  detail::count(detail::handles(c).barge_in, transport, kTransports);
}
inline void barge_in(Transport transport) noexcept {
  detail::count(detail::global_handles().barge_in, transport, kTransports);
}

/// voiceserver_dialog_reconnect_total{transport, outcome} += 1 per reconnect attempt to the
/// dialog plane; outcome: ok|fail (the sum over outcomes is the attempt count). Bound: 4 series.
inline void dialog_reconnect(Client& c, Transport transport, DialogOutcome outcome) noexcept {
  detail::dialog_reconnect(detail::handles(c), transport, outcome);
}
inline void dialog_reconnect(Transport transport, DialogOutcome outcome) noexcept {
  detail::dialog_reconnect(detail::global_handles(), transport, outcome);
}

/// One sample of voiceserver_e2e_first_byte_ms (ASR final to first audible AI byte). ms <= 0
/// means "no ASR final preceded this turn" and is skipped.
inline void observe_e2e_first_byte(Client& c, int ms) noexcept {
  detail::Handles& h = detail::handles(c);
  detail::observe_latency(h, h.e2e_first_byte[0], detail::kE2ETwin, static_cast<double>(ms));
}
inline void observe_e2e_first_byte(int ms) noexcept {
  detail::Handles& h = detail::global_handles();
  detail::observe_latency(h, h.e2e_first_byte[0], detail::kE2ETwin, static_cast<double>(ms));
}

/// One sample of voiceserver_llm_first_byte_ms (the dialog app's time to first LLM token,
/// CommandMeta.LLMFirstMs). ms <= 0 means "not reported" and is skipped.
inline void observe_llm_first_byte(Client& c, int ms) noexcept {
  detail::Handles& h = detail::handles(c);
  detail::observe_latency(h, h.llm_first_byte[0], detail::kLlmTwin, static_cast<double>(ms));
}
inline void observe_llm_first_byte(int ms) noexcept {
  detail::Handles& h = detail::global_handles();
  detail::observe_latency(h, h.llm_first_byte[0], detail::kLlmTwin, static_cast<double>(ms));
}

/// One sample of voiceserver_tts_first_byte_ms (Speak to first PCM frame). ms <= 0 is skipped.
inline void observe_tts_first_byte(Client& c, int ms) noexcept {
  detail::Handles& h = detail::handles(c);
  detail::observe_latency(h, h.tts_first_byte[0], detail::kTtsTwin, static_cast<double>(ms));
}
inline void observe_tts_first_byte(int ms) noexcept {
  detail::Handles& h = detail::global_handles();
  detail::observe_latency(h, h.tts_first_byte[0], detail::kTtsTwin, static_cast<double>(ms));
}

/// The seed's package-level ObserveAsync / AsyncDroppedCount; see Client::observe_async() and
/// Client::async_dropped_count().
inline void observe_async(Client& c, std::string_view name, std::string_view help,
                          double v) noexcept {
  c.observe_async(name, help, v);
}
inline void observe_async(std::string_view name, std::string_view help, double v) noexcept {
  Client::global().observe_async(name, help, v);
}
inline std::uint64_t async_dropped_count(const Client& c) noexcept {
  return c.async_dropped_count();
}
inline std::uint64_t async_dropped_count() noexcept {
  return Client::global().async_dropped_count();
}

}  // namespace sipmetrics::sip
