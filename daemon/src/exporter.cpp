#include "exporter.hpp"

#include <thread>
#include <type_traits>

#include "segment_counts.hpp"

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
    // A client refused a slot or lane bumps capacity_wanted: look for dead writers to free at
    // once, not at the next pass (a burst of short-lived children would otherwise spill).
    const std::uint64_t wanted = view_.header().capacity_wanted.load(std::memory_order_relaxed);
    const bool sweep = now >= next_sweep || wanted != capacity_wanted_seen_;
    capacity_wanted_seen_ = wanted;
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
  std::lock_guard lock(mu_);
  TextWriter text(out, format);
  MetricWriter& writer = format == Format::kProtobuf ? static_cast<MetricWriter&>(protobuf_) : text;
  const std::int64_t now = now_ns();
  if (catalog_.refresh()) plan_stale_ = true;
  drainer_.drain_all(catalog_, now);
  if (plan_stale_ || plan_.catalog_version != catalog_.version()) {
    plan_ = build_plan(catalog_, settings_.plan);
    plan_stale_ = false;
    ++plan_generation_;
    count_plan_events();
  }
  if (format == Format::kProtobuf) protobuf_.begin(out, plan_generation_);
  take_snapshot(view_, catalog_, totals_);
  render_plan(writer, plan_, totals_, drainer_, scratch_);
  render_self_metrics(writer, started);
  writer.finish();
}

void Exporter::count_plan_events() {
  // Each series once for the life of the segment: its flag is set in the segment with the count,
  // so a reload that restores a whitelist, or a daemon restart, never takes a counter back.
  layout::Header& h = view_.header();
  for (std::uint32_t idx : plan_.unknown_label_series)
    count_once(view_.entry(idx).daemon_flags, layout::kFlagUnknownLabelCounted,
               h.unknown_label_series);
  for (std::uint32_t r = 0; r < plan_.rejected.size(); ++r)
    for (std::uint32_t idx : plan_.rejected[r])
      count_once(view_.entry(idx).daemon_flags, layout::kFlagRejectedCounted << r,
                 h.series_rejected[r]);
}

namespace {

// Slots of Exporter::served(), one per counter read from the segment.
enum : std::size_t {
  kServedDropped,
  kServedUnknownLabel,
  kServedSpill,
  kServedInvalid,
  kServedWritersFolded,
  kServedDrained,
  kServedReloadFailures,
  kServedRefusals,
  kServedRejected = kServedRefusals + layout::kRefusalSlots,
  kServedCorrupt = kServedRejected + 3,
};

std::uint64_t load(const std::atomic<std::uint64_t>& word) noexcept {
  return word.load(std::memory_order_relaxed);
}

}  // namespace

std::uint64_t Exporter::served(std::size_t slot, std::uint64_t now) {
  // Counters read from shared memory: what this daemon has served never goes down, even if a
  // scribbler lowers the word.
  if (served_.size() <= slot) served_.resize(slot + 1, 0);
  served_[slot] = std::max(served_[slot], now);
  return served_[slot];
}

