#include "http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "gzip.hpp"
#include "negotiation.hpp"

namespace sipmetrics {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kPlain = "text/plain; charset=utf-8";

/// Sets a response body as a fixed-length provider over a copy the response owns. cpp-httplib
/// compresses only bodies it holds itself, and picks brotli at its slowest setting whenever a
/// client lists `br`: every answer here goes out as a provider instead.
void set_body(httplib::Response& res, std::string body, const std::string& type) {
  auto owned = std::make_shared<const std::string>(std::move(body));
  res.set_content_provider(
      owned->size(), type,
      [owned](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        return sink.write(owned->data() + offset, length);
      });
}

}  // namespace

/// Buffers of one /metrics answer: the exposition text and its gzip form. Pooled rather than
/// kept per serving thread, so their memory follows the scrapes in flight (one with a single
/// Prometheus, two with an HA pair) rather than every thread that ever served one; capacities
/// settle after the first scrapes, and then a scrape allocates nothing.
struct ScrapeBuffers {
  std::string body;
  GzipEncoder gzip;
};

class ScrapeBufferPool : public std::enable_shared_from_this<ScrapeBufferPool> {
 public:
  /// A set of buffers, back in the pool when the last copy of the pointer goes.
  std::shared_ptr<ScrapeBuffers> acquire() {
    std::unique_ptr<ScrapeBuffers> b;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        b = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!b) b = std::make_unique<ScrapeBuffers>();
    return {b.release(), [pool = shared_from_this()](ScrapeBuffers* p) { pool->release(p); }};
  }

 private:
  static constexpr std::size_t kMaxIdle = 2;
  void release(ScrapeBuffers* p) {
    std::unique_ptr<ScrapeBuffers> b(p);
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(b));
  }
  std::mutex mu_;
  std::vector<std::unique_ptr<ScrapeBuffers>> idle_;
};

namespace {

/// Logs `what` at most once a minute, with how often it happened since the last line.
class RateLimitedWarning {
 public:
  void note(const char* what, const std::string& detail) {
    const std::uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    std::int64_t last = last_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < 60) return;
    if (!last_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    count_.fetch_sub(n, std::memory_order_relaxed);
    spdlog::warn("http: {} ({} time{} in the last minute; latest: {})", what, n, n == 1 ? "" : "s",
                 detail);
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> last_{0};
};

RateLimitedWarning g_shed_warning;
RateLimitedWarning g_denied_warning;

/// Waits until `fd` is ready for `events`; false when `deadline` passes first or the server
/// stops (cpp-httplib marks its listening socket invalid).
bool wait_fd(int fd, short events, Clock::time_point deadline, const std::atomic<int>& listen_fd) {
  for (;;) {
    if (listen_fd.load(std::memory_order_relaxed) == INVALID_SOCKET) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 100)));
    if (r > 0) return true;  // POLLERR/POLLHUP included: the next call reports them
    if (r < 0 && errno != EINTR) return false;
  }
}

// ---- Connections --------------------------------------------------------------------------------

