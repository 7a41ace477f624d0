// The typed SIP helpers against the seed's contract: classification, docs/metrics.md (its table
// is the one kFamilies renders), and the series a worker really exposes (every documented series,
// nothing else, whatever the input). Writers are forked children scraped through the daemon's
// Exporter: a process cannot see its own record locks, so the test process itself never writes
// to a segment it scrapes.
#include <sipmetrics/sip.hpp>

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "exporter.hpp"
#include "test_support.hpp"
#include "writer_process.hpp"

#ifndef SIPMETRICS_METRICS_MD
#error "SIPMETRICS_METRICS_MD must name docs/metrics.md"
#endif

namespace sipmetrics {
namespace {

using test::Writer;

std::string scrape(Exporter& e) {
  std::string out;
  e.scrape(out);
  return out;
}

// ---- docs/metrics.md ----------------------------------------------------------------------------
constexpr std::string_view kTableBegin =
    "<!-- BEGIN metrics table: generated from sip::kFamilies, checked by tests/unit/sip_test.cpp "
    "-->";
constexpr std::string_view kTableEnd = "<!-- END metrics table -->";

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string_view type_name(layout::MetricType t) {
  switch (t) {
    case layout::MetricType::kCounter: return "counter";
    case layout::MetricType::kGauge: return "gauge";
    case layout::MetricType::kSummary: return "summary";
    default: return "?";
  }
}

/// "a, b" -> "`a`, `b`"
std::string ticks(std::string_view list) {
  std::string out = "`";
  for (char ch : list) {
    if (ch == ',')
      out += "`,";
    else if (ch == ' ' && out.back() == ',')
      out += " `";
    else
      out += ch;
  }
  return out + "`";
}

/// The table docs/metrics.md must contain between its markers.
std::string render_table() {
  std::string out =
      "| metric | type | seed function | C++ function (`sipmetrics::sip`) | label keys: allowed "
      "values | series |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const sip::FamilyInfo& f : sip::kFamilies) {
    std::string labels;
    for (const sip::LabelDomain& d : f.labels) {
      if (!labels.empty()) labels += "<br>";
      labels += "`" + std::string(d.key) + "`:";
      for (std::size_t i = 0; i < d.values.size(); ++i)
        labels += (i == 0 ? " `" : ", `") + std::string(d.values[i]) + "`";
    }
    if (labels.empty()) labels = "—";
    out += "| `" + std::string(f.name) + "` | " + std::string(type_name(f.type)) + " | " +
           ticks(f.seed_functions) + " | " + ticks(f.cpp_functions) + " | " + labels + " | " +
           std::to_string(f.series()) + " |\n";
  }
  return out;
}

std::string doc_table() {
  const std::string doc = read_file(SIPMETRICS_METRICS_MD);
  const auto begin = doc.find(kTableBegin);
  const auto end = doc.find(kTableEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) return {};
  const auto from = doc.find('\n', begin) + 1;
  return doc.substr(from, end - from);
}

/// One row of the documented table, parsed without help from kFamilies.
struct DocFamily {
  std::string name, type;
  std::vector<std::pair<std::string, std::vector<std::string>>> labels;
  std::size_t bound = 0;
};

std::vector<std::string> backticked(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t at = s.find('`'); at != std::string_view::npos; at = s.find('`', at)) {
    const std::size_t close = s.find('`', at + 1);
    if (close == std::string_view::npos) break;
    out.emplace_back(s.substr(at + 1, close - at - 1));
    at = close + 1;
  }
  return out;
}

std::vector<DocFamily> doc_families() {
  std::vector<DocFamily> out;
  std::istringstream in(doc_table());
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    for (std::size_t at = 2; at < line.size();) {
      const std::size_t bar = line.find(" |", at);
      if (bar == std::string::npos) break;
      cells.push_back(line.substr(at, bar - at));
      at = bar + 3;
    }
    REQUIRE(cells.size() == 6);
    DocFamily f;
    f.name = backticked(cells[0]).at(0);
    f.type = cells[1];
    for (std::size_t at = 0; cells[4] != "—" && at != std::string::npos;) {
      const std::size_t br = cells[4].find("<br>", at);
      const auto tokens = backticked(std::string_view(cells[4]).substr(
          at, br == std::string::npos ? std::string::npos : br - at));
      REQUIRE(tokens.size() >= 2);
      f.labels.emplace_back(tokens[0], std::vector<std::string>(tokens.begin() + 1, tokens.end()));
      at = br == std::string::npos ? br : br + 4;
    }
    f.bound = std::stoul(cells[5]);
    out.push_back(std::move(f));
  }
  return out;
}

