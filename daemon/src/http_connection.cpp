#include "http_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sipmetrics::http {
namespace {

using namespace std::chrono_literals;

void describe(const sockaddr_storage& a, std::string& ip, int& port) {
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

}  // namespace

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

void refuse(Idle& c, std::string_view response) noexcept {
  if (c.ssl == nullptr && !response.empty())
    (void)::send(c.fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  close_connection(c);
}

void Connection::begin_request() {
  head_deadline_ = Clock::now() + kHeadTimeout;
  budget_ = kMaxRequestBytes;
  wrote_ = false;
  expect_status_ = true;
  status_ = 0;
  line_seen_ = false;
}

void Connection::finish_request() {
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

bool Connection::poisoned() const noexcept {
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

bool Connection::is_readable() const {
  return buffered() || wait_fd(fd_, POLLIN, read_deadline(), listen_fd_);
}

bool Connection::is_writable() const {
  return wait_fd(fd_, POLLOUT, wrote_ ? response_deadline_ : Clock::now() + kResponseTimeout,
                 listen_fd_);
}

ssize_t Connection::read(char* ptr, std::size_t size) {
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

ssize_t Connection::write(const char* ptr, std::size_t size) {
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

void Connection::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) describe(a, ip, port);
}

void Connection::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) describe(a, ip, port);
}

ssize_t Connection::send_some(const char* ptr, std::size_t size) {
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

ssize_t Connection::fill() {
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

bool Connection::note_status(const char* p, std::size_t n) {
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

}  // namespace sipmetrics::http