/// One client connection as cpp-httplib's parser sees it, with this file's limits enforced
/// underneath: a byte budget and a deadline per request head, a deadline per response.
/// The socket is non-blocking; every wait is a poll() bounded by the current deadline.
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, SSL* ssl, const std::atomic<int>& listen_fd)
      : fd_(fd), ssl_(ssl), listen_fd_(listen_fd) {}

  /// Whether bytes of a next request are already read (pipelined), so no wait is needed.
  bool buffered() const { return begin_ != end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0); }

  void begin_request() {
    head_deadline_ = Clock::now() + kHeadTimeout;
    budget_ = kMaxRequestBytes;
    wrote_ = false;
    expect_status_ = true;
    status_ = 0;
    line_seen_ = false;
  }

  /// Answers a request that failed before cpp-httplib could (a timeout or an oversized head).
  void finish_request() {
    if (wrote_ || (!timed_out_ && !overflow_)) return;
    const char* r = timed_out_   ? "HTTP/1.1 408 Request Timeout\r\n"
                    : line_seen_ ? "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                 : "HTTP/1.1 414 URI Too Long\r\n";
    std::string msg = std::string(r) + "Content-Length: 0\r\nConnection: close\r\n\r\n";
    const bool was_timed_out = timed_out_;
    timed_out_ = false;  // let the write run on a short deadline of its own
    wrote_ = true;
    response_deadline_ = Clock::now() + 1s;
    (void)write(msg.data(), msg.size());
    timed_out_ = timed_out_ || was_timed_out;
  }

  /// Whether the connection must close after this response: its stream is in doubt.
  bool poisoned() const noexcept {
    if (timed_out_ || overflow_) return true;
    switch (status_) {
      case 400:
      case 405:
      case 408:
      case 411:
      case 413:
      case 414:
      case 429:
      case 431: return true;
      default: return status_ >= 500;
    }
  }

  bool is_readable() const override {
    return buffered() || wait_fd(fd_, POLLIN, read_deadline(), listen_fd_);
  }
  bool is_writable() const override {
    return wait_fd(fd_, POLLOUT, wrote_ ? response_deadline_ : Clock::now() + kResponseTimeout,
                   listen_fd_);
  }

  ssize_t read(char* ptr, std::size_t size) override {
    if (begin_ == end_) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    const std::size_t k = std::min(size, end_ - begin_);
    std::memcpy(ptr, buf_.data() + begin_, k);
    if (!line_seen_ && std::memchr(buf_.data() + begin_, '\n', k) != nullptr) line_seen_ = true;
    begin_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    const bool head = note_status(ptr, size);
    if (!wrote_) {
      wrote_ = true;
      response_deadline_ = Clock::now() + kResponseTimeout;
    }
    if (!head || !poisoned()) return send_some(ptr, size);
    // cpp-httplib writes the status line and headers in one piece, so they can be edited
    // before they leave: say why a head could not be read (it says 400), and announce the close.
    std::string h(ptr, size);
    if (status_ == 400 && (overflow_ || timed_out_)) {
      status_ = timed_out_ ? 408 : 431;
      h.replace(0, h.find("\r\n"),
                timed_out_ ? "HTTP/1.1 408 Request Timeout"
                           : "HTTP/1.1 431 Request Header Fields Too Large");
    }
    const auto end = h.find("\r\n\r\n");
    const auto ka = h.find("\r\nKeep-Alive: ");
    if (ka != std::string::npos && ka < end)
      h.replace(ka + 2, h.find("\r\n", ka + 2) - (ka + 2), "Connection: close");
    for (std::size_t done = 0; done < h.size();) {
      const ssize_t n = send_some(h.data() + done, h.size() - done);
      if (n < 0) return -1;
      done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) describe(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) describe(a, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t send_some(const char* ptr, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = std::min<std::size_t>(size, 1u << 30);
    for (;;) {
      short ev = POLLOUT;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_write(ssl_, ptr, static_cast<int>(chunk));
        if (r > 0) return r;
        const int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ)
          ev = POLLIN;
        else if (e != SSL_ERROR_WANT_WRITE)
          return -1;
      } else {
        const ssize_t n = ::send(fd_, ptr, chunk, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      }
      if (!wait_fd(fd_, ev, response_deadline_, listen_fd_)) {
        timed_out_ = true;
        return -1;
      }
    }
  }

  Clock::time_point read_deadline() const { return wrote_ ? response_deadline_ : head_deadline_; }

  // Refills the buffer from the socket, charging the request's budget.
  ssize_t fill() {
    begin_ = end_ = 0;
    if (budget_ == 0) {
      overflow_ = true;
      return -1;
    }
    const std::size_t want = std::min(buf_.size(), budget_);
    for (;;) {
      short ev = POLLIN;
      ssize_t n = 0;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_read(ssl_, buf_.data(), static_cast<int>(want));
        if (r > 0) {
          n = r;
        } else {
          const int e = SSL_get_error(ssl_, r);
          if (e == SSL_ERROR_ZERO_RETURN) return 0;
          if (e == SSL_ERROR_WANT_WRITE)
            ev = POLLOUT;
          else if (e != SSL_ERROR_WANT_READ)
            return -1;
        }
      } else {
        n = ::recv(fd_, buf_.data(), want, 0);
        if (n == 0) return 0;
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
          n = 0;
        }
      }
      if (n > 0) {
        end_ = static_cast<std::size_t>(n);
        budget_ -= end_;
        return n;
      }
      if (!wait_fd(fd_, ev, read_deadline(), listen_fd_)) {
        timed_out_ = true;
        return -1;
      }
    }
  }

  // True when this write starts a final response (cpp-httplib: "HTTP/1.1 NNN Reason\r\n...").
  bool note_status(const char* p, std::size_t n) {
    if (!expect_status_ || n < 12 || std::memcmp(p, "HTTP/1.", 7) != 0) return false;
    int s = 0;
    for (std::size_t i = 9; i < 12; ++i) {
      if (p[i] < '0' || p[i] > '9') return false;
      s = s * 10 + (p[i] - '0');
    }
    if (s < 200) return false;
    expect_status_ = false;
    status_ = s;
    return true;
  }

  static void describe(const sockaddr_storage& a, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
      ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
      port = ntohs(v4.sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
      ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
      port = ntohs(v6.sin6_port);
    }
    ip = text;
  }

  int fd_;
  SSL* ssl_;
  const std::atomic<int>& listen_fd_;
  std::array<char, std::size_t{16} * 1024> buf_{};
  std::size_t begin_ = 0, end_ = 0;
  std::size_t budget_ = kMaxRequestBytes;
  Clock::time_point head_deadline_ = Clock::now() + kHeadTimeout;
  Clock::time_point response_deadline_ = Clock::now() + kResponseTimeout;
  bool wrote_ = false, expect_status_ = true, line_seen_ = false;
  bool timed_out_ = false, overflow_ = false;
  int status_ = 0;
};