/// Every label string `k="v",...` (keys sorted, as exposed) the row allows.
std::set<std::string> expected_series(const DocFamily& f) {
  std::vector<std::pair<std::string, std::vector<std::string>>> keys = f.labels;
  std::sort(keys.begin(), keys.end());
  std::set<std::string> out{""};
  for (const auto& [key, values] : keys) {
    std::set<std::string> next;
    for (const std::string& prefix : out)
      for (const std::string& v : values)
        next.insert(prefix + (prefix.empty() ? "" : ",") + key + "=\"" + v + "\"");
    out = std::move(next);
  }
  return out;
}

// ---- Exposition ---------------------------------------------------------------------------------
/// family -> (label string -> value). Summaries are read through their `_count` lines.
using Exposed = std::map<std::string, std::map<std::string, double>>;

Exposed parse_exposition(const std::string& text, const std::vector<DocFamily>& docs) {
  std::map<std::string, std::string> summaries;  // "x_count" -> "x"
  for (const DocFamily& f : docs)
    if (f.type == "summary") summaries[f.name + "_count"] = f.name;
  Exposed out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t name_end = line.find_first_of("{ ");
    std::string name = line.substr(0, name_end);
    std::string labels;
    if (line[name_end] == '{') labels = line.substr(name_end + 1, line.rfind('}') - name_end - 1);
    const double value = std::stod(line.substr(line.rfind(' ') + 1));
    if (auto s = summaries.find(name); s != summaries.end()) {
      out[s->second][labels] = value;
    } else if (name.ends_with("_sum") || labels.find("quantile=") != std::string::npos) {
      continue;
    } else {
      out[name][labels] = value;
    }
  }
  return out;
}

bool seed_family_name(std::string_view name) {
  return name.starts_with("sip_") || name.starts_with("voiceserver_");
}

// ---- Workloads ----------------------------------------------------------------------------------
// Calls through `c`, or through Client::global() when c is null.
#define SIP(fn, ...) (c != nullptr ? sip::fn(*c, __VA_ARGS__) : sip::fn(__VA_ARGS__))

