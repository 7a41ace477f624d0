// The HTTP front: /metrics, /healthz and a small landing page, on cpp-httplib with a bounded
// thread pool, optionally over TLS and behind basic auth or a bearer token (web_config.hpp).
//
// The limits named below are in http_limits.hpp; the pieces that enforce them are
// http_connection (the stream and its budgets), http_gate (connections waiting for a request),
// http_workers (the serving threads and their queue) and guarded_server.hpp (cpp-httplib's
// server wired to them); this file holds the routes.
//
// cpp-httplib 0.11.4 (Debian 12) reads a request head with no bound on the number of header
// lines and no deadline for the whole head (one client can make it buffer gigabytes; a few
// clients sending a byte a second hold every thread), and queues accepted connections without
// bound. So connections are served here, through cpp-httplib's request parser and router but
// over a stream and threads of our own:
//   - a connection without a complete request yet (new, or idle between keep-alive requests)
//     waits in one epoll thread, not in a serving thread; kMaxConnections wait at most (the one
//     nearest its deadline is closed to make room), each for kHeadTimeout (keep-alive: 5 s);
//   - a request head (and any body) may hold kMaxRequestBytes, read within kHeadTimeout (else
//     431, 414 or 408), and its response must be written within kResponseTimeout;
//   - `threads` requests are served at once, kMaxQueued more wait, the rest get 503;
//   - after an answer that leaves the stream in doubt (400, 405, 408, 413, 414, 429, 431, 5xx)
//     the connection is closed (and the answer says `Connection: close`).
// Over TLS the handshake runs on a serving thread (bounded by kHeadTimeout), and a request
// counts as ready as soon as encrypted bytes arrive.
// /healthz needs no credentials (for probes); every other path does when auth is configured.
// Methods other than GET and HEAD get 405 with `Allow: GET, HEAD` on every path.
#pragma once

#include <memory>
#include <string>

#include "exporter.hpp"
#include "web_config.hpp"

namespace httplib {
class Server;
}

namespace sipmetrics {

struct HttpSettings {
  std::string host = "0.0.0.0";
  int port = 9477;
  unsigned threads = 4;  // requests served at once at most
  WebConfig web;         // TLS and credentials; empty: plain HTTP, open
};

namespace http {
class ScrapeBufferPool;  // scrape_buffers.hpp
}

class HttpServer {
 public:
  /// Sets up the server; a TLS certificate or key that cannot be loaded is reported by bind().
  HttpServer(Exporter& exporter, HttpSettings settings);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds the listening socket; false with `error` set when the address is unusable or the
  /// TLS files cannot be loaded.
  bool bind(std::string& error);
  /// The bound port (useful with port 0).
  int port() const noexcept { return port_; }
  /// "https" or "http".
  const char* scheme() const noexcept { return settings_.web.tls ? "https" : "http"; }
  /// Serves until stop(); call from its own thread.
  void serve();
  void stop();

  /// Takes the credentials of a reloaded web config (thread-safe). TLS settings are fixed at
  /// start: returns false, changing nothing about TLS, when `web` asks for different ones.
  bool apply_web_config(const WebConfig& web);

 private:
  Exporter& exporter_;
  HttpSettings settings_;
  Authenticator auth_;
  std::shared_ptr<http::ScrapeBufferPool> buffers_;  // before server_: outlives its responses
  std::unique_ptr<httplib::Server> server_;
  std::string setup_error_;
  int port_ = 0;
  int listen_fd_ = -1;
};

}  // namespace sipmetrics
