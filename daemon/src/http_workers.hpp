// The serving threads of the HTTP front and their bounded queue.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "http_connection.hpp"

namespace sipmetrics::http {

/// `threads` serving threads, kMaxQueued connections waiting at most.
class Workers {
 public:
  using Job = std::function<void(Idle)>;
  Workers(unsigned threads, Job job);
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { stop(); }

  /// Queues a connection with a request ready; false (the caller still owns it) when full.
  bool submit(Idle c);
  /// Joins the threads and closes every connection still queued.
  void stop();

 private:
  void work();

  Job job_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Idle> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sipmetrics::http
