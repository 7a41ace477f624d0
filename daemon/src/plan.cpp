#include "plan.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include "text_format.hpp"

namespace sipmetrics {

bool reserved_family(std::string_view name) noexcept {
  return name.starts_with("sipmetrics_") || name == kObserveDroppedFamily ||
         name == kUnknownLabelFamily;
}

std::pair<std::string, double> exposed_family(std::string_view name, layout::MetricType type,
                                              bool base_units) {
  const bool timed = type == layout::MetricType::kSummary || type == layout::MetricType::kGauge ||
                     layout::is_histogram(type);
  if (base_units && timed && name.ends_with("_ms"))
    return {std::string(name.substr(0, name.size() - 3)) + "_seconds", 1e-3};
  return {std::string(name), 1.0};
}

namespace {
// Every name a family puts into either exposition format: its metadata name and its sample
// names. A counter is `x` and `x_total` whichever it was registered as (OpenMetrics names the
// family without the suffix and the sample with it).
std::array<std::string, 4> exposed_names(const std::string& family, layout::MetricType type) {
  switch (type) {
    case layout::MetricType::kCounter: {
      const std::string base =
          family.ends_with("_total") ? family.substr(0, family.size() - 6) : family;
      return {base, base + "_total", {}, {}};
    }
    case layout::MetricType::kSummary: return {family, family + "_sum", family + "_count", {}};
    case layout::MetricType::kHistogram:
    case layout::MetricType::kNativeHistogram:
      return {family, family + "_bucket", family + "_sum", family + "_count"};
    default: return {family, {}, {}, {}};
  }
}
}  // namespace

Plan build_plan(const Catalog& catalog, const PlanSettings& settings) {
  constexpr auto kFamilyCap = static_cast<std::size_t>(layout::Rejected::kFamilyCap);
  constexpr auto kNameClash = static_cast<std::size_t>(layout::Rejected::kNameClash);
  constexpr auto kTypeConflict = static_cast<std::size_t>(layout::Rejected::kTypeConflict);
  Plan plan;
  plan.catalog_version = catalog.version();
  // Built with per-family maps first, then flattened.
  struct Pending {
    std::string labels;
    std::vector<std::pair<std::string, std::string>> pairs;  // kept labels, unescaped
    std::vector<PlanSource> sources;
    const std::vector<double>* bounds = nullptr;  // histogram: its sources' common bounds
    detail::NativeWindow native;                  // native histogram: their common window
  };
  // Exposed family name -> index in plan.families, or kClashed for a family refused because one
  // of its names is already another family's (a gauge `x_sum` beside a summary `x`): Prometheus
  // would reject the whole exposition. The family registered first keeps the name.
  constexpr std::size_t kClashed = ~std::size_t{0};
  std::map<std::string, std::size_t> family_index;
  std::unordered_set<std::string> taken;
  for (std::string_view own : {kObserveDroppedFamily, kUnknownLabelFamily})
    for (std::string& n : exposed_names(std::string(own), layout::MetricType::kCounter))
      if (!n.empty()) taken.insert(std::move(n));
  std::vector<std::unordered_map<std::string, std::size_t>> series_index;
  std::vector<std::vector<Pending>> pending;

  // In registration order (cells are handed out in that order), which a daemon restart keeps:
  // the first family to take a name, and the first help text, stay the same.
  struct Registered {
    std::uint32_t first_cell, idx;
    const SeriesInfo* s;
  };
  std::vector<Registered> by_registration;
  by_registration.reserve(catalog.order().size());
  for (std::uint32_t idx : catalog.order())
    if (const SeriesInfo* s = catalog.series(idx))
      by_registration.push_back({s->first_cell, idx, s});
  std::sort(by_registration.begin(), by_registration.end(),
            [](const Registered& a, const Registered& b) { return a.first_cell < b.first_cell; });

  for (const auto& [first_cell, idx, s] : by_registration) {
    if (reserved_family(s->name)) {
      plan.rejected[kTypeConflict].push_back(idx);
      continue;
    }
    auto [exposed, scale] = exposed_family(s->name, s->type, settings.base_units);
    auto [it, inserted] = family_index.try_emplace(exposed, plan.families.size());
    if (inserted) {
      const auto names = exposed_names(exposed, s->type);
      if (std::any_of(names.begin(), names.end(),
                      [&taken](const std::string& n) { return !n.empty() && taken.contains(n); })) {
        it->second = kClashed;
        plan.rejected[kNameClash].push_back(idx);
        continue;
      }
      for (const std::string& n : names)
        if (!n.empty()) taken.insert(n);
      plan.families.push_back(PlanFamily{exposed, s->help, s->type, s->mode, scale, 0, 0});
      series_index.emplace_back();
      pending.emplace_back();
    }
    if (it->second == kClashed) {
      plan.rejected[kNameClash].push_back(idx);
      continue;
    }
    PlanFamily& fam = plan.families[it->second];
    // A family seen under two types, or a `_seconds` family colliding with a renamed `_ms` one.
    if (fam.type != s->type || fam.scale != scale) {
      plan.rejected[kTypeConflict].push_back(idx);
      continue;
    }
    if (fam.help.empty()) fam.help = s->help;

    const std::vector<std::string>* allowed = nullptr;
    if (auto o = settings.whitelists.find(s->name); o != settings.whitelists.end())
      allowed = &o->second;
    else if (auto c = catalog.client_whitelists().find(s->name);
             c != catalog.client_whitelists().end())
      allowed = &c->second;
    else if (auto d = settings.default_whitelists.find(s->name);
             d != settings.default_whitelists.end())
      allowed = &d->second;

    std::string labels;
    std::vector<std::pair<std::string, std::string>> pairs;
    bool violated = false;
    for (const auto& [key, value] : s->labels) {
      if (allowed != nullptr && !std::binary_search(allowed->begin(), allowed->end(), key)) {
        violated = true;
        continue;
      }
      // "quantile" is the summary's own label, "le" the histogram's; a client's would make the
      // exposition invalid.
      if ((s->type == layout::MetricType::kSummary && key == "quantile") ||
          (layout::is_histogram(s->type) && key == "le")) {
        violated = true;
        continue;
      }
      if (!labels.empty()) labels += ',';
      labels += key;
      labels += "=\"";
      append_label_value(labels, value);
      labels += '"';
      pairs.emplace_back(key, value);
    }
    if (violated) plan.unknown_label_series.push_back(idx);

    auto& index = series_index[it->second];
    auto& fam_pending = pending[it->second];
    auto [sit, fresh] = index.try_emplace(labels, fam_pending.size());
    if (fresh) {
      if (fam_pending.size() >= settings.max_series_per_family) {
        index.erase(sit);
        plan.rejected[kFamilyCap].push_back(idx);
        continue;
      }
      fam_pending.push_back(
          Pending{std::move(labels), std::move(pairs), {}, &s->bounds, s->native});
    }
    // Histograms that collapse into one series add up bucket by bucket: only with equal bounds
    // (and native windows).
    Pending& into = fam_pending[sit->second];
    if (layout::is_histogram(s->type) &&
        (*into.bounds != s->bounds || !(into.native == s->native))) {
      plan.rejected[kTypeConflict].push_back(idx);
      continue;
    }
    into.sources.push_back(PlanSource{idx, s->first_cell, s->mode});
  }

  std::vector<std::size_t> order(plan.families.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&plan](std::size_t a, std::size_t b) {
    return plan.families[a].name < plan.families[b].name;
  });
  std::vector<PlanFamily> families;
  families.reserve(order.size());
  for (std::size_t f : order) {
    PlanFamily fam = std::move(plan.families[f]);
    if (fam.scale != 1.0) fam.help += " (Served in seconds: --base-units.)";
    auto& ps = pending[f];
    std::sort(ps.begin(), ps.end(),
              [](const Pending& a, const Pending& b) { return a.labels < b.labels; });
    fam.series_begin = static_cast<std::uint32_t>(plan.series.size());
    for (Pending& p : ps) {
      const std::size_t nbounds =
          layout::is_histogram(fam.type) && p.bounds != nullptr ? p.bounds->size() : 0;

      plan.series.push_back(PlanSeries{
          static_cast<std::uint32_t>(plan.text.size()), static_cast<std::uint32_t>(p.labels.size()),
          static_cast<std::uint32_t>(plan.pairs.size()), static_cast<std::uint32_t>(p.pairs.size()),
          static_cast<std::uint32_t>(plan.sources.size()),
          static_cast<std::uint32_t>(p.sources.size()),
          static_cast<std::uint32_t>(plan.le_text.size()), static_cast<std::uint32_t>(nbounds),
          p.native});
      plan.text += p.labels;
      auto raw = [&plan](std::string_view v) {
        const std::size_t at = plan.text.size();
        append_utf8(plan.text, v);
        return std::pair{static_cast<std::uint32_t>(at),
                         static_cast<std::uint32_t>(plan.text.size() - at)};
      };
      for (const auto& [key, value] : p.pairs) {
        const auto [ko, kl] = raw(key);
        const auto [vo, vl] = raw(value);
        plan.pairs.push_back(PlanLabel{ko, kl, vo, vl});
      }
      plan.sources.insert(plan.sources.end(), p.sources.begin(), p.sources.end());
      for (std::size_t b = 0; b < nbounds; ++b) {
        const std::size_t at = plan.text.size();
        append_double(plan.text, (*p.bounds)[b] * fam.scale);
        plan.bounds.push_back((*p.bounds)[b] * fam.scale);
        plan.le_text.emplace_back(static_cast<std::uint32_t>(at),
                                  static_cast<std::uint32_t>(plan.text.size() - at));
      }
    }
    fam.series_end = static_cast<std::uint32_t>(plan.series.size());
    families.push_back(std::move(fam));
  }
  plan.families = std::move(families);
  return plan;
}

}  // namespace sipmetrics