// ---- Threads ------------------------------------------------------------------------------------

/// A connection between requests: its socket, its TLS session, how many requests it has had.
struct Idle {
  int fd = -1;
  SSL* ssl = nullptr;
  std::size_t served = 0;
  bool handshaken = false;  // TLS only
  Clock::time_point deadline;
};

void close_connection(Idle& c) noexcept {
  if (c.ssl != nullptr) {
    (void)SSL_shutdown(c.ssl);  // one non-blocking close_notify, best effort
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.fd >= 0) {
    ::shutdown(c.fd, SHUT_RDWR);
    ::close(c.fd);
    c.fd = -1;
  }
}

/// Says `response` (a complete plain-HTTP response) without waiting, then closes.
void refuse(Idle& c, std::string_view response) noexcept {
  if (c.ssl == nullptr && !response.empty())
    (void)::send(c.fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  close_connection(c);
}

constexpr std::string_view k408 =
    "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view k503 =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

/// The serving threads: `threads` of them, kMaxQueued connections waiting at most.
class Workers {
 public:
  using Job = std::function<void(Idle)>;
  Workers(unsigned threads, Job job) : job_(std::move(job)) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { work(); });
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { stop(); }

  /// Queues a connection with a request ready; false (the caller still owns it) when full.
  bool submit(Idle c) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || jobs_.size() >= kMaxQueued) return false;
      jobs_.push_back(c);
    }
    cv_.notify_one();
    return true;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    for (Idle& c : jobs_) close_connection(c);
    jobs_.clear();
  }

 private:
  void work() {
    for (;;) {
      Idle c;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        c = jobs_.front();
        jobs_.pop_front();
      }
      job_(c);
    }
  }

  Job job_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Idle> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

/// Holds every connection that has no complete request yet, new or between keep-alive
/// requests, on one thread with epoll: a slow or silent client costs a table entry, not a
/// serving thread. A plain-HTTP connection moves on once its whole head has arrived (seen with
/// MSG_PEEK, so nothing is consumed), a TLS one as soon as it has bytes. Past its deadline a
/// connection is answered 408 (if it sent something) and closed; with kMaxConnections waiting,
/// the one nearest its deadline makes room for a newcomer.
class Gate {
 public:
  using Ready = std::function<void(Idle)>;
  Gate(bool tls, Ready ready) : tls_(tls), ready_(std::move(ready)) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    (void)::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    thread_ = std::thread([this] { run(); });
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() {
    stop();
    ::close(ep_);
    ::close(wake_);
  }

