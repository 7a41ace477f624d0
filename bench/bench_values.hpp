// Values the benchmark programs share, so that sipmetrics and its peer (bench_peer.cpp,
// prometheus-cpp) observe exactly the same numbers and bounds.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace sipmetrics::bench {

/// 4,096 SIP-like latencies in ms, log-spread over 1 ms .. 40 s, in a fixed shuffled order: they
/// land in every bucket of kSipLatencyBucketsMs, so a branchy search would mispredict as it
/// would on real traffic. Read with one load per iteration (`v[++i & 4095]`).
inline const double* latencies() {
  static const std::vector<double> v = [] {
    std::vector<double> out(4096);
    std::uint64_t x = 88172645463325252ULL;
    for (double& d : out) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      d = std::exp2(static_cast<double>(x % 15'287) / 1000.0);  // 2^0 .. 2^15.3 ms
    }
    return out;
  }();
  return v.data();
}

/// Ten bounds for the like-for-like histogram comparison with prometheus-cpp (whose figure is
/// asked for with 10 buckets): kSipLatencyBucketsMs up to the retransmission intervals (5 ms to
/// 4 s), without 3000 and the bounds above 4 s. About a fifth of latencies() lands in +Inf.
inline constexpr std::array<double, 10> kTenBoundsMs = {5,   10,  25,   50,   100,
                                                        250, 500, 1000, 2000, 4000};

}  // namespace sipmetrics::bench
