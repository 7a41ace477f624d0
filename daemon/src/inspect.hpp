// A point-in-time report of a segment for operators: header, capacities and use, refusals,
// drops and writers. Shared by `sipmetrics-ctl inspect` and the daemon's landing page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sipmetrics/segment/view.hpp>

#include "writer_tracker.hpp"

namespace sipmetrics {

struct SegmentReport {
  std::string segment;
  std::uint32_t version_major = 0, version_minor = 0;
  std::uint64_t generation = 0;
  std::uint64_t size_bytes = 0;
  std::uint64_t created_unix_ns = 0;
  std::uint32_t daemon_pid = 0;
  bool daemon_alive = false;  // some process holds the daemon's lock byte
  layout::Geometry geometry{};
  std::uint64_t series = 0, cells = 0, arena_bytes = 0, whitelists = 0, lanes_in_use = 0;
  std::uint64_t refusals[layout::kRefusalKinds] = {};
  std::uint64_t dropped_samples = 0;  // live lanes plus retained
  std::uint64_t writers_exited = 0;
  std::vector<WriterInfo> writers;  // every claimed slot, dead ones included until folded
};

/// Reads the report from a mapped segment (`fd` answers the liveness locks). Cold; bounded by
/// the geometry; never trusts a count beyond its capacity.
SegmentReport make_report(const std::string& name, const detail::SegmentView& view, int fd);

/// Human-readable text, one fact per line.
std::string format_text(const SegmentReport& r);
/// A JSON object with the same facts.
std::string format_json(const SegmentReport& r);
/// The HTML body of the daemon's landing page (links to /metrics and /healthz).
std::string format_html(const SegmentReport& r);

/// Names of the refusal reasons, indexed like Header::refusals.
extern const char* const kRefusalNames[layout::kRefusalKinds];

}  // namespace sipmetrics
