// Helpers for the integration tests: run the real sipmetricsd and real worker processes, each
// test on a segment file of its own under a fresh temporary directory, and read /metrics.
// Every wait is bounded, and every process still running when its handle goes away is killed.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

namespace sipmetrics::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

#ifndef SIPMETRICSD_PATH
#error "SIPMETRICSD_PATH must name the sipmetricsd binary"
#endif
#ifndef SIPMETRICS_TEST_WORKER_PATH
#error "SIPMETRICS_TEST_WORKER_PATH must name the sipmetrics-test-worker binary"
#endif
inline constexpr const char* kDaemonPath = SIPMETRICSD_PATH;
inline constexpr const char* kWorkerPath = SIPMETRICS_TEST_WORKER_PATH;

/// Polls `pred` every 10 ms until it holds or `timeout` has passed; true if it held.
inline bool eventually(const std::function<bool()>& pred, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::size_t count_occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

/// Number of lines of `text` equal to `line`.
inline std::size_t count_lines(std::string_view text, std::string_view line) {
  std::size_t n = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (text.substr(0, nl) == line) ++n;
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return n;
}

// ---- Prometheus text ----------------------------------------------------------------------------

/// The value of the sample line whose series is exactly `series` (`name` or `name{labels}`,
/// labels as the exporter orders them), or nullopt if there is no such line.
inline std::optional<double> sample(std::string_view text, std::string_view series) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.size() <= series.size() || !line.starts_with(series) || line[series.size()] != ' ')
      continue;
    const std::string value(line.substr(series.size() + 1));
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

// ---- Files and ports ----------------------------------------------------------------------------

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
/// Set SIPMETRICS_KEEP_TEST_DIRS=1 to keep it for a post-mortem.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sipmetrics-it-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (std::getenv("SIPMETRICS_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// A loopback TCP port that was free a moment ago (the caller retries if it is taken since).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ---- Processes ----------------------------------------------------------------------------------

/// A child process in a process group of its own, with stdin from /dev/null and stdout and
/// stderr captured to files. Exit statuses use the shell's convention: the exit code, or
/// 128 + the number of the signal that ended it.
class Process {
 public:
  struct Spec {
    std::string program;
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;  // added to a scrubbed environment
    std::filesystem::path stdout_path, stderr_path;
  };

  explicit Process(const Spec& spec) : out_(spec.stdout_path), err_(spec.stderr_path) {
    std::vector<std::string> argv_s{spec.program};
    argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view kv = *e;
      // The caller's own SIPMETRICS_* / SIPMETRICSD_* settings must not leak into a test.
      if (!kv.starts_with("SIPMETRICS")) env_s.emplace_back(kv);
    }
    for (const auto& [k, v] : spec.env) env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (std::string& s : argv_s) argv.push_back(s.data());
    for (std::string& s : env_s) envp.push_back(s.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // Own process group (so forked grandchildren can be signalled with it), no inherited
    // blocked signals and default dispositions, whatever the test framework installed.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
      throw std::system_error(rc, std::generic_category(), "posix_spawn " + spec.program);
  }

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)),
        status_(o.status_),
        out_(std::move(o.out_)),
        err_(std::move(o.err_)) {}
  Process& operator=(Process&& o) noexcept {
    if (this != &o) {
      kill_and_reap();
      pid_ = std::exchange(o.pid_, -1);
      status_ = o.status_;
      out_ = std::move(o.out_);
      err_ = std::move(o.err_);
    }
    return *this;
  }
  ~Process() { kill_and_reap(); }

  pid_t pid() const noexcept { return pid_; }

  /// Sends `sig` to the process; false once it has been reaped.
  bool signal(int sig) const noexcept { return pid_ > 0 && !status_ && ::kill(pid_, sig) == 0; }

  /// The exit status once the process has ended, or nullopt if it still runs after `timeout`.
  std::optional<int> wait_for(Millis timeout) {
    eventually([this] { return poll().has_value(); }, timeout);
    return status_;
  }
  /// The exit status if the process has ended, without waiting.
  std::optional<int> poll() {
    if (status_ || pid_ <= 0) return status_;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  bool running() { return pid_ > 0 && !poll(); }

  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }

  /// Waits until stdout holds `count` lines equal to `line`; false on timeout or early exit.
  bool wait_for_line(std::string_view line, std::size_t count, Millis timeout) {
    eventually([&] { return count_lines(out(), line) >= count || !running(); }, timeout);
    return count_lines(out(), line) >= count;
  }

 private:
  void kill_and_reap() noexcept {
    if (pid_ <= 0 || poll()) return;
    // While the leader is not reaped its pid, and so the group id, cannot have been reused.
    ::kill(-pid_, SIGKILL);
    for (int i = 0; i < 500 && !poll(); ++i) std::this_thread::sleep_for(10ms);
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_, err_;
};

