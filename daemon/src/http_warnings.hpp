// Warnings of the HTTP front that a flood could repeat thousands of times a second: each is
// logged at most once a minute, with how often it happened since its last line.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "http_limits.hpp"

namespace sipmetrics::http {

class RateLimitedWarning {
 public:
  void note(const char* what, const std::string& detail) {
    const std::uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    std::int64_t last = last_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < 60) return;
    if (!last_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    count_.fetch_sub(n, std::memory_order_relaxed);
    spdlog::warn("http: {} ({} time{} in the last minute; latest: {})", what, n, n == 1 ? "" : "s",
                 detail);
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> last_{0};
};

/// Connections closed or refused for want of room (the Gate, the serving queue).
inline RateLimitedWarning shed_warning;
/// Requests refused for missing or wrong credentials.
inline RateLimitedWarning denied_warning;

}  // namespace sipmetrics::http
