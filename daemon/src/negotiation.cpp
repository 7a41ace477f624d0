#include "negotiation.hpp"

#include <charconv>
#include <optional>

#include "ascii.hpp"

namespace sipmetrics {

std::string_view content_type(Format f) noexcept {
  switch (f) {
    case Format::kOpenMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case Format::kProtobuf:
      return "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
             "encoding=delimited";
    case Format::kText: break;
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// One element of a comma-separated header: its value (before any parameters) and parameters.
struct Element {
  std::string_view value;
  std::string_view params;  // `;a=b;q=0.5`, as written

  /// The value of parameter `name` (case-insensitive name), unquoted; nothing when absent.
  std::optional<std::string_view> param(std::string_view name) const noexcept {
    std::string_view rest = params;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      const std::string_view p = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const auto eq = p.find('=');
      if (eq == std::string_view::npos || !ascii_iequals(trim(p.substr(0, eq)), name)) continue;
      std::string_view v = trim(p.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
    return std::nullopt;
  }
  /// The q weight: 1 when absent, 0 when unreadable.
  double weight() const noexcept {
    const auto q = param("q");
    if (!q) return 1;
    double w = 0;
    if (std::from_chars(q->data(), q->data() + q->size(), w).ec != std::errc{}) return 0;
    return w;
  }
};

/// Calls `f(element)` for each element of a comma-separated header, in order.
template <class F>
void for_each_element(std::string_view header, F f) noexcept {
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto semi = item.find(';');
    Element e{trim(item.substr(0, semi)),
              semi == std::string_view::npos ? std::string_view{} : item.substr(semi)};
    if (!e.value.empty()) f(e);
  }
}

/// The q weight of the first element whose value satisfies `match`; nothing when none does.
template <class Match>
std::optional<double> weight_of(std::string_view header, Match match) noexcept {
  std::optional<double> w;
  for_each_element(header, [&](const Element& e) {
    if (!w && match(e.value)) w = e.weight();
  });
  return w;
}

/// The format an Accept element names, if it is one /metrics serves.
std::optional<Format> format_of(const Element& e) noexcept {
  if (ascii_iequals(e.value, "application/vnd.google.protobuf")) {
    const auto proto = e.param("proto");
    const auto encoding = e.param("encoding");
    if (proto && *proto == "io.prometheus.client.MetricFamily" && encoding &&
        *encoding == "delimited")
      return Format::kProtobuf;
    return std::nullopt;  // another message or encoding (text, compact-text): not served
  }
  if (ascii_iequals(e.value, "application/openmetrics-text")) return Format::kOpenMetrics;
  if (ascii_iequals(e.value, "text/plain")) return Format::kText;
  return std::nullopt;
}

}  // namespace

Format negotiate(std::string_view accept) noexcept {
  Format best = Format::kText;
  double best_weight = 0;
  for_each_element(accept, [&](const Element& e) {
    const auto f = format_of(e);
    if (!f) return;
    const double w = e.weight();
    if (w > best_weight) {
      best = *f;
      best_weight = w;
    }
  });
  return best;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  auto w = weight_of(accept_encoding, [](std::string_view v) {
    return ascii_iequals(v, "gzip") || ascii_iequals(v, "x-gzip");
  });
  if (!w) w = weight_of(accept_encoding, [](std::string_view v) { return v == "*"; });
  return w && *w > 0;
}

}  // namespace sipmetrics
