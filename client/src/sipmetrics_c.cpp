// The C API (<sipmetrics/sipmetrics.h>) on the C++ client: every function forwards to
// client.hpp or sip.hpp. What lives here is only the translation: C strings and label arrays to
// string_views, C handles to C++ handles, C enums to C++ enums, C++ results to statuses.
//
// Handles. A C handle carries the bits of the C++ handle (SeriesRef, plus the mode for a gauge)
// by value: no per-process storage, nothing to look up or free, two registers per call. The
// attachment id is stored XORed with kNoopAttachment so that an all-zero C handle decodes to
// the C++ no-op handle. A C handle is only ever made from a C++ handle returned by the client,
// and turned back into one with std::bit_cast; the mirror structs below are pinned to the C++
// handles' layout at compile time (a constexpr bit_cast of a default handle, whose attachment is
// the only non-zero field, fails to compile or to assert if the layout ever differs).
//
// The histogram handle is the exception: the C++ Histogram (a SeriesRef, where its bounds are,
// and whatever later versions add) is copied whole into the C handle's opaque words behind a tag
// word, so its layout is the C++ header's business alone; a static_assert checks that it fits.
// The tag tells a handle made here from a zero-initialised (or garbage) one, which decodes to
// the C++ no-op handle. It is passed by pointer: 64 bytes by value would be copied through the
// stack on every call (on x86-64 and AArch64 alike).
//
// Exceptions. Every client function is noexcept; the only throwing code here is the std::string
// and allocation work of sipmetrics_client_open, caught there. Every extern "C" function is
// noexcept, so nothing can unwind into C.
//
// TLS. This file is compiled with -ftls-model=initial-exec (cmake/c_api.cmake; docs/c-api.md has
// the figures): the client's inline thread_local lane arrays are read on every update, and the
// general-dynamic model a shared library gets by default costs a __tls_get_addr call each time.
//
// Inline updates. The header's inline counter and gauge updates read the thread's exclusive lane
// cells from sipmetrics_thread_cells_, which is the client's detail::tls_exclusive under its
// exported C name (SIPMETRICS_C_LIBRARY, lane.hpp): one array, written by the client's lane
// binding, read by both. This file sees the header's out-of-line declarations only.
#include <sipmetrics/sipmetrics.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include <sipmetrics/client.hpp>
#include <sipmetrics/segment/buckets.hpp>
#include <sipmetrics/sip.hpp>

// The thread's exclusive lane cells per attachment (detail::tls_exclusive), exported.
[[gnu::visibility("default")]] constinit thread_local std::atomic<std::uint64_t>*
    sipmetrics::detail::tls_exclusive[sipmetrics::detail::kExclusiveSlots] = {};
static_assert(SIPMETRICS_NOOP_ATTACHMENT_ == sipmetrics::detail::kNoopAttachment,
              "the header's no-op attachment id is the client's");
static_assert(SIPMETRICS_THREAD_CELL_SLOTS_ == sipmetrics::detail::kExclusiveSlots,
              "the header's view of the thread's cell array is the client's");
static_assert(
    sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t) &&
        std::atomic<std::uint64_t>::is_always_lock_free,
    "the header's inline updates read the cells as plain uint64_t with __atomic builtins");