/// Hits every series of every family exactly once (active calls: ends at 1 per transport).
void exercise_all(Client* c) {
  for (sip::Direction d : {sip::Direction::inbound, sip::Direction::outbound})
    for (int code : {100, 200, 302, 486, 503, 603, 700}) SIP(invite_result, d, code);
  for (std::size_t by = 0; by < 2; ++by)
    for (std::size_t r = 0; r < 4; ++r) {
      SIP(bye, sip::Direction::inbound, static_cast<sip::ByeBy>(by),
          static_cast<sip::ByeReason>(r));
      SIP(bye, static_cast<sip::ByeBy>(by), static_cast<sip::ByeReason>(r));  // outbound default
    }
  for (std::size_t m = 0; m + 1 < sip::kMethods.size(); ++m) {
    if (m % 2 == 0)
      SIP(transaction_timeout, sip::kMethods[m]);
    else
      SIP(transaction_timeout, static_cast<sip::Method>(m));
  }
  SIP(transaction_timeout, sip::Method::other);
  for (std::size_t i = 0; i < sip::kRefreshResults.size(); ++i)
    SIP(session_timer_refresh, static_cast<sip::RefreshResult>(i));
  for (std::size_t i = 0; i < sip::kDtlsResults.size(); ++i)
    SIP(dtls_handshake, static_cast<sip::DtlsResult>(i));
  for (std::size_t i = 0; i < sip::kStirResults.size(); ++i)
    SIP(stir_verify, static_cast<sip::StirResult>(i));
  SIP(observe_call_qos, 120u, 4.5, 0.02, 4.1);
  SIP(voice_attach, sip::VoiceAttachMode::cascaded, true);
  SIP(voice_attach, sip::VoiceAttachMode::cascaded, false);
  SIP(voice_attach, sip::VoiceAttachMode::realtime, sip::VoiceAttachResult::ok);
  SIP(voice_attach, sip::VoiceAttachMode::realtime, sip::VoiceAttachResult::config_error);
  SIP(voice_attach_mode_fallback, sip::VoiceMode::pipeline, sip::VoiceMode::realtime);
  SIP(voice_attach_native, true);
  SIP(voice_attach_native, false);
  for (sip::Transport t : {sip::Transport::sip, sip::Transport::webrtc}) {
    for (int i = 0; i < 5; ++i) SIP(call_started, t);
    for (std::size_t s = 0; s < sip::kCallStatuses.size(); ++s)
      SIP(call_ended, t, static_cast<sip::CallStatus>(s));
    SIP(asr_error, t);
    SIP(tts_error, t);
    SIP(barge_in, t);
    SIP(dialog_reconnect, t, sip::DialogOutcome::ok);
    SIP(dialog_reconnect, t, sip::DialogOutcome::fail);
  }
  SIP(observe_e2e_first_byte, 640);
  SIP(observe_llm_first_byte, 320);
  SIP(observe_tts_first_byte, 180);
  SIP(observe_async, "app_custom_ms", "Not a seed family.", 5.0);
}
#undef SIP

/// Compares a scrape with the documented table: exactly the documented families and series
/// (plus the daemon's two), with `value(family, labels)` as each one's value.
void check_exposed(const std::string& text,
                   const std::function<double(const std::string&, const std::string&)>& value) {
  const std::vector<DocFamily> docs = doc_families();
  REQUIRE(docs.size() == sip::kFamilies.size());
  const Exposed exposed = parse_exposition(text, docs);
  std::size_t total = 0;
  for (const DocFamily& f : docs) {
    CAPTURE(f.name);
    const std::set<std::string> want = expected_series(f);
    CHECK(want.size() == f.bound);
    std::set<std::string> got;
    auto it = exposed.find(f.name);
    REQUIRE(it != exposed.end());
    for (const auto& series : it->second) {
      const std::string& labels = series.first;  // not a structured binding: CAPTURE is a lambda
      got.insert(labels);
      CAPTURE(labels);
      CHECK(series.second == value(f.name, labels));
    }
    CHECK(got == want);
    total += got.size();
  }
  CHECK(total == 92);
  for (const auto& family : exposed) {
    const std::string& name = family.first;
    CAPTURE(name);
    if (!seed_family_name(name)) continue;
    const bool documented =
        std::any_of(docs.begin(), docs.end(), [&](const DocFamily& f) { return f.name == name; });
    CHECK((documented || name == sip::kMetricObserveDroppedTotal ||
           name == sip::kMetricUnknownLabelTotal));
  }
  CHECK(exposed.count(std::string(sip::kMetricObserveDroppedTotal)) == 1);
  CHECK(exposed.at(std::string(sip::kMetricUnknownLabelTotal)).at("") == 0);
}

}  // namespace

TEST_CASE("status codes classify to their hundreds class; anything else is 'other'") {
  using sip::CodeClass;
  CHECK(sip::classify_code(100) == CodeClass::provisional);
  CHECK(sip::classify_code(199) == CodeClass::provisional);
  CHECK(sip::classify_code(200) == CodeClass::successful);
  CHECK(sip::classify_code(302) == CodeClass::redirection);
  CHECK(sip::classify_code(486) == CodeClass::request_failure);
  CHECK(sip::classify_code(599) == CodeClass::server_failure);
  CHECK(sip::classify_code(699) == CodeClass::global_failure);
  for (int bad : {INT_MIN, -200, -1, 0, 1, 99, 700, 1000, INT_MAX})
    CHECK(sip::classify_code(bad) == CodeClass::other);
  static_assert(sip::kCodeClasses[static_cast<std::size_t>(sip::classify_code(404))] == "4xx");
}

