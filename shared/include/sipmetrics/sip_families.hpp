// The SIP vocabulary of the seed metrics package as constexpr data: metric names, label keys
// and values, the enums the typed helpers take, how status codes and method names classify, and
// the table of every family (kFamilies). No code that writes anything: the client's typed
// helpers (<sipmetrics/sip.hpp>) register and update these families, the daemon reads the table
// for its built-in label whitelists, and docs/metrics.md is checked against it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/key.hpp>

namespace sipmetrics::sip {

// ---- Metric names (the seed's constants) --------------------------------------------------------
inline constexpr std::string_view kMetricActiveCalls = "voiceserver_active_calls";
inline constexpr std::string_view kMetricCallsTotal = "voiceserver_calls_total";
inline constexpr std::string_view kMetricASRErrors = "voiceserver_asr_errors_total";
inline constexpr std::string_view kMetricTTSErrors = "voiceserver_tts_errors_total";
inline constexpr std::string_view kMetricBargeInTotal = "voiceserver_barge_in_total";
inline constexpr std::string_view kMetricE2EFirstByteMs = "voiceserver_e2e_first_byte_ms";
inline constexpr std::string_view kMetricTTSFirstByteMs = "voiceserver_tts_first_byte_ms";
inline constexpr std::string_view kMetricLLMFirstByteMs = "voiceserver_llm_first_byte_ms";
inline constexpr std::string_view kMetricDialogReconnectTotal =
    "voiceserver_dialog_reconnect_total";

inline constexpr std::string_view kMetricInviteResultTotal = "sip_invite_result_total";
inline constexpr std::string_view kMetricByeTotal = "sip_bye_total";
inline constexpr std::string_view kMetricTransactionTimeoutTotal = "sip_transaction_timeout_total";
inline constexpr std::string_view kMetricSessionTimerRefreshTotal =
    "sip_session_timer_refresh_total";
inline constexpr std::string_view kMetricDTLSHandshakeTotal = "sip_dtls_handshake_total";
inline constexpr std::string_view kMetricSTIRVerifyTotal = "sip_stir_verify_total";
inline constexpr std::string_view kMetricCallRTTMs = "sip_call_rtt_ms";
inline constexpr std::string_view kMetricCallJitterMs = "sip_call_jitter_ms";
inline constexpr std::string_view kMetricCallLossFraction = "sip_call_loss_fraction";
inline constexpr std::string_view kMetricCallMOSEstimate = "sip_call_mos_estimate";
inline constexpr std::string_view kMetricVoiceAttachTotal = "sip_voice_attach_total";
inline constexpr std::string_view kMetricVoiceAttachModeFallbackTotal =
    "sip_voice_attach_mode_fallback_total";
inline constexpr std::string_view kMetricVoiceAttachNativeTotal = "sip_voice_attach_native_total";

/// Served by sipmetricsd itself (ring drops over all writers; whitelist violations).
inline constexpr std::string_view kMetricObserveDroppedTotal =
    "voiceserver_metrics_observe_dropped_total";
inline constexpr std::string_view kMetricUnknownLabelTotal =
    "voiceserver_metrics_unknown_label_total";

// ---- Label values (the seed's constants) --------------------------------------------------------
inline constexpr std::string_view kDirectionInbound = "inbound";
inline constexpr std::string_view kDirectionOutbound = "outbound";

inline constexpr std::string_view kByeByLocal = "local";
inline constexpr std::string_view kByeByRemote = "remote";
// BYE reason classes: a 200 OK BYE with no special cause, the RFC 4028 session timer, a
// pipeline failure and the like, an explicit hangup intent.
inline constexpr std::string_view kByeReasonNormal = "normal";
inline constexpr std::string_view kByeReasonTimerExpired = "timer-expired";
inline constexpr std::string_view kByeReasonError = "error";
inline constexpr std::string_view kByeReasonUserHangup = "user-hangup";

inline constexpr std::string_view kRefreshResultOK = "ok";            // peer accepted with 200
inline constexpr std::string_view kRefresh422Bumped = "422-bumped";   // 422, retried with Min-SE
inline constexpr std::string_view kRefresh422GaveUp = "422-gave-up";  // second 422, stopped
inline constexpr std::string_view kRefresh481DialogGone = "481";      // dialog disappeared
// The peer took the refresher role.
inline constexpr std::string_view kRefreshRoleSwappedToUAS = "role-swap";

inline constexpr std::string_view kDTLSResultOK = "ok";
inline constexpr std::string_view kDTLSResultFail = "fail";
inline constexpr std::string_view kDTLSResultTimeout = "timeout";
inline constexpr std::string_view kDTLSResultFingerprintMismatch = "fingerprint-mismatch";

inline constexpr std::string_view kSTIRResultVerified = "verified";
inline constexpr std::string_view kSTIRResultFailed = "failed";
// The verifier rejected the identity and the call went on.
inline constexpr std::string_view kSTIRResultSoftFail = "soft-fail";
inline constexpr std::string_view kSTIRResultNoIdent = "no-identity";

inline constexpr std::string_view kVoiceAttachModeCascaded = "cascaded";
inline constexpr std::string_view kVoiceAttachModeRealtime = "realtime";
inline constexpr std::string_view kVoiceAttachResultOK = "ok";
inline constexpr std::string_view kVoiceAttachResultConfigError = "config_error";

/// The seed's LabelsTransportSIP / LabelsTransportWebRTC; usable wherever Labels are taken.
inline constexpr std::array<Label, 1> kLabelsTransportSIP{{{"transport", "sip"}}};
inline constexpr std::array<Label, 1> kLabelsTransportWebRTC{{{"transport", "webrtc"}}};

// ---- Enums: the closed vocabularies helpers take ------------------------------------------------
enum class Direction : std::uint8_t { inbound, outbound };
/// Who sent the BYE.
enum class ByeBy : std::uint8_t { local, remote };
enum class ByeReason : std::uint8_t { normal, timer_expired, error, user_hangup };
/// RFC 4028 refresher events: "ok", "422-bumped", "422-gave-up", "481", "role-swap".
enum class RefreshResult : std::uint8_t { ok, bumped_422, gave_up_422, dialog_gone_481, role_swap };
enum class DtlsResult : std::uint8_t { ok, fail, timeout, fingerprint_mismatch };
enum class StirResult : std::uint8_t { verified, failed, soft_fail, no_identity };
/// The resolved engine mode of a voice attach (mirrors engine.Mode's strings).
enum class VoiceAttachMode : std::uint8_t { cascaded, realtime };
enum class VoiceAttachResult : std::uint8_t { ok, config_error };
/// Modes a voice-attach mode fallback goes from and to (today only pipeline -> realtime).
enum class VoiceMode : std::uint8_t { pipeline, realtime };
enum class Transport : std::uint8_t { sip, webrtc };
/// How a call ended; the same vocabulary as call_events.kind.
enum class CallStatus : std::uint8_t { ok, dialog_hangup, ice_failed, pipeline_error };
enum class DialogOutcome : std::uint8_t { ok, fail };
/// SIP response classes (RFC 3261 §7.2), and `other` for a code outside 100..699.
enum class CodeClass : std::uint8_t {
  provisional,      // 1xx
  successful,       // 2xx
  redirection,      // 3xx
  request_failure,  // 4xx
  server_failure,   // 5xx
  global_failure,   // 6xx
  other,            // not a SIP status code
};
/// SIP methods counted by name: RFC 3261's six, PRACK (RFC 3262), SUBSCRIBE/NOTIFY (RFC 6665),
/// UPDATE (RFC 3311), MESSAGE (RFC 3428), REFER (RFC 3515), PUBLISH (RFC 3903), INFO (RFC 6086).
enum class Method : std::uint8_t {
  INVITE,
  ACK,
  BYE,
  CANCEL,
  REGISTER,
  OPTIONS,
  PRACK,
  SUBSCRIBE,
  NOTIFY,
  UPDATE,
  MESSAGE,
  REFER,
  PUBLISH,
  INFO,
  other,
};

// ---- Label values, indexed by enumerator --------------------------------------------------------
inline constexpr std::array<std::string_view, 2> kDirections{kDirectionInbound, kDirectionOutbound};
inline constexpr std::array<std::string_view, 2> kByeInitiators{kByeByLocal, kByeByRemote};
inline constexpr std::array<std::string_view, 4> kByeReasons{
    kByeReasonNormal, kByeReasonTimerExpired, kByeReasonError, kByeReasonUserHangup};
inline constexpr std::array<std::string_view, 5> kRefreshResults{
    kRefreshResultOK, kRefresh422Bumped, kRefresh422GaveUp, kRefresh481DialogGone,
    kRefreshRoleSwappedToUAS};
inline constexpr std::array<std::string_view, 4> kDtlsResults{
    kDTLSResultOK, kDTLSResultFail, kDTLSResultTimeout, kDTLSResultFingerprintMismatch};
inline constexpr std::array<std::string_view, 4> kStirResults{
    kSTIRResultVerified, kSTIRResultFailed, kSTIRResultSoftFail, kSTIRResultNoIdent};
inline constexpr std::array<std::string_view, 2> kVoiceAttachModes{kVoiceAttachModeCascaded,
                                                                   kVoiceAttachModeRealtime};
inline constexpr std::array<std::string_view, 2> kVoiceAttachResults{kVoiceAttachResultOK,
                                                                     kVoiceAttachResultConfigError};
inline constexpr std::array<std::string_view, 2> kVoiceAttachNativeResults{"ok", "err"};
inline constexpr std::array<std::string_view, 1> kFallbackFrom{"pipeline"};
inline constexpr std::array<std::string_view, 1> kFallbackTo{"realtime"};
inline constexpr std::array<std::string_view, 2> kTransports{"sip", "webrtc"};
inline constexpr std::array<std::string_view, 4> kCallStatuses{"ok", "dialog-hangup", "ice-failed",
                                                               "pipeline-error"};
inline constexpr std::array<std::string_view, 2> kDialogOutcomes{"ok", "fail"};
inline constexpr std::array<std::string_view, 7> kCodeClasses{"1xx", "2xx", "3xx",  "4xx",
                                                              "5xx", "6xx", "other"};
inline constexpr std::array<std::string_view, 15> kMethods{
    "INVITE", "ACK",    "BYE",     "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
    "NOTIFY", "UPDATE", "MESSAGE", "REFER",  "PUBLISH",  "INFO",    "other"};

// ---- The families -------------------------------------------------------------------------------
/// One label key and every value it may take.
struct LabelDomain {
  std::string_view key;
  std::span<const std::string_view> values;
};

/// One metric family the helpers write: the single source of truth for docs/metrics.md and for
/// the whitelists and series registered on a Client's first use.
struct FamilyInfo {
  std::string_view name;
  layout::MetricType type;
  std::string_view help;
  std::string_view seed_functions;  // the seed's helpers that write it
  std::string_view cpp_functions;   // this header's
  std::span<const LabelDomain> labels;

