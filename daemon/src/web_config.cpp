#include "web_config.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "ascii.hpp"
#include "suggest.hpp"

namespace sipmetrics {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr int kMaxBcryptCost = 16;

// ---- Meaning ------------------------------------------------------------------------------------

/// Why `p` cannot be read as a file of configuration ("" when it can): a FIFO or a device
/// (/dev/stdin, /dev/zero) would block or never end.
std::string not_a_file(const std::filesystem::path& p) {
  std::error_code ec;
  const auto st = std::filesystem::status(p, ec);
  if (ec) return ec.message();
  return std::filesystem::is_regular_file(st) ? std::string() : "not a regular file";
}

std::string read_file(const std::filesystem::path& p, std::size_t limit, const std::string& what) {
  if (const std::string why = not_a_file(p); !why.empty())
    throw WebConfigError(what + " '" + p.string() + "': " + why);
  std::ifstream in(p, std::ios::binary);
  if (!in) throw WebConfigError(what + " '" + p.string() + "': " + std::strerror(errno));
  std::string s;
  s.resize(limit + 1);
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  if (in.bad()) throw WebConfigError(what + " '" + p.string() + "': read error");
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > limit)
    throw WebConfigError(what + " '" + p.string() + "': larger than " + std::to_string(limit) +
                         " bytes");
  return s;
}

bool valid_bcrypt_hash(std::string_view h) {
  // $2a$, $2b$ or $2y$, a two-digit cost 04..31, then 53 characters of bcrypt's base64.
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') ||
      h[3] != '$' || !std::isdigit(static_cast<unsigned char>(h[4])) ||
      !std::isdigit(static_cast<unsigned char>(h[5])) || h[6] != '$')
    return false;
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(h.begin() + 7, h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
  });
}

/// crypt(3) output for `password` under `setting`, or "" when crypt(3) refuses the setting.
std::string crypt_once(const std::string& password, const char* setting) {
  // crypt_data is ~32 KiB: on the heap, and zeroed as crypt_r requires before first use.
  auto data = std::make_unique<crypt_data>();
  const char* out = ::crypt_r(password.c_str(), setting, data.get());
  return out == nullptr || out[0] == '*' ? std::string() : std::string(out);
}

bool crypt_understands(const std::string& hash) { return !crypt_once("", hash.c_str()).empty(); }

const char* const kTlsKeysNotSupported[] = {"client_auth_type",
                                            "client_ca_file",
                                            "cipher_suites",
                                            "curve_preferences",
                                            "min_version",
                                            "max_version",
                                            "prefer_server_cipher_suites",
                                            "client_allowed_sans"};

std::array<unsigned char, 32> sha256(std::initializer_list<std::string_view> parts) {
  std::array<unsigned char, 32> out{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  for (std::string_view p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
  if (!ok) throw std::runtime_error("SHA-256 is unavailable");
  return out;
}

std::string_view as_view(const std::array<unsigned char, 32>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}

// ---- Reading the YAML ---------------------------------------------------------------------------
// yaml-cpp reads any YAML (block or flow style, quoted or plain scalars, comments, anchors); what
// it reads is then held to the web config's schema here, each error at its node's position.
// yaml-cpp's exceptions stop at this boundary: callers see WebConfigError only.

class Schema {
 public:
  explicit Schema(std::string name) : name_(std::move(name)) {}

  [[nodiscard]] WebConfigError fail(const YAML::Node& at, const std::string& why) const {
    return fail(at.Mark(), why);
  }
  [[nodiscard]] WebConfigError fail(const YAML::Mark& at, const std::string& why) const {
    if (at.is_null()) return WebConfigError(name_ + ": " + why);
    return WebConfigError(name_ + ":" + std::to_string(at.line + 1) + ":" +
                          std::to_string(at.column + 1) + ": " + why);
  }

  /// The entries of a mapping in file order, with their keys' nodes; a key that is not a plain
  /// string, or one given twice (which yaml-cpp would keep silently), is refused.
  std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node& map) const {
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) throw fail(key, "a key must be a name, not a collection");
      for (const auto& [k, v] : out)
        if (k.Scalar() == key.Scalar()) throw fail(key, "duplicate key '" + key.Scalar() + "'");
      out.emplace_back(key, it->second);
    }
    return out;
  }

  std::string string_of(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar() || n.Scalar().empty()) throw fail(n, "'" + key + "' needs a non-empty value");
    return n.Scalar();
  }

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// Counts documents, and where the second one starts.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int documents = 0;
  YAML::Mark second = YAML::Mark::null_mark();
};