// ---- The daemon and the sandbox -----------------------------------------------------------------

/// A running sipmetricsd, serving on 127.0.0.1:port().
class Daemon {
 public:
  Daemon(Process p, int port) : process_(std::move(p)), port_(port) {}

  Process& process() noexcept { return process_; }
  int port() const noexcept { return port_; }
  std::string log() const { return process_.err(); }

  /// GET `path`; the body of a 200 answer, else nullopt.
  std::optional<std::string> get(const std::string& path) const {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
    cli.set_keep_alive(false);
    auto res = cli.Get(path);
    if (!res || res->status != 200) return std::nullopt;
    return res->body;
  }
  std::optional<std::string> metrics() const { return get("/metrics"); }
  /// One scrape, one series; nullopt if the scrape failed or the series is absent.
  std::optional<double> value(std::string_view series) const {
    const auto text = metrics();
    return text ? sample(*text, series) : std::nullopt;
  }

 private:
  Process process_;
  int port_;
};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Exit status (see Process), or -1 if the process still runs after `timeout`.
inline int exit_status(Process& p, Millis timeout) { return p.wait_for(timeout).value_or(-1); }

/// One scrape; NaN when the scrape fails or the series is absent, so a failed CHECK shows it.
inline double value_of(const Daemon& d, std::string_view series) {
  return d.value(series).value_or(kNaN);
}

/// Polls /metrics until `series` reads `want`; returns the last value read (NaN if absent).
inline double await_value(const Daemon& d, std::string_view series, double want,
                          Millis timeout = std::chrono::seconds(10)) {
  double last = kNaN;
  eventually(
      [&] {
        last = value_of(d, series);
        return last == want;
      },
      timeout);
  return last;
}

inline bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

/// One test's world: a temporary directory holding the segment file and every process's output.
class Sandbox {
 public:
  Sandbox() : segment_((dir_.path() / "segment").string()) {}

  const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  /// The segment as a file path: a name containing '/' never touches /dev/shm.
  const std::string& segment() const noexcept { return segment_; }

  /// How a worker learns the segment: the environment (Client::global()) or its --segment
  /// flag (a Client constructed with Options).
  enum class Via { kEnvironment, kOptions };

  /// Starts a sipmetrics-test-worker on this sandbox's segment.
  Process worker(std::vector<std::string> args, Via via = Via::kEnvironment) {
    if (via == Via::kOptions) {
      args.insert(args.begin(), {"--segment", segment_});
      return spawn(kWorkerPath, std::move(args), {}, "worker");
    }
    return spawn(kWorkerPath, std::move(args), {{"SIPMETRICS_SEGMENT", segment_}}, "worker");
  }

  /// Starts sipmetricsd on this segment and 127.0.0.1:`port` without waiting for it.
  Process spawn_daemon(int port, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{
        "--segment",           segment_, "--listen", "127.0.0.1:" + std::to_string(port),
        "--drain-interval-ms", "2"};
    if (std::find(extra.begin(), extra.end(), "--housekeeping-interval-ms") == extra.end())
      args.insert(args.end(), {"--housekeeping-interval-ms", "50"});
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(kDaemonPath, std::move(args), {}, "daemon");
  }

  /// Starts sipmetricsd and waits until /healthz answers; throws if it does not come up.
  Daemon start_daemon(const std::vector<std::string>& extra = {}) {
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const int port = free_loopback_port();
      Daemon d(spawn_daemon(port, extra), port);
      if (eventually([&] { return d.get("/healthz").has_value() || !d.process().running(); },
                     10s) &&
          d.process().running())
        return d;
      why = d.log();
      // Only a port taken since free_loopback_port() is worth another try.
      if (why.find("cannot listen") == std::string::npos) break;
    }
    throw std::runtime_error("sipmetricsd did not come up:\n" + why);
  }

 private:
  Process spawn(const std::string& program, std::vector<std::string> args,
                std::vector<std::pair<std::string, std::string>> env, const std::string& tag) {
    const std::string base = tag + "-" + std::to_string(++seq_);
    return Process({program, std::move(args), std::move(env), dir() / (base + ".out"),
                    dir() / (base + ".err")});
  }

  TempDir dir_;
  std::string segment_;
  int seq_ = 0;
};

}  // namespace sipmetrics::test
