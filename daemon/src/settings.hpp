// What the operator's configuration decides about the exporter: how series are planned for
// exposition (whitelists, caps, units), how quantile windows are kept, how often the loop runs.
// Plain values: config.cpp fills them, the exporter's parts read them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <sipmetrics/sip_families.hpp>

namespace sipmetrics {

/// The label keys of every seed family, sorted.
inline std::map<std::string, std::vector<std::string>> seed_whitelists() {
  std::map<std::string, std::vector<std::string>> out;
  for (const sip::FamilyInfo& f : sip::kFamilies) {
    std::vector<std::string>& keys = out[std::string(f.name)];
    for (const sip::LabelDomain& d : f.labels) keys.emplace_back(d.key);
    std::sort(keys.begin(), keys.end());
  }
  return out;
}

/// Operator settings that shape the exposition plan (plan.hpp).
struct PlanSettings {
  /// Operator whitelists (config); they replace a client's declaration for the same family.
  std::map<std::string, std::vector<std::string>> whitelists;
  /// Built-in whitelists of the seed's families (<sipmetrics/sip_families.hpp>), used when
  /// neither the operator nor any client declared one: an undeclared key on a seed metric is
  /// always caught, whether or not the writer uses the typed helpers.
  std::map<std::string, std::vector<std::string>> default_whitelists = seed_whitelists();
  std::uint32_t max_series_per_family = 2000;
  /// Serve `*_ms` summaries and gauges as `*_seconds`, values scaled by 1/1000 (Prometheus base
  /// units) instead of the seed's names.
  bool base_units = false;
};

/// Quantile windows (drain.hpp).
struct WindowSettings {
  std::uint32_t default_samples = 1024;       // a series' own request (observe_n) overrides it
  std::int64_t max_age_ns = 600'000'000'000;  // 10 minutes; <= 0: no age bound
};

/// Everything the exporter takes from the configuration (exporter.hpp).
struct ExporterSettings {
  PlanSettings plan;
  WindowSettings windows;
  std::chrono::milliseconds drain_interval{5};
  std::chrono::milliseconds housekeeping_interval{500};
};

}  // namespace sipmetrics
