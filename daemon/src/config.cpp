// GCC 12 reports a potential null dereference inside std::string, inlined from CLI11's
// CLI::detail::split into this file (a false positive of -Wnull-dereference, which runs after
// inlining). Diagnostic pragmas apply by source position, so this one precedes every include.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <toml++/toml.h>  // Debian 12 (toml++ 3.3) has no toml.hpp
#include <sipmetrics/segment/key.hpp>
#include <sipmetrics/segment/naming.hpp>

#include "suggest.hpp"

namespace sipmetrics {
namespace {

bool split_listen(const std::string& listen, std::string& host, int& port) {
  // "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces).
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  const std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
  port = std::stoi(p);
  return port >= 0 && port <= 65535;  // 0: any free port (logged at start)
}

// ---- The config file ----------------------------------------------------------------------------
// Read with toml++ and walked here against the options CLI11 declares, so the file knows exactly
// the keys and values the command line does. Every problem is refused with its position: a file
// the daemon accepts means what it says, and a broken one never half-applies.

constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string position(const std::string& file, const toml::source_region& where) {
  return file + ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column);
}

[[noreturn]] void fail(const std::string& file, const toml::source_region& where,
                       const std::string& why) {
  throw ConfigFileError(position(file, where) + ": " + why);
}

/// The option a config file key sets; nullptr when the key is not one.
CLI::Option* option_for(CLI::App& app, const std::string& key) {
  if (key.empty() || key == "help" || key == "config") return nullptr;
  CLI::Option* opt = app.get_option_no_throw("--" + key);
  return opt != nullptr && !opt->get_lnames().empty() && opt->get_lnames().front() == key ? opt
                                                                                          : nullptr;
}

std::vector<std::string> file_keys(const CLI::App& app) {
  std::vector<std::string> keys;
  for (const CLI::Option* opt : app.get_options())
    for (const std::string& name : opt->get_lnames())
      if (name != "help" && name != "config") keys.push_back(name);
  return keys;
}

const char* type_of(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

/// `n` as the text CLI11 converts for an option of CLI11 type `type` (UINT, INT, FLOAT, TEXT);
/// throws for a TOML value of another type.
std::string scalar_text(const std::string& file, const std::string& key, const std::string& type,
                        const toml::node& n) {
  auto wrong = [&](const char* expected) {
    return key + ": expected " + expected + ", not " + type_of(n);
  };
  if (type.starts_with("UINT") || type.starts_with("INT")) {
    if (const auto* i = n.as_integer()) return std::to_string(i->get());
    fail(file, n.source(), wrong("an integer"));
  }
  if (type.starts_with("FLOAT")) {
    if (const auto* i = n.as_integer()) return std::to_string(i->get());
    if (const auto* f = n.as_floating_point()) {
      if (!std::isfinite(f->get())) fail(file, n.source(), key + ": expected a finite number");
      std::array<char, 64> buf{};
      const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f->get());
      return std::string(buf.data(), ec == std::errc() ? end : buf.data());
    }
    fail(file, n.source(), wrong("a number"));
  }
  if (const auto* str = n.as_string()) return str->get();
  fail(file, n.source(), wrong("a string"));
}

/// Adds `inputs` to `opt` as CLI11 would from the command line and runs its validators and
/// conversion; a refusal is rethrown at `where`.
void set_option(CLI::Option& opt, const std::string& key, std::vector<std::string> inputs,
                const std::string& file, const toml::source_region& where) {
  try {
    opt.add_result(std::move(inputs));
    opt.run_callback();
  } catch (const CLI::ParseError& e) {
    // CLI11's messages start with the option's name; the file's reader knows it as the key.
    std::string why = e.what();
    if (const std::string flag = "--" + key + ": "; why.starts_with(flag))
      why.erase(0, flag.size());
    fail(file, where, key + ": " + why);
  }
}

std::string read_config_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) throw ConfigFileError(path + ": " + ec.message());
  // A FIFO or a device would block the daemon or never end.
  if (!std::filesystem::is_regular_file(st)) throw ConfigFileError(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigFileError(path + ": cannot be opened");
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ConfigFileError(path + ": read error");
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) throw ConfigFileError(path + ": larger than 1 MiB");
  return text;
}

toml::table load_config_file(const std::string& path) {
  const std::string text = read_config_file(path);
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    fail(path, e.source(), std::string(e.description()));
  }
}

