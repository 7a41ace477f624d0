// Summary sample window and nearest-rank quantile computation for sipmetricsd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sipmetrics {

/// Sliding window of summary samples, bounded by count and by age.
///
/// Storage is a ring buffer preallocated at construction, so push/expire/size never allocate
/// (the drain replaces a window whose size changes by a new one). When the window is full, push
/// overwrites the oldest sample.
///
/// Timestamps are nanoseconds on a monotonic clock. Samples are kept in push order and a sample
/// whose timestamp is older than that of the newest live sample is stored with the newest
/// sample's timestamp instead, so that samples timestamped just before their owner took the lock
/// cannot hide behind newer ones; the effect is that such a sample may live slightly longer.
///
/// Not thread-safe: the caller must serialise every call on one instance (const calls may run
/// concurrently with each other).
class SampleWindow {
 public:
  /// Creates an empty window holding at most `max_samples` samples (values below 1 are treated
  /// as 1) no older than `max_age_ns` nanoseconds; `max_age_ns <= 0` means no age bound.
  /// Throws std::bad_alloc or std::length_error if the buffer cannot be allocated.
  SampleWindow(std::size_t max_samples, std::int64_t max_age_ns);

  /// Appends `value` observed at `now_ns` (monotonic nanoseconds); when the window is full the
  /// oldest sample is overwritten. NaN values are ignored; ±Inf are stored. Never allocates.
  void push(double value, std::int64_t now_ns) noexcept;

  /// Drops every sample whose timestamp is strictly before `now_ns - max_age_ns`, i.e. samples
  /// exactly `max_age_ns` old are kept. No-op when the window has no age bound. Never allocates;
  /// cost is proportional to the number of samples dropped.
  void expire(std::int64_t now_ns) noexcept;

  /// Number of live samples (those not yet overwritten, expired or cleared).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Current capacity in samples (always >= 1).
  [[nodiscard]] std::size_t max_samples() const noexcept { return values_.size(); }

  /// Age bound in nanoseconds; <= 0 means none.
  [[nodiscard]] std::int64_t max_age_ns() const noexcept { return max_age_ns_; }

  /// Appends the live samples' values to `out`, oldest first. Allocates only if `out` lacks
  /// capacity; on allocation failure throws std::bad_alloc and leaves both `out` and the window
  /// unchanged.
  void append_values(std::vector<double>& out) const;

 private:
  [[nodiscard]] std::size_t wrap(std::size_t index) const noexcept {
    return index >= values_.size() ? index - values_.size() : index;
  }

  // Parallel arrays rather than an array of pairs so that append_values can copy contiguous
  // value runs and expire only touches timestamps.
  std::vector<double> values_;
  std::vector<std::int64_t> times_ns_;
  std::size_t head_ = 0;  // index of the oldest live sample
  std::size_t size_ = 0;
  std::int64_t max_age_ns_;
};

/// Computes quantiles of `values` for the probabilities `qs`, writing out[i] for qs[i].
///
/// Definition (nearest rank): with n the number of non-NaN values, the result for q is the
/// element at index max(ceil(q*n), 1) - 1 of the values sorted ascending. q*n is taken to be an
/// integer when it lies within a few ulps of one, so that decimal probabilities behave as written
/// (q = 0.9, n = 10 gives rank 9, q = 0.07, n = 100 gives rank 7).
///
/// `values` is reordered in place: NaN values are moved to the end and ignored. `qs` should be
/// ascending with each q in [0, 1]; q < 0 is treated as 0, q > 1 as 1, and a NaN q yields NaN.
/// A non-ascending `qs` still gives correct results, only more slowly. When there are no non-NaN
/// values every output is NaN. Only the first min(qs.size(), out.size()) outputs are written;
/// passing a shorter `out` than `qs` is a precondition violation (asserted in debug builds).
///
/// Cost: one partition pass plus successive std::nth_element calls, each restricted to the range
/// right of the previous pivot, so the total is close to that of a single nth_element over the
/// data rather than a sort. Never allocates. Thread-safe as long as the spans are not shared with
/// a concurrent writer.
void compute_quantiles(std::span<double> values, std::span<const double> qs,
                       std::span<double> out) noexcept;

}  // namespace sipmetrics
