// Security tests of sipmetricsd's HTTP side, against the real daemon on loopback: hostile and
// slow clients (raw sockets), TLS, basic auth and bearer tokens (curl, openssl, mkpasswd), the
// web config at start and on SIGHUP, and who may write the segment (mode and group).
#include <doctest/doctest.h>
#include <grp.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace sipmetrics::test {
namespace {

// ---- The daemon's resources, from /proc ---------------------------------------------------------

/// A field of /proc/<pid>/status in its own unit (Threads: a count; VmRSS: KiB); -1 if absent.
long proc_status(pid_t pid, std::string_view field) {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/status");
  const auto at = text.find(std::string(field) + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(text.c_str() + at + field.size() + 1, nullptr, 10);
}

long open_fds(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// ---- Raw HTTP over loopback ---------------------------------------------------------------------

/// One TCP connection to 127.0.0.1:port, written and read byte by byte as a test needs.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::system_error(errno, std::generic_category(), "connect");
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  Raw(Raw&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Sends everything; false once the server has closed the connection.
  bool send(std::string_view data) const {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// What the server sends until it closes the connection, `stop` appears, or `timeout`.
  std::string receive(Millis timeout, std::string_view stop = {}) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!stop.empty() && out.find(stop) != std::string::npos) break;
      const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  /// True once receive() has seen the server close the connection.
  bool closed() const noexcept { return closed_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

/// The status code of an HTTP/1.x response, 0 if there is none.
int status_of(std::string_view response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.")) return 0;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

/// Sends `request` on a fresh connection; the response head (and what followed it at once).
std::string round_trip(int port, std::string_view request) {
  Raw c(port);
  c.send(request);
  return c.receive(10s, "\r\n\r\n");
}

bool has_header(std::string_view response, std::string_view header_line) {
  const auto end = response.find("\r\n\r\n");
  const auto at = response.find("\r\n" + std::string(header_line) + "\r\n");
  return at != std::string_view::npos && at < end;
}

// ---- Tools --------------------------------------------------------------------------------------

/// The absolute path of `name` on $PATH, or "" if it is not installed.
std::string which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::filesystem::path p = std::filesystem::path(dirs.substr(0, colon)) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
  }
  return "";
}

struct Ran {
  int status = -1;
  std::string out, err;
};

/// Runs a tool to completion (30 s at most; killed after that).
Ran run(const Sandbox& box, const std::string& program, std::vector<std::string> args) {
  static int seq = 0;
  const std::string base = "tool-" + std::to_string(++seq);
  Process p(
      {program, std::move(args), {}, box.dir() / (base + ".out"), box.dir() / (base + ".err")});
  Ran r;
  r.status = p.wait_for(30s).value_or(-1);
  r.out = p.out();
  r.err = p.err();
  return r;
}

/// A bcrypt hash of `password` made by an independent tool: mkpasswd (Debian's whois), else
/// python3's crypt module.
std::string bcrypt_hash(const Sandbox& box, const std::string& password) {
  if (const std::string mk = which("mkpasswd"); !mk.empty()) {
    const Ran r = run(box, mk, {"-m", "bcrypt", "-R", "6", password});
    if (r.status == 0 && r.out.starts_with("$2")) return r.out.substr(0, r.out.find('\n'));
  }
  if (const std::string py = which("python3"); !py.empty()) {
    const Ran r = run(box, py,
                      {"-W", "ignore", "-c",
                       std::string("import crypt,sys; print(crypt.crypt(sys.argv[1], ") +
                           "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=64)))",
                       password});
    if (r.status == 0 && r.out.starts_with("$2")) return r.out.substr(0, r.out.find('\n'));
  }
  FAIL("no bcrypt tool: install Debian's whois package (mkpasswd) or a python3 with crypt");
  return "";
}

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

/// Starts sipmetricsd with `extra` and waits until it logs that it serves.
Daemon start_logged(Sandbox& box, const std::vector<std::string>& extra) {
  const int port = free_loopback_port();
  Daemon d(box.spawn_daemon(port, extra), port);
  eventually(
      [&] { return d.log().find("serving ") != std::string::npos || !d.process().running(); }, 10s);
  if (!d.process().running() || d.log().find("serving ") == std::string::npos)
    throw std::runtime_error("sipmetricsd did not come up:\n" + d.log());
  return d;
}

}  // namespace

TEST_CASE("hostile requests get a 4xx and the daemon keeps serving, threads and memory bounded") {
  Sandbox box;
  Daemon d = box.start_daemon({"--http-threads", "4"});
  INFO("daemon log:\n" << d.log());
  const pid_t pid = d.process().pid();
  const int port = d.port();
  for (int i = 0; i < 20; ++i) REQUIRE(d.metrics().has_value());
  const long threads0 = proc_status(pid, "Threads");
  const long rss0 = proc_status(pid, "VmRSS");
  REQUIRE(threads0 > 0);
  REQUIRE(rss0 > 0);

  SUBCASE("a 100 KB request line: 414, connection closed") {
    const std::string r =
        round_trip(port, "GET /" + std::string(100'000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(r) == 414);
    CHECK(has_header(r, "Connection: close"));
  }
  SUBCASE("10,000 headers: 431") {
    std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 10'000; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
    req += "\r\n";
    const std::string r = round_trip(port, req);
    CHECK(status_of(r) == 431);
    CHECK(has_header(r, "Connection: close"));
  }
  SUBCASE("64 MB of 8 KB headers: refused early, nothing buffered") {
    // cpp-httplib alone would keep every line (measured: +120 MB of RSS for this request).
    Raw c(port);
    const std::string line = "X-Big: " + std::string(8000, 'v') + "\r\n";
    std::size_t sent = 0;
    bool open = c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 8000 && open; ++i) {
      open = c.send(line);
      if (open) sent += line.size();
    }
    CHECK_FALSE(open);  // the server closed the connection
    CHECK(sent < 32u << 20);
    const std::string r = c.receive(2s);
    if (!r.empty()) CHECK(status_of(r) == 431);
  }
  SUBCASE("1 MB of random bytes: a 4xx or a close, never a crash") {
    std::mt19937 rng(42);
    std::string junk(1 << 20, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    Raw c(port);
    c.send(junk);
    const std::string r = c.receive(10s);
    if (!r.empty()) {
      CHECK(status_of(r) >= 400);
      CHECK(status_of(r) < 500);
    }
    CHECK(c.closed());
  }
  SUBCASE("unknown paths: 404") {
    for (const char* path : {"/nope", "/metrics/x", "/../etc/passwd", "/%00", "/healthz/"}) {
      CAPTURE(path);
      CHECK(status_of(round_trip(
                port, std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n")) == 404);
    }
  }
  SUBCASE("methods other than GET and HEAD: 405 with Allow, connection closed") {
    for (const char* m : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}) {
      CAPTURE(m);
      const std::string r = round_trip(
          port, std::string(m) + " /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
      CHECK(status_of(r) == 405);
      CHECK(has_header(r, "Allow: GET, HEAD"));
      CHECK(has_header(r, "Connection: close"));
    }
    CHECK(status_of(round_trip(port, "BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n")) == 400);
    const std::string head = round_trip(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(head) == 200);
    CHECK(head.ends_with("\r\n\r\n"));  // a head, no body
  }
  SUBCASE("a GET with a body: 400 and a close (the body must not be read as a next request)") {
    const std::string smuggled = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const std::string& framing : {"Content-Length: " + std::to_string(smuggled.size()),
                                       std::string("Transfer-Encoding: chunked")}) {
      CAPTURE(framing);
      Raw c(port);
      c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n\r\n" + smuggled);
      const std::string r = c.receive(5s);
      CHECK(status_of(r) == 400);
      CHECK(has_header(r, "Connection: close"));
      CHECK(r.find("404") == std::string::npos);
      CHECK(c.closed());
    }
    // A body announced for POST is never read either: 405 comes first.
    Raw c(port);
    c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    CHECK(status_of(c.receive(5s, "\r\n\r\n")) == 405);
  }

  CHECK(d.metrics().has_value());
  CHECK(d.get("/healthz").has_value());
  CHECK(d.process().running());
  CHECK(proc_status(pid, "Threads") == threads0);
  const long rss1 = proc_status(pid, "VmRSS");
  MESSAGE("daemon RSS " << rss0 << " KiB before, " << rss1 << " KiB after");
  CHECK(rss1 < rss0 + 16L * 1024);
}

TEST_CASE("slow and silent clients wait off the serving threads: scrapes go on, they get 408") {
  Sandbox box;
  // Two serving threads: without the gate, two slow clients would be enough to stop scrapes.
  Daemon d = box.start_daemon({"--http-threads", "2"});
  INFO("daemon log:\n" << d.log());
  const pid_t pid = d.process().pid();
  REQUIRE(d.metrics().has_value());
  const long threads0 = proc_status(pid, "Threads");

  // 8 slowloris clients trickling one header byte a second, and 300 that send one byte and stop.
  std::vector<Raw> silent;
  for (int i = 0; i < 300; ++i) {
    silent.emplace_back(d.port());
    silent.back().send("G");
  }
  std::vector<std::thread> slow;
  std::vector<std::string> slow_got(8);
  std::vector<double> slow_seconds(8);
  for (std::size_t i = 0; i < slow_got.size(); ++i)
    slow.emplace_back([&, i] {
      Raw c(d.port());
      const auto t0 = Clock::now();
      bool open = c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      for (int s = 0; s < 8 && open; ++s) {       // bounded: 8 s at most
        slow_got[i] = c.receive(1s, "\r\n\r\n");  // a byte a second, until the server speaks
        if (!slow_got[i].empty() || c.closed()) break;
        open = c.send("a");
      }
      if (slow_got[i].empty()) slow_got[i] = c.receive(3s, "\r\n\r\n");
      slow_seconds[i] = std::chrono::duration<double>(Clock::now() - t0).count();
    });

  std::this_thread::sleep_for(1500ms);
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    CHECK(d.metrics().has_value());
    CHECK(Clock::now() - t0 < 1s);
    std::this_thread::sleep_for(500ms);
  }
  CHECK(proc_status(pid, "Threads") == threads0);
  CHECK(open_fds(pid) < 400);
  for (std::thread& t : slow) t.join();
  for (std::size_t i = 0; i < slow_got.size(); ++i) {
    CAPTURE(i);
    CHECK(status_of(slow_got[i]) == 408);
    CHECK(slow_seconds[i] < 6.5);  // cut at 5 s (kHeadTimeout), not left to trickle for 8
  }
  for (Raw& c : silent) CHECK(status_of(c.receive(3s)) == 408);
  CHECK(d.metrics().has_value());
  CHECK(proc_status(pid, "Threads") == threads0);
}

TEST_CASE("more connections than may wait: the oldest are closed, new clients are served") {
  Sandbox box;
  Daemon d = box.start_daemon({"--http-threads", "2"});
  INFO("daemon log:\n" << d.log());
  const pid_t pid = d.process().pid();
  std::vector<Raw> idle;
  for (int i = 0; i < 700; ++i) {  // kMaxConnections is 512
    idle.emplace_back(d.port());
    idle.back().send("GET /metrics HTTP/1.1\r\n");
  }
  std::this_thread::sleep_for(300ms);
  const auto t0 = Clock::now();
  CHECK(d.metrics().has_value());
  CHECK(Clock::now() - t0 < 1s);
  CHECK(open_fds(pid) < 600);
  CHECK(d.log().find("to make room") != std::string::npos);
}

TEST_CASE("TLS, basic auth and a bearer token, checked with curl") {
  const std::string curl = which("curl"), openssl = which("openssl");
  REQUIRE_MESSAGE(!curl.empty(), "curl is not installed");
  REQUIRE_MESSAGE(!openssl.empty(), "openssl is not installed (Debian package openssl)");
  Sandbox box;
  const auto dir = box.dir();
  const Ran cert =
      run(box, openssl,
          {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
           (dir / "server.key").string(), "-out", (dir / "server.crt").string(), "-days", "1",
           "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  REQUIRE_MESSAGE(cert.status == 0, cert.err);
  const std::string hash = bcrypt_hash(box, "pa:ss w0rd");
  write_file(dir / "token", "tok-4f9a2c\n");
  write_file(dir / "web.yml",
             "tls_server_config:\n"
             "  cert_file: server.crt\n"
             "  key_file: server.key\n"
             "basic_auth_users:\n"
             "  prometheus: " +
                 hash +
                 "\n"
                 "bearer_token_file: token\n");
  Daemon d = start_logged(box, {"--web-config", (dir / "web.yml").string()});
  INFO("daemon log:\n" << d.log());
  const std::string base = "https://127.0.0.1:" + std::to_string(d.port());
  const std::string cacert = (dir / "server.crt").string();

  // The status code, "000" when no HTTP answer came; headers go to `headers` if given.
  auto code = [&](const std::string& url, std::vector<std::string> extra = {},
                  std::string* headers = nullptr) {
    std::vector<std::string> args{"-s",
                                  "-o",
                                  "/dev/null",
                                  "-w",
                                  "%{http_code}",
                                  "--max-time",
                                  "10",
                                  "--cacert",
                                  cacert,
                                  "-D",
                                  (dir / "headers").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url);
    const Ran r = run(box, curl, args);
    if (headers != nullptr) *headers = read_text(dir / "headers");
    return r.out;
  };

  CHECK(code(base + "/healthz") == "200");  // probes need no credentials
  std::string headers;
  CHECK(code(base + "/metrics", {}, &headers) == "401");
  CHECK(headers.find("WWW-Authenticate: Basic realm=\"sipmetricsd\"") != std::string::npos);
  CHECK(headers.find("WWW-Authenticate: Bearer realm=\"sipmetricsd\"") != std::string::npos);
  CHECK(code(base + "/metrics", {"-u", "prometheus:wrong"}) == "401");
  CHECK(code(base + "/metrics", {"-u", "nobody:pa:ss w0rd"}) == "401");
  CHECK(code(base + "/metrics", {"-u", "prometheus:pa:ss w0rd"}) == "200");
  CHECK(code(base + "/", {"-u", "prometheus:pa:ss w0rd"}) == "200");
  CHECK(code(base + "/", {}) == "401");
  CHECK(code(base + "/metrics", {"-H", "Authorization: Bearer tok-4f9a2c"}) == "200");
  CHECK(code(base + "/metrics", {"-H", "Authorization: Bearer tok-4f9a2d"}) == "401");
  CHECK(code(base + "/nope", {"-H", "Authorization: Bearer tok-4f9a2c"}) == "404");
  CHECK(code(base + "/metrics", {"-X", "POST", "-u", "prometheus:pa:ss w0rd"}) == "405");
  {
    const Ran r = run(box, curl,
                      {"-s", "-u", "prometheus:pa:ss w0rd", "--cacert", cacert, "--max-time", "10",
                       base + "/metrics"});
    CHECK(r.out.find("sipmetrics_build_info") != std::string::npos);
  }
  // Without TLS there is nothing to talk to; with an unknown CA curl refuses the server.
  CHECK(code("http://127.0.0.1:" + std::to_string(d.port()) + "/healthz") == "000");
  CHECK(run(box, curl, {"-s", "-o", "/dev/null", "--max-time", "10", base + "/healthz"}).status !=
        0);
  // TLS below 1.2 is refused (the server sets the floor, whatever the client allows).
  const std::string host = "127.0.0.1:" + std::to_string(d.port());
  CHECK(run(box, openssl, {"s_client", "-connect", host, "-tls1_2", "-CAfile", cacert}).status ==
        0);
  CHECK(run(box, openssl,
            {"s_client", "-connect", host, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile",
             cacert})
            .status != 0);

  SUBCASE("SIGHUP re-reads the users; a broken file keeps the running ones") {
    const std::string hash2 = bcrypt_hash(box, "second");
    write_file(dir / "web.yml",
               "tls_server_config:\n"
               "  cert_file: server.crt\n"
               "  key_file: server.key\n"
               "basic_auth_users:\n"
               "  grafana: '" +
                   hash2 + "'\n");
    REQUIRE(d.process().signal(SIGHUP));
    CHECK(eventually(
        [&] {
          return code(base + "/metrics", {"-u", "grafana:second"}) == "200";
        },
        10s));
    CHECK(code(base + "/metrics", {"-u", "prometheus:pa:ss w0rd"}) == "401");  // forgotten
    CHECK(code(base + "/metrics", {"-H", "Authorization: Bearer tok-4f9a2c"}) == "401");

    write_file(dir / "web.yml", "basic_auth_users:\n  grafana: [oops\n");
    REQUIRE(d.process().signal(SIGHUP));
    CHECK(eventually([&] { return d.log().find("reload failed") != std::string::npos; }, 10s));
    CHECK(d.log().find("web.yml:2:") != std::string::npos);
    CHECK(code(base + "/metrics", {"-u", "grafana:second"}) == "200");
    CHECK(d.process().running());
  }
}

TEST_CASE("a web config that cannot be used stops sipmetricsd at start, naming file and problem") {
  Sandbox box;
  const auto dir = box.dir();
  auto start_fails = [&](const std::vector<std::string>& args, const std::string& expect) {
    CAPTURE(expect);
    Process p = box.spawn_daemon(free_loopback_port(), args);
    const int status = p.wait_for(10s).value_or(-1);
    CHECK(status != 0);
    CHECK(status != -1);
    CHECK_MESSAGE(p.err().find(expect) != std::string::npos, p.err());
    CHECK(p.err().find("serving") == std::string::npos);
  };
  write_file(dir / "bad.yml", "basic_auth_users:\n  prometheus: not-a-hash\n");
  start_fails({"--web-config", (dir / "bad.yml").string()},
              (dir / "bad.yml").string() + ":2:15: user 'prometheus': not a bcrypt hash");
  start_fails({"--web-config", (dir / "missing.yml").string()}, "missing.yml");
  write_file(dir / "k.key", "not a key\n");
  write_file(dir / "c.crt", "not a cert\n");
  write_file(dir / "tls.yml", "tls_server_config:\n  cert_file: c.crt\n  key_file: k.key\n");
  start_fails({"--web-config", (dir / "tls.yml").string()},
              "TLS cert_file '" + (dir / "c.crt").string());
  CHECK_FALSE(std::filesystem::exists(box.segment()));  // refused before the segment is touched
}

TEST_CASE("the segment: mode 0660, the configured group, warnings about others' access") {
  // A group to give the segment to: as root any group; otherwise one this user belongs to.
  // A group other than our own that this process may give a file to: as root any gid (by
  // number: find_group() takes one), otherwise one of our supplementary groups.
  std::optional<std::pair<std::string, gid_t>> target;
  if (::geteuid() == 0) {
    const gid_t other = ::getegid() == 54321 ? 54322 : 54321;
    target = {{std::to_string(other), other}};
  } else {
    std::vector<gid_t> mine(256);
    const int n = ::getgroups(static_cast<int>(mine.size()), mine.data());
    for (int i = 0; i < n && !target; ++i)
      if (mine[static_cast<std::size_t>(i)] != ::getegid()) {
        const ::group* g = ::getgrgid(mine[static_cast<std::size_t>(i)]);
        if (g != nullptr) target = {{g->gr_name, g->gr_gid}};
      }
  }
  auto stat_of = [](const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st;
  };

  SUBCASE("a worker that cannot apply the group warns once and still counts") {
    Sandbox box;
    Process w(Process::Spec{
        kWorkerPath,
        {"--counter", "voiceserver_calls_total", "--increments", "5"},
        {{"SIPMETRICS_SEGMENT", box.segment()}, {"SIPMETRICS_SEGMENT_GROUP", "no-such-group-x"}},
        box.dir() / "w.out",
        box.dir() / "w.err"});
    CHECK(w.wait_for(30s).value_or(-1) == 0);
    CHECK(w.out() == "attached\n");
    CHECK(count_lines(w.err(), "sipmetrics: segment '" + box.segment() +
                                   "': cannot give it to group 'no-such-group-x': no such group") ==
          1);
    CHECK((stat_of(box.segment()).st_mode & 07777) == 0660);
    Daemon d = box.start_daemon();
    CHECK(await_value(d, "voiceserver_calls_total", 5) == 5);
  }
  SUBCASE("the daemon refuses a group it cannot apply to a segment it creates") {
    Sandbox box;
    Process p = box.spawn_daemon(free_loopback_port(), {"--segment-group", "no-such-group-x"});
    CHECK(p.wait_for(10s).value_or(-1) == 2);
    CHECK(p.err().find("cannot give it to group 'no-such-group-x': no such group") !=
          std::string::npos);
  }
  SUBCASE("a segment writable by everyone is reported") {
    Sandbox box;
    { Daemon d = box.start_daemon(); }
    REQUIRE(::chmod(box.segment().c_str(), 0666) == 0);
    Daemon d = box.start_daemon();
    CHECK(eventually(
        [&] { return d.log().find("writable by every user (mode 0666)") != std::string::npos; },
        5s));
  }
  REQUIRE_MESSAGE(target.has_value(), "the chgrp cases need root or membership of a second group");
  const std::string name = target->first;
  const gid_t gid = target->second;
  CAPTURE(name);
  SUBCASE("created by the daemon with --segment-group") {
    Sandbox box;
    Daemon d = box.start_daemon({"--segment-group", name});
    const struct stat st = stat_of(box.segment());
    CHECK(st.st_gid == gid);
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(d.log().find("warn") == std::string::npos);
  }
  SUBCASE("created by a worker with SIPMETRICS_SEGMENT_GROUP; the daemon then finds it right") {
    Sandbox box;
    Process w(
        Process::Spec{kWorkerPath,
                      {"--counter", "voiceserver_calls_total", "--increments", "5"},
                      {{"SIPMETRICS_SEGMENT", box.segment()}, {"SIPMETRICS_SEGMENT_GROUP", name}},
                      box.dir() / "w.out",
                      box.dir() / "w.err"});
    CHECK(w.wait_for(30s).value_or(-1) == 0);
    CHECK(w.err().empty());
    const struct stat st = stat_of(box.segment());
    CHECK(st.st_gid == gid);
    CHECK((st.st_mode & 07777) == 0660);
    Daemon d = box.start_daemon({"--segment-group", name});
    CHECK(await_value(d, "voiceserver_calls_total", 5) == 5);
    CHECK(d.log().find("warn") == std::string::npos);
  }
  SUBCASE("an existing segment of another group is reported, not changed") {
    Sandbox box;
    { Daemon d = box.start_daemon(); }
    const gid_t before = stat_of(box.segment()).st_gid;
    Daemon d = box.start_daemon({"--segment-group", name});
    CHECK(eventually(
        [&] { return d.log().find("not to group '" + name + "'") != std::string::npos; }, 5s));
    CHECK(stat_of(box.segment()).st_gid == before);
  }
}

}  // namespace sipmetrics::test
