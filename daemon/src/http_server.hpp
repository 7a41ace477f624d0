// The HTTP front: /metrics, /healthz and a small landing page, on cpp-httplib with a bounded
// thread pool.
#pragma once

#include <memory>
#include <string>

#include "exporter.hpp"

namespace httplib {
class Server;
}

namespace sipmetrics {

struct HttpSettings {
  std::string host = "0.0.0.0";
  int port = 9477;
  unsigned threads = 4;  // concurrent requests at most; more wait in the kernel's backlog
};

class HttpServer {
 public:
  HttpServer(Exporter& exporter, HttpSettings settings);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds the listening socket; false with `error` set when the address is unusable.
  bool bind(std::string& error);
  /// The bound port (useful with port 0).
  int port() const noexcept { return port_; }
  /// Serves until stop(); call from its own thread.
  void serve();
  void stop();

 private:
  Exporter& exporter_;
  HttpSettings settings_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
};

}  // namespace sipmetrics