  /// Takes a connection to watch until it has a request, or its deadline passes.
  void hold(Idle c) {
    std::unique_lock lock(mu_);
    if (stopping_) {
      lock.unlock();
      close_connection(c);
      return;
    }
    if (waiting_.size() >= kMaxConnections) evict_one();
    const int fd = c.fd;
    waiting_[fd] = c;
    epoll_event ev{};
    // Edge-triggered: a peek leaves the bytes in the socket, so only new bytes should wake us.
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      waiting_.erase(fd);
      Idle dropped = c;
      lock.unlock();
      close_connection(dropped);
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    const std::uint64_t one = 1;
    (void)::write(wake_, &one, sizeof one);
    thread_.join();
    for (auto& [fd, c] : waiting_) close_connection(c);
    waiting_.clear();
  }

 private:
  void run() {
    std::array<epoll_event, 64> events{};
    std::vector<Idle> due;
    for (;;) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        if (fd == wake_) continue;
        Idle c;
        {
          std::lock_guard lock(mu_);
          auto it = waiting_.find(fd);
          if (it == waiting_.end()) continue;
          const Verdict v = tls_ ? Verdict::kRequest : look(fd);
          if (v == Verdict::kWait) continue;
          (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
          c = it->second;
          waiting_.erase(it);
          if (v == Verdict::kClosed) {
            close_connection(c);
            continue;
          }
        }
        ready_(c);
      }
      const auto now = Clock::now();
      {
        std::lock_guard lock(mu_);
        for (auto it = waiting_.begin(); it != waiting_.end();) {
          if (it->second.deadline > now) {
            ++it;
            continue;
          }
          (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
          due.push_back(it->second);
          it = waiting_.erase(it);
        }
      }
      for (Idle& c : due) refuse(c, pending_bytes(c.fd) ? k408 : std::string_view());
      due.clear();
    }
  }

  enum class Verdict { kWait, kRequest, kClosed };

  // What a plain-HTTP connection's unread bytes amount to: a whole request head (or more than
  // a head may hold: the serving thread answers 431), not yet, or a closed connection.
  Verdict look(int fd) {
    const ssize_t n = ::recv(fd, peek_.data(), peek_.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return Verdict::kClosed;
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Verdict::kWait
                                                                       : Verdict::kClosed;
    const std::string_view seen(peek_.data(), static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) >= peek_.size() ||
        seen.find("\n\r\n") != std::string_view::npos ||
        seen.find("\n\n") != std::string_view::npos)
      return Verdict::kRequest;
    return Verdict::kWait;
  }

  static bool pending_bytes(int fd) {
    char b;
    return ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  void evict_one() {  // under mu_
    auto victim = std::min_element(
        waiting_.begin(), waiting_.end(),
        [](const auto& a, const auto& b) { return a.second.deadline < b.second.deadline; });
    if (victim == waiting_.end()) return;
    (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, victim->first, nullptr);
    Idle c = victim->second;
    waiting_.erase(victim);
    refuse(c, pending_bytes(c.fd) ? k408 : std::string_view());
    g_shed_warning.note("connection closed early to make room: too many connections waiting",
                        std::to_string(kMaxConnections) + " waiting");
  }

  const bool tls_;
  Ready ready_;
  int ep_ = -1, wake_ = -1;
  std::mutex mu_;
  std::map<int, Idle> waiting_;
  bool stopping_ = false;
  std::array<char, kMaxRequestBytes> peek_{};
  std::thread thread_;
};

/// cpp-httplib's Server (or SSLServer) whose accepted connections go through the Gate and the
/// Workers above, each request parsed and routed by cpp-httplib over a Connection.
template <class Base>
class GuardedServer final : public Base {
 public:
  static constexpr bool kTls = std::is_same_v<Base, httplib::SSLServer>;

  template <class... Args>
  explicit GuardedServer(unsigned threads, Args&&... args)
      : Base(std::forward<Args>(args)...), threads_(threads) {
    // cpp-httplib hands each accepted socket to its task queue as a job that calls
    // process_and_close_socket(); running the job at once passes the socket to the Gate.
    this->new_task_queue = [this] {
      start();
      return new Handover(*this);
    };
  }
  ~GuardedServer() override { halt(); }

 private:
  class Handover final : public httplib::TaskQueue {
   public:
    explicit Handover(GuardedServer& s) : s_(s) {}
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override { s_.halt(); }

   private:
    GuardedServer& s_;
  };