TEST_CASE("method names classify exactly and case-sensitively; the long tail is 'other'") {
  for (std::size_t i = 0; i + 1 < sip::kMethods.size(); ++i)
    CHECK(sip::classify_method(sip::kMethods[i]) == static_cast<sip::Method>(i));
  for (std::string_view bad : {"", "invite", "Invite", "INVITE ", " INVITE", "INVITEX", "FOO",
                               "other", "OTHER", "X-CUSTOM", "ACKNOWLEDGE"})
    CHECK(sip::classify_method(bad) == sip::Method::other);
  static_assert(sip::classify_method("PRACK") == sip::Method::PRACK);
  static_assert(sip::kMethods[static_cast<std::size_t>(sip::Method::INFO)] == "INFO");
}

TEST_CASE("enumerators produce the seed's label values") {
  CHECK(sip::kDirections[static_cast<std::size_t>(sip::Direction::outbound)] ==
        sip::kDirectionOutbound);
  CHECK(sip::kByeReasons[static_cast<std::size_t>(sip::ByeReason::timer_expired)] ==
        "timer-expired");
  CHECK(sip::kByeReasons[static_cast<std::size_t>(sip::ByeReason::user_hangup)] == "user-hangup");
  CHECK(sip::kRefreshResults[static_cast<std::size_t>(sip::RefreshResult::bumped_422)] ==
        "422-bumped");
  CHECK(sip::kRefreshResults[static_cast<std::size_t>(sip::RefreshResult::gave_up_422)] ==
        "422-gave-up");
  CHECK(sip::kRefreshResults[static_cast<std::size_t>(sip::RefreshResult::dialog_gone_481)] ==
        "481");
  CHECK(sip::kRefreshResults[static_cast<std::size_t>(sip::RefreshResult::role_swap)] ==
        "role-swap");
  CHECK(sip::kDtlsResults[static_cast<std::size_t>(sip::DtlsResult::fingerprint_mismatch)] ==
        "fingerprint-mismatch");
  CHECK(sip::kStirResults[static_cast<std::size_t>(sip::StirResult::soft_fail)] == "soft-fail");
  CHECK(sip::kStirResults[static_cast<std::size_t>(sip::StirResult::no_identity)] == "no-identity");
  CHECK(sip::kVoiceAttachResults[static_cast<std::size_t>(sip::VoiceAttachResult::config_error)] ==
        "config_error");
  CHECK(sip::kCallStatuses[static_cast<std::size_t>(sip::CallStatus::ice_failed)] == "ice-failed");
  CHECK(sip::kLabelsTransportSIP[0].key == "transport");
  CHECK(sip::kLabelsTransportSIP[0].value == "sip");
  CHECK(sip::kLabelsTransportWebRTC[0].value == "webrtc");
}

TEST_CASE("labels_call and labels_dialog_outcome return pre-built label sets") {
  const Labels a = sip::labels_call(sip::Transport::webrtc, sip::CallStatus::pipeline_error);
  REQUIRE(a.size() == 2);
  CHECK(a.begin()[0].key == "transport");
  CHECK(a.begin()[0].value == "webrtc");
  CHECK(a.begin()[1].key == "status");
  CHECK(a.begin()[1].value == "pipeline-error");
  // Same combination, same storage: nothing is built per call.
  CHECK(sip::labels_call(sip::Transport::webrtc, sip::CallStatus::pipeline_error).begin() ==
        a.begin());
  CHECK(sip::labels_call(sip::Transport::sip, sip::CallStatus::ok).begin() != a.begin());
  CHECK(sip::labels_call(static_cast<sip::Transport>(2), sip::CallStatus::ok).empty());
  CHECK(sip::labels_call(sip::Transport::sip, static_cast<sip::CallStatus>(4)).empty());
  const Labels d = sip::labels_dialog_outcome(sip::Transport::sip, sip::DialogOutcome::fail);
  REQUIRE(d.size() == 2);
  CHECK(d.begin()[1].key == "outcome");
  CHECK(d.begin()[1].value == "fail");
  CHECK(
      sip::labels_dialog_outcome(sip::Transport::sip, static_cast<sip::DialogOutcome>(9)).empty());
}

