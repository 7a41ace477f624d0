#include "http_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "guarded_server.hpp"
#include "http_warnings.hpp"
#include "negotiation.hpp"
#include "scrape_buffers.hpp"

namespace sipmetrics {
namespace {

using http::kHeadTimeout;
using http::kListenBacklog;
using http::kMaxRequestBytes;

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

HttpServer::HttpServer(Exporter& exporter, HttpSettings settings)
    : exporter_(exporter),
      settings_(std::move(settings)),
      buffers_(std::make_shared<http::ScrapeBufferPool>()) {
  auth_.apply(settings_.web);
  const unsigned threads = std::max(1u, settings_.threads);
  if (settings_.web.tls) {
    const TlsFiles files = *settings_.web.tls;
    server_ = std::make_unique<http::GuardedServer<httplib::SSLServer>>(
        threads, [files, this](SSL_CTX& ctx) { return load_tls_files(&ctx, files, setup_error_); });
  } else {
    server_ = std::make_unique<http::GuardedServer<httplib::Server>>(threads);
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
    http::denied_warning.note("request refused for missing or wrong credentials",
                              req.remote_addr + " " + req.path);
    return Routed::Handled;
  });

  s.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    // The answer goes out from the pooled buffers without a copy; they return to the pool when
    // cpp-httplib drops the provider. gzip is done here, at zlib's fastest level.
    std::shared_ptr<http::ScrapeBuffers> buffers = buffers_->acquire();
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
