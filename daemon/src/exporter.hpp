// The exporter: owns the attached segment and every daemon-side part, runs the drain and
// housekeeping loop, and renders scrapes. All parts are used under one lock; the workers never
// wait for it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include <sipmetrics/segment/file.hpp>

#include "catalog.hpp"
#include "drain.hpp"
#include "exposition.hpp"
#include "inspect.hpp"
#include "plan.hpp"
#include "protobuf_format.hpp"
#include "settings.hpp"
#include "snapshot.hpp"
#include "writer_tracker.hpp"

namespace sipmetrics {

/// Health as /healthz and the logs report it.
struct ExporterStatus {
  std::uint32_t live_writers = 0;
  std::uint32_t series = 0;
};

class Exporter {
 public:
  /// Takes over an open segment. Sweeps writers once before returning, so that a fold left
  /// unfinished by a previous daemon is completed before the first scrape.
  Exporter(std::unique_ptr<detail::SegmentFile> segment, ExporterSettings settings);

  /// Drains rings every drain_interval and sweeps writers every housekeeping_interval until
  /// stop is requested.
  void run(const std::stop_token& stop);
  /// One drain pass, plus a writer sweep when `housekeeping`; what run() does each period.
  /// True when some ring was at least a quarter full (drain again soon).
  bool tick(bool housekeeping);

  /// Renders /metrics into `out` (cleared first), in any Format: one snapshot, one plan, one
  /// set of rules, whatever the format.
  void scrape(std::string& out, Format format = Format::kText);
  /// Applies reloaded settings (whitelists, caps, windows, intervals).
  void apply(const ExporterSettings& settings);
  /// Counts a reload refused (the running configuration kept), shown as
  /// `sipmetrics_config_reload_failures_total`. Thread-safe.
  void count_reload_failure() noexcept {
    view_.header().config_reload_failures.fetch_add(1, std::memory_order_relaxed);
  }
  ExporterStatus status();
  std::vector<WriterInfo> writers();
  /// What `sipmetrics-ctl inspect` and the landing page show.
  SegmentReport report();

 private:
  void count_plan_events();
  /// `now`, or more if a larger value of counter `slot` was served before.
  std::uint64_t served(std::size_t slot, std::uint64_t now);
  void render_self_metrics(MetricWriter& out, std::chrono::steady_clock::time_point started);
  static std::int64_t now_ns() noexcept;

  std::unique_ptr<detail::SegmentFile> segment_;
  detail::SegmentView view_;
  std::mutex mu_;
  ExporterSettings settings_;
  Catalog catalog_;
  Drainer drainer_;
  WriterTracker tracker_;
  Plan plan_;
  bool plan_stale_ = true;
  std::uint64_t plan_generation_ = 0;       // bumped by every rebuild of plan_
  std::uint64_t capacity_wanted_seen_ = 0;  // Header::capacity_wanted at the last sweep
  std::vector<std::uint64_t> served_;       // by counter slot (served())
  CellTotals totals_;
  RenderScratch scratch_;
  ProtobufWriter protobuf_;  // its messages are reused from scrape to scrape
  double last_scrape_seconds_ = 0;
};

}  // namespace sipmetrics
