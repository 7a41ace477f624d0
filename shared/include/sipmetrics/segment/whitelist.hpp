// The label-whitelist format in the segment arena (see layout::WhitelistEntry): u16 family
// length, family, u8 key count, then per key u16 length, key; little endian. One encoder for the
// client, one decoder for everyone who reads it back (the client comparing with the newest
// declaration, the daemon, the tests and fuzzers), which trusts none of the bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <sipmetrics/segment/key.hpp>

namespace sipmetrics::detail {

/// Keys one declaration can hold (the count is one byte).
inline constexpr std::size_t kMaxWhitelistKeys = 255;

/// Encoded length of a declaration, or 0 when it cannot be one: a family outside the metric
/// name grammar, a key outside the label name grammar, or more than kMaxWhitelistKeys keys.
inline std::size_t whitelist_length(std::string_view family,
                                    std::span<const std::string_view> keys) noexcept {
  if (!valid_metric_name(family) || keys.size() > kMaxWhitelistKeys) return 0;
  std::size_t n = 2 + family.size() + 1;
  for (std::string_view k : keys) {
    if (!valid_label_name(k)) return 0;
    n += 2 + k.size();
  }
  return n;
}

/// Writes a declaration (whitelist_length() bytes, which must be non-zero) to `out`.
inline void encode_whitelist(std::string_view family, std::span<const std::string_view> keys,
                             char* out) noexcept {
  auto put16 = [&out](std::size_t v) {
    *out++ = static_cast<char>(v & 0xffu);
    *out++ = static_cast<char>((v >> 8) & 0xffu);
  };
  auto put = [&out](std::string_view s) {
    for (char c : s) *out++ = c;
  };
  put16(family.size());
  put(family);
  *out++ = static_cast<char>(keys.size());
  for (std::string_view k : keys) {
    put16(k.size());
    put(k);
  }
}

/// A decoded declaration; views into the bytes it was decoded from. Keys in declared order.
struct DecodedWhitelist {
  std::string_view family;
  std::array<std::string_view, kMaxWhitelistKeys> keys{};
  std::size_t key_count = 0;
};

/// Decodes untrusted bytes: names in their grammars, lengths within bounds, nothing left over.
/// False means a corrupt declaration.
inline bool decode_whitelist(std::span<const char> bytes, DecodedWhitelist& out) noexcept {
  KeyReader r(bytes);
  out.family = r.str16();
  out.key_count = r.u8();
  if (!r.ok() || !valid_metric_name(out.family)) return false;
  for (std::size_t i = 0; i < out.key_count; ++i) {
    out.keys[i] = r.str16();
    if (!r.ok() || !valid_label_name(out.keys[i])) return false;
  }
  return r.done();
}

}  // namespace sipmetrics::detail