namespace {

namespace sip = sipmetrics::sip;
using sipmetrics::Client;
using sipmetrics::Counter;
using sipmetrics::Gauge;
using sipmetrics::GaugeMode;
using sipmetrics::Histogram;
using sipmetrics::Summary;
using sipmetrics::detail::kNoopAttachment;

// ---- Handles ------------------------------------------------------------------------------------
struct RefBits {
  std::uint32_t cell, series, attachment;
};
struct GaugeBits {
  RefBits ref;
  GaugeMode mode;
};

template <typename Handle, typename Bits>
constexpr bool mirrors() {
  if constexpr (sizeof(Handle) != sizeof(Bits) || !std::is_trivially_copyable_v<Handle>) {
    return false;
  } else {
    const Bits b = std::bit_cast<Bits>(Handle{});
    if constexpr (std::is_same_v<Bits, RefBits>)
      return b.cell == 0 && b.series == 0 && b.attachment == kNoopAttachment;
    else
      return b.ref.cell == 0 && b.ref.series == 0 && b.ref.attachment == kNoopAttachment &&
             b.mode == GaugeMode::kSum;
  }
}
static_assert(mirrors<Counter, RefBits>() && std::has_unique_object_representations_v<Counter>,
              "Counter must be exactly a SeriesRef {cell, series, attachment}");
static_assert(mirrors<Summary, RefBits>() && std::has_unique_object_representations_v<Summary>,
              "Summary must be exactly a SeriesRef {cell, series, attachment}");
static_assert(mirrors<Gauge, GaugeBits>(), "Gauge must be a SeriesRef followed by its GaugeMode");
static_assert(sizeof(sipmetrics_counter) == sizeof(RefBits) &&
                  sizeof(sipmetrics_summary) == sizeof(RefBits) &&
                  sizeof(sipmetrics_gauge) == sizeof(RefBits) + sizeof(std::uint32_t),
              "C handles hold the C++ handle's fields and no more (two registers by value)");

// An attachment id beyond the no-op one (a handle never made by this library) becomes the
// no-op id: the hot path indexes the thread's lane arrays with it, and they end there. (The
// header's inline updates read only word 2's low four bits; see there.)
// The C handle is copied whole into the mirror rather than read as an array: indexing
// `opaque_` makes GCC 12 spill the by-value argument to the stack (two dead stores per call).
template <typename CHandle>
[[gnu::always_inline]] inline RefBits decode(const CHandle& h) noexcept {
  RefBits b;
  std::memcpy(&b, &h, sizeof b);
  b.attachment ^= kNoopAttachment;
  if (b.attachment > kNoopAttachment) b.attachment = kNoopAttachment;
  return b;
}
template <typename CHandle>
void encode(const RefBits& b, CHandle& out) noexcept {
  out.opaque_[0] = b.cell;
  out.opaque_[1] = b.series;
  out.opaque_[2] = b.attachment ^ kNoopAttachment;
}

[[gnu::always_inline]] inline Counter to_cpp(sipmetrics_counter h) noexcept {
  return std::bit_cast<Counter>(decode(h));
}
[[gnu::always_inline]] inline Summary to_cpp(sipmetrics_summary h) noexcept {
  return std::bit_cast<Summary>(decode(h));
}
[[gnu::always_inline]] inline GaugeMode mode_of(sipmetrics_gauge h) noexcept {
  return static_cast<GaugeMode>(h.opaque_[3] & 3u);
}
[[gnu::always_inline]] inline Gauge to_cpp(sipmetrics_gauge h, GaugeMode mode) noexcept {
  GaugeBits g{};
  g.ref = decode(h);
  g.mode = mode;
  return std::bit_cast<Gauge>(g);
}
[[gnu::always_inline]] inline Gauge to_cpp(sipmetrics_gauge h) noexcept {
  return to_cpp(h, mode_of(h));
}
// Gauge::add for the other modes stamps the cell (a clock read): out of line, so that the
// sum-mode path below needs no stack frame.
[[gnu::noinline]] void gauge_add_stamped(sipmetrics_gauge h, double d) noexcept {
  to_cpp(h).add(d);
}
sipmetrics_counter to_c(Counter c) noexcept {
  sipmetrics_counter out{};
  encode(std::bit_cast<RefBits>(c), out);
  return out;
}
sipmetrics_summary to_c(Summary s) noexcept {
  sipmetrics_summary out{};
  encode(std::bit_cast<RefBits>(s), out);
  return out;
}
sipmetrics_gauge to_c(Gauge g) noexcept {
  // Gauge's padding lands in GaugeBits' padding (mirrors<> above), never in `out`.
  const GaugeBits bits = std::bit_cast<GaugeBits>(g);
  sipmetrics_gauge out{};
  encode(bits.ref, out);
  out.opaque_[3] = static_cast<std::uint32_t>(bits.mode);
  return out;
}

// The C++ Histogram lives in words 1.. of the C handle; word 0 holds kHistogramTag when it was
// made by to_c() below ("sipmhist"), anything else (zero, garbage) reads as the no-op handle.
constexpr std::uint64_t kHistogramTag = 0x747369686d706973ULL;
constexpr std::size_t kHistogramRoom = sizeof(sipmetrics_histogram) - sizeof(std::uint64_t);
static_assert(std::is_trivially_copyable_v<Histogram>,
              "the C histogram handle is a byte copy of the C++ Histogram");
static_assert(sizeof(Histogram) <= kHistogramRoom,
              "the C++ Histogram outgrew sipmetrics_histogram (56 bytes after the tag word)");
static_assert(alignof(Histogram) <= alignof(std::uint64_t) &&
                  alignof(sipmetrics_histogram) == alignof(std::uint64_t),
              "the C++ Histogram must fit the C handle's word alignment");

sipmetrics_histogram to_c(const Histogram& h) noexcept {
  sipmetrics_histogram out{};  // the bytes past the C++ handle stay zero
  out.opaque_[0] = kHistogramTag;
  std::memcpy(&out.opaque_[1], &h, sizeof h);
  return out;
}
// True with the C++ handle in `out` for a handle made by to_c(); false (out untouched) for NULL,
// a zero-initialised or a garbage handle.
[[gnu::always_inline]] inline bool to_cpp(const sipmetrics_histogram* h, Histogram& out) noexcept {
  if (h == nullptr || h->opaque_[0] != kHistogramTag) return false;
  // Trivially copyable (asserted above), though not trivially default-constructible: GCC's
  // -Wclass-memaccess wants the destination as void*.
  std::memcpy(static_cast<void*>(&out), &h->opaque_[1], sizeof out);
  return true;
}

// ---- Clients and arguments ----------------------------------------------------------------------
Client* cpp(sipmetrics_client* c) noexcept { return reinterpret_cast<Client*>(c); }
const Client* cpp(const sipmetrics_client* c) noexcept {
  return reinterpret_cast<const Client*>(c);
}
sipmetrics_client* to_c(Client* c) noexcept { return reinterpret_cast<sipmetrics_client*>(c); }

std::string_view sv(const char* s) noexcept {
  return s != nullptr ? std::string_view(s) : std::string_view();
}

/// C labels as the C++ client's Labels; false for a NULL array with a count, a NULL string or
/// too many labels.
struct LabelArgs {
  std::array<sipmetrics::Label, sipmetrics::layout::kMaxLabels> items{};
  std::size_t size = 0;
  bool convert(const sipmetrics_label* labels, std::size_t n) noexcept {
    if (n > items.size() || (labels == nullptr && n != 0)) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (labels[i].key == nullptr || labels[i].value == nullptr) return false;
      items[i] = sipmetrics::Label{labels[i].key, labels[i].value};
    }
    size = n;
    return true;
  }
  sipmetrics::Labels view() const noexcept {
    return std::span<const sipmetrics::Label>(items.data(), size);
  }
};
static_assert(SIPMETRICS_MAX_LABELS == sipmetrics::layout::kMaxLabels);
static_assert(SIPMETRICS_MAX_HISTOGRAM_BOUNDS == sipmetrics::layout::kMaxHistogramBounds);
static_assert(SIPMETRICS_MAX_NATIVE_BUCKETS == sipmetrics::layout::kMaxNativeBuckets);
static_assert(SIPMETRICS_SIP_LATENCY_NATIVE_SCHEMA == sipmetrics::kSipLatencyNativeMs.schema &&
              SIPMETRICS_SIP_LATENCY_NATIVE_LOWEST_MS == sipmetrics::kSipLatencyNativeMs.lowest &&
              SIPMETRICS_SIP_LATENCY_NATIVE_HIGHEST_MS == sipmetrics::kSipLatencyNativeMs.highest);

sipmetrics_status outcome(const Client& c, bool valid) noexcept {
  if (valid) return SIPMETRICS_OK;
  return c.attached() ? SIPMETRICS_REFUSED : SIPMETRICS_DETACHED;
}