TEST_CASE("docs/metrics.md holds exactly the table kFamilies renders") {
  const std::string doc = doc_table();
  REQUIRE_MESSAGE(!doc.empty(), "docs/metrics.md lacks the table markers");
  const std::string want = render_table();
  CHECK_MESSAGE(doc == want, "docs/metrics.md is stale; its table should read:\n" << want);
  std::size_t bound = 0;
  for (const sip::FamilyInfo& f : sip::kFamilies) bound += f.series();
  CHECK(bound == 92);
  const std::string whole = read_file(SIPMETRICS_METRICS_MD);
  CHECK(whole.find(std::string(sip::kMetricObserveDroppedTotal)) != std::string::npos);
  CHECK(whole.find(std::string(sip::kMetricUnknownLabelTotal)) != std::string::npos);
}

TEST_CASE("every helper, on an explicit Client, produces exactly the documented series") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) { exercise_all(&c); });
  Exporter e(std::move(file), test::fast());
  // Every series hit once; active calls: 5 started and 4 ended per transport.
  check_exposed(scrape(e), [](const std::string&, const std::string&) { return 1.0; });
}

TEST_CASE("every helper, on Client::global(), produces exactly the documented series") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client&) { exercise_all(nullptr); });
  Writer w2(seg.path(), [](Client&) { exercise_all(nullptr); });
  Exporter e(std::move(file), test::fast());
  check_exposed(scrape(e), [](const std::string&, const std::string&) { return 2.0; });
}

TEST_CASE("the series exist at zero from a Client's first helper call (or prepare())") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) { sip::prepare(c); });
  Exporter e(std::move(file), test::fast());
  check_exposed(scrape(e), [](const std::string&, const std::string&) { return 0.0; });
}

TEST_CASE("out-of-range codes, unknown methods and bad enumerators never create series") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    for (int code = -300; code < 100; ++code) sip::invite_result(c, sip::Direction::inbound, code);
    for (int code = 700; code < 1300; ++code) sip::invite_result(c, sip::Direction::outbound, code);
    sip::invite_result(c, sip::Direction::outbound, INT_MIN);
    sip::invite_result(c, sip::Direction::outbound, INT_MAX);
    for (int i = 0; i < 500; ++i) sip::transaction_timeout(c, "X-METHOD-" + std::to_string(i));
    for (std::string_view m : {"", "invite", "Bye", "INVITE ", "other"})
      sip::transaction_timeout(c, m);
    sip::transaction_timeout(c, static_cast<sip::Method>(99));  // counted as other, like a name
    // Enumerators outside their range (casts) are dropped.
    const auto bad = [](auto e) { return static_cast<decltype(e)>(77); };
    sip::invite_result(c, bad(sip::Direction{}), 200);
    sip::bye(c, bad(sip::Direction{}), sip::ByeBy::local, sip::ByeReason::normal);
    sip::bye(c, bad(sip::ByeBy{}), sip::ByeReason::normal);
    sip::bye(c, sip::ByeBy::local, bad(sip::ByeReason{}));
    sip::session_timer_refresh(c, bad(sip::RefreshResult{}));
    sip::dtls_handshake(c, bad(sip::DtlsResult{}));
    sip::stir_verify(c, bad(sip::StirResult{}));
    sip::voice_attach(c, bad(sip::VoiceAttachMode{}), true);
    sip::voice_attach(c, sip::VoiceAttachMode::cascaded, bad(sip::VoiceAttachResult{}));
    sip::voice_attach_mode_fallback(c, sip::VoiceMode::realtime, sip::VoiceMode::pipeline);
    sip::voice_attach_mode_fallback(c, sip::VoiceMode::pipeline, sip::VoiceMode::pipeline);
    sip::voice_attach_mode_fallback(c, bad(sip::VoiceMode{}), sip::VoiceMode::realtime);
    sip::call_started(c, bad(sip::Transport{}));
    sip::call_started(c, sip::Transport::sip);
    sip::call_ended(c, sip::Transport::sip, bad(sip::CallStatus{}));  // the call still ends
    sip::call_ended(c, bad(sip::Transport{}), sip::CallStatus::ok);
    sip::asr_error(c, bad(sip::Transport{}));
    sip::tts_error(c, bad(sip::Transport{}));
    sip::barge_in(c, bad(sip::Transport{}));
    sip::dialog_reconnect(c, bad(sip::Transport{}), sip::DialogOutcome::ok);
    sip::dialog_reconnect(c, sip::Transport::sip, bad(sip::DialogOutcome{}));
  });
  Exporter e(std::move(file), test::fast());
  check_exposed(scrape(e), [](const std::string& family, const std::string& labels) {
    if (family == sip::kMetricInviteResultTotal &&
        labels == R"(code_class="other",direction="inbound")")
      return 400.0;
    if (family == sip::kMetricInviteResultTotal &&
        labels == R"(code_class="other",direction="outbound")")
      return 602.0;
    if (family == sip::kMetricTransactionTimeoutTotal && labels == R"(method="other")")
      return 506.0;
    return 0.0;
  });
}

