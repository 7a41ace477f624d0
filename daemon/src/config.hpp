// sipmetricsd options: command line, environment and config file (TOML, read with toml++), one
// set of definitions for all three, so they cannot disagree.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <sipmetrics/layout.hpp>

#include "settings.hpp"

namespace sipmetrics {

inline constexpr const char* kDefaultListen = "0.0.0.0:9477";

struct DaemonConfig {
  std::string listen = kDefaultListen;
  std::string segment;  // empty: $SIPMETRICS_SEGMENT, else "sipmetrics"
  std::string config_file;
  std::string web_config_file;  // --web-config: TLS and credentials (web_config.hpp)
  std::string segment_group;    // --segment-group: group given to a segment this daemon creates
  std::string log_level = "info";
  std::uint32_t http_threads = 4;
  std::vector<std::string> label_whitelist;  // "family=key1,key2" as given
  std::uint32_t max_series_per_family = 2000;
  bool base_units = false;
  /// A segment of another layout version, or one that is not (or no longer) a valid sipmetrics
  /// segment, is removed and created afresh instead of refused.
  bool recreate_incompatible = false;
  std::uint32_t window_samples = 1024;
  double window_age_seconds = 600;
  std::uint32_t drain_interval_ms = 5;
  std::uint32_t housekeeping_interval_ms = 500;
  layout::Geometry geometry = layout::kDefaultGeometry;
  std::uint32_t arena_kib = static_cast<std::uint32_t>(layout::kDefaultGeometry.arena_bytes >> 10);
  std::uint32_t family_series_limit = 0;  // 0: a quarter of geometry.max_series

  /// Host and port parsed from `listen`.
  std::string host() const;
  int port() const;
  /// The exporter's share of the configuration.
  ExporterSettings exporter_settings() const;
};

/// sipmetricsd's exit status when its configuration is unusable: a bad flag or environment
/// variable, a broken config or web config file, a segment path it cannot use (`--help` says
/// so in its footer). Other failures to start exit with 1.
inline constexpr int kExitConfiguration = 2;

/// A config file that cannot be used: what() is `FILE:LINE:COLUMN: reason` (just `FILE: reason`
/// when the file cannot be read), e.g. `/etc/sipmetrics/sipmetricsd.toml:3:1: unknown key
/// "label-whitelst" (did you mean "label-whitelist"?)`.
class ConfigFileError : public CLI::ConfigError {
 public:
  explicit ConfigFileError(const std::string& what) : CLI::ConfigError(what) {}
};

/// Declares every option on `app`, bound to `cfg`. Validation errors name the option.
void add_options(CLI::App& app, DaemonConfig& cfg);

/// Parses a full configuration (used at start and again on SIGHUP): the command line, then the
/// config file (`--config`, else $SIPMETRICSD_CONFIG) for options the command line left unset,
/// then the environment. The file is TOML whose keys are the long option names; a syntax error,
/// an unknown key (with a suggestion for a near miss), a value of the wrong type or one the
/// option refuses throws ConfigFileError naming the file, line and column. Other bad input
/// throws CLI::ParseError (including CLI::CallForHelp) saying which option and why.
DaemonConfig parse_config(int argc, const char* const* argv);

/// Parses one `family=key1,key2` whitelist; throws std::invalid_argument naming what is wrong.
std::pair<std::string, std::vector<std::string>> parse_whitelist(const std::string& spec);

}  // namespace sipmetrics
