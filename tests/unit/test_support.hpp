// Helpers shared by the unit tests.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include <sipmetrics/client.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/file.hpp>
#include <sipmetrics/segment/key.hpp>

#include "exporter.hpp"
#include "snapshot.hpp"

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

/// The cells a fresh segment hands to `series` registrations of `cells_each` cells, in order:
/// what the client's allocator gives, reserved cells skipped (layout::cell_reserved).
inline std::vector<std::uint32_t> first_cells(std::uint32_t series, std::uint32_t cells_each) {
  std::vector<std::uint32_t> out;
  std::uint32_t at = 0;
  for (std::uint32_t i = 0; i < series; ++i) {
    at = detail::first_fit(at, cells_each);
    out.push_back(at);
    at += cells_each;
  }
  return out;
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
  g.family_series_limit = 16;
  g.arena_bytes = 4096;
  return g;
}

/// A Client of its own on `seg` (with geometry `g` if it creates it), alive for the process like
/// every attachment (at most detail::kMaxAttachments segments per test binary).
inline Client& client_for(const TempSegment& seg, layout::Geometry g = layout::kDefaultGeometry) {
  Options o;
  o.segment = seg.path();
  o.writer_name = "unit_test";
  o.geometry = g;
  static std::vector<std::unique_ptr<Client>> clients;
  clients.push_back(std::make_unique<Client>(o));
  return *clients.back();
}

/// The mapped segment of this process's attachment to `seg`.
inline const detail::SegmentView& view_of(const TempSegment& seg) {
  detail::Registry& r = detail::registry();
  for (std::uint32_t i = 0; i < r.count; ++i)
    if (r.items[i]->segment() == seg.path()) return r.items[i]->view();
  FAIL("segment not attached");
  static detail::SegmentView none;
  return none;
}

/// Exporter settings for tests: small quantile windows.
inline ExporterSettings fast() {
  ExporterSettings s;
  s.windows.default_samples = 1000;
  return s;
}

/// Refusals of one kind counted in the segment's header.
inline std::uint64_t refusals(const detail::SegmentView& v, layout::Refusal r) {
  return v.header().refusals[static_cast<std::uint32_t>(r)].load();
}

/// The ready catalog entry of the series named `name` (of type `type`, unless it is 0: any),
/// the first one found; or null.
inline const layout::SeriesEntry* entry_named(const detail::SegmentView& v, std::string_view name,
                                              layout::MetricType type = {}) {
  for (std::uint32_t i = 0; i < v.geometry().max_series; ++i) {
    const layout::SeriesEntry& e = v.entry(i);
    if (layout::entry_state(e.state.load()) != layout::kEntryReady) continue;
    if (type != layout::MetricType{} && e.type != type) continue;
    detail::DecodedKey k;
    const auto key = v.arena_bytes(e.key_offset, e.key_length);
    if (key && detail::decode_key(*key, k) && k.name == name) return &e;
  }
  return nullptr;
}

/// Whether `text` holds `line` as a whole line (a scrape's exposition).
inline bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace sipmetrics::test