TEST_CASE("whitelists are declared: an undeclared key is counted and merged away") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    sip::bye(c, sip::Direction::inbound, sip::ByeBy::remote, sip::ByeReason::normal);
    c.counter(sip::kMetricByeTotal, "",
              {{"direction", "inbound"},
               {"by", "remote"},
               {"reason_class", "normal"},
               {"call_id", "a1b2"}})
        .add(2);
    c.summary(sip::kMetricE2EFirstByteMs, "", {{"transport", "sip"}}).observe(100);
  });
  Exporter e(std::move(file), test::fast());
  const std::string text = scrape(e);
  CHECK(text.find("call_id") == std::string::npos);
  CHECK(text.find("\nvoiceserver_metrics_unknown_label_total 2\n") != std::string::npos);
  const Exposed exposed = parse_exposition(text, doc_families());
  CHECK(
      exposed.at("sip_bye_total").at(R"(by="remote",direction="inbound",reason_class="normal")") ==
      3);
  CHECK(exposed.at("voiceserver_e2e_first_byte_ms").size() == 1);
  CHECK(exposed.at("voiceserver_e2e_first_byte_ms").at("") == 1);
}

TEST_CASE("QoS and first-byte helpers skip zero, negative and non-finite input") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    sip::observe_call_qos(c, 0, 0, 0, 0);
    sip::observe_call_qos(c, 0, -1, -0.5, -3);
    sip::observe_call_qos(c, 0, nan, inf, -inf);
    sip::observe_call_qos(c, 80, 3.5, 0.25, 4.0);
    sip::observe_call_qos(c, 40, 0, 0, 0);  // only the RTT is known
    for (int ms : {0, -5, INT_MIN}) {
      sip::observe_e2e_first_byte(c, ms);
      sip::observe_llm_first_byte(c, ms);
      sip::observe_tts_first_byte(c, ms);
    }
    sip::observe_e2e_first_byte(c, 250);
    sip::observe_llm_first_byte(c, 120);
    sip::observe_tts_first_byte(c, 90);
  });
  Exporter e(std::move(file), test::fast());
  const std::string text = scrape(e);
  auto has = [&text](const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
  };
  CHECK(has("sip_call_rtt_ms_count 2"));
  CHECK(has("sip_call_rtt_ms_sum 120"));
  CHECK(has("sip_call_jitter_ms_count 1"));
  CHECK(has("sip_call_jitter_ms_sum 3.5"));
  CHECK(has("sip_call_loss_fraction_count 1"));
  CHECK(has("sip_call_loss_fraction_sum 0.25"));
  CHECK(has("sip_call_mos_estimate_count 1"));
  CHECK(has("sip_call_mos_estimate_sum 4"));
  CHECK(has("voiceserver_e2e_first_byte_ms_count 1"));
  CHECK(has("voiceserver_e2e_first_byte_ms_sum 250"));
  CHECK(has("voiceserver_llm_first_byte_ms_count 1"));
  CHECK(has("voiceserver_llm_first_byte_ms_sum 120"));
  CHECK(has("voiceserver_tts_first_byte_ms_count 1"));
  CHECK(has("voiceserver_tts_first_byte_ms_sum 90"));
}

