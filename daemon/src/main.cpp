// sipmetricsd: wires the options to the parts and handles signals. Nothing else lives here.
#include <pthread.h>
#include <csignal>

#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "exporter.hpp"
#include "http_server.hpp"
#include "segment_attach.hpp"

namespace {

using sipmetrics::DaemonConfig;
using sipmetrics::kExitConfiguration;

int run(int argc, char** argv) {
  DaemonConfig cfg;
  try {
    cfg = sipmetrics::parse_config(argc, argv);
  } catch (const sipmetrics::ConfigFileError& e) {
    std::fprintf(stderr, "sipmetricsd: %s\n", e.what());
    return kExitConfiguration;
  } catch (const CLI::ParseError& e) {
    CLI::App app{"sipmetricsd", "sipmetricsd"};
    DaemonConfig unused;
    sipmetrics::add_options(app, unused);
    // CLI11's own codes (105 to 127 by error) would tell nothing more than its message does.
    return app.exit(e) == 0 ? 0 : kExitConfiguration;  // 0: --help
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
      return kExitConfiguration;
    }
  }

  // Signals go to the main thread only, which waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<sipmetrics::detail::SegmentFile> segment;
  if (const int status = sipmetrics::attach_segment(cfg, segment); status != 0) return status;

  sipmetrics::Exporter exporter(std::move(segment), cfg.exporter_settings());
  std::jthread loop([&exporter](const std::stop_token& st) { exporter.run(st); });

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
      exporter.count_reload_failure();
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
