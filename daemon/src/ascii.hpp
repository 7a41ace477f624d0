// ASCII case-insensitive comparison, for protocol tokens (HTTP header values, auth schemes).
#pragma once

#include <algorithm>
#include <string_view>

namespace sipmetrics {

/// Whether a and b are equal ignoring the case of ASCII letters; other bytes compare exactly.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [&lower](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace sipmetrics
