// A strict parser for Prometheus text format 0.0.4 as sipmetricsd writes it: stricter than
// Prometheus itself (every family has HELP then TYPE, no blank lines, comments, timestamps or
// empty label sets), and it rejects everything Prometheus' own parser rejects for the features
// used here: invalid UTF-8, bad escapes, names outside the grammar, a sample outside its family,
// a name or series seen twice, a summary's _sum/_count colliding with another family.
// Used by the integration tests on real /metrics output and by the segment reader fuzzer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sipmetrics::test {

struct ExpoSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // decoded values, in line order
  double value = 0;

  std::optional<std::string> label(std::string_view key) const {
    for (const auto& [k, v] : labels)
      if (k == key) return v;
    return std::nullopt;
  }
};

struct ExpoFamily {
  std::string name, help, type;  // help decoded
  std::vector<ExpoSample> samples;
};

struct Exposition {
  std::vector<ExpoFamily> families;
  std::string error;           // empty when the whole text is valid
  std::size_t error_line = 0;  // 1-based
  /// Families whose name is another summary's name + "_sum" or "_count" (see ParseOptions).
  std::size_t suffix_collisions = 0;

  bool ok() const { return error.empty(); }
  const ExpoFamily* family(std::string_view name) const {
    for (const ExpoFamily& f : families)
      if (f.name == name) return &f;
    return nullptr;
  }
};

struct ParseOptions {
  /// Count a family named like another summary's `_sum`/`_count` samples in suffix_collisions
  /// instead of failing (Prometheus fails the whole scrape on it). Only for the fuzzer, which
  /// must not stop on that known product bug while it looks for others.
  bool tolerate_suffix_collisions = false;
};

namespace expo_detail {

inline bool metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline bool label_name(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline std::size_t name_length(std::string_view s, bool colon_ok) {
  std::size_t n = 0;
  while (n < s.size()) {
    const char c = s[n];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon_ok && c == ':') || (n > 0 && c >= '0' && c <= '9');
    if (!ok) break;
    ++n;
  }
  return n;
}

/// Value token: NaN, +Inf, -Inf or a number strtod takes whole.
inline std::optional<double> value_token(std::string_view s) {
  if (s == "NaN") return std::nan("");
  if (s == "+Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s.empty() || s.size() > 64) return std::nullopt;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      return std::nullopt;
  const std::string str(s);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size()) return std::nullopt;
  return v;
}

}  // namespace expo_detail

/// Whether `s` is well-formed UTF-8 (Unicode Table 3-7: no overlongs, surrogates or > U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto at = [&s](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char b = at(i + k);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

