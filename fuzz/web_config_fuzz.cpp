// libFuzzer target: the web config parser (`--web-config`, the exporter-toolkit format: yaml-cpp,
// then the schema walk) on arbitrary text.
//
// The file is "/nonexistent/web.yml", so relative paths name nothing; absolute ones may name
// real files, which are only read (bounded, regular files only). A WebConfigError is an
// answer: the daemon stops at start with it, or keeps its configuration on SIGHUP. Findings are
// crashes, hangs, sanitizer reports, any other exception (yaml-cpp's included: none may get past
// parse_web_config), and a configuration accepted that the daemon could not use.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web_config.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "web_config_fuzz: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sipmetrics::WebConfig c;
  try {
    c = sipmetrics::parse_web_config(text, "/nonexistent/web.yml");
  } catch (const sipmetrics::WebConfigError& e) {
    if (std::string_view(e.what()).find("/nonexistent/web.yml") == std::string_view::npos &&
        std::string_view(e.what()).find('\'') == std::string_view::npos)
      finding(std::string("an error that names neither the file nor what is wrong: ") + e.what());
    return 0;
  }
  for (const auto& [user, hash] : c.basic_auth_users) {
    if (user.find(':') != std::string::npos) finding("a user name with ':' accepted: " + user);
    if (hash.size() != 60 || !hash.starts_with("$2"))
      finding("a non-bcrypt hash accepted: " + hash);
  }
  if (c.tls && (c.tls->cert_file.empty() || c.tls->key_file.empty()))
    finding("TLS accepted without both files");
  if (!c.bearer_token_file.empty() && c.bearer_token.empty())
    finding("an empty bearer token accepted");
  // The authenticator takes whatever the parser accepted.
  sipmetrics::Authenticator auth;
  auth.apply(c);
  if (auth.enabled() != c.auth_required()) finding("authenticator and config disagree");
  if (auth.check("Basic !!!") == sipmetrics::Authenticator::Verdict::kAllowed && c.auth_required())
    finding("garbage credentials accepted");
  return 0;
}
