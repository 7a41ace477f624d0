// Content negotiation for /metrics: which exposition format and content coding a scraper's
// Accept and Accept-Encoding headers ask for, with their q-values honoured.
#pragma once

#include <string_view>

#include "exposition.hpp"

namespace sipmetrics {

/// The Content-Type header value for a format.
std::string_view content_type(Format f) noexcept;
/// The format to answer an Accept header with: OpenMetrics when the scraper lists it (with a
/// non-zero q), else text 0.0.4.
Format negotiate(std::string_view accept) noexcept;
/// Whether an Accept-Encoding header allows gzip: listed (or `*`) with a non-zero q. gzip is
/// the only coding /metrics answers in: Prometheus asks for it, and others (br) cost a scrape
/// many times its render.
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace sipmetrics
