#include "web_config.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sipmetrics {
namespace {

// Made with `mkpasswd -m bcrypt -R N PASSWORD` (Debian's whois package): not by this code.
constexpr const char* kSecret5 =
    "$2b$05$WqusZUnsUuQDM/IzAq4Z1OWaobIPJ7KMuAQb.JmSxKybEukLcBjbG";  // secret
constexpr const char* kSecret10 =
    "$2b$10$Och48m6gw3omzcc.xXIvyuVyM1y/O954sP1RvPGZ/XYYqPYlCTuFC";  // secret
constexpr const char* kSlow12 =
    "$2b$12$YcGafTPVKWcOLgxWPy3Qkukda52moj61KeP/cyjWpl1XdaKL9zsqG";  // slow-one
constexpr const char* kColon5 =
    "$2b$05$JplYwuQ7r1urSNyn2LVmKOlH8uYiwG4whNpJIKUyPVmswE3/z07LK";  // p@ss: word

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sipmetrics-webcfg-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path file(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes a throwaway self-signed certificate and its key (EC P-256) as PEM files.
void make_certificate(const std::filesystem::path& cert, const std::filesystem::path& key) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  REQUIRE(pkey != nullptr);
  X509* x = X509_new();
  REQUIRE(x != nullptr);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, pkey, EVP_sha256()) > 0);
  FILE* f = std::fopen(cert.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

std::string basic(const std::string& user_colon_password) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  const std::string& in = user_colon_password;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return "Basic " + out;
}

