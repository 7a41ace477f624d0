#include "negotiation.hpp"

#include <charconv>
#include <optional>

#include "ascii.hpp"

namespace sipmetrics {

std::string_view content_type(Format f) noexcept {
  return f == Format::kOpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                   : "text/plain; version=0.0.4; charset=utf-8";
}

namespace {

/// The q weight of the first element of a comma-separated header (Accept, Accept-Encoding)
/// whose value (before any parameters) satisfies `match`; nothing when none does.
template <class Match>
std::optional<double> weight_of(std::string_view header, Match match) noexcept {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    std::string_view value = item.substr(0, item.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!match(value)) continue;
    double weight = 1;
    if (const auto q = item.find("q="); q != std::string_view::npos) {
      const std::string_view v = item.substr(q + 2);
      if (std::from_chars(v.data(), v.data() + v.size(), weight).ec != std::errc{}) weight = 0;
    }
    return weight;
  }
  return std::nullopt;
}
}  // namespace

Format negotiate(std::string_view accept) noexcept {
  const auto w = weight_of(
      accept, [](std::string_view v) { return v.starts_with("application/openmetrics-text"); });
  return w && *w > 0 ? Format::kOpenMetrics : Format::kText;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  auto w = weight_of(accept_encoding, [](std::string_view v) {
    return ascii_iequals(v, "gzip") || ascii_iequals(v, "x-gzip");
  });
  if (!w) w = weight_of(accept_encoding, [](std::string_view v) { return v == "*"; });
  return w && *w > 0;
}

}  // namespace sipmetrics
