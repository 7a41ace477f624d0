#include "quantiles.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace sipmetrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kPpm = 1'000'000;

// Probabilities are expressed in parts per million so that the reference rank can be computed
// with exact integer arithmetic: ceil(ppm * n / 1e6).
std::size_t reference_index(std::uint64_t ppm, std::size_t n) {
  const std::uint64_t rank = (ppm * n + kPpm - 1) / kPpm;
  return static_cast<std::size_t>(std::max<std::uint64_t>(rank, 1) - 1);
}

std::vector<double> to_probabilities(const std::vector<std::uint64_t>& ppms) {
  std::vector<double> qs;
  for (const std::uint64_t p : ppms) qs.push_back(static_cast<double>(p) / 1e6);
  return qs;
}

// Compares compute_quantiles on a copy of `data` with indexing into a fully sorted copy.
void check_against_sort(const std::vector<double>& data, const std::vector<std::uint64_t>& ppms) {
  std::vector<double> sorted = data;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> work = data;
  const std::vector<double> qs = to_probabilities(ppms);
  std::vector<double> out(qs.size(), -12345.0);
  compute_quantiles(work, qs, out);
  for (std::size_t i = 0; i < ppms.size(); ++i) {
    const double expected = sorted[reference_index(ppms[i], data.size())];
    INFO("n=", data.size(), " q=", qs[i]);
    CHECK(out[i] == expected);
  }
  // Reordered, not altered.
  std::sort(work.begin(), work.end());
  CHECK(work == sorted);
}

std::vector<double> window_values(const SampleWindow& window) {
  std::vector<double> values;
  window.append_values(values);
  return values;
}

}  // namespace

