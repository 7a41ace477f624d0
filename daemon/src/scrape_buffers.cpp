#include "scrape_buffers.hpp"

#include <utility>

namespace sipmetrics::http {

std::shared_ptr<ScrapeBuffers> ScrapeBufferPool::acquire() {
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

void ScrapeBufferPool::release(ScrapeBuffers* p) {
  std::unique_ptr<ScrapeBuffers> b(p);
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(b));
}

}  // namespace sipmetrics::http
