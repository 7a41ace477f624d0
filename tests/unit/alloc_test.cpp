// Zero allocation on the hot path, proven: this binary replaces the global operator new with a
// counting one (which is why it is a binary of its own) and asserts that a million mixed sip
// helper calls, after warm-up, allocate nothing; and that a scrape, in any format, allocates a
// small number of times that does not grow with the series it renders.
#include <sipmetrics/sip.hpp>

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "exporter.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};

void* allocate(std::size_t n, std::size_t align) noexcept {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  void* p = nullptr;
  return ::posix_memalign(&p, align, n) == 0 ? p : nullptr;
}

void* allocate_or_throw(std::size_t n, std::size_t align) {
  if (void* p = allocate(n, align)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace sipmetrics {
namespace {

namespace sip = sipmetrics::sip;

constexpr std::string_view kMethodNames[] = {"INVITE", "BYE",    "OPTIONS", "invite",
                                             "X-FOO",  "NOTIFY", "",        "REGISTER"};

/// Call `i` of the mix: every helper, on the global client and on `own`, with inputs that vary
/// (out-of-range codes and unknown methods included).
void mixed_call(Client& own, std::uint64_t i) {
  const auto n = static_cast<std::size_t>(i);
  const auto t = static_cast<sip::Transport>(n % 2);
  const auto d = static_cast<sip::Direction>((n / 2) % 2);
  switch (n % 24) {
    case 0: sip::invite_result(d, static_cast<int>(n % 800)); break;
    case 1: sip::invite_result(own, d, static_cast<int>(n % 800)); break;
    case 2: sip::bye(d, static_cast<sip::ByeBy>(n % 2), static_cast<sip::ByeReason>(n % 4)); break;
    case 3:
      sip::bye(own, static_cast<sip::ByeBy>(n % 2), static_cast<sip::ByeReason>(n % 4));
      break;
    case 4: sip::transaction_timeout(kMethodNames[n % std::size(kMethodNames)]); break;
    case 5: sip::transaction_timeout(own, kMethodNames[n % std::size(kMethodNames)]); break;
    case 6: sip::session_timer_refresh(own, static_cast<sip::RefreshResult>(n % 5)); break;
    case 7: sip::dtls_handshake(static_cast<sip::DtlsResult>(n % 4)); break;
    case 8: sip::stir_verify(own, static_cast<sip::StirResult>(n % 4)); break;
    case 9:
      sip::observe_call_qos(own, static_cast<std::uint32_t>(n % 200), static_cast<double>(n % 30),
                            static_cast<double>(n % 10) / 100.0, 4.2);
      break;
    case 10: sip::voice_attach(static_cast<sip::VoiceAttachMode>(n % 2), n % 7 != 0); break;
    case 11:
      sip::voice_attach_mode_fallback(own, sip::VoiceMode::pipeline, sip::VoiceMode::realtime);
      break;
    case 12: sip::voice_attach_native(n % 5 != 0); break;
    case 13: sip::call_started(t); break;
    case 14: sip::call_ended(t, static_cast<sip::CallStatus>(n % 4)); break;
    case 15: sip::call_started(own, t); break;
    case 16: sip::call_ended(own, t, static_cast<sip::CallStatus>(n % 4)); break;
    case 17: sip::asr_error(own, t); break;
    case 18: sip::tts_error(t); break;
    case 19: sip::barge_in(own, t); break;
    case 20: sip::dialog_reconnect(t, static_cast<sip::DialogOutcome>(n % 2)); break;
    case 21: sip::observe_e2e_first_byte(static_cast<int>(n % 1000) - 10); break;
    case 22:
      sip::observe_llm_first_byte(own, static_cast<int>(n % 700));
      sip::observe_tts_first_byte(static_cast<int>(n % 300));
      break;
    default:
      own.observe_async("alloc_test_async_ms", "Async samples.", static_cast<double>(n % 50));
      (void)sip::labels_call(t, sip::CallStatus::ok);
      (void)own.async_dropped_count();
  }
}

void run_mix(Client& own, std::uint64_t from, std::uint64_t count) {
  for (std::uint64_t i = from; i < from + count; ++i) mixed_call(own, i);
}

/// How many calls of [from, from + count) the mix sends to `own`'s invite_result (case 1).
std::uint64_t own_invites(std::uint64_t from, std::uint64_t count) {
  std::uint64_t n = 0;
  for (std::uint64_t i = from; i < from + count; ++i) n += i % 24 == 1 ? 1 : 0;
  return n;
}

/// Total of every series of one counter family in a segment, read as the daemon reads it.
std::uint64_t family_total(const std::string& path, std::string_view family) {
  std::uint64_t sum = 0;
  for (std::uint32_t a = 0; a < detail::registry().count; ++a) {
    const detail::Attachment* at = detail::registry().items[a];
    if (at->segment() != path) continue;
    const detail::SegmentView& v = at->view();
    for (std::uint32_t i = 0; i < v.geometry().max_series; ++i) {
      const layout::SeriesEntry& e = v.entry(i);
      detail::DecodedKey k;
      if (layout::entry_state(e.state.load()) == layout::kEntryReady &&
          detail::decode_key(*v.arena_bytes(e.key_offset, e.key_length), k) && k.name == family)
        sum += count_total(v, e.first_cell);
    }
  }
  return sum;
}

}  // namespace

TEST_CASE("a million mixed sip helper calls allocate nothing after warm-up") {
  test::TempSegment global_segment, own_segment;
  ::setenv("SIPMETRICS_SEGMENT", global_segment.path().c_str(), 1);
  Options o;
  o.segment = own_segment.path();
  // Never freed: sip helpers need their Client to live on. Static, so that it stays reachable
  // and LeakSanitizer (scripts/sanitize.sh address) does not report it.
  static Client* const own = new Client(o);
  REQUIRE(own->attached());
  REQUIRE(Client::global().attached());

  // Warm-up: handle tables, lanes and the async series, on both threads that will run the mix.
  run_mix(*own, 0, 240);
  std::atomic<bool> go{false};
  std::thread other([&] {
    run_mix(*own, 0, 240);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    run_mix(*own, 1'000'000, 500'000);
  });

  g_allocations.store(0);
  g_counting.store(true);
  go.store(true, std::memory_order_release);
  run_mix(*own, 0, 500'000);
  other.join();
  g_counting.store(false);
  CHECK(g_allocations.load() == 0);
  // And the calls were recorded: every invite_result on `own`, warm-ups included.
  CHECK(family_total(own_segment.path(), "sip_invite_result_total") ==
        2 * own_invites(0, 240) + own_invites(0, 500'000) + own_invites(1'000'000, 500'000));

  // Histogram observations, on a resolved handle and on a thread of their own (its first
  // observe binds a lane: cold, outside the window), allocate nothing either.
  Histogram h = own->histogram("alloc_setup_ms", "", {}, kSipLatencyBucketsMs);
  REQUIRE(h.valid());
  std::thread([&] {
    h.observe(1);
    g_counting.store(true);
    for (int i = 0; i < 1'000'000; ++i) h.observe(static_cast<double>(i % 40'000));
    h.observe(std::nan(""));
    g_counting.store(false);
  }).join();
  CHECK(g_allocations.load() == 0);

  // The counter does count: one deliberate allocation inside a counting window.
  g_counting.store(true);
  auto p = std::make_unique<std::string>(100, 'x');
  g_counting.store(false);
  CHECK(p->size() == 100);
  CHECK(g_allocations.load() >= 1);
}

TEST_CASE("a warmed-up scrape allocates a bounded number of times, in every format") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  test::Writer w(seg.path(), [](Client& c) {
    for (int i = 0; i < 600; ++i)
      c.counter("alloc_calls_total", "", {{"code", std::to_string(i)}}).add(1);
    for (int i = 0; i < 200; ++i) {
      Histogram h =
          c.histogram("alloc_setup_ms", "", {{"trunk", std::to_string(i)}}, kSipLatencyBucketsMs);
      h.observe(static_cast<double>(i));
    }
    Summary s = c.summary("alloc_e2e_ms", "", {});
    for (int i = 0; i < 100; ++i) s.observe(i);
  });
  Exporter e(std::move(file), ExporterSettings{});
  std::string out;
  for (const Format f : {Format::kText, Format::kOpenMetrics, Format::kProtobuf}) {
    CAPTURE(static_cast<int>(f));
    e.scrape(out, f);
    e.scrape(out, f);
    g_allocations.store(0);
    g_counting.store(true);
    e.scrape(out, f);
    g_counting.store(false);
    // 800 series, 200 of them histograms with 14 bounds each: a per-series allocation would
    // show as hundreds. What remains are the self-metrics' few label strings.
    CHECK(g_allocations.load() < 16);
    MESSAGE("allocations in one scrape: " << g_allocations.load());
  }
}

}  // namespace sipmetrics
