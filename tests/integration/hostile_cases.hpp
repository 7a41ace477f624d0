// Hostile names, label values and help texts, shared by sipmetrics-fault-worker (which registers
// them through the public client API) and faults_test (which checks what sipmetricsd serves).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace sipmetrics::test::hostile {

inline const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Counter family carrying one series per ValueCase: {case="<id>", v="<raw>"}, value index + 1.
inline constexpr const char* kFamily = "fault_hostile_total";
inline const std::string kHelpRaw =
    "Hostile \\ help\nwith a newline, \"quotes\" and a bad \xff byte.";
inline const std::string kHelpServed =
    "Hostile \\ help\nwith a newline, \"quotes\" and a bad " + kReplacement + " byte.";

struct ValueCase {
  std::string id;
  std::string raw;     // what the worker passes as the label value
  std::string served;  // the value a parser of the exposition must read back
};

inline std::vector<ValueCase> value_cases() {
  const std::string& r = kReplacement;
  return {
      {"quote", "say \"hi\"", "say \"hi\""},
      {"backslash", "C:\\dir\\", "C:\\dir\\"},
      {"newline", "line1\nline2\n", "line1\nline2\n"},
      {"cr_tab", "a\r\tb", "a\r\tb"},
      {"nul", std::string("a\0b", 3), std::string("a\0b", 3)},
      {"escape_lookalikes", "\\\"\n\\n\\t", "\\\"\n\\n\\t"},
      {"utf8", "日本語 ☎ \xF0\x9F\x8E\x89", "日本語 ☎ \xF0\x9F\x8E\x89"},
      {"bad_byte",
       "a\xff"
       "b",
       "a" + r + "b"},
      {"overlong", "\xc0\xaf", r + r},
      {"truncated", "x\xe2\x82", "x" + r},
      {"surrogate", "\xed\xa0\x80", r + r + r},
      {"above_max", "\xf4\x90\x80\x80", r + r + r + r},
      {"lone_continuation", "\x80", r},
      {"empty", "", ""},
      // At kMaxLabelValueBytes (1024) exactly: kept whole, then escaped and repaired.
      {"max_ascii", std::string(1024, 'x'), std::string(1024, 'x')},
      {"max_quotes", std::string(1024, '"'), std::string(1024, '"')},
      {"max_bad", std::string(1023, 'x') + "\xff", std::string(1023, 'x') + r},
  };
}

/// Help longer than kMaxHelpBytes (1024) whose cut would split a 3-byte character.
inline const std::string kLongHelpFamily = "fault_long_help_total";
inline const std::string kLongHelpRaw =
    std::string(1022, 'h') + "\xE2\x82\xAC" + std::string(500, 'h');
inline const std::string kLongHelpServed = std::string(1022, 'h');

/// Names at the limit (kMaxNameBytes = 200) are accepted.
inline const std::string kLongName = "fault_" + std::string(188, 'n') + "_total";  // 200 bytes
inline const std::string kLongKeyFamily = "fault_long_key_total";
inline const std::string kLongKey(200, 'k');
inline const std::string kManyLabelsFamily = "fault_many_labels_total";  // kMaxLabels = 16 labels

/// One registration that must be refused, and the reason it is counted under.
struct Refused {
  enum class Kind { kCounter, kGauge, kSummary, kWhitelist } kind;
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // whitelist: keys only
  std::string reason = "invalid_name";
};

inline std::vector<Refused> refused() {
  using K = Refused::Kind;
  std::vector<std::pair<std::string, std::string>> seventeen;
  for (int i = 0; i < 17; ++i) seventeen.emplace_back("l" + std::to_string(100 + i), "v");
  return {
      {K::kCounter, "", {}},
      {K::kCounter, "1st_total", {}},
      {K::kCounter, "has-dash_total", {}},
      {K::kCounter, "has space_total", {}},
      {K::kCounter, "\xC3\xBCnicode_total", {}},
      {K::kCounter, "quote\"_total", {}},
      {K::kCounter, "new\nline_total", {}},
      {K::kCounter, std::string("nul\0_total", 10), {}},
      {K::kCounter, "fault_" + std::string(189, 'n') + "_total", {}},  // 201 bytes
      {K::kCounter, "fault_refused_total", {{"__name__", "x"}}, "reserved_label"},
      {K::kCounter, "fault_refused_total", {{"le", "1"}}, "reserved_label"},
      {K::kSummary, "fault_refused_ms", {{"quantile", "0.5"}}, "reserved_label"},
      {K::kCounter, "fault_refused_total", {{"a", "1"}, {"b", "2"}, {"a", "3"}}, "duplicate_label"},
      // Longer than kMaxLabelValueBytes (1024): never cut, so that two values that differ only
      // past the cut cannot become one series.
      {K::kCounter, "fault_refused_total", {{"v", std::string(1025, 'x')}}, "label_too_long"},
      {K::kCounter, "fault_refused_total", {{"v", std::string(1025, 'x') + "y"}}, "label_too_long"},
      {K::kGauge, "fault_refused", {{"v", std::string(5000, '"')}}, "label_too_long"},
      {K::kCounter, "fault_refused_total", {{"1key", "x"}}},
      {K::kCounter, "fault_refused_total", {{"key-dash", "x"}}},
      {K::kCounter, "fault_refused_total", {{"", "x"}}},
      {K::kCounter, "fault_refused_total", {{"a:b", "x"}}},
      {K::kCounter, "fault_refused_total", {{std::string(201, 'k'), "x"}}},
      {K::kCounter, "fault_refused_total", {{"\xD0\xBA\xD0\xBB", "x"}}},
      {K::kCounter, "fault_refused_total", seventeen},
      {K::kGauge, "gauge-x", {}},
      {K::kSummary, "bad name", {}},
      {K::kWhitelist, "bad-family", {{"transport", ""}}},
      {K::kWhitelist, kFamily, {{"bad-key", ""}}},
  };
}

}  // namespace sipmetrics::test::hostile