/// Sets every option the file names, except those already set (by the command line).
void apply_config_file(CLI::App& app, const toml::table& root, const std::string& path) {
  // toml++ keeps keys sorted; the first problem reported is the first in the file.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, node] : root) entries.emplace_back(&key, &node);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const toml::source_position& pa = a.first->source().begin;
    const toml::source_position& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  for (const auto& [k, node] : entries) {
    const std::string key(k->str());
    CLI::Option* opt = option_for(app, key);
    if (opt == nullptr)
      fail(path, k->source(), "unknown key \"" + key + "\"" + did_you_mean(key, file_keys(app)));
    if (opt->count() > 0) continue;
    if (opt->get_expected_min() == 0) {  // a flag
      if (!node->is_boolean())
        fail(path, node->source(), key + ": expected true or false, not " + type_of(*node));
      set_option(*opt, key, {*node->value<bool>() ? "true" : "false"}, path, node->source());
      continue;
    }
    const std::string type = opt->get_type_name();
    if (opt->get_items_expected_max() > 1) {  // repeatable: an array (or one value)
      const toml::array* a = node->as_array();
      if (a == nullptr) {
        set_option(*opt, key, {scalar_text(path, key, type, *node)}, path, node->source());
        continue;
      }
      // One at a time, so that a refusal points at its item.
      for (const toml::node& item : *a)
        set_option(*opt, key, {scalar_text(path, key, type, item)}, path, item.source());
      continue;
    }
    set_option(*opt, key, {scalar_text(path, key, type, *node)}, path, node->source());
  }
}

}  // namespace

std::string DaemonConfig::host() const {
  std::string h;
  int p = 0;
  split_listen(listen, h, p);
  return h;
}

int DaemonConfig::port() const {
  std::string h;
  int p = 0;
  split_listen(listen, h, p);
  return p;
}

ExporterSettings DaemonConfig::exporter_settings() const {
  ExporterSettings s;
  for (const std::string& spec : label_whitelist) s.plan.whitelists.insert(parse_whitelist(spec));
  s.plan.max_series_per_family = max_series_per_family;
  s.plan.base_units = base_units;
  s.windows.default_samples = window_samples;
  s.windows.max_age_ns = static_cast<std::int64_t>(window_age_seconds * 1e9);
  s.drain_interval = std::chrono::milliseconds(drain_interval_ms);
  s.housekeeping_interval = std::chrono::milliseconds(housekeeping_interval_ms);
  return s;
}

std::pair<std::string, std::vector<std::string>> parse_whitelist(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("'" + spec + "' is not FAMILY=KEY[,KEY...]");
  std::string family = spec.substr(0, eq);
  if (!detail::valid_metric_name(family))
    throw std::invalid_argument("'" + family + "' is not a valid metric name");
  std::vector<std::string> keys;
  std::string rest = spec.substr(eq + 1);
  std::size_t at = 0;
  while (at <= rest.size() && !rest.empty()) {
    const auto comma = rest.find(',', at);
    std::string key = rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!detail::valid_label_name(key))
      throw std::invalid_argument(std::string("'").append(key).append("' in '").append(spec).append(
          "' is not a valid label name"));
    keys.push_back(std::move(key));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return {std::move(family), std::move(keys)};
}

