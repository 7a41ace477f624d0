// cpp-httplib's Server (or SSLServer) with its connections served by the Gate and the Workers.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include "http_connection.hpp"
#include "http_gate.hpp"
#include "http_warnings.hpp"
#include "http_workers.hpp"

namespace sipmetrics::http {

/// cpp-httplib's Server (or SSLServer) whose accepted connections go through the Gate and the
/// Workers, each request parsed and routed by cpp-httplib over a Connection.
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
        shed_warning.note("connection refused: every HTTP thread busy and the queue full",
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

}  // namespace sipmetrics::http
