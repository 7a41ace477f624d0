// Series keys: validation of names, the canonical byte encoding stored in the segment arena,
// and its decoding. Shared by the client (encode, cold path) and the daemon (decode, with every
// length checked: the bytes come from shared memory and are not trusted).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include <sipmetrics/layout.hpp>

namespace sipmetrics {

/// One label: a key from a small fixed vocabulary and a bounded value (never a Call-ID).
struct Label {
  std::string_view key;
  std::string_view value;
};

/// A non-owning view of labels; build it from a braced list, an array or a span. The labels
/// must outlive the call they are passed to (they are copied into the segment, not kept).
class Labels {
 public:
  constexpr Labels() noexcept = default;
  // The braced list lives until the end of the full expression: as long as the call using it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  constexpr Labels(std::initializer_list<Label> l) noexcept : data_(l.begin()), size_(l.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  constexpr Labels(std::span<const Label> s) noexcept : data_(s.data()), size_(s.size()) {}
  template <std::size_t N>
  constexpr Labels(const std::array<Label, N>& a) noexcept : data_(a.data()), size_(N) {}

  constexpr const Label* begin() const noexcept { return data_; }
  constexpr const Label* end() const noexcept { return data_ + size_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }

 private:
  const Label* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {

constexpr bool name_char(char c, bool first, bool colon_ok) noexcept {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const bool digit = c >= '0' && c <= '9';
  return alpha || (!first && digit) || (colon_ok && c == ':');
}

/// Prometheus metric name grammar `[a-zA-Z_:][a-zA-Z0-9_:]*`, at most kMaxNameBytes.
constexpr bool valid_metric_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > layout::kMaxNameBytes) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!name_char(s[i], i == 0, true)) return false;
  return true;
}

/// Label name grammar `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the reserved "__".
constexpr bool valid_label_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > layout::kMaxNameBytes || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!name_char(s[i], i == 0, false)) return false;
  return true;
}

/// Longest prefix of `s` of at most `max` bytes that does not split a UTF-8 sequence.
constexpr std::string_view utf8_prefix(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0u) == 0x80u) --n;
  return s.substr(0, n);
}

inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