/// The message of the WebConfigError that parsing `text` throws ("" if it does not throw).
std::string error_of(const std::string& text, const TempDir& dir) {
  try {
    (void)parse_web_config(text, dir.path() / "web.yml");
  } catch (const WebConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a full web config: TLS paths relative to the file, bcrypt users, a bearer token") {
  TempDir dir;
  make_certificate(dir.path() / "server.crt", dir.path() / "server.key");
  dir.file("token", "tok-123\n");
  const auto path = dir.file("web.yml", std::string("tls_server_config:\n"
                                                    "  cert_file: server.crt\n"
                                                    "  key_file: ") +
                                            (dir.path() / "server.key").string() +
                                            "\n"
                                            "basic_auth_users:\n"
                                            "  prometheus: " +
                                            kSecret5 +
                                            "\n"
                                            "  other: '" +
                                            kSecret10 +
                                            "'\n"
                                            "bearer_token_file: token\n");
  const WebConfig c = load_web_config(path);
  REQUIRE(c.tls.has_value());
  CHECK(c.tls->cert_file == dir.path() / "server.crt");
  CHECK(c.tls->key_file == dir.path() / "server.key");
  CHECK(c.basic_auth_users.size() == 2);
  CHECK(c.basic_auth_users.at("prometheus") == kSecret5);
  CHECK(c.basic_auth_users.at("other") == kSecret10);
  CHECK(c.bearer_token == "tok-123");
  CHECK(c.auth_required());
}

TEST_CASE("YAML details: comments, quotes, document marker, CRLF, empty sections") {
  TempDir dir;
  CHECK_FALSE(parse_web_config("", dir.path() / "web.yml").auth_required());
  CHECK_FALSE(parse_web_config("# nothing\n\n", dir.path() / "web.yml").auth_required());
  const WebConfig c =
      parse_web_config(std::string("---\r\n# users\r\nbasic_auth_users:   # inline comment\r\n"
                                   "    \"prometheus\": \"") +
                           kSecret5 +
                           "\"  # quoted\r\n"
                           "    'it''s': " +
                           kColon5 +
                           "\r\n"
                           "tls_server_config: {}\r\n"
                           "bearer_token_file: ~\r\n",
                       dir.path() / "web.yml");
  CHECK(c.basic_auth_users.at("prometheus") == kSecret5);
  CHECK(c.basic_auth_users.at("it's") == kColon5);
  CHECK_FALSE(c.tls.has_value());
  CHECK(c.bearer_token.empty());
  CHECK(parse_web_config("basic_auth_users:\n", dir.path() / "web.yml").basic_auth_users.empty());
  CHECK(parse_web_config("  basic_auth_users:\n", dir.path() / "web.yml").basic_auth_users.empty());
}

TEST_CASE("every mistake is refused with the file, the line and the problem") {
  TempDir dir;
  make_certificate(dir.path() / "c.crt", dir.path() / "k.key");
  make_certificate(dir.path() / "other.crt", dir.path() / "other.key");
  dir.file("junk.crt", "not a certificate\n");
  dir.file("empty", "\n\n");
  dir.file("token", "tok\n");
  const std::string f = (dir.path() / "web.yml").string();
  const std::string users = std::string("basic_auth_users:\n  u: ") + kSecret5 + "\n";
  std::string costly = kSecret5;
  costly.replace(4, 2, "17");
  REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"basic_auth_users:\n\tu: x\n", f + ":2:"},  // a tab in indentation
      {"basic_auth_user:\n",
       f + ":1:1: unknown key \"basic_auth_user\" (did you mean \"basic_auth_users\"?)"},
      {"tls: {}\n", f + ":1:1: unknown key \"tls\" (expected tls_server_config, basic_auth_users"},
      {"tls_server_config:\n  cert_file: c.crt\n  key_file: k.key\n  client_ca_file: ca\n",
       f + ":4:3: tls_server_config.client_ca_file is not supported"},
      {"tls_server_config:\n  cert: c.crt\n", f + ":2:3: unknown key \"tls_server_config.cert\""},
      {"tls_server_config: {cert_file: c.crt, key_fil: k.key}\n",
       f + ":1:39: unknown key \"tls_server_config.key_fil\" (did you mean \"key_file\"?)"},
      {"tls_server_config:\n  cert_file: c.crt\n", f + ":1:1: tls_server_config needs both"},
      {"tls_server_config:\n  cert_file: c.crt\n  key_file: missing.key\n",
       f + ":1:1: TLS key_file '" + (dir.path() / "missing.key").string() + "': "},
      {"tls_server_config:\n  cert_file: junk.crt\n  key_file: k.key\n",
       f + ":1:1: TLS cert_file '" + (dir.path() / "junk.crt").string() + "': "},
      {"tls_server_config:\n  cert_file: c.crt\n  key_file: other.key\n",
       f + ":1:1: TLS key_file '" + (dir.path() / "other.key").string() +
           "'"},  // OpenSSL: mismatch
      {"http_server_config:\n  http2: false\n", f + ":1:1: http_server_config is not supported"},
      {users + "basic_auth_users:\n", f + ":3:1: duplicate key 'basic_auth_users'"},
      {"basic_auth_users:\n  u: x\n  u: y\n", f + ":3:3: duplicate key 'u'"},
      {"basic_auth_users: {u: x, u: y}\n", f + ":1:26: duplicate key 'u'"},
      {"basic_auth_users: [a, b]\n", f + ":1:19: 'basic_auth_users' must map"},
      {"basic_auth_users:\n  - u\n", f + ":2:3: 'basic_auth_users' must map"},
      {"basic_auth_users:\n  u: &anchor x\n", f + ":2:6: user 'u': not a bcrypt hash"},
      {"basic_auth_users:\n  u: |\n", f + ":2:6: 'u' needs a non-empty value"},
      {"basic_auth_users:\n  ? [a]\n  : x\n", f + ":2:5: a key must be a name"},
      {"basic_auth_users:\n  u: plaintext\n", f + ":2:6: user 'u': not a bcrypt hash"},
      {"basic_auth_users:\n  u: $1$abc$defghijklmnopqrstuv\n",
       f + ":2:6: user 'u': not a bcrypt hash"},
      {std::string("basic_auth_users:\n  'a:b': ") + kSecret5 + "\n",
       f + ":2:3: user 'a:b': a user name cannot contain ':'"},
      {"basic_auth_users: x\n", f + ":1:19: 'basic_auth_users' must map"},
      {"basic_auth_users:\n  u: \"unterminated\n", f + ":2:"},
      {"bearer_token_file: \"token\n\n", f + ":1:"},  // would name an existing file
      {"basic_auth_users: {u: x\n", f + ":"},         // an unclosed flow mapping
      {"basic_auth_users:\n  u:\n    deeper: x\n", f + ":3:5: 'u' needs a non-empty value"},
      {"basic_auth_users:\n    u: a\n  v: b\n", f + ":3:3: "},
      {"just text\n", f + ":1:1: a web config is a mapping"},
      {"bearer_token_file: empty\n", f + ":1:20: bearer_token_file '"},
      {"bearer_token_file: nowhere\n", "nowhere"},
      {"bearer_token_file:\n  x: y\n", f + ":2:3: 'bearer_token_file' needs a non-empty value"},
      {"---\nbasic_auth_users:\n---\n", "a second YAML document"},
      {",w\n", f + ":1:"},  // yaml-cpp's LoadAll() would loop for ever
      {"basic_auth_users:\n  u: " + costly + "\n",
       f + ":2:6: user 'u': bcrypt cost 17 is above 16"},
      {"bearer_token_file: /dev/zero\n", "bearer_token_file '/dev/zero': not a regular file"},
      {"bearer_token_file: fifo\n", "/fifo': not a regular file"},
      {"bearer_token_file: .\n", "': not a regular file"},
      {"tls_server_config:\n  cert_file: fifo\n  key_file: k.key\n",
       f + ":1:1: TLS cert_file '" + (dir.path() / "fifo").string() + "': not a regular file"},
      {std::string(10000, '[') + "\n", f + ":"},  // nesting bounded by yaml-cpp
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const std::string e = error_of(c.text, dir);
    CHECK_MESSAGE(e.find(c.expect) != std::string::npos, e);
  }
}