WebConfig read_web_config(std::string_view text, const std::filesystem::path& source,
                          const Schema& schema) {
  if (text.size() > kMaxFileBytes)
    throw WebConfigError(schema.name() + ": larger than 1 MiB: not a web config");
  // yaml-cpp 0.7 takes a quoted scalar left open at the end of the file as closed there when a
  // line break comes before the end (`key: "value` and a newline); without trailing whitespace
  // it refuses it as it should. Trailing whitespace means nothing in a web config.
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  const std::string yaml(text);
  {
    // One document only. Counted with the event parser, at most two: yaml-cpp 0.7's LoadAll()
    // never returns on some invalid input (a leading ','), and its Load() reads that as empty.
    std::istringstream in(yaml);
    YAML::Parser parser(in);
    DocumentCounter counter;
    for (int n = 0; n < 2 && parser.HandleNextDocument(counter); ++n) {
    }
    if (counter.documents > 1)
      throw schema.fail(counter.second, "a second YAML document (a web config is one)");
  }
  const YAML::Node root = YAML::Load(yaml);
  WebConfig c;
  c.source = source;
  if (root.IsNull()) return c;
  if (!root.IsMap())
    throw schema.fail(root,
                      "a web config is a mapping (tls_server_config, basic_auth_users, "
                      "bearer_token_file)");
  const std::filesystem::path base = source.parent_path();
  auto resolve = [&base](const std::string& p) {
    const std::filesystem::path path(p);
    return path.is_absolute() || base.empty() ? path : base / path;
  };
  const std::vector<std::string> known = {"tls_server_config", "basic_auth_users",
                                          "bearer_token_file"};

  for (const auto& [key_node, node] : schema.entries(root)) {
    const std::string key = key_node.Scalar();
    if (key == "tls_server_config") {
      // Empty (as exporter-toolkit reads it): no TLS.
      if (node.IsNull() || (node.IsMap() && node.size() == 0)) continue;
      if (!node.IsMap()) throw schema.fail(node, "'tls_server_config' must be a mapping");
      TlsFiles tls;
      for (const auto& [k_node, v] : schema.entries(node)) {
        const std::string k = k_node.Scalar();
        if (k == "cert_file") {
          tls.cert_file = resolve(schema.string_of(v, k));
        } else if (k == "key_file") {
          tls.key_file = resolve(schema.string_of(v, k));
        } else if (std::find(std::begin(kTlsKeysNotSupported), std::end(kTlsKeysNotSupported), k) !=
                   std::end(kTlsKeysNotSupported)) {
          throw schema.fail(k_node, "tls_server_config." + k + " is not supported by sipmetricsd");
        } else {
          throw schema.fail(k_node, "unknown key \"tls_server_config." + k + "\"" +
                                        did_you_mean(k, {"cert_file", "key_file"}));
        }
      }
      if (tls.cert_file.empty() || tls.key_file.empty())
        throw schema.fail(key_node, "tls_server_config needs both cert_file and key_file");
      // Load them now, so that a bad file stops the start (or a reload) with a clear message.
      std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                            &SSL_CTX_free);
      std::string why;
      if (ctx == nullptr || !load_tls_files(ctx.get(), tls, why)) throw schema.fail(key_node, why);
      c.tls = tls;
    } else if (key == "basic_auth_users") {
      if (node.IsNull()) continue;
      if (!node.IsMap())
        throw schema.fail(node, "'basic_auth_users' must map user names to bcrypt hashes");
      for (const auto& [user_node, hash] : schema.entries(node)) {
        const std::string user = user_node.Scalar();
        if (user.find(':') != std::string::npos)
          throw schema.fail(user_node, "user '" + user + "': a user name cannot contain ':'");
        const std::string h = schema.string_of(hash, user);
        if (!valid_bcrypt_hash(h))
          throw schema.fail(hash, "user '" + user +
                                      "': not a bcrypt hash ($2y$..., 60 characters; make one "
                                      "with `mkpasswd -m bcrypt` or `htpasswd -nB user`)");
        // Each check of a password not yet verified runs bcrypt at the hash's cost: 2^cost rounds,
        // about 0.25 s at 12 and 4 s at 16 on a current core, doubling with each step.
        if (const int cost = std::stoi(h.substr(4, 2)); cost > kMaxBcryptCost)
          throw schema.fail(
              hash,
              "user '" + user + "': bcrypt cost " + std::to_string(cost) + " is above " +
                  std::to_string(kMaxBcryptCost) +
                  " (each check of a new password would take seconds to minutes); use 10 to 12");
        // libxcrypt must understand it: refuse now rather than reject every request later.
        if (!crypt_understands(h))
          throw schema.fail(hash,
                            "user '" + user + "': this system's crypt(3) cannot check the hash");
        c.basic_auth_users.emplace(user, h);
      }
    } else if (key == "bearer_token_file") {
      if (node.IsNull()) continue;
      c.bearer_token_file = resolve(schema.string_of(node, key));
      std::string token = read_file(c.bearer_token_file, 4096, "bearer_token_file");
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
      if (token.empty())
        throw schema.fail(node,
                          "bearer_token_file '" + c.bearer_token_file.string() + "' is empty");
      if (!std::all_of(token.begin(), token.end(), [](char ch) {
            return ch > 0x20 && ch < 0x7f;  // RFC 6750 token68-ish: printable, no spaces
          }))
        throw schema.fail(node, "bearer_token_file '" + c.bearer_token_file.string() +
                                    "': the token must be one line of printable ASCII without "
                                    "spaces");
      c.bearer_token = std::move(token);
    } else if (key == "http_server_config") {
      throw schema.fail(key_node, "http_server_config is not supported by sipmetricsd");
    } else {
      const std::string maybe = did_you_mean(key, known);
      throw schema.fail(key_node, "unknown key \"" + key + "\"" +
                                      (maybe.empty() ? std::string(" (expected tls_server_config, "
                                                                   "basic_auth_users or "
                                                                   "bearer_token_file)")
                                                     : maybe));
    }
  }
  return c;
}

}  // namespace

