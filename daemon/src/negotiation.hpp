// Content negotiation for /metrics: which exposition format and content coding a scraper's
// Accept and Accept-Encoding headers ask for, with their q-values honoured.
#pragma once

#include <string_view>

#include "exposition.hpp"

namespace sipmetrics {

/// The Content-Type header value for a format.
std::string_view content_type(Format f) noexcept;
/// The format to answer an Accept header with: of the formats it lists with a non-zero q, the
/// one with the highest q (the first listed on a tie); text 0.0.4 when it lists none of them
/// (an empty header, `*/*`, `text/plain`, anything else). The protobuf format counts only as
/// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
/// `encoding=delimited`, as Prometheus asks for it with native histograms enabled
/// (`--enable-feature=native-histograms`: protobuf first, OpenMetrics q=0.8 in 2.42; q=0.7 before
/// text q=0.3 in later releases); OpenMetrics as `application/openmetrics-text`; text as
/// `text/plain`.
Format negotiate(std::string_view accept) noexcept;
/// Whether an Accept-Encoding header allows gzip: listed (or `*`) with a non-zero q. gzip is
/// the only coding /metrics answers in: Prometheus asks for it, and others (br) cost a scrape
/// many times its render.
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace sipmetrics