void add_options(CLI::App& app, DaemonConfig& cfg) {
  app.description(
      "sipmetricsd: serves the counters, gauges and latency summaries that SIP worker processes "
      "write into a shared-memory segment, as Prometheus metrics over HTTP.\n"
      "Every option can also be set by the environment variable shown, or in the config file, "
      "a TOML file whose keys are the long option names (`listen = \"0.0.0.0:9477\"`, "
      "`label-whitelist = [\"family=key1,key2\"]`, `base-units = true`). The command line wins "
      "over the config file, which wins over the environment. A file with a syntax error, an "
      "unknown key or a bad value stops the start with its file, line and reason; on SIGHUP it "
      "is refused and the running configuration kept. SIGTERM stops.");
  app.footer(
      "Exit status: 0 after SIGTERM or SIGINT (and for --help); 2 when the command line, the "
      "environment, a config or web config file, or the segment named is unusable (fix the "
      "configuration); 1 when the start fails otherwise (another sipmetricsd serves the "
      "segment, the listen address is taken).");
  app.add_option("--config", cfg.config_file,
                 "Config file (TOML, keys as the long options); reloaded on SIGHUP")
      ->envname("SIPMETRICSD_CONFIG")
      ->check(CLI::ExistingFile);
  app.add_option("--listen", cfg.listen,
                 "HTTP address HOST:PORT ([v6]:PORT, or :PORT for all interfaces)")
      ->envname("SIPMETRICSD_LISTEN")
      ->capture_default_str()
      ->check([](const std::string& v) {
        std::string h;
        int p = 0;
        return split_listen(v, h, p) ? std::string() : "expected HOST:PORT, got '" + v + "'";
      });
  app.add_option("--segment", cfg.segment,
                 "Segment: a POSIX shared-memory name, or a file path if it contains '/' "
                 "(default: sipmetrics)")
      ->envname("SIPMETRICS_SEGMENT");
  app.add_option("--segment-group", cfg.segment_group,
                 "Group given to the segment when it is created (mode stays 0660), so that "
                 "workers running as its members can write it; workers read the same variable")
      ->envname("SIPMETRICS_SEGMENT_GROUP");
  app.add_option("--web-config", cfg.web_config_file,
                 "Web config file in the Prometheus exporter-toolkit format: tls_server_config "
                 "(cert_file, key_file), basic_auth_users (bcrypt hashes), bearer_token_file. "
                 "Users and token are re-read on SIGHUP; /healthz stays open")
      ->envname("SIPMETRICSD_WEB_CONFIG")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error or critical")
      ->envname("SIPMETRICSD_LOG_LEVEL")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--http-threads", cfg.http_threads,
                 "Threads serving HTTP (bounds concurrent scrapes)")
      ->envname("SIPMETRICSD_HTTP_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--label-whitelist", cfg.label_whitelist,
                 "FAMILY=KEY[,KEY...]: label keys kept for a family, overriding the workers' "
                 "own declaration; repeat for more families")
      ->envname("SIPMETRICSD_LABEL_WHITELIST")
      ->delimiter(';')
      ->check([](const std::string& v) {
        try {
          parse_whitelist(v);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  app.add_option("--max-series-per-family", cfg.max_series_per_family,
                 "Series exposed per family at most; the rest are counted, not served")
      ->envname("SIPMETRICSD_MAX_SERIES_PER_FAMILY")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  app.add_flag("--base-units", cfg.base_units,
               "Serve *_ms summaries and gauges as *_seconds, values divided by 1000 (Prometheus "
               "base units; promtool-clean). Default: the seed's names, so existing dashboards "
               "keep working")
      ->envname("SIPMETRICSD_BASE_UNITS");
  app.add_flag("--recreate-incompatible", cfg.recreate_incompatible,
               "When the segment has another layout version or is not a valid sipmetrics segment, "
               "remove it and create a new one (its counts are lost; writers still attached to "
               "the old one must be restarted) instead of refusing to start")
      ->envname("SIPMETRICSD_RECREATE_INCOMPATIBLE");
  app.add_option("--window-samples", cfg.window_samples,
                 "Quantile window: newest samples kept per summary (a series' observe_n wins)")
      ->envname("SIPMETRICSD_WINDOW_SAMPLES")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--window-age", cfg.window_age_seconds,
                 "Quantile window: seconds a sample counts; 0 for no age bound")
      ->envname("SIPMETRICSD_WINDOW_AGE")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0 * 7));
  app.add_option("--drain-interval-ms", cfg.drain_interval_ms, "How often writer rings are drained")
      ->envname("SIPMETRICSD_DRAIN_INTERVAL_MS")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--housekeeping-interval-ms", cfg.housekeeping_interval_ms,
                 "How often dead writers are looked for and folded")
      ->envname("SIPMETRICSD_HOUSEKEEPING_INTERVAL_MS")
      ->capture_default_str()
      ->check(CLI::Range(10u, 60000u));

  // Capacities apply only when this daemon creates the segment.
  const std::string g = "Segment capacities (used only when sipmetricsd creates the segment)";
  auto pow2 = [](const std::string& v) {
    const auto n = std::stoull(v);
    return layout::is_pow2(n) ? std::string() : "must be a power of two";
  };
  app.add_option("--max-writers", cfg.geometry.max_writers, "Writer processes at once")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_MAX_WRITERS")
      ->check(CLI::Range(1u, layout::kMaxWriters));
  app.add_option("--lane-pool", cfg.geometry.lane_pool, "Lanes (one per writing thread) in all")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_LANE_POOL")
      ->check(CLI::Range(2u, layout::kMaxLanePool));
  app.add_option("--lanes-per-writer", cfg.geometry.lanes_per_writer,
                 "Lanes one process may take; further threads share one")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_LANES_PER_WRITER")
      ->check(CLI::Range(1u, layout::kMaxLanesPerWriter));
  app.add_option("--max-series", cfg.geometry.max_series, "Catalog entries (a power of two)")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_MAX_SERIES")
      ->check(CLI::Range(1u, layout::kMaxSeries))
      ->check(pow2);
  app.add_option("--max-cells", cfg.geometry.max_cells,
                 "Value cells per lane (a counter or gauge takes 1, a summary 2)")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_MAX_CELLS")
      ->check(CLI::Range(1u, layout::kMaxCells));
  app.add_option("--ring-capacity", cfg.geometry.ring_capacity,
                 "Summary samples buffered per lane between drains (a power of two)")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_RING_CAPACITY")
      ->check(CLI::Range(1u, layout::kMaxRingCapacity))
      ->check(pow2);
  app.add_option("--family-series-limit", cfg.family_series_limit,
                 "Series one metric family may register, at most (0: a quarter of --max-series); "
                 "beyond it new series of that family are refused and counted")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_FAMILY_SERIES_LIMIT")
      ->check(CLI::Range(0u, layout::kMaxSeries));
  app.add_option("--max-whitelists", cfg.geometry.max_whitelists, "Label whitelist declarations")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_MAX_WHITELISTS")
      ->check(CLI::Range(1u, layout::kMaxWhitelists));
  app.add_option("--arena-kib", cfg.arena_kib, "String arena for names, labels and help, KiB")
      ->group(g)
      ->capture_default_str()
      ->envname("SIPMETRICSD_ARENA_KIB")
      ->check(CLI::Range(4u, static_cast<std::uint32_t>(layout::kMaxArenaBytes >> 10)));
}