WebConfig parse_web_config(std::string_view text, const std::filesystem::path& source) {
  const Schema schema(source.string());
  try {
    return read_web_config(text, source, schema);
  } catch (const YAML::Exception& e) {
    throw schema.fail(e.mark, e.msg);
  }
}

WebConfig load_web_config(const std::filesystem::path& path) {
  return parse_web_config(read_file(path, kMaxFileBytes, "web config"), path);
}

bool load_tls_files(SSL_CTX* ctx, const TlsFiles& files, std::string& error) {
  auto openssl_error = [] {
    std::string out;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      if (!out.empty()) out += "; ";
      out += buf;
    }
    return out.empty() ? std::string("unknown OpenSSL error") : out;
  };
  for (const auto& [what, path] :
       {std::pair{"cert_file", &files.cert_file}, {"key_file", &files.key_file}}) {
    if (const std::string why = not_a_file(*path); !why.empty()) {
      error = std::string("TLS ") + what + " '" + path->string() + "': " + why;
      return false;
    }
  }
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    error = "TLS cert_file '" + files.cert_file.string() + "': " + openssl_error();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "TLS key_file '" + files.key_file.string() + "': " + openssl_error();
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    error = "TLS key_file '" + files.key_file.string() + "' does not match cert_file '" +
            files.cert_file.string() + "'";
    return false;
  }
  return true;
}

// ---- Checking credentials -----------------------------------------------------------------------