template <typename Handle>
sipmetrics_status resolve(sipmetrics_client* client, const char* name, const char* help,
                          const sipmetrics_label* labels, std::size_t n, Handle& out,
                          GaugeMode mode = GaugeMode::kSum, std::uint32_t window = 0) noexcept {
  LabelArgs args;
  if (client == nullptr || name == nullptr || !args.convert(labels, n))
    return SIPMETRICS_INVALID_ARGUMENT;
  Client& c = *cpp(client);
  if constexpr (std::is_same_v<Handle, Counter>)
    out = c.counter(name, sv(help), args.view());
  else if constexpr (std::is_same_v<Handle, Gauge>)
    out = c.gauge(name, sv(help), args.view(), mode);
  else
    out = c.summary(name, sv(help), args.view(), window);
  return outcome(c, out.valid());
}

// ---- SIP enums
// ------------------------------------------------------------------------------------- A C enum
// parameter may hold any int; the C++ enums are uint8_t-based, where a plain cast would wrap 256
// onto 0. Values outside 0..255 become 255, outside every C++ enum, so sip.hpp applies its own
// out-of-range rule (dropped, or method "other") exactly as it does for C++ callers.
template <typename E>
E to_enum(int v) noexcept {
  static_assert(std::is_same_v<std::underlying_type_t<E>, std::uint8_t>);
  return static_cast<E>(v >= 0 && v <= 255 ? v : 255);
}

#define SIPMETRICS_SAME(c_value, cpp_value)                               \
  static_assert(static_cast<int>(c_value) == static_cast<int>(cpp_value), \
                #c_value " must equal " #cpp_value)
SIPMETRICS_SAME(SIPMETRICS_GAUGE_SUM, GaugeMode::kSum);
SIPMETRICS_SAME(SIPMETRICS_GAUGE_MAX, GaugeMode::kMax);
SIPMETRICS_SAME(SIPMETRICS_GAUGE_MIN, GaugeMode::kMin);
SIPMETRICS_SAME(SIPMETRICS_GAUGE_LAST, GaugeMode::kLast);
SIPMETRICS_SAME(SIPMETRICS_SIP_DIRECTION_INBOUND, sip::Direction::inbound);
SIPMETRICS_SAME(SIPMETRICS_SIP_DIRECTION_OUTBOUND, sip::Direction::outbound);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_BY_LOCAL, sip::ByeBy::local);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_BY_REMOTE, sip::ByeBy::remote);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_REASON_NORMAL, sip::ByeReason::normal);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_REASON_TIMER_EXPIRED, sip::ByeReason::timer_expired);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_REASON_ERROR, sip::ByeReason::error);
SIPMETRICS_SAME(SIPMETRICS_SIP_BYE_REASON_USER_HANGUP, sip::ByeReason::user_hangup);
SIPMETRICS_SAME(SIPMETRICS_SIP_REFRESH_OK, sip::RefreshResult::ok);
SIPMETRICS_SAME(SIPMETRICS_SIP_REFRESH_BUMPED_422, sip::RefreshResult::bumped_422);
SIPMETRICS_SAME(SIPMETRICS_SIP_REFRESH_GAVE_UP_422, sip::RefreshResult::gave_up_422);
SIPMETRICS_SAME(SIPMETRICS_SIP_REFRESH_DIALOG_GONE_481, sip::RefreshResult::dialog_gone_481);
SIPMETRICS_SAME(SIPMETRICS_SIP_REFRESH_ROLE_SWAP, sip::RefreshResult::role_swap);
SIPMETRICS_SAME(SIPMETRICS_SIP_DTLS_OK, sip::DtlsResult::ok);
SIPMETRICS_SAME(SIPMETRICS_SIP_DTLS_FAIL, sip::DtlsResult::fail);
SIPMETRICS_SAME(SIPMETRICS_SIP_DTLS_TIMEOUT, sip::DtlsResult::timeout);
SIPMETRICS_SAME(SIPMETRICS_SIP_DTLS_FINGERPRINT_MISMATCH, sip::DtlsResult::fingerprint_mismatch);
SIPMETRICS_SAME(SIPMETRICS_SIP_STIR_VERIFIED, sip::StirResult::verified);
SIPMETRICS_SAME(SIPMETRICS_SIP_STIR_FAILED, sip::StirResult::failed);
SIPMETRICS_SAME(SIPMETRICS_SIP_STIR_SOFT_FAIL, sip::StirResult::soft_fail);
SIPMETRICS_SAME(SIPMETRICS_SIP_STIR_NO_IDENTITY, sip::StirResult::no_identity);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_ATTACH_CASCADED, sip::VoiceAttachMode::cascaded);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_ATTACH_REALTIME, sip::VoiceAttachMode::realtime);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_ATTACH_OK, sip::VoiceAttachResult::ok);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_ATTACH_CONFIG_ERROR, sip::VoiceAttachResult::config_error);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_MODE_PIPELINE, sip::VoiceMode::pipeline);
SIPMETRICS_SAME(SIPMETRICS_SIP_VOICE_MODE_REALTIME, sip::VoiceMode::realtime);
SIPMETRICS_SAME(SIPMETRICS_SIP_TRANSPORT_SIP, sip::Transport::sip);
SIPMETRICS_SAME(SIPMETRICS_SIP_TRANSPORT_WEBRTC, sip::Transport::webrtc);
SIPMETRICS_SAME(SIPMETRICS_SIP_CALL_OK, sip::CallStatus::ok);
SIPMETRICS_SAME(SIPMETRICS_SIP_CALL_DIALOG_HANGUP, sip::CallStatus::dialog_hangup);
SIPMETRICS_SAME(SIPMETRICS_SIP_CALL_ICE_FAILED, sip::CallStatus::ice_failed);
SIPMETRICS_SAME(SIPMETRICS_SIP_CALL_PIPELINE_ERROR, sip::CallStatus::pipeline_error);
SIPMETRICS_SAME(SIPMETRICS_SIP_DIALOG_OK, sip::DialogOutcome::ok);
SIPMETRICS_SAME(SIPMETRICS_SIP_DIALOG_FAIL, sip::DialogOutcome::fail);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_1XX, sip::CodeClass::provisional);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_2XX, sip::CodeClass::successful);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_3XX, sip::CodeClass::redirection);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_4XX, sip::CodeClass::request_failure);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_5XX, sip::CodeClass::server_failure);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_6XX, sip::CodeClass::global_failure);
SIPMETRICS_SAME(SIPMETRICS_SIP_CODE_OTHER, sip::CodeClass::other);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_INVITE, sip::Method::INVITE);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_ACK, sip::Method::ACK);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_BYE, sip::Method::BYE);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_CANCEL, sip::Method::CANCEL);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_REGISTER, sip::Method::REGISTER);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_OPTIONS, sip::Method::OPTIONS);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_PRACK, sip::Method::PRACK);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_SUBSCRIBE, sip::Method::SUBSCRIBE);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_NOTIFY, sip::Method::NOTIFY);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_UPDATE, sip::Method::UPDATE);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_MESSAGE, sip::Method::MESSAGE);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_REFER, sip::Method::REFER);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_PUBLISH, sip::Method::PUBLISH);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_INFO, sip::Method::INFO);
SIPMETRICS_SAME(SIPMETRICS_SIP_METHOD_OTHER, sip::Method::other);
#undef SIPMETRICS_SAME
// The last C enumerator closes each vocabulary: no C++ enumerator is missing from the C side.
static_assert(SIPMETRICS_SIP_DIRECTION_OUTBOUND + 1 == sip::kDirections.size());
static_assert(SIPMETRICS_SIP_BYE_BY_REMOTE + 1 == sip::kByeInitiators.size());
static_assert(SIPMETRICS_SIP_BYE_REASON_USER_HANGUP + 1 == sip::kByeReasons.size());
static_assert(SIPMETRICS_SIP_REFRESH_ROLE_SWAP + 1 == sip::kRefreshResults.size());
static_assert(SIPMETRICS_SIP_DTLS_FINGERPRINT_MISMATCH + 1 == sip::kDtlsResults.size());
static_assert(SIPMETRICS_SIP_STIR_NO_IDENTITY + 1 == sip::kStirResults.size());
static_assert(SIPMETRICS_SIP_VOICE_ATTACH_REALTIME + 1 == sip::kVoiceAttachModes.size());
static_assert(SIPMETRICS_SIP_VOICE_ATTACH_CONFIG_ERROR + 1 == sip::kVoiceAttachResults.size());
static_assert(SIPMETRICS_SIP_TRANSPORT_WEBRTC + 1 == sip::kTransports.size());
static_assert(SIPMETRICS_SIP_CALL_PIPELINE_ERROR + 1 == sip::kCallStatuses.size());
static_assert(SIPMETRICS_SIP_DIALOG_FAIL + 1 == sip::kDialogOutcomes.size());
static_assert(SIPMETRICS_SIP_CODE_OTHER + 1 == sip::kCodeClasses.size());
static_assert(SIPMETRICS_SIP_METHOD_OTHER + 1 == sip::kMethods.size());

