#include "http_server.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

namespace sipmetrics {
HttpServer::HttpServer(Exporter& exporter, HttpSettings settings)
    : exporter_(exporter), settings_(std::move(settings)), server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  const unsigned threads = settings_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(64 * 1024);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second daemon bind the same port
  // and silently take half the scrapes. SO_REUSEADDR alone allows a quick restart, nothing more.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  s.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    // One buffer per HTTP thread: its capacity settles after the first scrapes.
    thread_local std::string body;
    const Format format = negotiate(req.get_header_value("Accept"));
    exporter_.scrape(body, format);
    res.set_content(body, std::string(content_type(format)));
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const ExporterStatus st = exporter_.status();
    res.set_content("ok\nwriters " + std::to_string(st.live_writers) + "\nseries " +
                        std::to_string(st.series) + "\n",
                    "text/plain; charset=utf-8");
  });
  // Only GET (and HEAD, which cpp-httplib serves from the GET handlers) exist here.
  const auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("method not allowed\n", "text/plain; charset=utf-8");
  };
  s.Post(".*", not_allowed);
  s.Put(".*", not_allowed);
  s.Patch(".*", not_allowed);
  s.Delete(".*", not_allowed);
  s.Options(".*", not_allowed);
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "<!doctype html><html><head><title>sipmetricsd</title></head><body>"
        "<h1>sipmetricsd</h1><p><a href=\"/metrics\">/metrics</a> &middot; "
        "<a href=\"/healthz\">/healthz</a></p></body></html>\n",
        "text/html; charset=utf-8");
  });
}

HttpServer::~HttpServer() = default;

bool HttpServer::bind(std::string& error) {
  if (settings_.port == 0) {
    port_ = server_->bind_to_any_port(settings_.host);
    if (port_ > 0) return true;
  } else if (server_->bind_to_port(settings_.host, settings_.port)) {
    port_ = settings_.port;
    return true;
  }
  {
    error = "cannot listen on " + settings_.host + ":" + std::to_string(settings_.port) +
            " (address in use, or not an address of this host)";
    return false;
  }
}

void HttpServer::serve() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

}  // namespace sipmetrics