TEST_CASE("web config: a flow mapping of users, as other exporters' files have it, is accepted") {
  TempDir dir;
  const WebConfig c = parse_web_config(std::string("basic_auth_users: {prometheus: \"") +
                                           kSecret10 + "\", other: '" + kSecret5 + "'}\n",
                                       dir.path() / "web.yml");
  CHECK(c.basic_auth_users.size() == 2);
  CHECK(c.basic_auth_users.at("prometheus") == kSecret10);
  CHECK(c.basic_auth_users.at("other") == kSecret5);
}

TEST_CASE("web config: block and flow styles, plain and quoted scalars, aliases") {
  TempDir dir;
  make_certificate(dir.path() / "c.crt", dir.path() / "k.key");
  dir.file("token", "tok\n");
  const WebConfig c = parse_web_config(
      std::string(
          "%YAML 1.2\n---\n"
          "tls_server_config: {cert_file: c.crt,\n                    key_file: \"k.key\"}\n"
          "? basic_auth_users\n"
          ": prometheus: &hash ") +
          kSecret5 +
          "\n"
          "  \"with space\": *hash\n"
          "  it's: !!str " +
          kSecret10 +
          "\n"
          "bearer_token_file: >-\n"
          "  token\n"
          "...\n",
      dir.path() / "web.yml");
  REQUIRE(c.tls.has_value());
  CHECK(c.tls->key_file == dir.path() / "k.key");
  CHECK(c.basic_auth_users.at("prometheus") == kSecret5);
  CHECK(c.basic_auth_users.at("with space") == kSecret5);
  CHECK(c.basic_auth_users.at("it's") == kSecret10);
  CHECK(c.bearer_token == "tok");
  CHECK(parse_web_config("{}\n", dir.path() / "web.yml").basic_auth_users.empty());
  CHECK(
      parse_web_config("basic_auth_users: {}\n", dir.path() / "web.yml").basic_auth_users.empty());
}

TEST_CASE("web config: the README's example is accepted") {
  std::ifstream readme(SIPMETRICS_README_MD);
  REQUIRE(readme.good());
  std::stringstream all;
  all << readme.rdbuf();
  const std::string text = all.str();
  // The web config block: the last YAML fence before the bcrypt placeholder (the Fleets
  // section's Prometheus blocks come earlier).
  const auto marker = text.find("$2y$10$...");
  REQUIRE(marker != std::string::npos);
  const auto fence = text.rfind("```yaml\n", marker);
  REQUIRE(fence != std::string::npos);
  const auto line_start = text.rfind('\n', fence) + 1;
  const std::size_t indent = fence - line_start;  // the block sits in a list item
  const auto end = text.find("```", fence + 8);
  REQUIRE(end != std::string::npos);
  std::string yaml;
  std::istringstream lines(text.substr(fence + 8, end - fence - 8));
  for (std::string line; std::getline(lines, line);)
    yaml += (line.size() >= indent ? line.substr(indent) : std::string()) + "\n";
  const auto placeholder = yaml.find("$2y$10$...");
  REQUIRE(placeholder != std::string::npos);
  yaml.replace(placeholder, 10, kSecret10);
  TempDir dir;
  make_certificate(dir.path() / "tls.crt", dir.path() / "tls.key");
  dir.file("token", "tok-1\n");
  INFO(yaml);
  const WebConfig c = load_web_config(dir.file("web.yml", yaml));
  CHECK(c.tls.has_value());
  CHECK(c.basic_auth_users.size() == 1);
  CHECK(c.bearer_token == "tok-1");
}

TEST_CASE("load_web_config names a file it cannot read") {
  try {
    (void)load_web_config("/nonexistent/web.yml");
    FAIL("no error");
  } catch (const WebConfigError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/web.yml") != std::string::npos);
  }
}

TEST_CASE("base64 decoding is strict") {
  CHECK(base64_decode("dTpw") == "u:p");
  CHECK(base64_decode("dTpwMQ==") == "u:p1");
  CHECK(base64_decode("dTpwMTI=") == "u:p12");
  CHECK(base64_decode("") == "");
  CHECK_FALSE(base64_decode("dTp").has_value());
  CHECK_FALSE(base64_decode("dT=w").has_value());
  CHECK_FALSE(base64_decode("dTp*").has_value());
  CHECK_FALSE(base64_decode("====").has_value());
}