DaemonConfig parse_config(int argc, const char* const* argv) {
  DaemonConfig cfg;
  CLI::App app{"sipmetricsd", "sipmetricsd"};
  add_options(app, cfg);
  // First the command line alone, then the file for what it left unset, then the environment
  // for the rest: that is the precedence, and it lets each file value be refused at its line.
  std::vector<std::pair<CLI::Option*, std::string>> env;
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_envname().empty()) continue;
    env.emplace_back(opt, opt->get_envname());
    opt->envname("");
  }
  app.parse(argc, argv);
  for (auto& [opt, name] : env) opt->envname(name);
  CLI::Option* config = app.get_option("--config");
  const char* config_env = std::getenv("SIPMETRICSD_CONFIG");
  if (config->count() == 0 && config_env != nullptr && *config_env != '\0') {
    cfg.config_file = config_env;
    config->add_result(cfg.config_file);
    try {
      config->run_callback();  // the same check as for --config
    } catch (const CLI::ParseError& e) {
      throw CLI::ValidationError("SIPMETRICSD_CONFIG", e.what());
    }
  }
  if (!cfg.config_file.empty()) {
    const toml::table file = load_config_file(cfg.config_file);
    {
      // Every key and value is checked, also those the command line overrides (a scratch set of
      // options takes them all): a file is valid or it is not, whatever the flags.
      DaemonConfig scratch;
      CLI::App all{"sipmetricsd", "sipmetricsd"};
      add_options(all, scratch);
      apply_config_file(all, file, cfg.config_file);
    }
    apply_config_file(app, file, cfg.config_file);
  }
  for (auto& [opt, name] : env) {
    if (opt->count() > 0) continue;
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') continue;
    try {
      opt->add_result(std::string(value));
      opt->run_callback();
    } catch (const CLI::ParseError& e) {
      throw CLI::ValidationError(name, e.what());
    }
  }
  if (cfg.segment.empty()) cfg.segment = detail::default_segment_name();
  cfg.geometry.arena_bytes = std::uint64_t{cfg.arena_kib} << 10;
  cfg.geometry.family_series_limit = cfg.family_series_limit != 0
                                         ? cfg.family_series_limit
                                         : std::max(1u, cfg.geometry.max_series / 4);
  if (cfg.geometry.family_series_limit > cfg.geometry.max_series)
    throw CLI::ValidationError("--family-series-limit", "more than --max-series");
  // CLI::Range lets NaN through (it fails every comparison, the range's included).
  if (!std::isfinite(cfg.window_age_seconds))
    throw CLI::ValidationError("--window-age", "not a number of seconds");
  if (!layout::geometry_valid(cfg.geometry))
    throw CLI::ValidationError("segment capacities", "out of range");
  return cfg;
}

}  // namespace sipmetrics
