// A client connection of the HTTP front: the stream cpp-httplib parses requests from, with the
// limits of http_limits.hpp enforced underneath, and the state a connection keeps between
// requests.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

#include "http_limits.hpp"

namespace sipmetrics::http {

/// Waits until `fd` is ready for `events`; false when `deadline` passes first or the server
/// stops (cpp-httplib marks its listening socket invalid).
bool wait_fd(int fd, short events, Clock::time_point deadline, const std::atomic<int>& listen_fd);

/// A connection between requests: its socket, its TLS session, how many requests it has had.
struct Idle {
  int fd = -1;
  SSL* ssl = nullptr;
  std::size_t served = 0;
  bool handshaken = false;  // TLS only
  Clock::time_point deadline;
};

void close_connection(Idle& c) noexcept;

/// Says `response` (a complete plain-HTTP response) without waiting, then closes.
void refuse(Idle& c, std::string_view response) noexcept;

inline constexpr std::string_view k408 =
    "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
inline constexpr std::string_view k503 =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

/// One client connection as cpp-httplib's parser sees it, with the limits enforced
/// underneath: a byte budget and a deadline per request head, a deadline per response.
/// The socket is non-blocking; every wait is a poll() bounded by the current deadline.
class Connection final : public httplib::Stream {
 public:
  Connection(int fd, SSL* ssl, const std::atomic<int>& listen_fd)
      : fd_(fd), ssl_(ssl), listen_fd_(listen_fd) {}

  /// Whether bytes of a next request are already read (pipelined), so no wait is needed.
  bool buffered() const { return begin_ != end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0); }

  void begin_request();
  /// Answers a request that failed before cpp-httplib could (a timeout or an oversized head).
  void finish_request();
  /// Whether the connection must close after this response: its stream is in doubt.
  bool poisoned() const noexcept;

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, std::size_t size) override;
  ssize_t write(const char* ptr, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  ssize_t send_some(const char* ptr, std::size_t size);
  Clock::time_point read_deadline() const { return wrote_ ? response_deadline_ : head_deadline_; }
  // Refills the buffer from the socket, charging the request's budget.
  ssize_t fill();
  // True when this write starts a final response (cpp-httplib: "HTTP/1.1 NNN Reason\r\n...").
  bool note_status(const char* p, std::size_t n);

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

}  // namespace sipmetrics::http
