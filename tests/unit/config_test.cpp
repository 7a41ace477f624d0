#include "config.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <vector>

#include "test_support.hpp"

namespace sipmetrics {
namespace {

DaemonConfig parse(std::initializer_list<const char*> args) {
  const char* argv[16] = {"sipmetricsd"};
  int argc = 1;
  for (const char* a : args) argv[argc++] = a;
  return parse_config(argc, argv);
}

struct Env {
  const char* name;
  Env(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~Env() { ::unsetenv(name); }
};

}  // namespace

TEST_CASE("defaults need no flags") {
  ::unsetenv("SIPMETRICS_SEGMENT");
  const DaemonConfig c = parse({});
  CHECK(c.listen == "0.0.0.0:9477");
  CHECK(c.host() == "0.0.0.0");
  CHECK(c.port() == 9477);
  CHECK(c.segment == "sipmetrics");
  CHECK(layout::geometry_valid(c.geometry));
  CHECK(c.exporter_settings().plan.whitelists.empty());
}

TEST_CASE("flags, environment and config file set the same options; flags win, then the file") {
  test::TempSegment tmp;
  const std::string file = tmp.dir() + "/sipmetricsd.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:9600\"\n"
                         "label-whitelist = [\"a_total=x,y\", \"b_total=z\"]\n"
                         "window-samples = 77\n";
  Env seg("SIPMETRICS_SEGMENT", "/tmp/from-env");
  Env listen("SIPMETRICSD_LISTEN", "127.0.0.1:9700");
  Env family("SIPMETRICSD_MAX_SERIES_PER_FAMILY", "33");
  DaemonConfig c = parse({"--config", file.c_str()});
  CHECK(c.listen == "127.0.0.1:9600");  // the file beats the environment
  CHECK(c.segment == "/tmp/from-env");
  CHECK(c.max_series_per_family == 33);
  CHECK(c.window_samples == 77);
  const ExporterSettings s = c.exporter_settings();
  REQUIRE(s.plan.whitelists.size() == 2);
  CHECK(s.plan.whitelists.at("a_total") == std::vector<std::string>{"x", "y"});
  CHECK(s.windows.default_samples == 77);
  c = parse({"--config", file.c_str(), "--listen", "[::1]:9800"});
  CHECK(c.host() == "::1");
  CHECK(c.port() == 9800);
}

TEST_CASE("bad values are refused with the option's name") {
  auto error_of = [](std::initializer_list<const char*> args) -> std::string {
    try {
      parse(args);
    } catch (const CLI::ParseError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of({"--listen", "nowhere"}).find("HOST:PORT") != std::string::npos);
  CHECK(error_of({"--listen", "1.2.3.4:99999"}).find("HOST:PORT") != std::string::npos);
  CHECK(error_of({"--label-whitelist", "calls_total=ok,bad-key"}).find("bad-key") !=
        std::string::npos);
  CHECK(error_of({"--label-whitelist", "no_equals_sign"}).find("FAMILY=KEY") != std::string::npos);
  CHECK(error_of({"--max-series", "1000"}).find("power of two") != std::string::npos);
  CHECK(error_of({"--log-level", "loud"}).find("log-level") != std::string::npos);
  CHECK(error_of({"--config", "/nonexistent/file.toml"}).find("config") != std::string::npos);
  CHECK(error_of({"--unknown-flag"}).find("unknown-flag") != std::string::npos);
}

TEST_CASE("whitelist specs: keys sorted and unique") {
  const auto [family, keys] = parse_whitelist("voiceserver_calls_total=transport,status,transport");
  CHECK(family == "voiceserver_calls_total");
  CHECK(keys == std::vector<std::string>{"status", "transport"});
  CHECK(parse_whitelist("bare_total=").second.empty());
}

}  // namespace sipmetrics