// sipmetrics_sip_labels_*() hand out sip.hpp's label strings as C strings: each must be a
// NUL-terminated literal.
template <std::size_t N>
constexpr bool c_strings(const std::array<sipmetrics::Label, N>& labels) {
  // The byte just past each view must be its literal's terminator: data()[size()], which a
  // string_view's operator[] may not read.
  return std::ranges::all_of(labels, [](const sipmetrics::Label& l) {
    // NOLINTNEXTLINE(readability-simplify-subscript-expr)
    return l.key.data()[l.key.size()] == '\0' && l.value.data()[l.value.size()] == '\0';
  });
}
static_assert(std::ranges::all_of(sip::detail::kCallLabelSets,
                                  [](const auto& set) { return c_strings(set); }) &&
                  std::ranges::all_of(sip::detail::kDialogLabelSets,
                                      [](const auto& set) { return c_strings(set); }),
              "label sets must be NUL-terminated literals");

std::size_t labels_out(sipmetrics::Labels l, sipmetrics_label* out) noexcept {
  if (out == nullptr || l.size() != 2) return 0;
  std::size_t i = 0;
  for (const sipmetrics::Label& x : l) out[i++] = sipmetrics_label{x.key.data(), x.value.data()};
  return i;
}

}  // namespace

extern "C" {

// ---- Status, clients ----------------------------------------------------------------------------
SIPMETRICS_API const char* sipmetrics_status_string(sipmetrics_status status) noexcept {
  switch (status) {
    case SIPMETRICS_OK: return "ok";
    case SIPMETRICS_DETACHED: return "detached: the client cannot use its segment";
    case SIPMETRICS_REFUSED:
      return "refused by the segment (name, labels, capacity or type conflict)";
    case SIPMETRICS_INVALID_ARGUMENT: return "invalid argument";
    case SIPMETRICS_NO_MEMORY: return "out of memory";
  }
  return "unknown status";
}

SIPMETRICS_API const char* sipmetrics_version(void) noexcept { return SIPMETRICS_VERSION; }

SIPMETRICS_API sipmetrics_client* sipmetrics_global(void) noexcept {
  return to_c(&Client::global());
}

SIPMETRICS_API sipmetrics_status sipmetrics_client_open(const char* segment,
                                                        const char* writer_name,
                                                        sipmetrics_client** out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  *out = nullptr;
  Client* c = nullptr;
  try {
    c = new Client(sipmetrics::Options{std::string(sv(segment)), std::string(sv(writer_name)),
                                       sipmetrics::layout::kDefaultGeometry});
  } catch (...) {  // std::bad_alloc from the strings or the Client itself
    return SIPMETRICS_NO_MEMORY;
  }
  *out = to_c(c);
  return c->attached() ? SIPMETRICS_OK : SIPMETRICS_DETACHED;
}

SIPMETRICS_API void sipmetrics_client_close(sipmetrics_client* client) noexcept {
  if (client != nullptr && cpp(client) != &Client::global()) delete cpp(client);
}

SIPMETRICS_API int sipmetrics_client_attached(const sipmetrics_client* client) noexcept {
  return client != nullptr && cpp(client)->attached() ? 1 : 0;
}

// ---- Handles ------------------------------------------------------------------------------------
SIPMETRICS_API sipmetrics_status sipmetrics_counter_get(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels,
                                                        sipmetrics_counter* out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  Counter h;
  const sipmetrics_status s = resolve(client, name, help, labels, nlabels, h);
  *out = to_c(h);
  return s;
}

SIPMETRICS_API sipmetrics_status sipmetrics_gauge_get(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, sipmetrics_gauge_mode mode,
                                                      sipmetrics_gauge* out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  Gauge h;
  const bool mode_ok = mode >= SIPMETRICS_GAUGE_SUM && mode <= SIPMETRICS_GAUGE_LAST;
  const sipmetrics_status s =
      mode_ok ? resolve(client, name, help, labels, nlabels, h, static_cast<GaugeMode>(mode))
              : SIPMETRICS_INVALID_ARGUMENT;
  *out = to_c(h);
  return s;
}

SIPMETRICS_API sipmetrics_status sipmetrics_summary_get(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels, uint32_t window_samples,
                                                        sipmetrics_summary* out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  Summary h;
  const sipmetrics_status s =
      resolve(client, name, help, labels, nlabels, h, GaugeMode::kSum, window_samples);
  *out = to_c(h);
  return s;
}

SIPMETRICS_API sipmetrics_status sipmetrics_histogram_get(
    sipmetrics_client* client, const char* name, const char* help, const sipmetrics_label* labels,
    size_t nlabels, const double* bounds, size_t nbounds, sipmetrics_histogram* out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  Histogram h;
  sipmetrics_status s = SIPMETRICS_INVALID_ARGUMENT;
  LabelArgs args;
  // The bounds rule is the segment's own (valid_bounds), checked here so that a caller's bad
  // bounds read as the bad argument they are; valid_bounds() looks at the count before any value.
  // A NULL array is no bounds at all, whatever the count: invalid too.
  const std::span<const double> b(bounds, bounds != nullptr ? nbounds : 0);
  if (client != nullptr && name != nullptr && args.convert(labels, nlabels) &&
      sipmetrics::detail::valid_bounds(b)) {
    Client& c = *cpp(client);
    h = c.histogram(name, sv(help), args.view(), b);
    s = outcome(c, h.valid());
  }
  *out = to_c(h);
  return s;
}

SIPMETRICS_API sipmetrics_status sipmetrics_native_histogram_get(
    sipmetrics_client* client, const char* name, const char* help, const sipmetrics_label* labels,
    size_t nlabels, const double* bounds, size_t nbounds, int schema, double lowest, double highest,
    sipmetrics_histogram* out) noexcept {
  if (out == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  Histogram h;
  sipmetrics_status s = SIPMETRICS_INVALID_ARGUMENT;
  LabelArgs args;
  const std::span<const double> b(bounds, bounds != nullptr ? nbounds : 0);
  const sipmetrics::NativeOptions native{schema, lowest, highest};
  if (client != nullptr && name != nullptr && args.convert(labels, nlabels) &&
      sipmetrics::detail::valid_bounds(b) &&
      sipmetrics::detail::native_window(native).buckets != 0) {
    Client& c = *cpp(client);
    h = c.histogram(name, sv(help), args.view(), b, native);
    s = outcome(c, h.valid());
  }
  *out = to_c(h);
  return s;
}

SIPMETRICS_API const double* sipmetrics_sip_latency_buckets_ms(size_t* count) noexcept {
  if (count != nullptr) *count = sipmetrics::kSipLatencyBucketsMs.size();
  return sipmetrics::kSipLatencyBucketsMs.data();
}

// Hot path: the C++ handle's inline update, on a handle rebuilt from registers. `flatten`
// inlines the update whole (GCC 12 otherwise calls an out-of-line Gauge::add or
// Histogram::observe, through a copy of the handle on the stack); the noinline slow paths stay
// calls.
#define SIPMETRICS_FLAT __attribute__((__flatten__))
// What the header's inline updates call when the thread has no exclusive lane for the handle
// (first update, shared lane, no-op handle) or, for a gauge, the step is not an integral SUM one.
SIPMETRICS_API void sipmetrics_counter_add_slow_(uint32_t w0, uint32_t w1, uint32_t w2,
                                                 uint64_t n) noexcept {
  to_cpp(sipmetrics_counter{{w0, w1, w2}}).add(n);
}
SIPMETRICS_API void sipmetrics_gauge_add_slow_(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
                                               double d) noexcept {
  to_cpp(sipmetrics_gauge{{w0, w1, w2, w3}}).add(d);
}
// The same updates out of line, for callers built with SIPMETRICS_NO_INLINE or a compiler
// without GNU C's extensions.
SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_counter_inc(sipmetrics_counter counter) noexcept {
  to_cpp(counter).add(1);
}
SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_counter_add(sipmetrics_counter counter,
                                                           uint64_t n) noexcept {
  to_cpp(counter).add(n);
}
SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_gauge_add(sipmetrics_gauge gauge,
                                                         double d) noexcept {
  // Gauge::add with the mode a constant: the sum-mode path (the usual +1/-1) is inlined whole.
  if (mode_of(gauge) == GaugeMode::kSum) [[likely]]
    to_cpp(gauge, GaugeMode::kSum).add(d);
  else
    gauge_add_stamped(gauge, d);
}
SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_gauge_set(sipmetrics_gauge gauge,
                                                         double v) noexcept {
  to_cpp(gauge).set(v);
}
SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_summary_observe(sipmetrics_summary summary,
                                                               double v) noexcept {
  to_cpp(summary).observe(v);
}

SIPMETRICS_API SIPMETRICS_FLAT void sipmetrics_histogram_observe(
    const sipmetrics_histogram* histogram, double v) noexcept {
  if (histogram == nullptr || histogram->opaque_[0] != kHistogramTag) [[unlikely]]
    return;
  // The C++ handle read in place: to_c() byte-copied it there, and Histogram is an
  // implicit-lifetime type (trivially copyable), so those bytes hold a Histogram. Read through a
  // copy, GCC 12 spills all 56 bytes to the stack on every call.
  std::launder(reinterpret_cast<const Histogram*>(&histogram->opaque_[1]))->observe(v);
}

SIPMETRICS_API int sipmetrics_counter_valid(sipmetrics_counter counter) noexcept {
  return to_cpp(counter).valid() ? 1 : 0;
}
SIPMETRICS_API int sipmetrics_gauge_valid(sipmetrics_gauge gauge) noexcept {
  return to_cpp(gauge).valid() ? 1 : 0;
}
SIPMETRICS_API int sipmetrics_summary_valid(sipmetrics_summary summary) noexcept {
  return to_cpp(summary).valid() ? 1 : 0;
}
SIPMETRICS_API int sipmetrics_histogram_valid(const sipmetrics_histogram* histogram) noexcept {
  Histogram h;
  return to_cpp(histogram, h) && h.valid() ? 1 : 0;
}

SIPMETRICS_API sipmetrics_status sipmetrics_register_labels(sipmetrics_client* client,
                                                            const char* family,
                                                            const char* const* keys,
                                                            size_t nkeys) noexcept {
  constexpr std::size_t kMaxKeys = 255;  // the whitelist format's u8 count
  if (client == nullptr || family == nullptr || (keys == nullptr && nkeys != 0))
    return SIPMETRICS_INVALID_ARGUMENT;
  std::array<std::string_view, kMaxKeys + 1> views{};
  const std::size_t n = nkeys < views.size() ? nkeys : views.size();  // > 255: refused below
  for (std::size_t i = 0; keys != nullptr && i < n; ++i) {
    if (keys[i] == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
    views[i] = keys[i];
  }
  Client& c = *cpp(client);
  if (!c.attached()) return SIPMETRICS_DETACHED;
  // The client counts the refusal itself; the same checks here tell the caller about it.
  bool ok = nkeys <= kMaxKeys && sipmetrics::detail::valid_metric_name(family);
  for (std::size_t i = 0; ok && i < n; ++i) ok = sipmetrics::detail::valid_label_name(views[i]);
  c.register_labels(family, std::span<const std::string_view>(views.data(), n));
  return ok ? SIPMETRICS_OK : SIPMETRICS_REFUSED;
}

// ---- Registry-style calls -----------------------------------------------------------------------
SIPMETRICS_API sipmetrics_status sipmetrics_inc_counter(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels) noexcept {
  Counter h;
  const sipmetrics_status s = resolve(client, name, help, labels, nlabels, h);
  h.inc();
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_add_counter(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels, uint64_t n) noexcept {
  Counter h;
  const sipmetrics_status s = resolve(client, name, help, labels, nlabels, h);
  h.add(n);
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_set_gauge(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, double v) noexcept {
  Gauge h;
  const sipmetrics_status s = resolve(client, name, help, labels, nlabels, h);
  h.set(v);
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_add_gauge(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, double v) noexcept {
  Gauge h;
  const sipmetrics_status s = resolve(client, name, help, labels, nlabels, h);
  h.add(v);
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_observe(sipmetrics_client* client, const char* name,
                                                    const char* help, double v) noexcept {
  Summary h;
  const sipmetrics_status s = resolve(client, name, help, nullptr, 0, h);
  h.observe(v);
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_observe_n(sipmetrics_client* client, const char* name,
                                                      const char* help, double v,
                                                      int max_samples) noexcept {
  // Client::observe_n's window rule: a positive max_samples, else the daemon's default.
  Summary h;
  const std::uint32_t window = max_samples > 0 ? static_cast<std::uint32_t>(max_samples) : 0;
  const sipmetrics_status s = resolve(client, name, help, nullptr, 0, h, GaugeMode::kSum, window);
  h.observe(v);
  return s;
}
SIPMETRICS_API sipmetrics_status sipmetrics_observe_async(sipmetrics_client* client,
                                                          const char* name, const char* help,
                                                          double v) noexcept {
  return sipmetrics_observe(client, name, help, v);
}
SIPMETRICS_API uint64_t sipmetrics_async_dropped_count(const sipmetrics_client* client) noexcept {
  return client != nullptr ? cpp(client)->async_dropped_count() : 0;
}

// ---- SIP helpers: each forwards to its sip.hpp namesake -----------------------------------------
SIPMETRICS_API sipmetrics_sip_code_class sipmetrics_sip_classify_code(int code) noexcept {
  return static_cast<sipmetrics_sip_code_class>(sip::classify_code(code));
}
SIPMETRICS_API sipmetrics_sip_method sipmetrics_sip_classify_method(const char* method,
                                                                    size_t len) noexcept {
  if (method == nullptr) return SIPMETRICS_SIP_METHOD_OTHER;
  return static_cast<sipmetrics_sip_method>(sip::classify_method(std::string_view(method, len)));
}

SIPMETRICS_API sipmetrics_status sipmetrics_sip_prepare(void) noexcept {
  sip::prepare();
  return Client::global().attached() ? SIPMETRICS_OK : SIPMETRICS_DETACHED;
}
SIPMETRICS_API sipmetrics_status sipmetrics_sip_prepare_on(sipmetrics_client* client) noexcept {
  if (client == nullptr) return SIPMETRICS_INVALID_ARGUMENT;
  sip::prepare(*cpp(client));
  return cpp(client)->attached() ? SIPMETRICS_OK : SIPMETRICS_DETACHED;
}

SIPMETRICS_API void sipmetrics_sip_invite_result(sipmetrics_sip_direction direction,
                                                 int code) noexcept {
  sip::invite_result(to_enum<sip::Direction>(direction), code);
}
SIPMETRICS_API void sipmetrics_sip_invite_result_on(sipmetrics_client* client,
                                                    sipmetrics_sip_direction direction,
                                                    int code) noexcept {
  if (client != nullptr) sip::invite_result(*cpp(client), to_enum<sip::Direction>(direction), code);
}

SIPMETRICS_API void sipmetrics_sip_bye(sipmetrics_sip_direction direction, sipmetrics_sip_bye_by by,
                                       sipmetrics_sip_bye_reason reason) noexcept {
  sip::bye(to_enum<sip::Direction>(direction), to_enum<sip::ByeBy>(by),
           to_enum<sip::ByeReason>(reason));
}
SIPMETRICS_API void sipmetrics_sip_bye_on(sipmetrics_client* client,
                                          sipmetrics_sip_direction direction,
                                          sipmetrics_sip_bye_by by,
                                          sipmetrics_sip_bye_reason reason) noexcept {
  if (client != nullptr)
    sip::bye(*cpp(client), to_enum<sip::Direction>(direction), to_enum<sip::ByeBy>(by),
             to_enum<sip::ByeReason>(reason));
}
SIPMETRICS_API void sipmetrics_sip_bye_outbound(sipmetrics_sip_bye_by by,
                                                sipmetrics_sip_bye_reason reason) noexcept {
  sip::bye(to_enum<sip::ByeBy>(by), to_enum<sip::ByeReason>(reason));
}
SIPMETRICS_API void sipmetrics_sip_bye_outbound_on(sipmetrics_client* client,
                                                   sipmetrics_sip_bye_by by,
                                                   sipmetrics_sip_bye_reason reason) noexcept {
  if (client != nullptr)
    sip::bye(*cpp(client), to_enum<sip::ByeBy>(by), to_enum<sip::ByeReason>(reason));
}

SIPMETRICS_API void sipmetrics_sip_transaction_timeout(sipmetrics_sip_method method) noexcept {
  sip::transaction_timeout(to_enum<sip::Method>(method));
}
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_on(sipmetrics_client* client,
                                                          sipmetrics_sip_method method) noexcept {
  if (client != nullptr) sip::transaction_timeout(*cpp(client), to_enum<sip::Method>(method));
}
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_str(const char* method,
                                                           size_t len) noexcept {
  sip::transaction_timeout(method != nullptr ? std::string_view(method, len) : std::string_view());
}
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_str_on(sipmetrics_client* client,
                                                              const char* method,
                                                              size_t len) noexcept {
  if (client != nullptr)
    sip::transaction_timeout(
        *cpp(client), method != nullptr ? std::string_view(method, len) : std::string_view());
}

SIPMETRICS_API void sipmetrics_sip_session_timer_refresh(
    sipmetrics_sip_refresh_result result) noexcept {
  sip::session_timer_refresh(to_enum<sip::RefreshResult>(result));
}
SIPMETRICS_API void sipmetrics_sip_session_timer_refresh_on(
    sipmetrics_client* client, sipmetrics_sip_refresh_result result) noexcept {
  if (client != nullptr)
    sip::session_timer_refresh(*cpp(client), to_enum<sip::RefreshResult>(result));
}

SIPMETRICS_API void sipmetrics_sip_dtls_handshake(sipmetrics_sip_dtls_result result) noexcept {
  sip::dtls_handshake(to_enum<sip::DtlsResult>(result));
}
SIPMETRICS_API void sipmetrics_sip_dtls_handshake_on(sipmetrics_client* client,
                                                     sipmetrics_sip_dtls_result result) noexcept {
  if (client != nullptr) sip::dtls_handshake(*cpp(client), to_enum<sip::DtlsResult>(result));
}

SIPMETRICS_API void sipmetrics_sip_stir_verify(sipmetrics_sip_stir_result result) noexcept {
  sip::stir_verify(to_enum<sip::StirResult>(result));
}
SIPMETRICS_API void sipmetrics_sip_stir_verify_on(sipmetrics_client* client,
                                                  sipmetrics_sip_stir_result result) noexcept {
  if (client != nullptr) sip::stir_verify(*cpp(client), to_enum<sip::StirResult>(result));
}

SIPMETRICS_API void sipmetrics_sip_observe_call_qos(uint32_t rtt_ms, double jitter_ms,
                                                    double loss_fraction,
                                                    double mos_estimate) noexcept {
  sip::observe_call_qos(rtt_ms, jitter_ms, loss_fraction, mos_estimate);
}
SIPMETRICS_API void sipmetrics_sip_observe_call_qos_on(sipmetrics_client* client, uint32_t rtt_ms,
                                                       double jitter_ms, double loss_fraction,
                                                       double mos_estimate) noexcept {
  if (client != nullptr)
    sip::observe_call_qos(*cpp(client), rtt_ms, jitter_ms, loss_fraction, mos_estimate);
}

SIPMETRICS_API void sipmetrics_sip_voice_attach(sipmetrics_sip_voice_attach_mode mode,
                                                int ok) noexcept {
  sip::voice_attach(to_enum<sip::VoiceAttachMode>(mode), ok != 0);
}
SIPMETRICS_API void sipmetrics_sip_voice_attach_on(sipmetrics_client* client,
                                                   sipmetrics_sip_voice_attach_mode mode,
                                                   int ok) noexcept {
  if (client != nullptr)
    sip::voice_attach(*cpp(client), to_enum<sip::VoiceAttachMode>(mode), ok != 0);
}
SIPMETRICS_API void sipmetrics_sip_voice_attach_with_result(
    sipmetrics_sip_voice_attach_mode mode, sipmetrics_sip_voice_attach_result result) noexcept {
  sip::voice_attach(to_enum<sip::VoiceAttachMode>(mode), to_enum<sip::VoiceAttachResult>(result));
}
SIPMETRICS_API void sipmetrics_sip_voice_attach_with_result_on(
    sipmetrics_client* client, sipmetrics_sip_voice_attach_mode mode,
    sipmetrics_sip_voice_attach_result result) noexcept {
  if (client != nullptr)
    sip::voice_attach(*cpp(client), to_enum<sip::VoiceAttachMode>(mode),
                      to_enum<sip::VoiceAttachResult>(result));
}

SIPMETRICS_API void sipmetrics_sip_voice_attach_mode_fallback(
    sipmetrics_sip_voice_mode from, sipmetrics_sip_voice_mode to) noexcept {
  sip::voice_attach_mode_fallback(to_enum<sip::VoiceMode>(from), to_enum<sip::VoiceMode>(to));
}
SIPMETRICS_API void sipmetrics_sip_voice_attach_mode_fallback_on(
    sipmetrics_client* client, sipmetrics_sip_voice_mode from,
    sipmetrics_sip_voice_mode to) noexcept {
  if (client != nullptr)
    sip::voice_attach_mode_fallback(*cpp(client), to_enum<sip::VoiceMode>(from),
                                    to_enum<sip::VoiceMode>(to));
}

SIPMETRICS_API void sipmetrics_sip_voice_attach_native(int ok) noexcept {
  sip::voice_attach_native(ok != 0);
}
SIPMETRICS_API void sipmetrics_sip_voice_attach_native_on(sipmetrics_client* client,
                                                          int ok) noexcept {
  if (client != nullptr) sip::voice_attach_native(*cpp(client), ok != 0);
}

SIPMETRICS_API void sipmetrics_sip_call_started(sipmetrics_sip_transport transport) noexcept {
  sip::call_started(to_enum<sip::Transport>(transport));
}
SIPMETRICS_API void sipmetrics_sip_call_started_on(sipmetrics_client* client,
                                                   sipmetrics_sip_transport transport) noexcept {
  if (client != nullptr) sip::call_started(*cpp(client), to_enum<sip::Transport>(transport));
}

SIPMETRICS_API void sipmetrics_sip_call_ended(sipmetrics_sip_transport transport,
                                              sipmetrics_sip_call_status status) noexcept {
  sip::call_ended(to_enum<sip::Transport>(transport), to_enum<sip::CallStatus>(status));
}
SIPMETRICS_API void sipmetrics_sip_call_ended_on(sipmetrics_client* client,
                                                 sipmetrics_sip_transport transport,
                                                 sipmetrics_sip_call_status status) noexcept {
  if (client != nullptr)
    sip::call_ended(*cpp(client), to_enum<sip::Transport>(transport),
                    to_enum<sip::CallStatus>(status));
}

SIPMETRICS_API void sipmetrics_sip_asr_error(sipmetrics_sip_transport transport) noexcept {
  sip::asr_error(to_enum<sip::Transport>(transport));
}
SIPMETRICS_API void sipmetrics_sip_asr_error_on(sipmetrics_client* client,
                                                sipmetrics_sip_transport transport) noexcept {
  if (client != nullptr) sip::asr_error(*cpp(client), to_enum<sip::Transport>(transport));
}

SIPMETRICS_API void sipmetrics_sip_tts_error(sipmetrics_sip_transport transport) noexcept {
  sip::tts_error(to_enum<sip::Transport>(transport));
}
SIPMETRICS_API void sipmetrics_sip_tts_error_on(sipmetrics_client* client,
                                                sipmetrics_sip_transport transport) noexcept {
  if (client != nullptr) sip::tts_error(*cpp(client), to_enum<sip::Transport>(transport));
}

SIPMETRICS_API void sipmetrics_sip_barge_in(sipmetrics_sip_transport transport) noexcept {
  sip::barge_in(to_enum<sip::Transport>(transport));
}
SIPMETRICS_API void sipmetrics_sip_barge_in_on(sipmetrics_client* client,
                                               sipmetrics_sip_transport transport) noexcept {
  if (client != nullptr) sip::barge_in(*cpp(client), to_enum<sip::Transport>(transport));
}

SIPMETRICS_API void sipmetrics_sip_dialog_reconnect(
    sipmetrics_sip_transport transport, sipmetrics_sip_dialog_outcome outcome) noexcept {
  sip::dialog_reconnect(to_enum<sip::Transport>(transport), to_enum<sip::DialogOutcome>(outcome));
}
SIPMETRICS_API void sipmetrics_sip_dialog_reconnect_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport,
    sipmetrics_sip_dialog_outcome outcome) noexcept {
  if (client != nullptr)
    sip::dialog_reconnect(*cpp(client), to_enum<sip::Transport>(transport),
                          to_enum<sip::DialogOutcome>(outcome));
}

SIPMETRICS_API void sipmetrics_sip_observe_e2e_first_byte(int ms) noexcept {
  sip::observe_e2e_first_byte(ms);
}
SIPMETRICS_API void sipmetrics_sip_observe_e2e_first_byte_on(sipmetrics_client* client,
                                                             int ms) noexcept {
  if (client != nullptr) sip::observe_e2e_first_byte(*cpp(client), ms);
}
SIPMETRICS_API void sipmetrics_sip_observe_llm_first_byte(int ms) noexcept {
  sip::observe_llm_first_byte(ms);
}
SIPMETRICS_API void sipmetrics_sip_observe_llm_first_byte_on(sipmetrics_client* client,
                                                             int ms) noexcept {
  if (client != nullptr) sip::observe_llm_first_byte(*cpp(client), ms);
}
SIPMETRICS_API void sipmetrics_sip_observe_tts_first_byte(int ms) noexcept {
  sip::observe_tts_first_byte(ms);
}
SIPMETRICS_API void sipmetrics_sip_observe_tts_first_byte_on(sipmetrics_client* client,
                                                             int ms) noexcept {
  if (client != nullptr) sip::observe_tts_first_byte(*cpp(client), ms);
}

SIPMETRICS_API size_t sipmetrics_sip_labels_call(sipmetrics_sip_transport transport,
                                                 sipmetrics_sip_call_status status,
                                                 sipmetrics_label out[2]) noexcept {
  return labels_out(
      sip::labels_call(to_enum<sip::Transport>(transport), to_enum<sip::CallStatus>(status)), out);
}
SIPMETRICS_API size_t sipmetrics_sip_labels_dialog_outcome(sipmetrics_sip_transport transport,
                                                           sipmetrics_sip_dialog_outcome outcome,
                                                           sipmetrics_label out[2]) noexcept {
  return labels_out(sip::labels_dialog_outcome(to_enum<sip::Transport>(transport),
                                               to_enum<sip::DialogOutcome>(outcome)),
                    out);
}

}  // extern "C"