TEST_CASE("active calls sum over live workers; a dead worker's calls leave with it") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer a(seg.path(), [](Client& c) {
    for (int i = 0; i < 3; ++i) sip::call_started(c, sip::Transport::sip);
    sip::call_ended(c, sip::Transport::sip, sip::CallStatus::ok);
  });
  Writer b(seg.path(), [](Client&) {
    sip::call_started(sip::Transport::sip);
    sip::call_started(sip::Transport::webrtc);
  });
  Exporter e(std::move(file), test::fast());
  Exposed x = parse_exposition(scrape(e), doc_families());
  CHECK(x.at("voiceserver_active_calls").at(R"(transport="sip")") == 3);
  CHECK(x.at("voiceserver_active_calls").at(R"(transport="webrtc")") == 1);
  CHECK(x.at("voiceserver_calls_total").at(R"(status="ok",transport="sip")") == 1);
  a.kill();
  e.tick(true);
  x = parse_exposition(scrape(e), doc_families());
  CHECK(x.at("voiceserver_active_calls").at(R"(transport="sip")") == 1);
  CHECK(x.at("voiceserver_calls_total").at(R"(status="ok",transport="sip")") == 1);
}

TEST_CASE("threads racing on a Client's first helper call all count, into the same series") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  Writer w(seg.path(), [](Client& c) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&c] {
        for (int i = 0; i < 10'000; ++i) sip::invite_result(c, sip::Direction::inbound, 200);
      });
    for (std::thread& t : threads) t.join();
  });
  Exporter e(std::move(file), test::fast());
  const Exposed x = parse_exposition(scrape(e), doc_families());
  CHECK(x.at("sip_invite_result_total").size() == 14);
  CHECK(x.at("sip_invite_result_total").at(R"(code_class="2xx",direction="inbound")") == 80'000);
}

TEST_CASE("observe_async shares observe's ring; async_dropped_count is this process's drops") {
  // Written and read in this process: no Exporter here, nothing drains the ring.
  test::TempSegment seg;
  Options o;
  o.segment = seg.path();
  o.geometry = test::small_geometry();  // rings of 64 samples
  static Client* c = new Client(o);
  REQUIRE(c->attached());
  CHECK(c->async_dropped_count() == 0);
  for (int i = 0; i < 100; ++i) c->observe_async("async_ms", "", i);
  CHECK(c->async_dropped_count() == 36);
  std::thread([] {
    for (int i = 0; i < 70; ++i) sip::observe_async(*c, "async_ms", "", i);
  }).join();
  CHECK(c->async_dropped_count() == 42);  // a second lane: 64 kept, 6 dropped
  CHECK(sip::async_dropped_count(*c) == 42);

  // A fork child has lanes of its own: the parent's drops are not its own.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    bool ok = c->async_dropped_count() == 0;
    for (int i = 0; i < 65; ++i) c->observe_async("async_ms", "", i);
    ok = ok && c->async_dropped_count() == 1;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(c->async_dropped_count() == 42);
}

}  // namespace sipmetrics

