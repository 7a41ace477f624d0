#include "config.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <fstream>
#include <sstream>
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

/// A config file holding `text`, in a directory of its own.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) : path_(tmp_.dir() + "/sipmetricsd.toml") {
    std::ofstream(path_, std::ios::binary) << text;
  }
  const std::string& path() const { return path_; }
  DaemonConfig parse() const { return sipmetrics::parse_config(3, argv()); }
  /// The message of what parsing `--config FILE` throws; "" when it parses.
  std::string error() const {
    try {
      (void)parse();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

 private:
  const char* const* argv() const {
    argv_ = {"sipmetricsd", "--config", path_.c_str()};
    return argv_.data();
  }
  test::TempSegment tmp_;
  std::string path_;
  mutable std::array<const char*, 3> argv_{};
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.starts_with(prefix); }

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
  CHECK(error_of({"--window-age", "nan"}).find("window-age") != std::string::npos);
  CHECK(error_of({"--family-series-limit", "5000", "--max-series", "4096"})
            .find("family-series-limit") != std::string::npos);
}

TEST_CASE("config file: an unterminated string is refused with the file and the line") {
  const ConfigFile f("log-level = \"info\"\nlisten = \"127.0.0.1:19205\n");
  const std::string e = f.error();
  CHECK_MESSAGE(starts_with(e, f.path() + ":2:"), e);
}

TEST_CASE("config file: '= = =' is refused with the file and the line") {
  const ConfigFile f("= = =\n");
  const std::string e = f.error();
  CHECK_MESSAGE(starts_with(e, f.path() + ":1:"), e);
}

TEST_CASE("config file: an unclosed section header is refused with the file and the line") {
  const ConfigFile f("listen = \":9477\"\n[default\nwindow-samples = 10\n");
  const std::string e = f.error();
  CHECK_MESSAGE(starts_with(e, f.path() + ":2:"), e);
}

TEST_CASE("config file: an unknown key is refused naming the file, the line and the key") {
  const ConfigFile f("listen = \":9477\"\n\nfrobnicate = 3\n");
  CHECK(f.error() == f.path() + ":3:1: unknown key \"frobnicate\"");
}

TEST_CASE("config file: a misspelled key is refused with a suggestion") {
  const ConfigFile f(
      "listen = \":9477\"\n# operator whitelists\nlabel-whitelst = [\"a_total=x\"]\n");
  CHECK(f.error() ==
        f.path() + ":3:1: unknown key \"label-whitelst\" (did you mean \"label-whitelist\"?)");
  // A section is not a key of sipmetricsd's either (the INI files CLI11 read had them).
  const ConfigFile section("[default]\nlisten = \":9477\"\n");
  CHECK(section.error() == section.path() + ":1:2: unknown key \"default\"");
}

TEST_CASE("config file: an unterminated array at start names the file and the line") {
  const ConfigFile f("listen = \":9477\"\nlabel-whitelist = [\"a_total=x\", \"b_total=y\"\n");
  const std::string e = f.error();
  CHECK_MESSAGE(starts_with(e, f.path() + ":2:"), e);
}

