#include "http_workers.hpp"

#include <algorithm>
#include <utility>

namespace sipmetrics::http {

Workers::Workers(unsigned threads, Job job) : job_(std::move(job)) {
  for (unsigned i = 0; i < std::max(1u, threads); ++i) threads_.emplace_back([this] { work(); });
}

bool Workers::submit(Idle c) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= kMaxQueued) return false;
    jobs_.push_back(c);
  }
  cv_.notify_one();
  return true;
}

void Workers::stop() {
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

void Workers::work() {
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

}  // namespace sipmetrics::http
