#include <sipmetrics/layout.hpp>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "test_support.hpp"

namespace sipmetrics {
using namespace layout;

TEST_CASE("regions are page-aligned, ordered and inside the segment") {
  for (const Geometry& g : {kDefaultGeometry, test::small_geometry()}) {
    const Regions r = regions_for(g);
    const std::uint64_t offsets[] = {r.writers, r.lanes,    r.catalog, r.whitelist,
                                     r.arena,   r.retained, r.cells,   r.rings};
    std::uint64_t prev = sizeof(Header);
    for (std::uint64_t off : offsets) {
      CHECK(off % 4096 == 0);
      CHECK(off >= prev);
      prev = off;
    }
    CHECK(r.catalog - r.lanes >= std::uint64_t{g.lane_pool} * sizeof(Lane));
    CHECK(r.rings - r.cells >= std::uint64_t{g.lane_pool} * g.max_cells * 8);
    CHECK(r.total >= r.rings + std::uint64_t{g.lane_pool} * g.ring_capacity * sizeof(RingEntry));
    CHECK(r.total % 4096 == 0);
  }
}

TEST_CASE("only reserved cells share a page offset with their lane's producer line") {
  for (const Geometry& g : {kDefaultGeometry, test::small_geometry()}) {
    const Regions r = regions_for(g);
    const std::uint64_t stride = lane_cells_stride(g);
    CHECK(r.rings - r.cells >= std::uint64_t{g.lane_pool} * stride);
    for (std::uint32_t lane = 0; lane < g.lane_pool; ++lane) {
      const std::uint64_t producer = (r.lanes + lane * sizeof(Lane)) % 4096;  // [producer, +64)
      const std::uint64_t first = r.cells + lane * stride;
      CHECK(first + std::uint64_t{g.max_cells} * 8 <= r.cells + (lane + 1) * stride);
      for (std::uint32_t c = 0; c < g.max_cells; ++c) {
        const std::uint64_t page_offset = (first + std::uint64_t{c} * 8) % 4096;
        const bool aliases = page_offset >= producer && page_offset < producer + kCacheLine;
        if (aliases != cell_reserved(c)) {
          FAIL_CHECK("lane " << lane << " cell " << c << ": aliases=" << aliases);
          break;
        }
      }
    }
  }
  // The allocator's rule: a run of cells never starts or reaches into a reserved stretch.
  for (std::uint32_t n :
       {1u, 2u, 8u, 4u, 17u, kMaxHistogramBounds + 3, kCellsPerPage - kAliasedCells})
    for (std::uint32_t at = 0; at < 3 * kCellsPerPage; ++at) {
      const std::uint32_t f = detail::first_fit(at, n);
      CHECK(f >= at);
      for (std::uint32_t c = f; c < f + n; ++c) CHECK_FALSE(cell_reserved(c));
    }
}

TEST_CASE("cell shapes: a histogram owns its buckets, +Inf, sum and count") {
  using detail::CellRole;
  CHECK(detail::cells_for(MetricType::kCounter) == 1);
  CHECK(detail::cells_for(MetricType::kSummary) == 2);
  CHECK(detail::cells_for(MetricType::kHistogram, 0) == 0);
  CHECK(detail::cells_for(MetricType::kHistogram, 1) == 4);
  CHECK(detail::cells_for(MetricType::kHistogram, 14) == 17);
  CHECK(detail::cells_for(MetricType::kHistogram, kMaxHistogramBounds) == kMaxHistogramBounds + 3);
  CHECK(detail::cells_for(MetricType::kHistogram, kMaxHistogramBounds + 1) == 0);
  CHECK(detail::cells_for(static_cast<MetricType>(5)) == 0);  // a type of a later minor version
  for (std::uint32_t i = 0; i < 15; ++i)  // 14 buckets (13 finite + +Inf): counts
    CHECK(detail::cell_role(MetricType::kHistogram, GaugeMode::kSum, i, 17) == CellRole::kCount);
  CHECK(detail::cell_role(MetricType::kHistogram, GaugeMode::kSum, 15, 17) == CellRole::kSum);
  CHECK(detail::cell_role(MetricType::kHistogram, GaugeMode::kSum, 16, 17) == CellRole::kCount);
  CHECK(detail::cell_role(MetricType::kHistogram, GaugeMode::kSum, 17, 17) == CellRole::kUnused);
  CHECK(detail::cell_role(MetricType::kSummary, GaugeMode::kSum, 0, 2) == CellRole::kSum);
  CHECK(detail::cell_role(MetricType::kSummary, GaugeMode::kSum, 1, 2) == CellRole::kCount);
  CHECK(detail::cell_role(MetricType::kGauge, GaugeMode::kSum, 1, 2) == CellRole::kGaugeSumInt);
  CHECK(detail::cell_role(MetricType::kGauge, GaugeMode::kLast, 0, 2) == CellRole::kGaugeLast);
  CHECK(detail::cell_role(MetricType::kGauge, GaugeMode::kMax, 1, 2) == CellRole::kGaugeStamp);
  CHECK(detail::cell_role(MetricType::kCounter, GaugeMode::kSum, 1, 1) == CellRole::kUnused);
  CHECK(detail::retained_role(CellRole::kCount));
  CHECK(detail::retained_role(CellRole::kSum));
}

TEST_CASE("geometry validation bounds every capacity") {
  Geometry g = kDefaultGeometry;
  CHECK(geometry_valid(g));
  g.max_series = 1000;  // not a power of two
  CHECK_FALSE(geometry_valid(g));
  g = kDefaultGeometry;
  g.ring_capacity = 3;
  CHECK_FALSE(geometry_valid(g));
  g = kDefaultGeometry;
  g.max_writers = 0;
  CHECK_FALSE(geometry_valid(g));
  g = kDefaultGeometry;
  g.lanes_per_writer = kMaxLanesPerWriter + 1;
  CHECK_FALSE(geometry_valid(g));
}

TEST_CASE("ring tags carry position and series") {
  const std::uint64_t t = ring_tag(41, 7);
  CHECK((t >> 32) == 42);
  CHECK((t & 0xffffffffu) == 7);
}

TEST_CASE("the first opener creates, later ones adopt") {
  test::TempSegment tmp;
  auto a = test::open_segment(tmp.path(), test::small_geometry());
  REQUIRE(a);
  CHECK(a->created());
  const Header& h = a->view().header();
  CHECK(h.magic == kMagic);
  CHECK(h.version_major == kVersionMajor);
  CHECK(h.init_state.load() == kInitReady);
  CHECK(h.geometry.max_series == 16);
  auto b = test::open_segment(tmp.path(), kDefaultGeometry);  // its own geometry is ignored
  REQUIRE(b);
  CHECK_FALSE(b->created());
  CHECK(b->view().geometry().max_series == 16);
  CHECK(b->view().header().generation == h.generation);
}

TEST_CASE("the segment is created with mode 0660") {
  test::TempSegment tmp;
  const mode_t old = ::umask(0);
  auto a = test::open_segment(tmp.path());
  ::umask(old);
  REQUIRE(a);
  struct stat st {};
  REQUIRE(::stat(tmp.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("a creator that died half-way is detected and the segment re-initialised") {
  test::TempSegment tmp;
  {
    // What a creator leaves if it dies after sizing the file but before publishing the header.
    std::ofstream f(tmp.path(), std::ios::binary);
    std::string zeros(8192, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  auto a = test::open_segment(tmp.path(), test::small_geometry());
  REQUIRE(a);
  CHECK(a->created());
  CHECK(a->view().header().init_state.load() == kInitReady);

  // Same with the magic written but the ready flag never set.
  test::TempSegment tmp2;
  {
    Header h{};
    h.magic = kMagic;
    h.version_major = kVersionMajor;
    std::ofstream f(tmp2.path(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
  }
  auto b = test::open_segment(tmp2.path(), test::small_geometry());
  REQUIRE(b);
  CHECK(b->created());
}

TEST_CASE("another layout version is refused, naming both versions") {
  test::TempSegment tmp;
  {
    Header h{};
    h.magic = kMagic;
    h.version_major = 9;
    h.version_minor = 4;
    h.init_state.store(kInitReady);
    std::ofstream f(tmp.path(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
  }
  auto r = detail::SegmentFile::open(tmp.path(), kDefaultGeometry);
  auto* err = std::get_if<detail::OpenError>(&r);
  REQUIRE(err != nullptr);
  CHECK(err->kind == detail::OpenError::Kind::kVersion);
  CHECK(err->message.find("9.4") != std::string::npos);
  CHECK(err->message.find(std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor)) !=
        std::string::npos);
}

TEST_CASE("a file that is not a segment is left alone") {
  test::TempSegment tmp;
  {
    std::ofstream f(tmp.path(), std::ios::binary);
    std::string junk(4096, 'x');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = detail::SegmentFile::open(tmp.path(), kDefaultGeometry);
  auto* err = std::get_if<detail::OpenError>(&r);
  REQUIRE(err != nullptr);
  CHECK(err->kind == detail::OpenError::Kind::kForeign);
  std::string back(8192, '\0');
  std::ifstream f(tmp.path(), std::ios::binary);
  f.read(back.data(), static_cast<std::streamsize>(back.size()));
  back.resize(static_cast<std::size_t>(f.gcount()));
  CHECK(back == std::string(4096, 'x'));
}

TEST_CASE("a header whose offsets disagree with its geometry is rejected") {
  test::TempSegment tmp;
  auto a = test::open_segment(tmp.path(), test::small_geometry());
  REQUIRE(a);
  a->view().header().catalog_offset += 64;  // a scribbler redirecting readers
  auto r = detail::SegmentFile::open(tmp.path(), kDefaultGeometry);
  auto* err = std::get_if<detail::OpenError>(&r);
  REQUIRE(err != nullptr);
  CHECK(err->kind == detail::OpenError::Kind::kCorrupt);
}

}  // namespace sipmetrics
