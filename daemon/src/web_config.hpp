// Who may read /metrics, and over what: the web config file (`--web-config`), in the format of
// the Prometheus exporter-toolkit's `--web.config.file`, and the authenticator that enforces it.
//
//   tls_server_config:                # optional: serve HTTPS only
//     cert_file: server.crt           # PEM, may hold the chain; paths relative to this file
//     key_file: server.key
//   basic_auth_users:                 # optional: user -> bcrypt hash ($2a$, $2b$ or $2y$)
//     prometheus: $2y$10$...
//   bearer_token_file: token          # optional, sipmetricsd's own: a file holding one token
//
// With users and a token, either one is accepted. The file is read with yaml-cpp, so any YAML
// spelling of this schema is accepted: block or flow style (`basic_auth_users: {prometheus:
// "$2y$10$..."}`), plain or quoted scalars, comments, anchors and aliases. Anything outside the
// schema (an unknown key, with a suggestion for a near miss; a key given twice; a key
// exporter-toolkit knows but sipmetricsd does not implement; more than one document) is an
// error naming the file, line and column, never silently ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace sipmetrics {

/// A web config that cannot be used; what() is `FILE:LINE:COLUMN: problem` (`FILE: problem` or
/// the unreadable path when there is no position).
class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TlsFiles {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  bool operator==(const TlsFiles&) const = default;
};

struct WebConfig {
  std::filesystem::path source;                         // the file it was read from
  std::optional<TlsFiles> tls;                          // HTTPS only when set
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  std::filesystem::path bearer_token_file;
  std::string bearer_token;  // the file's content, trailing whitespace removed

  /// Whether requests other than /healthz need credentials.
  bool auth_required() const noexcept { return !basic_auth_users.empty() || !bearer_token.empty(); }
};

/// Parses web config text; `source` names it in errors and anchors relative paths. Reads the
/// bearer token file and checks every bcrypt hash. Throws WebConfigError, and nothing else of
/// the YAML reader's. Cold path.
WebConfig parse_web_config(std::string_view text, const std::filesystem::path& source);

/// Reads and parses the file at `path`. Throws WebConfigError.
WebConfig load_web_config(const std::filesystem::path& path);

/// Decides whether a request's `Authorization` header grants access under a WebConfig.
///
/// bcrypt is deliberately slow (tens of milliseconds at cost 10), so a verified user and
/// password pair is remembered (keyed by a salted SHA-256 of the pair, never the password
/// itself) and later requests with it cost one hash. At most `max_verifications` bcrypt
/// computations run at once; a request that cannot get a turn within `verification_wait` is
/// answered kBusy, so a flood of wrong passwords costs at most that many cores and cannot hold
/// every HTTP thread. Unknown users are checked against a dummy hash so that response times do
/// not reveal which users exist. Thread-safe; apply() may run while requests are checked.
class Authenticator {
 public:
  enum class Verdict { kAllowed, kDenied, kBusy };

  explicit Authenticator(
      std::ptrdiff_t max_verifications = 1,
      std::chrono::milliseconds verification_wait = std::chrono::milliseconds(250));
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  /// Takes the users and token of `config`; forgets every remembered verification.
  void apply(const WebConfig& config);

  /// Whether credentials are needed at all.
  bool enabled() const;
  /// The `WWW-Authenticate` values for a 401 (one per accepted scheme).
  std::vector<std::string> challenges() const;
  /// Checks an `Authorization` header value ("" when absent).
  Verdict check(std::string_view authorization);

  /// bcrypt verifications actually computed since construction (the cache's misses).
  std::uint64_t verifications() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state() const;

  mutable std::mutex mu_;
  std::shared_ptr<State> state_;
  std::counting_semaphore<64> slots_;
  std::chrono::milliseconds wait_;
  std::atomic<std::uint64_t> verifications_{0};
};

/// Loads `files` into an OpenSSL context (SSL_CTX*): TLS 1.2 at least, the certificate chain,
/// the key, and checks that they match. False with `error` naming the file and OpenSSL's reason.
bool load_tls_files(ssl_ctx_st* ctx, const TlsFiles& files, std::string& error);

/// Whether libxcrypt's bcrypt says `password` matches `hash` (compared in constant time).
bool bcrypt_matches(std::string_view password, const std::string& hash);

/// Strict base64 (RFC 4648, padded) decoding; nullopt on any invalid input.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace sipmetrics