void Exporter::render_self_metrics(MetricWriter& out,
                                   std::chrono::steady_clock::time_point started) {
  const layout::Header& h = view_.header();
  const layout::Geometry& g = view_.geometry();
  using layout::MetricType;
  constexpr MetricType kCounter = MetricType::kCounter, kGauge = MetricType::kGauge;
  // A sample of the open family: a counter's value is a count, a gauge's a count or a double.
  auto sample = [&out](MetricType type, const SeriesLabels& labels, auto value) {
    if constexpr (std::is_same_v<decltype(value), double>)
      out.gauge(labels, value);
    else if (type == kCounter)
      out.counter(labels, std::uint64_t{value});
    else
      out.gauge(labels, std::uint64_t{value});
  };
  auto single = [&out, &sample](std::string_view name, std::string_view help, MetricType type,
                                auto value) {
    out.family(name, help, type);
    sample(type, SeriesLabels{}, value);
  };
  // One label: `key="value"` (values here need no escaping) and its pair.
  std::string text;
  LabelView pair;
  auto label = [&text, &pair](std::string_view key, std::string_view value) {
    text.assign(key).append("=\"").append(value).append("\"");
    pair = LabelView{key, value};
    return SeriesLabels{text, std::span<const LabelView>(&pair, 1)};
  };

  single(kObserveDroppedFamily,
         "Summary samples dropped because a writer's ring was full (quantiles only; _sum and "
         "_count stay exact).",
         kCounter, served(kServedDropped, dropped_samples(view_)));
  single(kUnknownLabelFamily,
         "Series found with a label key outside their family's whitelist (each series once, "
         "across reloads and restarts).",
         kCounter, served(kServedUnknownLabel, load(h.unknown_label_series)));
  single("sipmetrics_spill_bindings_total",
         "Threads that found no free writer slot or lane and wrote through the shared spill lane "
         "(counts and summaries kept; gauges not recorded).",
         kCounter, served(kServedSpill, load(h.spill_bindings)));
  single("sipmetrics_invalid_samples_total",
         "Summary samples not recorded because they were NaN, infinite or negative.", kCounter,
         served(kServedInvalid, load(h.invalid_samples)));

  {
    out.family("sipmetrics_build_info", "sipmetricsd version and segment layout.", kGauge);
    const std::string layout_version =
        std::to_string(layout::kVersionMajor) + "." + std::to_string(layout::kVersionMinor);
    const std::string build_text =
        "layout=\"" + layout_version + "\",version=\"" SIPMETRICS_VERSION "\"";
    const LabelView build_pairs[] = {{"layout", layout_version}, {"version", SIPMETRICS_VERSION}};
    out.gauge(SeriesLabels{build_text, build_pairs}, std::uint64_t{1});
  }
  single("sipmetrics_writers", "Writer processes attached and alive.", kGauge,
         std::uint64_t{tracker_.live_writers()});
  single("sipmetrics_writers_exited_total",
         "Writers found gone (exited or crashed) and folded into retained totals.", kCounter,
         served(kServedWritersFolded, load(h.writers_folded)));

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
      {"lanes", tracker_.lanes_in_use(), layout::spill_lane(g)},  // the spill lane is no writer's
      {"series", catalog_.order().size(), g.max_series},
      {"whitelists",
       std::min<std::uint64_t>(h.whitelist_count.load(std::memory_order_relaxed), g.max_whitelists),
       g.max_whitelists},
      {"writers", tracker_.live_writers(), g.max_writers},
  };
  out.family("sipmetrics_segment_used", "Segment resources in use.", kGauge);
  for (const Use& u : uses) out.gauge(label("resource", u.resource), u.used);
  out.family("sipmetrics_segment_capacity",
             "Segment resource capacities, fixed when the segment was created.", kGauge);
  for (const Use& u : uses) out.gauge(label("resource", u.resource), u.capacity);
  single("sipmetrics_segment_size_bytes", "Size of the shared-memory segment.", kGauge,
         std::uint64_t{view_.size()});

  out.family("sipmetrics_refusals_total",
             "Registrations and attaches refused by clients, by reason; the affected handles are "
             "no-ops.",
             kCounter);
  for (std::uint32_t r = 0; r < layout::kRefusalKinds; ++r)
    out.counter(label("reason", kRefusalNames[r]),
                served(kServedRefusals + r, load(h.refusals[r])));
  out.family("sipmetrics_series_rejected_total",
             "Registered series the exporter does not expose, by reason (each series once, across "
             "reloads and restarts).",
             kCounter);
  const char* const reasons[] = {"family_cap", "name_clash", "type_conflict"};
  for (std::uint32_t r = 0; r < 3; ++r)
    out.counter(label("reason", reasons[r]),
                served(kServedRejected + r, load(h.series_rejected[r])));
  out.family("sipmetrics_corrupt_entries_total",
             "Entries read from the segment that failed validation and were skipped.", kCounter);
  const char* const regions[] = {"catalog", "lane", "ring", "whitelist"};
  for (std::uint32_t r = 0; r < 4; ++r)
    out.counter(label("region", regions[r]), served(kServedCorrupt + r, load(h.corrupt[r])));
  single("sipmetrics_config_reload_failures_total",
         "SIGHUP reloads refused because a config or web config file could not be used; the "
         "running configuration was kept.",
         kCounter,
         served(kServedReloadFailures, h.config_reload_failures.load(std::memory_order_relaxed)));
  single("sipmetrics_samples_drained_total",
         "Summary samples moved from writer rings into quantile windows.", kCounter,
         served(kServedDrained, load(h.samples_drained)));
  last_scrape_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  single("sipmetrics_scrape_duration_seconds",
         "Time this scrape took to collect and render, up to this line.", kGauge,
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
