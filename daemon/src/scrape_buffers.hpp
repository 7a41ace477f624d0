// Buffers of the /metrics answers, pooled.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gzip.hpp"

namespace sipmetrics::http {

/// Buffers of one /metrics answer: the exposition text and its gzip form.
struct ScrapeBuffers {
  std::string body;
  GzipEncoder gzip;
};

/// Pooled rather than kept per serving thread, so their memory follows the scrapes in flight
/// (one with a single Prometheus, two with an HA pair) rather than every thread that ever served
/// one; capacities settle after the first scrapes, and then a scrape allocates nothing.
class ScrapeBufferPool : public std::enable_shared_from_this<ScrapeBufferPool> {
 public:
  /// A set of buffers, back in the pool when the last copy of the pointer goes.
  std::shared_ptr<ScrapeBuffers> acquire();

 private:
  static constexpr std::size_t kMaxIdle = 2;
  void release(ScrapeBuffers* p);

  std::mutex mu_;
  std::vector<std::unique_ptr<ScrapeBuffers>> idle_;
};

}  // namespace sipmetrics::http