bool bcrypt_matches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;  // crypt(3) would cut it there
  const std::string out = crypt_once(std::string(password), hash.c_str());
  return !out.empty() && out.size() == hash.size() &&
         CRYPTO_memcmp(out.data(), hash.data(), out.size()) == 0;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + static_cast<std::size_t>(k)];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const unsigned bits = (static_cast<unsigned>(v[0]) << 18) |
                          (static_cast<unsigned>(v[1]) << 12) | (static_cast<unsigned>(v[2]) << 6) |
                          static_cast<unsigned>(v[3]);
    out += static_cast<char>((bits >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((bits >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(bits & 0xff);
  }
  return out;
}

struct Authenticator::State {
  std::map<std::string, std::string, std::less<>> users;
  bool has_token = false;
  std::array<unsigned char, 32> token_digest{};
  std::string dummy_hash;  // checked for unknown users: same cost as a real one
  std::array<unsigned char, 32> salt{};

  std::mutex cache_mu;
  std::set<std::array<unsigned char, 32>> verified;  // salted digests of user, password pairs
};

namespace {
constexpr std::size_t kMaxRemembered = 1024;

std::array<unsigned char, 32> random_salt() {
  std::array<unsigned char, 32> s{};
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) {
    std::random_device rd;
    for (auto& b : s) b = static_cast<unsigned char>(rd());
  }
  return s;
}
}  // namespace

Authenticator::Authenticator(std::ptrdiff_t max_verifications,
                             std::chrono::milliseconds verification_wait)
    : state_(std::make_shared<State>()),
      slots_(std::clamp<std::ptrdiff_t>(max_verifications, 1, 64)),
      wait_(verification_wait) {}

Authenticator::~Authenticator() = default;

std::shared_ptr<Authenticator::State> Authenticator::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void Authenticator::apply(const WebConfig& config) {
  auto s = std::make_shared<State>();
  s->users.insert(config.basic_auth_users.begin(), config.basic_auth_users.end());
  if (!config.bearer_token.empty()) {
    s->has_token = true;
    s->token_digest = sha256({config.bearer_token});
  }
  s->salt = random_salt();
  if (!s->users.empty()) {
    // A throwaway hash with the highest cost of the real ones, so that refusing an unknown user
    // takes no less time than refusing a known one.
    const std::string& some =
        std::max_element(s->users.begin(), s->users.end(), [](const auto& a, const auto& b) {
          return a.second.substr(4, 2) < b.second.substr(4, 2);
        })->second;
    const unsigned long cost = std::stoul(some.substr(4, 2));
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    const auto rnd = random_salt();
    if (::crypt_gensalt_rn("$2b$", cost, reinterpret_cast<const char*>(rnd.data()), 16, setting,
                           sizeof setting) != nullptr)
      s->dummy_hash =
          crypt_once(std::string(reinterpret_cast<const char*>(rnd.data() + 16), 16), setting);
    if (s->dummy_hash.empty()) s->dummy_hash = some;
  }
  std::lock_guard lock(mu_);
  state_ = std::move(s);
}

bool Authenticator::enabled() const {
  auto s = state();
  return !s->users.empty() || s->has_token;
}

std::vector<std::string> Authenticator::challenges() const {
  auto s = state();
  std::vector<std::string> out;
  if (!s->users.empty()) out.emplace_back("Basic realm=\"sipmetricsd\", charset=\"UTF-8\"");
  if (s->has_token) out.emplace_back("Bearer realm=\"sipmetricsd\"");
  return out;
}

std::uint64_t Authenticator::verifications() const noexcept {
  return verifications_.load(std::memory_order_relaxed);
}

Authenticator::Verdict Authenticator::check(std::string_view authorization) {
  const std::shared_ptr<State> s = state();
  if (s->users.empty() && !s->has_token) return Verdict::kAllowed;

  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  const auto sp = authorization.find(' ');
  if (sp == std::string_view::npos) return Verdict::kDenied;
  const std::string_view scheme = authorization.substr(0, sp);
  std::string_view credentials = authorization.substr(sp + 1);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  while (!credentials.empty() && credentials.back() == ' ') credentials.remove_suffix(1);

  if (ascii_iequals(scheme, "Bearer") && s->has_token) {
    // Digests have a fixed length, so the comparison reveals neither content nor length.
    const auto d = sha256({credentials});
    return CRYPTO_memcmp(d.data(), s->token_digest.data(), d.size()) == 0 ? Verdict::kAllowed
                                                                          : Verdict::kDenied;
  }
  if (!ascii_iequals(scheme, "Basic") || s->users.empty()) return Verdict::kDenied;
  const auto decoded = base64_decode(credentials);
  if (!decoded) return Verdict::kDenied;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return Verdict::kDenied;
  const std::string_view user = std::string_view(*decoded).substr(0, colon);
  const std::string_view password = std::string_view(*decoded).substr(colon + 1);

  const auto key = sha256({as_view(s->salt), user, std::string_view("\0", 1), password});
  {
    std::lock_guard lock(s->cache_mu);
    if (s->verified.contains(key)) return Verdict::kAllowed;
  }
  if (!slots_.try_acquire_for(wait_)) return Verdict::kBusy;
  const auto it = s->users.find(user);
  const bool known = it != s->users.end();
  verifications_.fetch_add(1, std::memory_order_relaxed);
  const bool ok = bcrypt_matches(password, known ? it->second : s->dummy_hash) && known;
  slots_.release();
  if (!ok) return Verdict::kDenied;
  std::lock_guard lock(s->cache_mu);
  if (s->verified.size() >= kMaxRemembered) s->verified.clear();
  s->verified.insert(key);
  return Verdict::kAllowed;
}

}  // namespace sipmetrics