constexpr std::uint64_t fnv1a(std::uint64_t h, std::span<const char> bytes) noexcept {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

/// A label set sorted by key, keys unique. Lives on the stack; no allocation.
struct SortedLabels {
  std::array<Label, layout::kMaxLabels> items{};
  std::size_t size = 0;
};

/// Whether a label key is one Prometheus generates itself: `le` (histogram buckets) and
/// `quantile` (summary quantiles); a series carrying its own would clash with them.
constexpr bool reserved_label_name(std::string_view key) noexcept {
  return key == "le" || key == "quantile" || key.starts_with("__");
}

/// Sorts and checks the labels of a series: nullopt when they are fine, else why the series is
/// refused. Nothing is cut or dropped: a value longer than kMaxLabelValueBytes, a key given
/// twice, a reserved key (reserved_label_name), a key outside the grammar or more than
/// kMaxLabels labels refuse the whole series, so that two different label sets never become one.
inline std::optional<layout::Refusal> sort_labels(Labels in, SortedLabels& out) noexcept {
  out.size = 0;
  for (const Label& l : in) {
    if (reserved_label_name(l.key)) return layout::Refusal::kReservedLabel;
    if (!valid_label_name(l.key)) return layout::Refusal::kInvalidName;
    if (l.value.size() > layout::kMaxLabelValueBytes) return layout::Refusal::kLabelTooLong;
    auto* end = out.items.begin() + static_cast<std::ptrdiff_t>(out.size);
    auto* at = std::lower_bound(out.items.begin(), end, l,
                                [](const Label& a, const Label& b) { return a.key < b.key; });
    if (at != end && at->key == l.key) return layout::Refusal::kDuplicateLabel;
    if (out.size == layout::kMaxLabels) return layout::Refusal::kInvalidName;
    std::move_backward(at, end, end + 1);
    *at = l;
    ++out.size;
  }
  return std::nullopt;
}

/// Encoded key length for a validated name and sorted labels.
inline std::size_t key_length(std::string_view name, const SortedLabels& labels) noexcept {
  std::size_t n = 2 + name.size() + 1;
  for (std::size_t i = 0; i < labels.size; ++i)
    n += 4 + labels.items[i].key.size() + labels.items[i].value.size();
  return n;
}

/// Streams the canonical encoding (see SeriesEntry) to `sink(const char*, size_t)`.
template <typename Sink>
void encode_key(std::string_view name, const SortedLabels& labels, Sink&& sink) noexcept {
  auto u16 = [&sink](std::size_t v) {
    const char b[2] = {static_cast<char>(v & 0xffu), static_cast<char>((v >> 8) & 0xffu)};
    sink(b, 2);
  };
  u16(name.size());
  sink(name.data(), name.size());
  const char count = static_cast<char>(labels.size);
  sink(&count, 1);
  for (std::size_t i = 0; i < labels.size; ++i) {
    u16(labels.items[i].key.size());
    sink(labels.items[i].key.data(), labels.items[i].key.size());
    u16(labels.items[i].value.size());
    sink(labels.items[i].value.data(), labels.items[i].value.size());
  }
}

/// Hash of a series: its type, then its canonical key bytes.
inline std::uint64_t key_hash(layout::MetricType type, std::string_view name,
                              const SortedLabels& labels) noexcept {
  const char t = static_cast<char>(type);
  std::uint64_t h = fnv1a(kFnvOffset, std::span<const char>(&t, 1));
  encode_key(name, labels, [&h](const char* p, std::size_t n) { h = fnv1a(h, {p, n}); });
  return h;
}

/// Whether `stored` is exactly the encoding of (name, labels).
inline bool key_equals(std::span<const char> stored, std::string_view name,
                       const SortedLabels& labels) noexcept {
  std::size_t at = 0;
  bool same = true;
  encode_key(name, labels, [&](const char* p, std::size_t n) {
    if (!same) return;
    if (at + n > stored.size() || std::memcmp(stored.data() + at, p, n) != 0) same = false;
    at += n;
  });
  return same && at == stored.size();
}

/// Reader over untrusted encoded bytes: every read is bounds-checked; ok() turns false for good
/// at the first short or invalid read.
class KeyReader {
 public:
  explicit KeyReader(std::span<const char> bytes) noexcept : bytes_(bytes) {}
  bool ok() const noexcept { return ok_; }
  bool done() const noexcept { return at_ == bytes_.size(); }
  std::uint32_t u8() noexcept {
    if (!need(1)) return 0;
    return static_cast<unsigned char>(bytes_[at_++]);
  }
  std::uint32_t u16() noexcept {
    if (!need(2)) return 0;
    const auto lo = static_cast<unsigned char>(bytes_[at_]);
    const auto hi = static_cast<unsigned char>(bytes_[at_ + 1]);
    at_ += 2;
    return lo | (static_cast<std::uint32_t>(hi) << 8);
  }
  std::string_view str(std::size_t n) noexcept {
    if (!need(n)) return {};
    std::string_view s(bytes_.data() + at_, n);
    at_ += n;
    return s;
  }
  std::string_view str16() noexcept { return str(u16()); }

 private:
  bool need(std::size_t n) noexcept {
    if (ok_ && n <= bytes_.size() - at_) return true;
    ok_ = false;
    return false;
  }
  std::span<const char> bytes_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

/// A decoded, validated series key; views into the segment arena.
struct DecodedKey {
  std::string_view name;
  std::array<Label, layout::kMaxLabels> labels{};
  std::size_t label_count = 0;
};

/// Decodes and validates untrusted key bytes: names in the grammar and not reserved, labels
/// sorted and unique, lengths within bounds, nothing left over. False means a corrupt entry.
inline bool decode_key(std::span<const char> bytes, DecodedKey& out) noexcept {
  KeyReader r(bytes);
  out.name = r.str16();
  out.label_count = r.u8();
  if (!r.ok() || !valid_metric_name(out.name) || out.label_count > layout::kMaxLabels) return false;
  for (std::size_t i = 0; i < out.label_count; ++i) {
    Label& l = out.labels[i];
    l.key = r.str16();
    l.value = r.str16();
    if (!r.ok() || !valid_label_name(l.key) || reserved_label_name(l.key) ||
        l.value.size() > layout::kMaxLabelValueBytes)
      return false;
    if (i > 0 && !(out.labels[i - 1].key < l.key)) return false;
  }
  return r.ok() && r.done();
}

}  // namespace detail
}  // namespace sipmetrics
