#include "snapshot.hpp"

#include <algorithm>

namespace sipmetrics {

using detail::bits_f64;

const std::atomic<std::uint64_t>* current_retained(const detail::SegmentView& v) noexcept {
  return v.retained(v.header().retained_epoch.load(std::memory_order_acquire));
}

bool lane_counted(const detail::SegmentView& v, std::uint32_t l) noexcept {
  return l == layout::spill_lane(v.geometry()) ||
         v.lane(l).owner.load(std::memory_order_acquire) != 0;
}

double sum_word(std::uint64_t bits) noexcept {
  const double d = bits_f64(bits);
  return detail::valid_sample(d) ? d : 0.0;
}

std::uint64_t fold_cell(CellRole role, std::uint64_t retained, std::uint64_t lane) noexcept {
  switch (role) {
    case CellRole::kCount: return detail::saturating_add(retained, lane);
    case CellRole::kSum: return detail::f64_bits(sum_word(retained) + sum_word(lane));
    default: return retained;
  }
}

void take_snapshot(const detail::SegmentView& v, const Catalog& catalog, CellTotals& out) {
  const std::uint32_t n = catalog.cells_in_use();
  const std::vector<CellRole>& roles = catalog.cell_roles();
  out.u.assign(n, 0);
  out.f.assign(n, 0.0);
  const std::atomic<std::uint64_t>* retained = current_retained(v);
  for (std::uint32_t c = 0; c < n; ++c) {
    if (roles[c] == CellRole::kCount)
      out.u[c] = retained[c].load(std::memory_order_relaxed);
    else if (roles[c] == CellRole::kSum)
      out.f[c] = sum_word(retained[c].load(std::memory_order_relaxed));
  }
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l) {
    if (!lane_counted(v, l)) continue;
    const std::atomic<std::uint64_t>* cells = v.cells(l);
    for (std::uint32_t c = 0; c < n; ++c) {
      const CellRole role = roles[c];
      if (role == CellRole::kUnused || role == CellRole::kGaugeStamp) continue;
      const std::uint64_t x = cells[c].load(std::memory_order_relaxed);
      switch (role) {
        case CellRole::kCount: out.u[c] = detail::saturating_add(out.u[c], x); break;
        case CellRole::kSum: out.f[c] += sum_word(x); break;
        case CellRole::kGaugeSum: out.f[c] += bits_f64(x); break;
        case CellRole::kGaugeSumInt:
          out.f[c] += static_cast<double>(static_cast<std::int64_t>(x));
          break;
        default: {
          const std::uint64_t stamp = cells[c + 1].load(std::memory_order_relaxed);
          if (stamp == 0) break;  // this lane never set it
          const auto mode = role == CellRole::kGaugeMax   ? layout::GaugeMode::kMax
                            : role == CellRole::kGaugeMin ? layout::GaugeMode::kMin
                                                          : layout::GaugeMode::kLast;
          if (gauge_prefers(mode, bits_f64(x), stamp, out.u[c] != 0, out.f[c], out.u[c + 1])) {
            out.f[c] = bits_f64(x);
            out.u[c + 1] = stamp;
          }
          out.u[c] = 1;
        }
      }
    }
  }
}

std::uint64_t count_total(const detail::SegmentView& v, std::uint32_t cell) noexcept {
  if (cell >= v.geometry().max_cells) return 0;
  std::uint64_t sum = current_retained(v)[cell].load(std::memory_order_relaxed);
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l)
    if (lane_counted(v, l))
      sum = detail::saturating_add(sum, v.cells(l)[cell].load(std::memory_order_relaxed));
  return sum;
}

std::uint64_t dropped_samples(const detail::SegmentView& v) noexcept {
  const layout::Header& h = v.header();
  const std::uint64_t epoch = h.retained_epoch.load(std::memory_order_acquire);
  std::uint64_t dropped = h.retained_dropped[epoch & 1].load(std::memory_order_relaxed);
  for (std::uint32_t l = 0; l < v.geometry().lane_pool; ++l)
    if (lane_counted(v, l)) dropped += v.lane(l).dropped.load(std::memory_order_relaxed);
  return dropped;
}

}  // namespace sipmetrics
