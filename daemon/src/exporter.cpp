#include "exporter.hpp"

#include <thread>

#include "inspect.hpp"

#ifndef SIPMETRICS_VERSION
#define SIPMETRICS_VERSION "0.0.0"
#endif

namespace sipmetrics {

Exporter::Exporter(std::unique_ptr<detail::SegmentFile> segment, ExporterSettings settings)
    : segment_(std::move(segment)),
      view_(segment_->view()),
      settings_(std::move(settings)),
      catalog_(view_),
      drainer_(view_, settings_.windows),
      tracker_(view_, segment_->fd()) {
  std::lock_guard lock(mu_);
  catalog_.refresh();
  tracker_.sweep(catalog_, drainer_, now_ns());
}

std::int64_t Exporter::now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Exporter::run(const std::stop_token& stop) {
  // The constructor has just swept: the next sweep is one interval away.
  auto next_sweep = std::chrono::steady_clock::now() + [this] {
    std::lock_guard lock(mu_);
    return settings_.housekeeping_interval;
  }();
  while (!stop.stop_requested()) {
    std::chrono::milliseconds drain_every, sweep_every;
    {
      std::lock_guard lock(mu_);
      drain_every = settings_.drain_interval;
      sweep_every = settings_.housekeeping_interval;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool sweep = now >= next_sweep;
    if (sweep) next_sweep = now + sweep_every;
    // A ring found a quarter full means a fast producer: come back sooner than the interval.
    const bool hurry = tick(sweep);
    std::this_thread::sleep_for(hurry ? std::min(drain_every, std::chrono::milliseconds(1))
                                      : drain_every);
  }
}

bool Exporter::tick(bool housekeeping) {
  std::lock_guard lock(mu_);
  const std::int64_t now = now_ns();
  if (catalog_.refresh()) plan_stale_ = true;
  const std::uint64_t busiest = drainer_.drain_all(catalog_, now);
  if (housekeeping) {
    tracker_.sweep(catalog_, drainer_, now);
    drainer_.expire(now);
  }
  return busiest * 4 >= view_.geometry().ring_capacity;
}

void Exporter::scrape(std::string& out, Format format) {
  const auto started = std::chrono::steady_clock::now();
  out.clear();
  Exposition exposition(out, format);
  std::lock_guard lock(mu_);
  const std::int64_t now = now_ns();
  if (catalog_.refresh()) plan_stale_ = true;
  drainer_.drain_all(catalog_, now);
  if (plan_stale_ || plan_.catalog_version != catalog_.version()) {
    plan_ = build_plan(catalog_, settings_.plan);
    plan_stale_ = false;
  }
  take_snapshot(view_, catalog_, totals_);
  render_plan(exposition, plan_, totals_, drainer_, scratch_);
  render_self_metrics(exposition, started);
  exposition.finish();
}

void Exporter::render_self_metrics(Exposition& out, std::chrono::steady_clock::time_point started) {
  const layout::Header& h = view_.header();
  const layout::Geometry& g = view_.geometry();
  auto single = [&out](std::string_view name, std::string_view help, std::string_view type,
                       auto value) {
    const std::string sample_name(out.family(name, help, type));
    out.sample(sample_name, "", "", value);
  };

  single(kObserveDroppedFamily,
         "Summary samples dropped because a writer's ring was full (quantiles only; _sum and "
         "_count stay exact).",
         "counter", dropped_samples(view_));
  single(kUnknownLabelFamily,
         "Series registered with a label key outside their family's whitelist.", "counter",
         plan_.unknown_label_series);

  {
    const std::string name(
        out.family("sipmetrics_build_info", "sipmetricsd version and segment layout.", "gauge"));
    const std::string labels = "layout=\"" + std::to_string(layout::kVersionMajor) + "." +
                               std::to_string(layout::kVersionMinor) + "\",version=\"" +
                               SIPMETRICS_VERSION + "\"";
    out.sample(name, "", labels, std::uint64_t{1});
  }
  single("sipmetrics_writers", "Writer processes attached and alive.", "gauge",
         std::uint64_t{tracker_.live_writers()});
  single("sipmetrics_writers_exited_total",
         "Writers found gone (exited or crashed) and folded into retained totals.", "counter",
         h.writers_folded.load(std::memory_order_relaxed));

  struct Use {
    const char* resource;
    std::uint64_t used, capacity;
  };
  const Use uses[] = {
      {"arena_bytes",
       std::min<std::uint64_t>(h.arena_used.load(std::memory_order_relaxed), g.arena_bytes),
       g.arena_bytes},
      {"cells", std::min<std::uint64_t>(h.cells_used.load(std::memory_order_relaxed), g.max_cells),
       g.max_cells},
      {"lanes", tracker_.lanes_in_use(), g.lane_pool},
      {"series", catalog_.order().size(), g.max_series},
      {"whitelists",
       std::min<std::uint64_t>(h.whitelist_count.load(std::memory_order_relaxed), g.max_whitelists),
       g.max_whitelists},
      {"writers", tracker_.live_writers(), g.max_writers},
  };
  std::string labels;
  {
    const std::string name(
        out.family("sipmetrics_segment_used", "Segment resources in use.", "gauge"));
    for (const Use& u : uses)
      out.sample(name, "", labels.assign("resource=\"") + u.resource + "\"", u.used);
  }
  {
    const std::string name(
        out.family("sipmetrics_segment_capacity",
                   "Segment resource capacities, fixed when the segment was created.", "gauge"));
    for (const Use& u : uses)
      out.sample(name, "", labels.assign("resource=\"") + u.resource + "\"", u.capacity);
  }
  single("sipmetrics_segment_size_bytes", "Size of the shared-memory segment.", "gauge",
         view_.size());

  {
    const std::string name(out.family("sipmetrics_refusals_total",
                                      "Registrations and attaches refused by clients, by reason; "
                                      "the affected handles are no-ops.",
                                      "counter"));
    for (std::uint32_t r = 0; r < layout::kRefusalKinds; ++r)
      out.sample(name, "", labels.assign("reason=\"") + kRefusalNames[r] + "\"",
                 h.refusals[r].load(std::memory_order_relaxed));
  }
  {
    const std::string name(out.family("sipmetrics_series_rejected_total",
                                      "Registered series the exporter does not expose, by reason.",
                                      "counter"));
    out.sample(name, "", "reason=\"family_cap\"", plan_.rejected_family_cap);
    out.sample(name, "", "reason=\"name_clash\"", plan_.rejected_name_clash);
    out.sample(name, "", "reason=\"type_conflict\"", plan_.rejected_type_conflict);
  }
  {
    const std::string name(out.family(
        "sipmetrics_corrupt_entries_total",
        "Entries read from the segment that failed validation and were skipped.", "counter"));
    out.sample(name, "", "region=\"catalog\"", catalog_.corrupt_entries());
    out.sample(name, "", "region=\"lane\"", tracker_.orphan_lanes());
    out.sample(name, "", "region=\"ring\"", drainer_.corrupt_samples());
    out.sample(name, "", "region=\"whitelist\"", catalog_.corrupt_whitelists());
  }
  single("sipmetrics_config_reload_failures_total",
         "SIGHUP reloads refused because a config or web config file could not be used; the "
         "running configuration was kept.",
         "counter", reload_failures_.load(std::memory_order_relaxed));
  single("sipmetrics_samples_drained_total",
         "Summary samples moved from writer rings into quantile windows.", "counter",
         drainer_.samples_drained());
  last_scrape_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  single("sipmetrics_scrape_duration_seconds",
         "Time this scrape took to collect and render, up to this line.", "gauge",
         last_scrape_seconds_);
}

void Exporter::apply(const ExporterSettings& settings) {
  std::lock_guard lock(mu_);
  const bool windows_changed =
      settings.windows.default_samples != settings_.windows.default_samples ||
      settings.windows.max_age_ns != settings_.windows.max_age_ns;
  settings_ = settings;
  plan_stale_ = true;
  if (windows_changed) drainer_.apply(settings_.windows, catalog_, now_ns());
}

ExporterStatus Exporter::status() {
  std::lock_guard lock(mu_);
  ExporterStatus s;
  s.live_writers = tracker_.live_writers();
  s.series = static_cast<std::uint32_t>(catalog_.order().size());
  return s;
}

std::vector<WriterInfo> Exporter::writers() {
  std::lock_guard lock(mu_);
  return tracker_.writers();
}

SegmentReport Exporter::report() {
  std::lock_guard lock(mu_);
  return make_report(segment_->name(), view_, segment_->fd());
}

}  // namespace sipmetrics
