// libFuzzer target: sipmetricsd's configuration parsing on arbitrary text.
//
// The input is written to a file and parsed as `sipmetricsd --config FILE` (toml++, the walk of
// its keys against the options, every option's validator, then the exporter settings built from
// the result), and each of its lines is given to parse_whitelist(). A parse error is an answer,
// not a finding: the daemon reports it and exits at start, or keeps its configuration on SIGHUP.
// Findings are crashes, hangs, sanitizer reports, exceptions its callers do not catch, a refusal
// of the file that does not name it, and a configuration accepted with values the daemon cannot
// use.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sipmetrics/segment/key.hpp>

#include "config.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "config_fuzz: %s\n", what.c_str());
  std::abort();
}

/// parse_whitelist's contract: std::invalid_argument, or a valid family with sorted unique keys.
void check_whitelist(const std::string& spec) {
  try {
    const auto [family, keys] = sipmetrics::parse_whitelist(spec);
    if (!sipmetrics::detail::valid_metric_name(family))
      finding("whitelist family accepted: " + family);
    for (const std::string& k : keys)
      if (!sipmetrics::detail::valid_label_name(k)) finding("whitelist key accepted: " + k);
    if (!std::is_sorted(keys.begin(), keys.end()) ||
        std::adjacent_find(keys.begin(), keys.end()) != keys.end())
      finding("whitelist keys not sorted and unique: " + spec);
  } catch (const std::invalid_argument&) {
  }
}

std::string& scratch_path() {
  static std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(dir != nullptr ? dir : "/tmp") + "/sipmetricsd-config-fuzz-XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) finding("cannot create a scratch file");
    ::close(fd);
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    return tmpl;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Only the file may configure: no SIPMETRICS* variable of the caller's environment.
  for (const char* v : {"SIPMETRICS_SEGMENT", "SIPMETRICS_SEGMENT_GROUP", "SIPMETRICSD_CONFIG",
                        "SIPMETRICSD_LISTEN", "SIPMETRICSD_LABEL_WHITELIST",
                        "SIPMETRICSD_LOG_LEVEL", "SIPMETRICSD_WEB_CONFIG"})
    ::unsetenv(v);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string& path = scratch_path();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) finding("short write");
    std::fclose(f);
  } else {
    finding("cannot write the scratch file");
  }

  const char* argv[] = {"sipmetricsd", "--config", path.c_str()};
  try {
    const sipmetrics::DaemonConfig cfg = sipmetrics::parse_config(3, argv);
    if (!sipmetrics::layout::geometry_valid(cfg.geometry)) finding("invalid geometry accepted");
    if (cfg.port() < 0 || cfg.port() > 65535) finding("port out of range accepted: " + cfg.listen);
    (void)cfg.host();
    for (const std::string& spec : cfg.label_whitelist) check_whitelist(spec);
    const sipmetrics::ExporterSettings s = cfg.exporter_settings();
    if (s.windows.default_samples == 0) finding("a zero quantile window accepted");
  } catch (const sipmetrics::ConfigFileError& e) {
    // Every refusal of the file's content says where: FILE:LINE:COLUMN or FILE: (unreadable).
    if (!std::string_view(e.what()).starts_with(path + ":"))
      finding(std::string("a config file error that does not name the file: ") + e.what());
  } catch (const CLI::ParseError&) {
  } catch (const std::exception&) {
    // Callers catch these too: main() makes them a fatal exit with the message, a SIGHUP
    // reload logs "reload failed" and keeps the running configuration.
  }

  std::size_t start = 0;
  for (int lines = 0; start <= text.size() && lines < 64; ++lines) {
    const auto nl = text.find('\n', start);
    check_whitelist(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return 0;
}
