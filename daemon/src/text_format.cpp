#include "text_format.hpp"

#include <charconv>
#include <cmath>

namespace sipmetrics {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at s[i] (s[i] >= 0x80), or 0 when ill-formed;
// in that case *bad_length is the length of its maximal subpart (at least 1), which is what gets
// replaced by one U+FFFD. Ranges follow Unicode Table 3-7, which excludes overlong forms,
// surrogates and code points above U+10FFFF.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i,
                                 std::size_t* bad_length) noexcept {
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(s[at]); };
  const unsigned char lead = byte(i);
  std::size_t length;
  unsigned char second_lo = 0x80;
  unsigned char second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    *bad_length = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char lo = k == 1 ? second_lo : 0x80;
    const unsigned char hi = k == 1 ? second_hi : 0xBF;
    if (i + k >= s.size() || byte(i + k) < lo || byte(i + k) > hi) {
      *bad_length = k;
      return 0;
    }
  }
  return length;
}

// Shared by label values and HELP text, which differ only in whether '"' is escaped, and by
// protobuf strings, which escape nothing (kEscape false) but must still be UTF-8. Valid bytes
// are appended in runs so that the common case is a single append of the whole input.
template <bool kEscapeQuote, bool kEscape = true>
void append_escaped(std::string& out, std::string_view in) {
  std::size_t run_start = 0;
  std::size_t i = 0;
  const auto flush = [&] { out.append(in.data() + run_start, i - run_start); };
  while (i < in.size()) {
    const char c = in[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      std::size_t bad_length = 0;
      const std::size_t length = utf8_sequence_length(in, i, &bad_length);
      if (length != 0) {
        i += length;
        continue;
      }
      flush();
      out.append(kReplacementCharacter);
      i += bad_length;
      run_start = i;
      continue;
    }
    std::string_view escape;
    if constexpr (!kEscape) {
      ++i;
      continue;
    }
    if (c == '\\') {
      escape = "\\\\";
    } else if (c == '\n') {
      escape = "\\n";
    } else if (kEscapeQuote && c == '"') {
      escape = "\\\"";
    } else {
      ++i;
      continue;
    }
    flush();
    out.append(escape);
    ++i;
    run_start = i;
  }
  flush();
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  append_escaped<true>(out, value);
}

void append_help(std::string& out, std::string_view help) { append_escaped<false>(out, help); }

void append_utf8(std::string& out, std::string_view s) { append_escaped<false, false>(out, s); }

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  // The longest shortest-round-trip double is 24 characters ("-2.2250738585072014e-308").
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, static_cast<std::size_t>(result.ptr - buffer));
}

void append_uint(std::string& out, std::uint64_t v) {
  char buffer[20];  // UINT64_MAX has 20 digits
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, static_cast<std::size_t>(result.ptr - buffer));
}

}  // namespace sipmetrics
