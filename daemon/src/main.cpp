// sipmetricsd: wires the options to the parts and handles signals. Nothing else lives here.
#include <csignal>
#include <pthread.h>

#include <cstdio>
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

  // Signals go to the main thread only, which waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto opened = sipmetrics::detail::SegmentFile::open(cfg.segment, cfg.geometry);
  if (auto* err = std::get_if<sipmetrics::detail::OpenError>(&opened)) {
    spdlog::critical("{}", err->message);
    if (err->kind == sipmetrics::detail::OpenError::Kind::kVersion)
      spdlog::critical("remove the old segment (rm {}{}) once its writers are stopped, "
                       "or give this daemon another --segment",
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

  sipmetrics::Exporter exporter(std::move(segment), cfg.exporter_settings());
  std::jthread loop([&exporter](std::stop_token st) { exporter.run(st); });

  sipmetrics::HttpServer http(exporter, {cfg.host(), cfg.port(), cfg.http_threads});
  std::string error;
  if (!http.bind(error)) {
    spdlog::critical("{}", error);
    return 1;
  }
  std::thread server([&http] { http.serve(); });
  spdlog::info("serving http://{}:{}/metrics", cfg.host(), http.port());

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
    try {
      DaemonConfig next = sipmetrics::parse_config(argc, argv);
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
