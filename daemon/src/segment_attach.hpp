// How sipmetricsd takes its segment: open it (creating it if nobody has), replace an
// incompatible one only when --recreate-incompatible says so, refuse a segment another daemon
// serves (the daemon lock byte), and warn about who may write it.
#pragma once

#include <memory>

#include <sipmetrics/segment/file.hpp>

#include "config.hpp"

namespace sipmetrics {

/// Opens and claims the configured segment into `segment`. Returns 0, or the exit status after
/// logging why not (critical lines naming the segment and what to do): kExitConfiguration for
/// a segment that cannot be used as named, 1 for one another daemon serves.
int attach_segment(const DaemonConfig& cfg, std::unique_ptr<detail::SegmentFile>& segment);

}  // namespace sipmetrics