TEST_CASE("config file: wrong types and bad values name the file, the line and the reason") {
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"listen = 9477\n", ":1:10: listen: expected a string, not an integer"},
      {"\nwindow-samples = \"77\"\n", ":2:18: window-samples: expected an integer, not a string"},
      {"arena-kib = 1e3\n", ":1:13: arena-kib: expected an integer, not a floating-point"},
      {"base-units = \"yes\"\n", ":1:14: base-units: expected true or false, not a string"},
      {"label-whitelist = [1]\n", ":1:20: label-whitelist: expected a string, not an integer"},
      {"label-whitelist = [\"a_total=x\", \"no_equals\"]\n",
       ":1:33: label-whitelist: 'no_equals' is not FAMILY=KEY[,KEY...]"},
      {"listen = \"nowhere\"\n", ":1:10: listen: expected HOST:PORT, got 'nowhere'"},
      {"max-series = 1000\n", ":1:14: max-series: must be a power of two"},
      {"window-age = -1.5\n", ":1:14: window-age: "},
      {"http-threads = 99999999999\n", ":1:16: http-threads: "},
      {"max-writers = -1\n", ":1:15: max-writers: "},
      {"log-level = \"loud\"\n", ":1:13: log-level: "},
      {"listen = \":1\"\nlisten = \":2\"\n", ":2:"},  // TOML: a key is defined once
      {"config = \"other.toml\"\n", ":1:1: unknown key \"config\""},
      {"help = true\n", ":1:1: unknown key \"help\""},
  };
  for (const Case& c : cases) {
    const ConfigFile f(c.text);
    INFO(c.text);
    const std::string e = f.error();
    CHECK_MESSAGE(starts_with(e, f.path() + c.expect), e);
  }
}

TEST_CASE("config file: every TOML spelling of a value is read") {
  const ConfigFile f(
      "# sipmetricsd\n"
      "listen = '[::1]:0'\n"
      "label-whitelist = [\n  \"a_total=x,y\",  # first\n  'b_total=z',\n]\n"
      "max-writers = 0x10\n"
      "window-age = 30\n"
      "window-samples = 1_000\n"
      "base-units = true\n"
      "segment = \"seg\\twith\\u00e9\"\n");
  const DaemonConfig c = f.parse();
  CHECK(c.listen == "[::1]:0");
  CHECK(c.label_whitelist == std::vector<std::string>{"a_total=x,y", "b_total=z"});
  CHECK(c.geometry.max_writers == 16);
  CHECK(c.window_age_seconds == 30.0);
  CHECK(c.window_samples == 1000);
  CHECK(c.base_units);
  CHECK(c.segment == "seg\twith\u00e9");
  CHECK(ConfigFile("").parse().listen == kDefaultListen);
  CHECK(ConfigFile("label-whitelist = \"a_total=x\"\n").parse().label_whitelist ==
        std::vector<std::string>{"a_total=x"});
}

TEST_CASE("config file: the environment names the file too; the command line still wins") {
  const ConfigFile f("listen = \"127.0.0.1:9600\"\nwindow-samples = 5\n");
  Env config("SIPMETRICSD_CONFIG", f.path().c_str());
  Env samples("SIPMETRICSD_WINDOW_SAMPLES", "7");
  DaemonConfig c = parse({});
  CHECK(c.config_file == f.path());
  CHECK(c.listen == "127.0.0.1:9600");
  CHECK(c.window_samples == 5);  // the file beats the environment
  c = parse({"--window-samples", "9"});
  CHECK(c.window_samples == 9);
}

TEST_CASE("config file: the README's example is a valid config") {
  std::ifstream readme(SIPMETRICS_README_MD);
  REQUIRE(readme.good());
  std::stringstream all;
  all << readme.rdbuf();
  const std::string text = all.str();
  int blocks = 0;
  for (std::size_t at = text.find("```toml\n"); at != std::string::npos;
       at = text.find("```toml\n", at + 1)) {
    const std::size_t begin = at + 8;
    const std::size_t end = text.find("```", begin);
    REQUIRE(end != std::string::npos);
    const ConfigFile f(text.substr(begin, end - begin));
    INFO(text.substr(begin, end - begin));
    CHECK(f.error() == "");
    ++blocks;
  }
  CHECK(blocks >= 1);
}

TEST_CASE("whitelist specs: keys sorted and unique") {
  const auto [family, keys] = parse_whitelist("voiceserver_calls_total=transport,status,transport");
  CHECK(family == "voiceserver_calls_total");
  CHECK(keys == std::vector<std::string>{"status", "transport"});
  CHECK(parse_whitelist("bare_total=").second.empty());
}

}  // namespace sipmetrics