TEST_CASE("bcrypt through libxcrypt: $2b$ and $2y$, wrong passwords, NUL bytes") {
  CHECK(bcrypt_matches("secret", kSecret5));
  CHECK(bcrypt_matches("secret", kSecret10));
  std::string y = kSecret5;
  y[2] = 'y';
  CHECK(bcrypt_matches("secret", y));
  CHECK_FALSE(bcrypt_matches("Secret", kSecret5));
  CHECK_FALSE(bcrypt_matches("", kSecret5));
  CHECK_FALSE(bcrypt_matches(std::string("secret\0more", 11), kSecret5));
  CHECK_FALSE(bcrypt_matches("secret", "$2b$05$short"));
}

TEST_CASE("Authenticator: basic auth, bearer token, schemes, and no config at all") {
  Authenticator open;
  CHECK_FALSE(open.enabled());
  CHECK(open.check("") == Authenticator::Verdict::kAllowed);

  WebConfig c;
  c.basic_auth_users = {{"prometheus", kSecret5}, {"colon", kColon5}};
  c.bearer_token = "tok-123";
  Authenticator a;
  a.apply(c);
  using V = Authenticator::Verdict;
  CHECK(a.enabled());
  CHECK(a.challenges().size() == 2);
  CHECK(a.check(basic("prometheus:secret")) == V::kAllowed);
  CHECK(a.check("basic " + basic("prometheus:secret").substr(6)) == V::kAllowed);
  CHECK(a.check(basic("colon:p@ss: word")) == V::kAllowed);  // the first ':' splits
  CHECK(a.check(basic("prometheus:wrong")) == V::kDenied);
  CHECK(a.check(basic("nobody:secret")) == V::kDenied);
  CHECK(a.check(basic("prometheus")) == V::kDenied);
  CHECK(a.check("Basic !!!!") == V::kDenied);
  CHECK(a.check("") == V::kDenied);
  CHECK(a.check("Basic") == V::kDenied);
  CHECK(a.check("Bearer tok-123") == V::kAllowed);
  CHECK(a.check("bearer tok-123") == V::kAllowed);
  CHECK(a.check("Bearer tok-124") == V::kDenied);
  CHECK(a.check("Bearer tok-12") == V::kDenied);
  CHECK(a.check("Bearer ") == V::kDenied);
  CHECK(a.check("Digest tok-123") == V::kDenied);

  WebConfig token_only;
  token_only.bearer_token = "t";
  a.apply(token_only);
  CHECK(a.challenges() == std::vector<std::string>{"Bearer realm=\"sipmetricsd\""});
  CHECK(a.check(basic("prometheus:secret")) == V::kDenied);  // users are gone after apply()
  CHECK(a.check("Bearer t") == V::kAllowed);
}

TEST_CASE("a verified password is remembered: bcrypt runs once; wrong ones run every time") {
  WebConfig c;
  c.basic_auth_users = {{"prometheus", kSecret10}};
  Authenticator a;
  a.apply(c);
  using V = Authenticator::Verdict;
  const auto before = a.verifications();
  CHECK(a.check(basic("prometheus:secret")) == V::kAllowed);
  CHECK(a.verifications() == before + 1);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) REQUIRE(a.check(basic("prometheus:secret")) == V::kAllowed);
  const auto spent = std::chrono::steady_clock::now() - t0;
  CHECK(a.verifications() == before + 1);
  CHECK(spent < std::chrono::milliseconds(500));  // 1000 bcrypt at cost 10 would take a minute
  CHECK(a.check(basic("prometheus:wrong")) == V::kDenied);
  CHECK(a.check(basic("prometheus:wrong")) == V::kDenied);
  CHECK(a.verifications() == before + 3);
  // A reload forgets what was verified.
  a.apply(c);
  CHECK(a.check(basic("prometheus:secret")) == V::kAllowed);
  CHECK(a.verifications() == before + 4);
}

TEST_CASE("bcrypt runs one at a time: a request that cannot get a turn is told to come back") {
  WebConfig c;
  c.basic_auth_users = {{"slow", kSlow12}};
  Authenticator a(1, std::chrono::milliseconds(0));
  a.apply(c);
  using V = Authenticator::Verdict;
  const auto before = a.verifications();
  V first = V::kAllowed;
  std::thread t([&] { first = a.check(basic("slow:wrong")); });  // ~250 ms of bcrypt at cost 12
  while (a.verifications() == before) std::this_thread::yield();
  CHECK(a.check(basic("slow:other")) == V::kBusy);
  t.join();
  CHECK(first == V::kDenied);
  CHECK(a.check(basic("slow:slow-one")) == V::kAllowed);  // the slot is free again
}

}  // namespace sipmetrics