  /// Series bound: the product of the label domains' sizes.
  constexpr std::size_t series() const noexcept {
    std::size_t n = 1;
    for (const LabelDomain& d : labels) n *= d.values.size();
    return n;
  }
};

namespace detail {

inline constexpr std::array<LabelDomain, 2> kInviteLabels{
    {{"direction", kDirections}, {"code_class", kCodeClasses}}};
inline constexpr std::array<LabelDomain, 3> kByeLabels{
    {{"direction", kDirections}, {"by", kByeInitiators}, {"reason_class", kByeReasons}}};
inline constexpr std::array<LabelDomain, 1> kMethodLabels{{{"method", kMethods}}};
inline constexpr std::array<LabelDomain, 1> kRefreshLabels{{{"result", kRefreshResults}}};
inline constexpr std::array<LabelDomain, 1> kDtlsLabels{{{"result", kDtlsResults}}};
inline constexpr std::array<LabelDomain, 1> kStirLabels{{{"result", kStirResults}}};
inline constexpr std::array<LabelDomain, 2> kVoiceAttachLabels{
    {{"mode", kVoiceAttachModes}, {"result", kVoiceAttachResults}}};
inline constexpr std::array<LabelDomain, 2> kFallbackLabels{
    {{"from", kFallbackFrom}, {"to", kFallbackTo}}};
inline constexpr std::array<LabelDomain, 1> kNativeLabels{{{"result", kVoiceAttachNativeResults}}};
inline constexpr std::array<LabelDomain, 1> kTransportLabels{{{"transport", kTransports}}};
inline constexpr std::array<LabelDomain, 2> kCallLabels{
    {{"transport", kTransports}, {"status", kCallStatuses}}};
inline constexpr std::array<LabelDomain, 2> kDialogLabels{
    {{"transport", kTransports}, {"outcome", kDialogOutcomes}}};

/// Indexes into kFamilies, in the order of Handles' members.
enum FamilyId : std::size_t {
  kInviteResultId,
  kByeId,
  kTransactionTimeoutId,
  kSessionTimerRefreshId,
  kDtlsHandshakeId,
  kStirVerifyId,
  kCallRttId,
  kCallJitterId,
  kCallLossId,
  kCallMosId,
  kVoiceAttachId,
  kVoiceAttachFallbackId,
  kVoiceAttachNativeId,
  kActiveCallsId,
  kCallsTotalId,
  kAsrErrorsId,
  kTtsErrorsId,
  kBargeInId,
  kDialogReconnectId,
  kE2EFirstByteId,
  kLlmFirstByteId,
  kTtsFirstByteId,
  kFamilyCount
};

}  // namespace detail

inline constexpr std::array<FamilyInfo, detail::kFamilyCount> kFamilies{{
    {kMetricInviteResultTotal, layout::MetricType::kCounter,
     "INVITE responses by direction and response class.", "InviteResult", "invite_result",
     detail::kInviteLabels},
    {kMetricByeTotal, layout::MetricType::kCounter,
     "BYE events by direction, initiator and reason class.", "BYE, Bye", "bye", detail::kByeLabels},
    {kMetricTransactionTimeoutTotal, layout::MetricType::kCounter,
     "Transaction timeouts (timer B/F fired, RFC 3261) by method.", "TransactionTimeout",
     "transaction_timeout", detail::kMethodLabels},
    {kMetricSessionTimerRefreshTotal, layout::MetricType::kCounter,
     "RFC 4028 session-timer refresher events by result.", "SessionTimerRefresh",
     "session_timer_refresh", detail::kRefreshLabels},
    {kMetricDTLSHandshakeTotal, layout::MetricType::kCounter, "DTLS-SRTP handshake outcomes.",
     "DTLSHandshake", "dtls_handshake", detail::kDtlsLabels},
    {kMetricSTIRVerifyTotal, layout::MetricType::kCounter, "RFC 8224 STIR verification outcomes.",
     "STIRVerify", "stir_verify", detail::kStirLabels},
    {kMetricCallRTTMs,
     layout::MetricType::kSummary,
     "Per-call RTCP round-trip time, ms.",
     "ObserveCallQoS",
     "observe_call_qos",
     {}},
    {kMetricCallJitterMs,
     layout::MetricType::kSummary,
     "Per-call RTCP jitter, ms.",
     "ObserveCallQoS",
     "observe_call_qos",
     {}},
    {kMetricCallLossFraction,
     layout::MetricType::kSummary,
     "Per-call RTCP packet loss fraction.",
     "ObserveCallQoS",
     "observe_call_qos",
     {}},
    {kMetricCallMOSEstimate,
     layout::MetricType::kSummary,
     "Per-call estimated MOS.",
     "ObserveCallQoS",
     "observe_call_qos",
     {}},
    {kMetricVoiceAttachTotal, layout::MetricType::kCounter,
     "Voice-attach attempts at the OnACK seam by resolved mode and outcome.", "VoiceAttach",
     "voice_attach", detail::kVoiceAttachLabels},
    {kMetricVoiceAttachModeFallbackTotal, layout::MetricType::kCounter,
     "Implicit voice-attach mode fallbacks.", "VoiceAttachModeFallback",
     "voice_attach_mode_fallback", detail::kFallbackLabels},
    {kMetricVoiceAttachNativeTotal, layout::MetricType::kCounter,
     "Cascaded calls routed through the native engine, by outcome.", "VoiceAttachNative",
     "voice_attach_native", detail::kNativeLabels},
    {kMetricActiveCalls, layout::MetricType::kGauge, "Calls live right now, by transport.",
     "CallStarted, CallEnded", "call_started, call_ended", detail::kTransportLabels},
    {kMetricCallsTotal, layout::MetricType::kCounter, "Calls ended, by transport and status.",
     "CallEnded, LabelsCall", "call_ended, labels_call", detail::kCallLabels},
    {kMetricASRErrors, layout::MetricType::kCounter, "Speech recognizer errors, by transport.",
     "ASRError", "asr_error", detail::kTransportLabels},
    {kMetricTTSErrors, layout::MetricType::kCounter,
     "Speech synthesis errors (or Speak interrupted before any audio), by transport.", "TTSError",
     "tts_error", detail::kTransportLabels},
    {kMetricBargeInTotal, layout::MetricType::kCounter,
     "User speech interrupting the AI's TTS, by transport.", "BargeIn", "barge_in",
     detail::kTransportLabels},
    {kMetricDialogReconnectTotal, layout::MetricType::kCounter,
     "Dialog-plane reconnect attempts, by transport and outcome.",
     "DialogReconnect, LabelsDialogOutcome", "dialog_reconnect, labels_dialog_outcome",
     detail::kDialogLabels},
    {kMetricE2EFirstByteMs,
     layout::MetricType::kSummary,
     "ASR final to first audible AI byte, ms.",
     "ObserveE2EFirstByte",
     "observe_e2e_first_byte",
     {}},
    {kMetricLLMFirstByteMs,
     layout::MetricType::kSummary,
     "Time to first LLM token, ms.",
     "ObserveLLMFirstByte",
     "observe_llm_first_byte",
     {}},
    {kMetricTTSFirstByteMs,
     layout::MetricType::kSummary,
     "Speak to first PCM frame, ms.",
     "ObserveTTSFirstByte",
     "observe_tts_first_byte",
     {}},
}};

// ---- Classification (pure, usable on its own) ---------------------------------------------------
/// The response class of a SIP status code: 100..699 -> its hundreds class, anything else ->
/// CodeClass::other.
constexpr CodeClass classify_code(int code) noexcept {
  return code >= 100 && code <= 699 ? static_cast<CodeClass>(code / 100 - 1) : CodeClass::other;
}

/// The counted method for a method name. Method names are case-sensitive (RFC 3261 §7.1): only
/// the exact upper-case token of a listed method matches; anything else is Method::other.
constexpr Method classify_method(std::string_view m) noexcept {
  // Dispatch on the length first: at most four fixed-length compares, whatever the input.
  using enum Method;
  switch (m.size()) {
    case 3: return m == "ACK" ? ACK : m == "BYE" ? BYE : other;
    case 4: return m == "INFO" ? INFO : other;
    case 5: return m == "PRACK" ? PRACK : m == "REFER" ? REFER : other;
    case 6:
      return m == "INVITE"   ? INVITE
             : m == "CANCEL" ? CANCEL
             : m == "NOTIFY" ? NOTIFY
             : m == "UPDATE" ? UPDATE
                             : other;
    case 7:
      return m == "OPTIONS" ? OPTIONS : m == "MESSAGE" ? MESSAGE : m == "PUBLISH" ? PUBLISH : other;
    case 8: return m == "REGISTER" ? REGISTER : other;
    case 9: return m == "SUBSCRIBE" ? SUBSCRIBE : other;
    default: return other;
  }
}
static_assert(
    [] {
      for (std::size_t i = 0; i < kMethods.size(); ++i)
        if (classify_method(kMethods[i]) != static_cast<Method>(i)) return false;
      return true;
    }(),
    "classify_method must map every name of kMethods to its own enumerator");

// ---- Label sets (the seed's LabelsCall / LabelsDialogOutcome) -----------------------------------
namespace detail {

template <std::size_t A, std::size_t B>
constexpr std::array<std::array<Label, 2>, A * B> label_pairs(
    std::string_view ka, const std::array<std::string_view, A>& va, std::string_view kb,
    const std::array<std::string_view, B>& vb) noexcept {
  std::array<std::array<Label, 2>, A * B> out{};
  for (std::size_t i = 0; i < A; ++i)
    for (std::size_t j = 0; j < B; ++j) out[i * B + j] = {{{ka, va[i]}, {kb, vb[j]}}};
  return out;
}

inline constexpr auto kCallLabelSets =
    label_pairs("transport", kTransports, "status", kCallStatuses);
inline constexpr auto kDialogLabelSets =
    label_pairs("transport", kTransports, "outcome", kDialogOutcomes);

template <typename E, std::size_t N>
constexpr bool in_range(E e, const std::array<std::string_view, N>&) noexcept {
  return static_cast<std::size_t>(e) < N;
}
template <typename E>
constexpr std::size_t at(E e) noexcept {
  return static_cast<std::size_t>(e);
}

}  // namespace detail

/// The (transport, status) label set of voiceserver_calls_total. Points into static storage: the
/// same combination always yields the same pointers, nothing is allocated. An out-of-range
/// enumerator yields an empty set.
constexpr Labels labels_call(Transport transport, CallStatus status) noexcept {
  if (!detail::in_range(transport, kTransports) || !detail::in_range(status, kCallStatuses))
    return {};
  return detail::kCallLabelSets[detail::at(transport) * kCallStatuses.size() + detail::at(status)];
}

/// The (transport, outcome) label set of voiceserver_dialog_reconnect_total; as labels_call().
constexpr Labels labels_dialog_outcome(Transport transport, DialogOutcome outcome) noexcept {
  if (!detail::in_range(transport, kTransports) || !detail::in_range(outcome, kDialogOutcomes))
    return {};
  return detail::kDialogLabelSets[detail::at(transport) * kDialogOutcomes.size() +
                                  detail::at(outcome)];
}

}  // namespace sipmetrics::sip