TEST_CASE("compute_quantiles matches a sort-based reference on random data") {
  std::mt19937_64 rng(0x5eed);
  const std::vector<std::uint64_t> standard = {0,       1'000,   10'000,  50'000,   100'000,
                                               250'000, 500'000, 750'000, 900'000,  950'000,
                                               990'000, 999'000, 999'900, 1'000'000};
  const std::vector<std::size_t> sizes = {1, 2, 3, 4, 5, 7, 10, 16, 17, 99, 100, 101, 1000, 4096};
  std::uniform_real_distribution<double> wide(-1e6, 1e6);
  std::uniform_int_distribution<int> narrow(-3, 3);
  std::uniform_int_distribution<int> coin(0, 19);
  std::uniform_int_distribution<std::uint64_t> any_ppm(0, kPpm);

  int data_sets = 0;
  for (int round = 0; round < 20; ++round) {
    for (const std::size_t n : sizes) {
      for (int kind = 0; kind < 4; ++kind) {
        std::vector<double> data(n);
        for (double& v : data) {
          switch (kind) {
            case 0:  // distinct-ish reals, negative and positive
              v = wide(rng);
              break;
            case 1:  // heavy duplicates
              v = narrow(rng);
              break;
            case 2:  // reals sprinkled with infinities
              v = coin(rng) == 0 ? kInf : coin(rng) == 0 ? -kInf : wide(rng);
              break;
            default:  // all equal, with a signed zero mix
              v = coin(rng) < 10 ? 0.0 : -0.0;
              break;
          }
        }
        check_against_sort(data, standard);

        std::vector<std::uint64_t> random_ppms(static_cast<std::size_t>(coin(rng)) + 1);
        for (std::uint64_t& p : random_ppms) p = any_ppm(rng);
        std::sort(random_ppms.begin(), random_ppms.end());
        check_against_sort(data, random_ppms);
        ++data_sets;
      }
    }
  }
  CHECK(data_sets == 20 * 14 * 4);
}

TEST_CASE("compute_quantiles rank rule for every permille and small n") {
  // With values 0..n-1 the quantile value is its own index, so this checks the rank arithmetic,
  // including the products that floating point lands just above an integer (0.07 * 100).
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> ppms;
  for (std::uint64_t permille = 0; permille <= 1000; ++permille) ppms.push_back(permille * 1000);
  const std::vector<double> qs = to_probabilities(ppms);
  std::vector<double> out(qs.size());
  for (std::size_t n = 1; n <= 300; ++n) {
    std::vector<double> values(n);
    std::iota(values.begin(), values.end(), 0.0);
    std::shuffle(values.begin(), values.end(), rng);
    compute_quantiles(values, qs, out);
    for (std::size_t i = 0; i < qs.size(); ++i) {
      INFO("n=", n, " q=", qs[i]);
      REQUIRE(out[i] == static_cast<double>(reference_index(ppms[i], n)));
    }
  }
}

TEST_CASE("compute_quantiles named cases") {
  SUBCASE("q=0.9 of ten values is the ninth") {
    std::vector<double> values = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    const double qs[] = {0.9};
    double out[1];
    compute_quantiles(values, qs, out);
    CHECK(out[0] == 9.0);
  }
  SUBCASE("q=0.07 of a hundred values is the seventh") {
    std::vector<double> values(100);
    std::iota(values.begin(), values.end(), 1.0);
    const double qs[] = {0.07, 0.29, 0.57};
    double out[3];
    compute_quantiles(values, qs, out);
    CHECK(out[0] == 7.0);
    CHECK(out[1] == 29.0);
    CHECK(out[2] == 57.0);
  }
  SUBCASE("extremes, single and two values") {
    std::vector<double> one = {-4.5};
    const double qs[] = {0.0, 0.5, 1.0};
    double out[3];
    compute_quantiles(one, qs, out);
    CHECK(out[0] == -4.5);
    CHECK(out[1] == -4.5);
    CHECK(out[2] == -4.5);

    std::vector<double> two = {3.0, -kInf};
    compute_quantiles(two, qs, out);
    CHECK(out[0] == -kInf);
    CHECK(out[1] == -kInf);
    CHECK(out[2] == 3.0);
  }
  SUBCASE("empty values give NaN for every q") {
    std::vector<double> values;
    const double qs[] = {0.0, 0.5, 1.0};
    double out[3] = {1, 2, 3};
    compute_quantiles(values, qs, out);
    for (const double v : out) CHECK(std::isnan(v));
  }
  SUBCASE("empty qs writes nothing") {
    std::vector<double> values = {1, 2};
    double sentinel = 42;
    compute_quantiles(values, {}, std::span<double>(&sentinel, 0));
    CHECK(sentinel == 42);
  }
  SUBCASE("NaN values are ignored, all-NaN is empty") {
    std::vector<double> values = {kNaN, 3, 1, kNaN, 2, kNaN};
    const double qs[] = {0.0, 0.5, 1.0};
    double out[3];
    compute_quantiles(values, qs, out);
    CHECK(out[0] == 1.0);
    CHECK(out[1] == 2.0);
    CHECK(out[2] == 3.0);

    std::vector<double> nans = {kNaN, kNaN};
    compute_quantiles(nans, qs, out);
    for (const double v : out) CHECK(std::isnan(v));
  }
  SUBCASE("out-of-range and NaN q") {
    std::vector<double> values = {5, 1, 4, 2, 3};
    const double qs[] = {-0.5, kNaN, 0.4, 7.0};
    double out[4];
    compute_quantiles(values, qs, out);
    CHECK(out[0] == 1.0);
    CHECK(std::isnan(out[1]));
    CHECK(out[2] == 2.0);
    CHECK(out[3] == 5.0);
  }
  SUBCASE("non-ascending qs still give exact results") {
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> dist(-100, 100);
    std::vector<double> data(257);
    for (double& v : data) v = dist(rng);
    check_against_sort(data, {990'000, 500'000, 500'000, 10'000, 1'000'000, 0, 750'000, 250'000});
  }
}

TEST_CASE("SampleWindow count bound and ring wrap-around") {
  SampleWindow window(3, 0);
  CHECK(window.max_samples() == 3);
  CHECK(window.size() == 0);
  CHECK(window_values(window).empty());

  for (int i = 1; i <= 5; ++i) window.push(i, i);
  CHECK(window.size() == 3);
  CHECK(window_values(window) == std::vector<double>{3, 4, 5});

  SampleWindow ring(7, 0);
  for (int i = 1; i <= 100; ++i) {
    ring.push(i, i);
    CHECK(ring.size() == static_cast<std::size_t>(std::min(i, 7)));
  }
  std::vector<double> values = window_values(ring);
  std::sort(values.begin(), values.end());
  CHECK(values == std::vector<double>{94, 95, 96, 97, 98, 99, 100});
}

TEST_CASE("SampleWindow ignores NaN, keeps infinities, clamps capacity") {
  SampleWindow window(0, 0);
  CHECK(window.max_samples() == 1);
  window.push(kNaN, 1);
  CHECK(window.size() == 0);
  window.push(kInf, 2);
  window.push(kNaN, 3);
  CHECK(window_values(window) == std::vector<double>{kInf});
  window.push(-kInf, 4);
  CHECK(window_values(window) == std::vector<double>{-kInf});
}

TEST_CASE("SampleWindow append_values appends") {
  SampleWindow window(4, 0);
  window.push(1, 0);
  window.push(2, 0);
  std::vector<double> out = {42};
  window.append_values(out);
  CHECK(out == std::vector<double>{42, 1, 2});
}

TEST_CASE("SampleWindow age bound") {
  SampleWindow window(100, 100);
  CHECK(window.max_age_ns() == 100);
  window.push(1, 0);
  window.push(2, 50);
  window.push(3, 100);
  window.push(4, 150);

  window.expire(150);  // cutoff 50: t=0 is older, t=50 is exactly max_age old and stays
  CHECK(window_values(window) == std::vector<double>{2, 3, 4});
  window.expire(200);
  CHECK(window_values(window) == std::vector<double>{3, 4});
  window.expire(200);
  CHECK(window.size() == 2);
  window.expire(251);
  CHECK(window.size() == 0);
  window.push(5, 300);
  CHECK(window_values(window) == std::vector<double>{5});

  SUBCASE("no age bound when max_age_ns <= 0") {
    for (const std::int64_t age : {std::int64_t{0}, std::int64_t{-5}}) {
      SampleWindow unbounded(10, age);
      unbounded.push(1, std::numeric_limits<std::int64_t>::min());
      unbounded.expire(std::numeric_limits<std::int64_t>::max());
      CHECK(unbounded.size() == 1);
    }
  }
  SUBCASE("extreme timestamps do not overflow") {
    SampleWindow extreme(10, std::numeric_limits<std::int64_t>::max());
    extreme.push(1, std::numeric_limits<std::int64_t>::min());
    extreme.expire(std::numeric_limits<std::int64_t>::min());
    extreme.expire(-1);
    CHECK(extreme.size() == 1);
    extreme.expire(0);  // cutoff is INT64_MIN + 1
    CHECK(extreme.size() == 0);
  }
  SUBCASE("a sample timestamped before its predecessor is aged with the predecessor") {
    SampleWindow late(10, 100);
    late.push(1, 100);
    late.push(2, 50);
    late.expire(200);
    CHECK(window_values(late) == std::vector<double>{1, 2});
    late.expire(201);
    CHECK(late.size() == 0);
  }
  SUBCASE("count and age bounds combine") {
    SampleWindow both(3, 10);
    for (int i = 0; i < 10; ++i) both.push(i, i);
    CHECK(window_values(both) == std::vector<double>{7, 8, 9});
    both.expire(18);
    CHECK(window_values(both) == std::vector<double>{8, 9});
  }
}

}  // namespace sipmetrics
