#include "text_format.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace sipmetrics {
namespace {

using namespace std::literals;

const std::string kFffd = "\xEF\xBF\xBD";

std::string label(std::string_view in) {
  std::string out;
  append_label_value(out, in);
  return out;
}

std::string help(std::string_view in) {
  std::string out;
  append_help(out, in);
  return out;
}

std::string dbl(double v) {
  std::string out;
  append_double(out, v);
  return out;
}

std::string unsigned_text(std::uint64_t v) {
  std::string out;
  append_uint(out, v);
  return out;
}

std::string repeat_fffd(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kFffd;
  return s;
}

// Independent strict validator: decodes each code point and rejects overlong forms, surrogates
// and values above U+10FFFF by value rather than by the byte-range table the code under test uses.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t cp;
    std::uint32_t min;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1Fu;
      min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0Fu;
      min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

void encode_utf8(std::string& out, std::uint32_t cp) {
  const auto put = [&](std::uint32_t byte) { out.push_back(static_cast<char>(byte)); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

// Reverses the label-value escaping; nullopt if the text contains a raw '"' or newline or an
// unknown escape, which a correct escaper never produces.
std::optional<std::string> unescape_label(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\n') return std::nullopt;
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '\\': out.push_back('\\'); break;
      case '"': out.push_back('"'); break;
      case 'n': out.push_back('\n'); break;
      default: return std::nullopt;
    }
  }
  return out;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), v);
  if (result.ec != std::errc() || result.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

TEST_CASE("append_label_value escaping") {
  CHECK(label("") == "");
  CHECK(label("plain ASCII 123 {}=,") == "plain ASCII 123 {}=,");
  CHECK(label("a\\b") == "a\\\\b");
  CHECK(label("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(label("line1\nline2") == "line1\\nline2");
  CHECK(label("\\\"\n") == "\\\\\\\"\\n");
  CHECK(label("\\n") == "\\\\n");  // a literal backslash-n is not a newline
  CHECK(label("tab\tcr\r") == "tab\tcr\r");
  CHECK(label("a\0b"s) == "a\0b"s);
  CHECK(label("\0"s) == "\0"s);

  std::string out = "prefix=\"";
  append_label_value(out, "v\"");
  CHECK(out == "prefix=\"v\\\"");
}

TEST_CASE("append_help escaping keeps double quotes") {
  CHECK(help("Total \"INVITE\" requests") == "Total \"INVITE\" requests");
  CHECK(help("a\\b\nc") == "a\\\\b\\nc");
  CHECK(help("\xFF\"") == kFffd + "\"");
  CHECK(help("nul\0inside"s) == "nul\0inside"s);
  std::string out = "# HELP x ";
  append_help(out, "y");
  CHECK(out == "# HELP x y");
}

TEST_CASE("valid multi-byte UTF-8 is preserved") {
  for (const std::string_view s : {"caf\xC3\xA9"sv,       // U+00E9
                                   "\xC2\x80"sv,          // U+0080, smallest two-byte
                                   "\xDF\xBF"sv,          // U+07FF
                                   "\xE0\xA0\x80"sv,      // U+0800, smallest three-byte
                                   "\xE2\x82\xAC 5"sv,    // U+20AC
                                   "\xED\x9F\xBF"sv,      // U+D7FF, just below the surrogates
                                   "\xEE\x80\x80"sv,      // U+E000, just above the surrogates
                                   "\xEF\xBF\xBD"sv,      // U+FFFD itself
                                   "\xEF\xBF\xBF"sv,      // U+FFFF
                                   "\xF0\x90\x80\x80"sv,  // U+10000, smallest four-byte
                                   "\xF0\x9F\x98\x80"sv,  // U+1F600
                                   "\xF4\x8F\xBF\xBF"sv,  // U+10FFFF, largest
                                   "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"sv}) {
    INFO(s);
    CHECK(label(s) == s);
    CHECK(help(s) == s);
  }
  CHECK(label("\xC3\xA9\"\xF0\x9F\x98\x80\n") == "\xC3\xA9\\\"\xF0\x9F\x98\x80\\n");
}

TEST_CASE("invalid UTF-8 is replaced per maximal subpart") {
  struct Case {
    std::string_view input;
    std::string expected;
  };
  // Expected outputs agree with Python's bytes.decode("utf-8", "replace").
  const Case cases[] = {
      {"\x80", repeat_fffd(1)},                  // lone continuation byte
      {"\xBF\x80", repeat_fffd(2)},              // two continuation bytes
      {"\xC0\xAF", repeat_fffd(2)},              // overlong '/' (2 bytes)
      {"\xC1\xBF", repeat_fffd(2)},              // overlong (2 bytes)
      {"\xE0\x80\xAF", repeat_fffd(3)},          // overlong '/' (3 bytes)
      {"\xE0\x9F\xBF", repeat_fffd(3)},          // overlong U+07FF
      {"\xF0\x80\x80\xAF", repeat_fffd(4)},      // overlong '/' (4 bytes)
      {"\xF0\x8F\xBF\xBF", repeat_fffd(4)},      // overlong U+FFFF
      {"\xED\xA0\x80", repeat_fffd(3)},          // U+D800, high surrogate
      {"\xED\xBF\xBF", repeat_fffd(3)},          // U+DFFF, low surrogate
      {"\xF4\x90\x80\x80", repeat_fffd(4)},      // U+110000
      {"\xF5\x80\x80\x80", repeat_fffd(4)},      // lead byte beyond U+10FFFF
      {"\xF8\x88\x80\x80\x80", repeat_fffd(5)},  // obsolete five-byte form
      {"\xFE", repeat_fffd(1)},
      {"\xFF", repeat_fffd(1)},
      {"\xC2", repeat_fffd(1)},          // truncated at end
      {"\xE2\x82", repeat_fffd(1)},      // truncated three-byte
      {"\xF0\x9F\x98", repeat_fffd(1)},  // truncated four-byte
      {"\xE2\x82Z", kFffd + "Z"},        // truncated by an ASCII byte
      {"\xF0\x9F\x98Z", kFffd + "Z"},
      {"\xC2\xC2\xA9", kFffd + "\xC2\xA9"},  // truncated by a new lead byte
      {"\xE2(\xA1", kFffd + "(" + kFffd},
      {"ok\xFFok", "ok" + kFffd + "ok"},
      {"\xFF\\\xFE\"\n", kFffd + "\\\\" + kFffd + "\\\"\\n"},
  };
  for (const Case& c : cases) {
    INFO(c.input);
    CHECK(label(c.input) == c.expected);
    CHECK(is_valid_utf8(label(c.input)));
  }
}

TEST_CASE("escaping properties on random input") {
  std::mt19937_64 rng(0xC0FFEE);
  std::uniform_int_distribution<int> length(0, 40);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> plane(0, 3);
  std::uniform_int_distribution<std::uint32_t> ascii(0, 0x7F);
  std::uniform_int_distribution<std::uint32_t> bmp(0x80, 0xFFFF);
  std::uniform_int_distribution<std::uint32_t> astral(0x10000, 0x10FFFF);

  int invalid_inputs = 0;
  for (int round = 0; round < 20000; ++round) {
    // Random bytes: the output must be valid UTF-8 with proper escapes, and must reproduce the
    // input exactly whenever the input was valid.
    std::string bytes;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>(byte(rng)));
    const std::string escaped = label(bytes);
    REQUIRE(is_valid_utf8(escaped));
    const std::optional<std::string> unescaped = unescape_label(escaped);
    REQUIRE(unescaped.has_value());
    if (is_valid_utf8(bytes)) {
      CHECK(*unescaped == bytes);
    } else {
      ++invalid_inputs;
      CHECK(unescaped->find(kFffd) != std::string::npos);
    }

    // Random valid text: round-trips through escape and unescape.
    std::string text;
    for (int i = 0; i < n; ++i) {
      std::uint32_t cp;
      switch (plane(rng)) {
        case 0: cp = ascii(rng); break;
        case 1:
        case 2:
          do cp = bmp(rng);
          while (cp >= 0xD800 && cp <= 0xDFFF);
          break;
        default: cp = astral(rng); break;
      }
      encode_utf8(text, cp);
    }
    REQUIRE(is_valid_utf8(text));
    const std::optional<std::string> round_trip = unescape_label(label(text));
    REQUIRE(round_trip.has_value());
    CHECK(*round_trip == text);
  }
  CHECK(invalid_inputs > 10000);
}

TEST_CASE("append_double") {
  CHECK(dbl(0.0) == "0");
  CHECK(dbl(-0.0) == "-0");
  CHECK(dbl(1.0) == "1");
  CHECK(dbl(-7.0) == "-7");
  CHECK(dbl(42.0) == "42");
  CHECK(dbl(1234567.0) == "1234567");
  CHECK(dbl(9007199254740992.0) == "9007199254740992");
  CHECK(dbl(0.1) == "0.1");
  CHECK(dbl(0.5) == "0.5");
  CHECK(dbl(1e-300) == "1e-300");
  CHECK(dbl(1e300) == "1e+300");
  CHECK(dbl(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(dbl(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(dbl(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(dbl(-std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(dbl(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(dbl(std::numeric_limits<double>::denorm_min()) == "5e-324");

  std::string out = "x ";
  append_double(out, 2.5);
  CHECK(out == "x 2.5");
}

TEST_CASE("append_double round-trips through std::from_chars") {
  const double named[] = {0.0,
                          -0.0,
                          1.0,
                          -1.0,
                          0.1,
                          1.0 / 3.0,
                          1e-300,
                          1e300,
                          123456789.0,
                          2.5e-8,
                          6.02214076e23,
                          std::numeric_limits<double>::min(),
                          std::numeric_limits<double>::max(),
                          std::numeric_limits<double>::denorm_min(),
                          -std::numeric_limits<double>::max()};
  for (const double v : named) {
    const std::string s = dbl(v);
    INFO(s);
    const std::optional<double> parsed = parse_double(s);
    REQUIRE(parsed.has_value());
    CHECK(std::bit_cast<std::uint64_t>(*parsed) == std::bit_cast<std::uint64_t>(v));
  }

  std::mt19937_64 rng(1);
  int checked = 0;
  for (int i = 0; i < 100000; ++i) {
    const double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v)) continue;
    const std::string s = dbl(v);
    const std::optional<double> parsed = parse_double(s);
    REQUIRE(parsed.has_value());
    REQUIRE(std::bit_cast<std::uint64_t>(*parsed) == std::bit_cast<std::uint64_t>(v));
    ++checked;
  }
  CHECK(checked > 99000);

  // from_chars accepts "-Inf" and "NaN" case-insensitively but rejects a leading '+', which the
  // exposition format requires for positive infinity.
  const std::optional<double> minus_inf =
      parse_double(dbl(-std::numeric_limits<double>::infinity()));
  REQUIRE(minus_inf.has_value());
  CHECK(*minus_inf == -std::numeric_limits<double>::infinity());
  const std::string plus_inf = dbl(std::numeric_limits<double>::infinity());
  REQUIRE(plus_inf.starts_with('+'));
  const std::optional<double> inf = parse_double(std::string_view(plus_inf).substr(1));
  REQUIRE(inf.has_value());
  CHECK(*inf == std::numeric_limits<double>::infinity());
  const std::optional<double> nan = parse_double(dbl(std::numeric_limits<double>::quiet_NaN()));
  REQUIRE(nan.has_value());
  CHECK(std::isnan(*nan));
}

TEST_CASE("append_uint") {
  CHECK(unsigned_text(0) == "0");
  CHECK(unsigned_text(1) == "1");
  CHECK(unsigned_text(10) == "10");
  CHECK(unsigned_text(4294967296) == "4294967296");
  CHECK(unsigned_text(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
  std::string out = "n ";
  append_uint(out, 7);
  append_uint(out, 8);
  CHECK(out == "n 78");
}

}  // namespace sipmetrics
