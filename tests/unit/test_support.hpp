// Helpers shared by the unit tests.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>

#include <sipmetrics/detail/segment.hpp>

namespace sipmetrics::test {

/// A fresh directory with a segment path inside; removed with everything in it.
class TempSegment {
 public:
  TempSegment() {
    char tmpl[] = "/tmp/sipmetrics-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/segment";
  }
  ~TempSegment() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempSegment(const TempSegment&) = delete;
  TempSegment& operator=(const TempSegment&) = delete;
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, path_;
};

/// Opens (or creates) a segment the way the daemon does; fails the test if it cannot.
inline std::unique_ptr<detail::SegmentFile> open_segment(
    const std::string& path, const layout::Geometry& g = layout::kDefaultGeometry) {
  auto r = detail::SegmentFile::open(path, g);
  if (auto* f = std::get_if<std::unique_ptr<detail::SegmentFile>>(&r)) return std::move(*f);
  return nullptr;
}

/// Sum of one u64 cell over every owned lane plus the current retained total.
inline std::uint64_t cell_total(const detail::SegmentView& v, std::uint32_t cell) {
  std::uint64_t sum = v.retained(v.header().retained_epoch.load())[cell].load();
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l)
    if (v.lane(l).owner.load() != 0) sum += v.cells(l)[cell].load();
  return sum;
}

/// A small geometry for tests that fill things up.
inline layout::Geometry small_geometry() {
  layout::Geometry g = layout::kDefaultGeometry;
  g.max_writers = 8;
  g.lane_pool = 16;
  g.lanes_per_writer = 4;
  g.max_series = 16;
  g.max_cells = 64;
  g.ring_capacity = 64;
  g.max_whitelists = 4;
  g.arena_bytes = 4096;
  return g;
}

}  // namespace sipmetrics::test