/// Parses a whole exposition; on the first violation, `error` and `error_line` say what and where.
inline Exposition parse_exposition(std::string_view text, ParseOptions options = {}) {
  using namespace expo_detail;
  Exposition out;
  std::size_t line_no = 0;
  auto fail = [&](const std::string& why) {
    out.error = why;
    out.error_line = line_no;
    return out;
  };
  if (!valid_utf8(text)) {
    // Name the line for the report.
    std::size_t start = 0;
    for (line_no = 1;; ++line_no) {
      const auto nl = text.find('\n', start);
      const std::string_view line =
          text.substr(start, nl == std::string_view::npos ? nl : nl - start);
      if (!valid_utf8(line) || nl == std::string_view::npos) break;
      start = nl + 1;
    }
    return fail("invalid UTF-8");
  }
  if (!text.empty() && text.back() != '\n') return fail("no newline at the end");

  std::set<std::string> family_names;
  std::set<std::string> summary_suffixed;           // "<summary>_sum", "<summary>_count"
  std::map<std::string, std::size_t> sample_owner;  // sample name -> family index
  std::set<std::string> series_seen;                // family index + name + labels
  enum class Expect { kHelpOrSample, kType } expect = Expect::kHelpOrSample;

  std::size_t start = 0;
  while (start < text.size()) {
    ++line_no;
    const auto nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) return fail("empty line");

    if (line.starts_with("# HELP ")) {
      if (expect == Expect::kType) return fail("HELP where TYPE was due");
      std::string_view rest = line.substr(7);
      const auto sp = rest.find(' ');
      if (sp == std::string_view::npos) return fail("HELP without text");
      const std::string name(rest.substr(0, sp));
      if (!metric_name(name)) return fail("HELP for an invalid name '" + name + "'");
      if (family_names.contains(name)) return fail("second HELP for " + name);
      if (summary_suffixed.contains(name)) {
        if (!options.tolerate_suffix_collisions)
          return fail("family " + name + " collides with a summary's _sum/_count samples");
        ++out.suffix_collisions;
      } else if (sample_owner.contains(name)) {
        return fail("family " + name + " named like samples of an earlier family");
      }
      std::string help;
      const std::string_view raw = rest.substr(sp + 1);
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
          help += raw[i];
          continue;
        }
        if (i + 1 >= raw.size()) return fail("HELP ends in a lone backslash");
        const char e = raw[++i];
        if (e == '\\')
          help += '\\';
        else if (e == 'n')
          help += '\n';
        else
          return fail(std::string("invalid escape in HELP: \\") + e);
      }
      family_names.insert(name);
      out.families.push_back(ExpoFamily{name, std::move(help), "", {}});
      expect = Expect::kType;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      if (expect != Expect::kType) return fail("TYPE without HELP just before it");
      std::string_view rest = line.substr(7);
      const auto sp = rest.find(' ');
      if (sp == std::string_view::npos) return fail("TYPE without a type");
      const std::string name(rest.substr(0, sp));
      const std::string type(rest.substr(sp + 1));
      if (name != out.families.back().name)
        return fail("TYPE for " + name + " after HELP for another");
      if (type != "counter" && type != "gauge" && type != "summary" && type != "histogram" &&
          type != "untyped")
        return fail("unknown type '" + type + "'");
      out.families.back().type = type;
      if (type == "summary" || type == "histogram") {
        summary_suffixed.insert(name + "_sum");
        summary_suffixed.insert(name + "_count");
        if (type == "histogram") summary_suffixed.insert(name + "_bucket");
      }
      expect = Expect::kHelpOrSample;
      continue;
    }
    if (line.starts_with("#")) return fail("unexpected comment line");
    if (expect == Expect::kType) return fail("sample where TYPE was due");
    if (out.families.empty()) return fail("sample before any HELP/TYPE");

    // A sample: name{labels} value
    ExpoFamily& fam = out.families.back();
    const std::size_t fam_index = out.families.size() - 1;
    ExpoSample smp;
    const std::size_t n = name_length(line, true);
    if (n == 0) return fail("sample without a metric name");
    smp.name = std::string(line.substr(0, n));
    std::size_t i = n;
    const bool in_family = smp.name == fam.name ||
                           ((fam.type == "summary" || fam.type == "histogram") &&
                            (smp.name == fam.name + "_sum" || smp.name == fam.name + "_count")) ||
                           (fam.type == "histogram" && smp.name == fam.name + "_bucket");
    if (!in_family) return fail("sample " + smp.name + " outside its family " + fam.name);
    if (auto it = sample_owner.find(smp.name);
        it != sample_owner.end() && it->second != fam_index) {
      if (!options.tolerate_suffix_collisions)
        return fail("sample name " + smp.name + " used by two families");
    }
    sample_owner.emplace(smp.name, fam_index);
    std::string label_key;  // canonical: sorted "k=v\xff..." for duplicate detection
    if (i < line.size() && line[i] == '{') {
      ++i;
      std::set<std::string> keys;
      for (;;) {
        const std::size_t kn = name_length(line.substr(i), false);
        if (kn == 0) return fail("label without a valid name");
        const std::string key(line.substr(i, kn));
        if (!label_name(key)) return fail("invalid label name '" + key + "'");
        if (!keys.insert(key).second) return fail("label " + key + " twice");
        i += kn;
        if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
          return fail("label " + key + " not followed by =\"");
        i += 2;
        std::string value;
        for (;;) {
          if (i >= line.size()) return fail("unterminated label value");
          const char c = line[i++];
          if (c == '"') break;
          if (c != '\\') {
            value += c;
            continue;
          }
          if (i >= line.size()) return fail("label value ends in a lone backslash");
          const char e = line[i++];
          if (e == '\\')
            value += '\\';
          else if (e == '"')
            value += '"';
          else if (e == 'n')
            value += '\n';
          else
            return fail(std::string("invalid escape in a label value: \\") + e);
        }
        smp.labels.emplace_back(key, std::move(value));
        if (i >= line.size()) return fail("unterminated label set");
        if (line[i] == '}') {
          ++i;
          break;
        }
        if (line[i] != ',') return fail("expected , or } after a label");
        ++i;
        if (i < line.size() && line[i] == '}') return fail("trailing comma in a label set");
      }
    }
    if (i >= line.size() || line[i] != ' ') return fail("no space before the value");
    ++i;
    const std::string_view token = line.substr(i);
    if (token.find(' ') != std::string_view::npos) return fail("timestamp or extra field");
    const auto v = value_token(token);
    if (!v) return fail("invalid value '" + std::string(token) + "'");
    smp.value = *v;
    if (fam.type == "summary") {
      const bool q = smp.label("quantile").has_value();
      if (smp.name == fam.name && !q) return fail("summary sample without quantile");
      if (smp.name != fam.name && q) return fail("summary _sum/_count with a quantile label");
      if (q && !value_token(*smp.label("quantile"))) return fail("quantile label is not a number");
    }
    if (fam.type == "histogram") {
      const auto le = smp.label("le");
      const bool bucket = smp.name == fam.name + "_bucket";
      if (bucket && (!le || !value_token(*le)))
        return fail("histogram bucket without a numeric le");
      if (!bucket && le) return fail("histogram _sum/_count with an le label");
      if (smp.name == fam.name) return fail("histogram sample without a suffix");
    }
    {
      auto sorted = smp.labels;
      std::sort(sorted.begin(), sorted.end());
      label_key =
          std::to_string(options.tolerate_suffix_collisions ? fam_index : 0) + "\n" + smp.name;
      for (const auto& [k, val] : sorted) {
        label_key += '\xff';
        label_key += k;
        label_key += '=';
        label_key += val;
      }
    }
    if (!series_seen.insert(label_key).second) return fail("series " + smp.name + " twice");
    fam.samples.push_back(std::move(smp));
  }
  if (expect == Expect::kType) return fail("HELP without TYPE at the end");
  for (const ExpoFamily& f : out.families)
    if (f.samples.empty()) {
      out.error = "family " + f.name + " has no samples";
      return out;
    }
  return out;
}

}  // namespace sipmetrics::test