  void start() {
    std::lock_guard lock(lifecycle_);
    if (gate_) return;
    workers_ = std::make_unique<Workers>(threads_, [this](Idle c) { serve(c); });
    gate_ = std::make_unique<Gate>(kTls, [this](Idle c) {
      if (!workers_->submit(c)) {
        g_shed_warning.note("connection refused: every HTTP thread busy and the queue full",
                            std::to_string(kMaxQueued) + " queued");
        refuse(c, k503);
      }
    });
  }

  void halt() {
    std::lock_guard lock(lifecycle_);
    if (gate_) gate_->stop();        // no more hand-overs to the workers
    if (workers_) workers_->stop();  // connections being served end at their next wait
    gate_.reset();
    workers_.reset();
  }

  bool process_and_close_socket(socket_t sock) override {
    (void)::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
    // cpp-httplib writes a response head and body separately: without TCP_NODELAY the body
    // waits for the client's delayed ACK of the head (40 ms on Linux).
    int one = 1;
    (void)::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Idle c;
    c.fd = sock;
    c.deadline = Clock::now() + kHeadTimeout;
    gate_->hold(c);
    return true;
  }

  // A worker's turn with a connection that has (or, over TLS, is about to have) a request.
  void serve(Idle c) {
    const auto& listen_fd = this->svr_sock_;
    if constexpr (kTls) {
      if (!c.handshaken) {
        c.ssl = tls_accept(c.fd);
        if (c.ssl == nullptr) return close_connection(c);
        c.handshaken = true;
        if (SSL_pending(c.ssl) == 0) {  // the request itself is yet to come: wait in the Gate
          c.deadline = Clock::now() + kHeadTimeout;
          return gate_->hold(c);
        }
      }
    }
    const std::size_t max_requests = std::max<std::size_t>(1, this->keep_alive_max_count_);
    Connection conn(c.fd, c.ssl, listen_fd);
    for (;;) {
      conn.begin_request();
      bool closed = false;
      bool ok = false;
      try {
        ok = this->process_request(conn, c.served + 1 >= max_requests, closed, nullptr);
      } catch (...) {
        ok = false;
      }
      conn.finish_request();
      ++c.served;
      if (!ok || closed || conn.poisoned() || c.served >= max_requests ||
          listen_fd.load() == INVALID_SOCKET)
        return close_connection(c);
      if (!conn.buffered()) break;  // no pipelined request: wait for the next one in the Gate
    }
    c.deadline = Clock::now() + std::chrono::seconds(this->keep_alive_timeout_sec_);
    gate_->hold(c);
  }

  SSL* tls_accept(int fd) {
    if constexpr (kTls) {
      SSL* ssl = SSL_new(this->ssl_context());
      if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
        if (ssl != nullptr) SSL_free(ssl);
        return nullptr;
      }
      const auto deadline = Clock::now() + kHeadTimeout;
      for (;;) {
        ERR_clear_error();
        const int r = SSL_accept(ssl);
        if (r == 1) return ssl;
        const int e = SSL_get_error(ssl, r);
        const short ev = e == SSL_ERROR_WANT_READ    ? POLLIN
                         : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
        if (ev == 0 || !wait_fd(fd, ev, deadline, this->svr_sock_)) {
          ERR_clear_error();
          SSL_free(ssl);
          return nullptr;
        }
      }
    }
    return nullptr;
  }

  const unsigned threads_;
  std::mutex lifecycle_;
  std::unique_ptr<Workers> workers_;
  std::unique_ptr<Gate> gate_;
};

}  // namespace

