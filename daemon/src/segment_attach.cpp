#include "segment_attach.hpp"

#include <variant>

#include <spdlog/spdlog.h>

#include <sipmetrics/segment/access.hpp>
#include <sipmetrics/segment/liveness.hpp>
#include <sipmetrics/segment/naming.hpp>

namespace sipmetrics {

int attach_segment(const DaemonConfig& cfg, std::unique_ptr<detail::SegmentFile>& segment) {
  using OpenKind = detail::OpenError::Kind;
  auto opened = detail::SegmentFile::open(cfg.segment, cfg.geometry, cfg.segment_group);
  if (auto* err = std::get_if<detail::OpenError>(&opened);
      err != nullptr && cfg.recreate_incompatible &&
      (err->kind == OpenKind::kVersion || err->kind == OpenKind::kForeign ||
       err->kind == OpenKind::kCorrupt)) {
    spdlog::warn("{}", err->message);
    std::string why;
    if (!detail::remove_segment(cfg.segment, why)) {
      spdlog::critical("--recreate-incompatible: cannot remove segment '{}': {}", cfg.segment, why);
      return kExitConfiguration;
    }
    spdlog::warn(
        "--recreate-incompatible: removed segment '{}' and creating a new one; what it "
        "held is lost, and writers still attached to it must be restarted",
        cfg.segment);
    opened = detail::SegmentFile::open(cfg.segment, cfg.geometry, cfg.segment_group);
  }
  if (auto* err = std::get_if<detail::OpenError>(&opened)) {
    spdlog::critical("{}", err->message);
    if (err->kind == OpenKind::kVersion || err->kind == OpenKind::kForeign ||
        err->kind == OpenKind::kCorrupt)
      spdlog::critical(
          "remove the old segment (rm {}{}) once its writers are stopped, start "
          "sipmetricsd with --recreate-incompatible, or give it another --segment",
          detail::segment_is_path(cfg.segment) ? "" : "/dev/shm/", cfg.segment);
    return kExitConfiguration;
  }
  segment = std::move(std::get<std::unique_ptr<detail::SegmentFile>>(opened));
  long holder = 0;
  if (!detail::try_lock_byte(segment->fd(), layout::kDaemonLockByte)) {
    detail::byte_locked(segment->fd(), layout::kDaemonLockByte, &holder);
    spdlog::critical("segment '{}' is already served by another sipmetricsd (pid {})", cfg.segment,
                     holder);
    return 1;
  }
  auto& header = segment->view().header();
  header.daemon_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
  const auto& g = segment->view().geometry();
  spdlog::info("segment '{}' {} ({} MiB: {} writers, {} lanes, {} series, {} cells)", cfg.segment,
               segment->created() ? "created" : "attached", segment->view().size() >> 20,
               g.max_writers, g.lane_pool, g.max_series, g.max_cells);
  if (!segment->group_error().empty()) {
    spdlog::critical("{} (--segment-group)", segment->group_error());
    return kExitConfiguration;
  }
  for (const std::string& w : detail::segment_access_warnings(segment->fd(), cfg.segment_group))
    spdlog::warn("segment '{}': {}", cfg.segment, w);
  return 0;
}

}  // namespace sipmetrics