namespace sipmetrics {

TEST_CASE("SIPMETRICS_LATENCY_HISTOGRAMS=1 adds a histogram twin to every latency summary") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  test::Writer w(seg.path(), [](Client& c) {
    ::setenv("SIPMETRICS_LATENCY_HISTOGRAMS", "1", 1);  // in the writer only (a child process)
    for (int i = 1; i <= 100; ++i) {
      sip::observe_call_qos(c, static_cast<std::uint32_t>(i), i * 0.5, i / 1000.0, 4.5);
      sip::observe_e2e_first_byte(c, i * 40);
      sip::observe_llm_first_byte(c, i * 20);
      sip::observe_tts_first_byte(c, i * 10);
    }
    sip::observe_call_qos(c, 0, -1, 0, 0);  // "no data": neither the summaries nor the twins
  });
  Exporter e(std::move(file), test::fast());
  const std::string text = scrape(e);
  // The summaries are unchanged ...
  CHECK(test::has_line(text, "sip_call_rtt_ms_count 100"));
  CHECK(test::has_line(text, "voiceserver_e2e_first_byte_ms_count 100"));
  // ... and each twin holds the same samples in buckets that add up across hosts.
  for (const sip::HistogramTwin& t : sip::kLatencyHistograms) {
    CAPTURE(t.name);
    CHECK(test::has_line(text, "# TYPE " + std::string(t.name) + " histogram"));
    CHECK(test::has_line(text, std::string(t.name) + "_count 100"));
    CHECK(test::has_line(text, std::string(t.name) + "_bucket{le=\"+Inf\"} 100"));
  }
  CHECK(test::has_line(text, "sip_call_rtt_hist_ms_sum 5050"));
  CHECK(test::has_line(text, "sip_call_rtt_hist_ms_bucket{le=\"50\"} 50"));
  CHECK(test::has_line(text, "voiceserver_e2e_first_byte_hist_ms_bucket{le=\"1000\"} 25"));
  CHECK(test::has_line(text, "sip_call_mos_estimate_hist_bucket{le=\"4.4\"} 0"));
}

TEST_CASE("SIPMETRICS_LATENCY_HISTOGRAMS=native gives the twins native buckets too") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  const detail::SegmentView view = file->view();
  test::Writer w(seg.path(), [](Client& c) {
    ::setenv("SIPMETRICS_LATENCY_HISTOGRAMS", "native", 1);
    for (int i = 1; i <= 100; ++i) {
      sip::observe_call_qos(c, static_cast<std::uint32_t>(i), i * 0.5, i / 1000.0, 4.5);
      sip::observe_e2e_first_byte(c, i * 40);
      sip::observe_llm_first_byte(c, i * 20);
      sip::observe_tts_first_byte(c, i * 10);
    }
  });
  Exporter e(std::move(file), test::fast());
  const std::string text = scrape(e);
  CHECK(test::has_line(text, "sip_call_rtt_ms_count 100"));
  std::uint32_t cells = 0;
  for (const sip::HistogramTwin& t : sip::kLatencyHistograms) {
    CAPTURE(t.name);
    CHECK(test::has_line(text, std::string(t.name) + "_count 100"));  // classic, as before
    bool found = false;
    for (std::uint32_t i = 0; i < view.geometry().max_series; ++i) {
      const layout::SeriesEntry& en = view.entry(i);
      detail::DecodedKey k;
      if (layout::entry_state(en.state.load()) != layout::kEntryReady ||
          !detail::decode_key(*view.arena_bytes(en.key_offset, en.key_length), k) ||
          k.name != t.name)
        continue;
      found = true;
      CHECK(en.type == layout::MetricType::kNativeHistogram);
      CHECK(en.native_schema == 3);
      CHECK(detail::native_zero_threshold({en.native_first_index, en.native_buckets, 3}) ==
            t.native.lowest);
      cells += en.cell_count;
    }
    CHECK(found);
  }
  CHECK(cells == 5 * (14 + 4 + 152) + (9 + 4 + 80) + (9 + 4 + 24));  // 980, as sip.hpp says
}

TEST_CASE("without SIPMETRICS_LATENCY_HISTOGRAMS, no histogram series at all") {
  test::TempSegment seg;
  auto file = test::open_segment(seg.path());
  REQUIRE(file);
  test::Writer w(seg.path(), [](Client& c) {
    ::unsetenv("SIPMETRICS_LATENCY_HISTOGRAMS");
    sip::observe_call_qos(c, 10, 1, 0.01, 4);
  });
  Exporter e(std::move(file), test::fast());
  const std::string text = scrape(e);
  CHECK(test::has_line(text, "sip_call_rtt_ms_count 1"));
  CHECK(text.find("_hist") == std::string::npos);
  CHECK(text.find(" histogram\n") == std::string::npos);  // no # TYPE ... histogram
}

}  // namespace sipmetrics