HttpServer::HttpServer(Exporter& exporter, HttpSettings settings)
    : exporter_(exporter),
      settings_(std::move(settings)),
      buffers_(std::make_shared<ScrapeBufferPool>()) {
  auth_.apply(settings_.web);
  const unsigned threads = std::max(1u, settings_.threads);
  if (settings_.web.tls) {
    const TlsFiles files = *settings_.web.tls;
    server_ = std::make_unique<GuardedServer<httplib::SSLServer>>(
        threads, [files, this](SSL_CTX& ctx) { return load_tls_files(&ctx, files, setup_error_); });
  } else {
    server_ = std::make_unique<GuardedServer<httplib::Server>>(threads);
  }
  httplib::Server& s = *server_;
  s.set_keep_alive_max_count(100);
  s.set_keep_alive_timeout(5);
  s.set_payload_max_length(kMaxRequestBytes);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second daemon bind the same port
  // and silently take half the scrapes. SO_REUSEADDR alone allows a quick restart, nothing more.
  // TCP_DEFER_ACCEPT: a connection that never sends a byte is never handed to a thread.
  s.set_socket_options([this](socket_t sock) {
    listen_fd_ = sock;
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    int defer = static_cast<int>(kHeadTimeout.count());
    ::setsockopt(sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
  });

  using Routed = httplib::Server::HandlerResponse;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Only GET (and HEAD, which cpp-httplib serves from the GET handlers) exist here. Answered
    // before any body is read; the connection is closed after it (Connection::poisoned).
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      set_body(res, "method not allowed\n", kPlain);
      return Routed::Handled;
    }
    // cpp-httplib does not read a GET's body: it would be parsed as the next request.
    if (req.has_header("Transfer-Encoding") ||
        (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0")) {
      res.status = 400;
      set_body(res, "a GET or HEAD request carries no body\n", kPlain);
      return Routed::Handled;
    }
    if (req.path == "/healthz") return Routed::Unhandled;  // probes carry no credentials
    switch (auth_.check(req.get_header_value("Authorization"))) {
      case Authenticator::Verdict::kAllowed: return Routed::Unhandled;
      case Authenticator::Verdict::kBusy:
        res.status = 429;
        res.set_header("Retry-After", "1");
        set_body(res, "too many credential checks at once; retry\n", kPlain);
        return Routed::Handled;
      case Authenticator::Verdict::kDenied: break;
    }
    res.status = 401;
    for (const std::string& c : auth_.challenges()) res.headers.emplace("WWW-Authenticate", c);
    set_body(res, "unauthorized\n", kPlain);
    g_denied_warning.note("request refused for missing or wrong credentials",
                          req.remote_addr + " " + req.path);
    return Routed::Handled;
  });

  s.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    // The answer goes out from the pooled buffers without a copy; they return to the pool when
    // cpp-httplib drops the provider. gzip is done here, at zlib's fastest level.
    std::shared_ptr<ScrapeBuffers> buffers = buffers_->acquire();
    const Format format = negotiate(req.get_header_value("Accept"));
    exporter_.scrape(buffers->body, format);
    std::string_view payload = buffers->body;
    if (accepts_gzip(req.get_header_value("Accept-Encoding"))) {
      payload = buffers->gzip.encode(buffers->body);
      res.set_header("Content-Encoding", "gzip");
    }
    res.set_header("Vary", "Accept, Accept-Encoding");
    res.set_content_provider(payload.size(), std::string(content_type(format)),
                             [buffers = std::move(buffers), payload](
                                 std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                               return sink.write(payload.data() + offset, length);
                             });
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const ExporterStatus st = exporter_.status();
    set_body(res,
             "ok\nwriters " + std::to_string(st.live_writers) + "\nseries " +
                 std::to_string(st.series) + "\n",
             kPlain);
  });
  s.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    set_body(res, format_html(exporter_.report()), "text/html; charset=utf-8");
  });
}

HttpServer::~HttpServer() = default;

bool HttpServer::bind(std::string& error) {
  if (!server_->is_valid()) {
    error = setup_error_.empty() ? "cannot set up TLS" : setup_error_;
    return false;
  }
  if (settings_.port == 0) {
    port_ = server_->bind_to_any_port(settings_.host);
  } else if (server_->bind_to_port(settings_.host, settings_.port)) {
    port_ = settings_.port;
  }
  if (port_ > 0) {
    // cpp-httplib listens with a backlog of 5: a burst of connections would see SYNs dropped
    // and retried a second later. Listening again on the same socket only enlarges it.
    if (listen_fd_ >= 0) (void)::listen(listen_fd_, kListenBacklog);
    return true;
  }
  error = "cannot listen on " + settings_.host + ":" + std::to_string(settings_.port) +
          " (address in use, or not an address of this host)";
  return false;
}

void HttpServer::serve() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

bool HttpServer::apply_web_config(const WebConfig& web) {
  auth_.apply(web);
  return web.tls == settings_.web.tls;
}

}  // namespace sipmetrics
