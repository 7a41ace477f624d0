#include "quantiles.hpp"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <limits>

namespace sipmetrics {
namespace {

// q*n is computed from a q that was itself rounded from a decimal literal, so a product meant to
// be an integer can land a couple of ulps above it (0.07 * 100 == 7.000000000000001) and ceil
// would then skip a rank. A relative tolerance of 8 epsilon covers both roundings with margin.
constexpr double kRankTolerance = 8 * DBL_EPSILON;

// Zero-based index of the nearest-rank q-quantile among n >= 1 sorted values.
std::size_t nearest_rank_index(double q, std::size_t n) noexcept {
  if (!(q > 0.0)) return 0;
  if (q >= 1.0) return n - 1;
  const double x = q * static_cast<double>(n);
  const double nearest = std::round(x);
  const double rank = std::abs(x - nearest) <= x * kRankTolerance ? nearest : std::ceil(x);
  const auto r = static_cast<std::size_t>(rank);
  return r == 0 ? 0 : std::min(r, n) - 1;
}

}  // namespace

SampleWindow::SampleWindow(std::size_t max_samples, std::int64_t max_age_ns)
    : values_(std::max<std::size_t>(max_samples, 1)),
      times_ns_(values_.size()),
      max_age_ns_(max_age_ns) {}

void SampleWindow::push(double value, std::int64_t now_ns) noexcept {
  if (std::isnan(value)) return;
  if (size_ > 0) {
    // Keeping timestamps non-decreasing in ring order is what lets expire() stop at the first
    // live sample.
    now_ns = std::max(now_ns, times_ns_[wrap(head_ + size_ - 1)]);
  }
  std::size_t slot;
  if (size_ < values_.size()) {
    slot = wrap(head_ + size_);
    ++size_;
  } else {
    slot = head_;
    head_ = wrap(head_ + 1);
  }
  values_[slot] = value;
  times_ns_[slot] = now_ns;
}

void SampleWindow::expire(std::int64_t now_ns) noexcept {
  if (max_age_ns_ <= 0) return;
  // now_ns - max_age_ns_ would overflow here; nothing can be older than the minimum timestamp.
  if (now_ns < std::numeric_limits<std::int64_t>::min() + max_age_ns_) return;
  const std::int64_t cutoff = now_ns - max_age_ns_;
  while (size_ > 0 && times_ns_[head_] < cutoff) {
    head_ = wrap(head_ + 1);
    --size_;
  }
  if (size_ == 0) head_ = 0;
}

void SampleWindow::append_values(std::vector<double>& out) const {
  const std::size_t first_run = std::min(size_, values_.size() - head_);
  const auto head = values_.begin() + static_cast<std::ptrdiff_t>(head_);
  if (out.capacity() - out.size() < size_) {
    // Geometric growth so that appending many windows into one vector stays linear; reserving
    // up front also means `out` is untouched if allocation fails.
    out.reserve(std::max(out.size() + size_, 2 * out.capacity()));
  }
  out.insert(out.end(), head, head + static_cast<std::ptrdiff_t>(first_run));
  out.insert(out.end(), values_.begin(),
             values_.begin() + static_cast<std::ptrdiff_t>(size_ - first_run));
}

void compute_quantiles(std::span<double> values, std::span<const double> qs,
                       std::span<double> out) noexcept {
  assert(out.size() >= qs.size());
  const std::size_t count = std::min(qs.size(), out.size());
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  // NaN breaks the strict weak ordering nth_element relies on, so it must not take part.
  const auto end =
      std::partition(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
  const auto n = static_cast<std::size_t>(end - values.begin());
  if (n == 0) {
    std::fill_n(out.begin(), count, kNaN);
    return;
  }

  // Invariant after each selection: every element before values[pivot] is <= it and every
  // element after it is >=, so the next, larger rank only needs the range right of the pivot.
  constexpr std::size_t kNoPivot = std::numeric_limits<std::size_t>::max();
  std::size_t pivot = kNoPivot;
  for (std::size_t i = 0; i < count; ++i) {
    const double q = qs[i];
    if (std::isnan(q)) {
      out[i] = kNaN;
      continue;
    }
    const std::size_t k = nearest_rank_index(q, n);
    if (k != pivot) {
      const auto nth = values.begin() + static_cast<std::ptrdiff_t>(k);
      if (pivot == kNoPivot) {
        std::nth_element(values.begin(), nth, end);
      } else if (k > pivot) {
        std::nth_element(values.begin() + static_cast<std::ptrdiff_t>(pivot + 1), nth, end);
      } else {
        // Out-of-order q: the k-th smallest lies among the elements left of the old pivot.
        std::nth_element(values.begin(), nth, values.begin() + static_cast<std::ptrdiff_t>(pivot));
      }
      pivot = k;
    }
    out[i] = values[k];
  }
}

}  // namespace sipmetrics
