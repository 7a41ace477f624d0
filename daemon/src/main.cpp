// sipmetricsd: wires the options to the parts and handles signals. Nothing else lives here.
#include <csignal>
#include <pthread.h>

#include <cstdio>
#include <optional>
#include <thread>
#include <variant>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "exporter.hpp"
#include "http_server.hpp"

namespace {

using sipmetrics::DaemonConfig;

int run(int argc, char** argv) {
  DaemonConfig cfg;
  try {
    cfg = sipmetrics::parse_config(argc, argv);
  } catch (const CLI::ParseError& e) {
    CLI::App app{"sipmetricsd", "sipmetricsd"};
    DaemonConfig unused;
    sipmetrics::add_options(app, unused);
    return app.exit(e);
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("sipmetricsd"));
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  sipmetrics::WebConfig web;
  if (!cfg.web_config_file.empty()) {
    try {
      web = sipmetrics::load_web_config(cfg.web_config_file);
    } catch (const std::exception& e) {
      spdlog::critical("--web-config: {}", e.what());
      return 1;
    }
  }

  // Signals go to the main thread only, which waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  using OpenKind = sipmetrics::detail::OpenError::Kind;
  auto opened = sipmetrics::detail::SegmentFile::open(cfg.segment, cfg.geometry, cfg.segment_group);
  if (auto* err = std::get_if<sipmetrics::detail::OpenError>(&opened);
      err != nullptr && cfg.recreate_incompatible &&
      (err->kind == OpenKind::kVersion || err->kind == OpenKind::kForeign ||
       err->kind == OpenKind::kCorrupt)) {
    spdlog::warn("{}", err->message);
    std::string why;
    if (!sipmetrics::detail::remove_segment(cfg.segment, why)) {
      spdlog::critical("--recreate-incompatible: cannot remove segment '{}': {}", cfg.segment, why);
      return 2;
    }
    spdlog::warn("--recreate-incompatible: removed segment '{}' and creating a new one; what it "
                 "held is lost, and writers still attached to it must be restarted",
                 cfg.segment);
    opened = sipmetrics::detail::SegmentFile::open(cfg.segment, cfg.geometry, cfg.segment_group);
  }
  if (auto* err = std::get_if<sipmetrics::detail::OpenError>(&opened)) {
    spdlog::critical("{}", err->message);
    if (err->kind == OpenKind::kVersion || err->kind == OpenKind::kForeign ||
        err->kind == OpenKind::kCorrupt)
      spdlog::critical("remove the old segment (rm {}{}) once its writers are stopped, start "
                       "sipmetricsd with --recreate-incompatible, or give it another --segment",
                       sipmetrics::detail::segment_is_path(cfg.segment) ? "" : "/dev/shm/",
                       cfg.segment);
    return 2;
  }
  auto segment = std::move(std::get<std::unique_ptr<sipmetrics::detail::SegmentFile>>(opened));
  long holder = 0;
  if (!sipmetrics::detail::try_lock_byte(segment->fd(), sipmetrics::layout::kDaemonLockByte)) {
    sipmetrics::detail::byte_locked(segment->fd(), sipmetrics::layout::kDaemonLockByte, &holder);
    spdlog::critical("segment '{}' is already served by another sipmetricsd (pid {})", cfg.segment,
                     holder);
    return 1;
  }
  auto& header = segment->view().header();
  header.daemon_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
  header.daemon_started_unix_ns.store(sipmetrics::detail::unix_now_ns(), std::memory_order_relaxed);
  const auto& g = segment->view().geometry();
  spdlog::info("segment '{}' {} ({} MiB: {} writers, {} lanes, {} series, {} cells)", cfg.segment,
               segment->created() ? "created" : "attached", segment->view().size() >> 20,
               g.max_writers, g.lane_pool, g.max_series, g.max_cells);
  if (!segment->group_error().empty()) {
    spdlog::critical("{} (--segment-group)", segment->group_error());
    return 2;
  }
  for (const std::string& w :
       sipmetrics::detail::segment_access_warnings(segment->fd(), cfg.segment_group))
    spdlog::warn("segment '{}': {}", cfg.segment, w);

  sipmetrics::Exporter exporter(std::move(segment), cfg.exporter_settings());
  std::jthread loop([&exporter](std::stop_token st) { exporter.run(st); });

  sipmetrics::HttpServer http(exporter, {cfg.host(), cfg.port(), cfg.http_threads, web});
  std::string error;
  if (!http.bind(error)) {
    spdlog::critical("{}", error);
    return 1;
  }
  std::thread server([&http] { http.serve(); });
  spdlog::info("serving {}://{}:{}/metrics ({})", http.scheme(), cfg.host(), http.port(),
               web.auth_required() ? "credentials required except for /healthz"
                                   : "no credentials required: see --web-config");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
    try {
      DaemonConfig next = sipmetrics::parse_config(argc, argv);
      // The web config file is re-read (its path is fixed at start); a broken one throws here,
      // before anything is applied.
      std::optional<sipmetrics::WebConfig> web_next;
      if (!cfg.web_config_file.empty()) web_next = sipmetrics::load_web_config(cfg.web_config_file);
      if (web_next && !http.apply_web_config(*web_next))
        spdlog::warn("reload: tls_server_config changes take effect only after a restart");
      if (next.listen != cfg.listen || next.segment != cfg.segment)
        spdlog::warn("reload: listen and segment changes take effect only after a restart");
      exporter.apply(next.exporter_settings());
      spdlog::set_level(spdlog::level::from_str(next.log_level));
      spdlog::info("reload: configuration applied ({} operator whitelists)",
                   next.label_whitelist.size());
    } catch (const std::exception& e) {
      spdlog::error("reload failed, keeping the running configuration: {}", e.what());
    }
  }
  http.stop();
  server.join();
  loop.request_stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sipmetricsd: fatal: %s\n", e.what());
    return 1;
  }
}
