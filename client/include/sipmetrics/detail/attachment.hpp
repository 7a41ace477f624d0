// The client's per-process state for one segment: its writer slot, the lanes its threads
// write, the per-thread lane bindings, fork handling, and the process-wide table of attachments.
// All of it is cold (once per process, thread, series or fork) except lane_for()'s fast check.
#pragma once

#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <sipmetrics/detail/catalog_writer.hpp>
#include <sipmetrics/detail/lane.hpp>
#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/cells.hpp>
#include <sipmetrics/segment/file.hpp>
#include <sipmetrics/segment/key.hpp>

namespace sipmetrics::detail {

class Attachment {
 public:
  Attachment(std::uint8_t id, std::string segment, std::string writer_name,
             std::unique_ptr<SegmentFile> file) noexcept
      : id_(id),
        segment_(std::move(segment)),
        writer_name_(std::move(writer_name)),
        file_(std::move(file)) {
    if (file_) {
      view_ = file_->view();
      catalog_ = CatalogWriter(view_, id_);
    }
  }

  bool attached() const noexcept { return file_ != nullptr; }
  std::uint8_t id() const noexcept { return id_; }
  const std::string& segment() const noexcept { return segment_; }
  const SegmentView& view() const noexcept { return view_; }

  /// Finds or registers a series. Idempotent across threads and processes; never throws; a
  /// refusal (full catalog, bad name, ...) is counted in the header and yields a no-op ref.
  /// A histogram passes its bounds and gets where they lie in the arena (CatalogWriter).
  SeriesRef register_series(layout::MetricType type, std::string_view name, std::string_view help,
                            Labels labels, layout::GaugeMode mode, std::uint32_t window_samples,
                            std::span<const double> bounds = {},
                            const double** bounds_out = nullptr,
                            NativeWindow native = {}) noexcept {
    if (!attached()) return {};
    return catalog_.register_series(type, name, help, labels, mode, window_samples, claimer(),
                                    bounds, bounds_out, native);
  }

  /// Declares the label keys allowed for a family (the seed's RegisterLabels: the newest
  /// declaration wins).
  void register_labels(std::string_view family, std::span<const std::string_view> keys) noexcept {
    if (!attached()) return;
    std::lock_guard lock(mu_);
    catalog_.register_labels(family, keys);
  }

  /// Binds the calling thread to a lane: one of its own (claiming the writer slot first if
  /// needed), its writer's shared lane, or, when no slot or lane is free, the spill lane.
  bool bind_thread() noexcept;
  /// A spill-lane thread's retry for a lane of its own, once capacity has been freed.
  LaneBinding* rebind(LaneBinding& b) noexcept;
  /// Returns a thread's exclusive lane to this writer's idle list (thread exit).
  void release_lane(std::uint32_t lane_index) noexcept;
  /// In a fork child: forget the parent's slot and lanes; the child claims its own on first write.
  void reset_after_fork() noexcept;
  std::mutex& mutex() noexcept { return mu_; }

  /// Counts a summary sample that was not recorded (detail::valid_sample).
  void count_invalid_sample() const noexcept {
    view_.header().invalid_samples.fetch_add(1, std::memory_order_relaxed);
  }

  /// Samples dropped by full rings on this writer's lanes (Client::async_dropped_count()).
  std::uint64_t own_lanes_dropped() const noexcept {
    if (!attached()) return 0;
    std::uint64_t sum = 0;
    const std::uint32_t n = own_count_.load(std::memory_order_acquire);
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t l = own_lanes_[k].load(std::memory_order_relaxed);
      sum += view_.lane(l).dropped.load(std::memory_order_relaxed);
    }
    return sum;
  }

  /// A sum-mode gauge's contribution from this writer's lanes other than `except` (set()).
  double other_lanes_gauge(std::uint32_t cell, std::uint32_t except) const noexcept {
    double sum = 0;
    const std::uint32_t n = own_count_.load(std::memory_order_acquire);
    if (n == 1) return 0;  // the common single-threaded worker: only the caller's lane
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t l = own_lanes_[k].load(std::memory_order_relaxed);
      if (l == except) continue;
      sum += gauge_sum_value(view_.cells(l), cell);
    }
    return sum;
  }

 private:
  std::uint32_t claimer() const noexcept {
    const int s = slot_.load(std::memory_order_relaxed);
    return s >= 0 ? static_cast<std::uint32_t>(s) + 1 : 0;
  }

  SeriesRef refuse(layout::Refusal why) const noexcept {
    return attached() ? catalog_.refuse(why) : SeriesRef{};
  }

  bool claim_slot() noexcept;
  std::optional<std::uint32_t> claim_pool_lane(std::uint32_t mode) noexcept;
  void note_once(bool& flag, const char* what) noexcept {
    if (flag) return;
    flag = true;
    std::fprintf(stderr,
                 "sipmetrics: segment '%s': %s; this %s writes through the shared spill lane "
                 "(slower; gauges not recorded) until one is free\n",
                 segment_.c_str(), what,
                 slot_.load(std::memory_order_relaxed) < 0 ? "process" : "thread");
  }

  std::uint8_t id_;
  std::string segment_;
  std::string writer_name_;
  std::unique_ptr<SegmentFile> file_;
  SegmentView view_;
  CatalogWriter catalog_;

  std::mutex mu_;              // guards everything below (cold path only)
  std::atomic<int> slot_{-1};  // read without the lock only to tag catalog claims
  bool lanes_refused_noted_ = false, slot_noted_ = false;
  int shared_pos_ = -1;  // index into own_lanes_ of the shared lane, if any
  std::uint32_t exclusive_count_ = 0;
  bool bound_[layout::kMaxLanesPerWriter] = {};
  // Read without the lock by sum-mode gauge set(): entries are published before the count.
  std::atomic<std::uint32_t> own_lanes_[layout::kMaxLanesPerWriter] = {};
  std::atomic<std::uint32_t> own_count_{0};
};

// ---- Process-wide registry of attachments -------------------------------------------------------
struct Registry {
  std::mutex mu;
  Attachment* items[kMaxAttachments] = {};  // never freed: handles stay valid for the process
  std::uint32_t count = 0;
};
inline Registry& registry() noexcept {
  static Registry r;
  return r;
}
inline Attachment* attachment(std::uint32_t id) noexcept {
  return id < kMaxAttachments ? registry().items[id] : nullptr;
}

inline void atfork_prepare() noexcept {
  Registry& r = registry();
  r.mu.lock();
  for (std::uint32_t i = 0; i < r.count; ++i) r.items[i]->mutex().lock();
}
inline void atfork_parent() noexcept {
  Registry& r = registry();
  for (std::uint32_t i = r.count; i-- > 0;) r.items[i]->mutex().unlock();
  r.mu.unlock();
}
inline void atfork_child() noexcept {
  // Only the forking thread exists here, and it holds every lock (taken in prepare).
  Registry& r = registry();
  for (std::uint32_t i = r.count; i-- > 0;) {
    r.items[i]->reset_after_fork();
    r.items[i]->mutex().unlock();
  }
  for (LaneBinding& b : tls_lanes) b = LaneBinding{};
  for (auto*& cells : tls_exclusive) cells = nullptr;
  r.mu.unlock();
}

/// The attachment for a segment name, opened (and the segment created) on first use.
inline Attachment* attach(const std::string& name, const std::string& writer_name,
                          const layout::Geometry& geometry) noexcept {
  std::string segment;
  try {
    segment = canonical_segment_name(name);
  } catch (...) {
    segment = name;
  }
  Registry& r = registry();
  {
    std::lock_guard lock(r.mu);
    for (std::uint32_t i = 0; i < r.count; ++i)
      if (r.items[i]->segment() == segment) return r.items[i];
  }
  static std::once_flag fork_hook;
  std::call_once(fork_hook, [] { ::pthread_atfork(atfork_prepare, atfork_parent, atfork_child); });
  auto opened = SegmentFile::open(segment, geometry);  // outside r.mu: may wait on the init lock
  std::lock_guard lock(r.mu);
  for (std::uint32_t i = 0; i < r.count; ++i) {
    if (r.items[i]->segment() != segment) continue;
    // Another thread won the race. Closing our descriptor of the same file would drop the
    // winner's record locks, so ours is kept open, unused, for the life of the process.
    if (auto* f = std::get_if<std::unique_ptr<SegmentFile>>(&opened)) (void)f->release();
    return r.items[i];
  }
  std::unique_ptr<SegmentFile> file;
  if (auto* f = std::get_if<std::unique_ptr<SegmentFile>>(&opened)) {
    file = std::move(*f);
    if (!file->group_error().empty())  // the process still writes; members of the group cannot
      std::fprintf(stderr, "sipmetrics: %s\n", file->group_error().c_str());
  } else {
    std::fprintf(stderr, "sipmetrics: cannot attach: %s; metrics from this process are discarded\n",
                 std::get<OpenError>(opened).message.c_str());
  }
  // Reuse the last id for a detached attachment so handles stay no-ops.
  static Attachment overflow(kNoopAttachment, "", "", nullptr);
  if (r.count == kMaxAttachments) {
    std::fprintf(stderr, "sipmetrics: more than %u segments in one process; '%s' is discarded\n",
                 kMaxAttachments, segment.c_str());
    return &overflow;
  }
  auto* a = new (std::nothrow)
      Attachment(static_cast<std::uint8_t>(r.count), segment, writer_name, std::move(file));
  if (a == nullptr) {  // out of memory at attach: the process runs detached, it does not abort
    std::fprintf(stderr, "sipmetrics: out of memory attaching '%s'; metrics are discarded\n",
                 segment.c_str());
    return &overflow;
  }
  r.items[r.count] = a;  // published under r.mu; readers on the hot path never see a torn slot
  ++r.count;
  return a;
}

/// Runs at thread exit for every thread that bound a lane.
struct ThreadExitHook {
  ~ThreadExitHook() {
    for (std::uint8_t id = 0; id < kMaxAttachments; ++id) {
      LaneBinding& b = tls_lanes[id];
      if (b.cells != nullptr && !b.shared)
        if (Attachment* a = attachment(id)) a->release_lane(b.lane_index);
      b = LaneBinding{};
      tls_exclusive[id] = nullptr;
    }
  }
};

inline bool Attachment::claim_slot() noexcept {
  const std::uint32_t n = view_.geometry().max_writers;
  for (std::uint32_t i = 0; i < n; ++i) {
    layout::WriterSlot& s = view_.writer(i);
    if (s.state.load(std::memory_order_acquire) != layout::kWriterFree) continue;
    // Lock first: the daemon must never see a live slot without its lock held.
    if (!try_lock_byte(file_->fd(), layout::kWriterLockBase + i)) continue;
    std::uint32_t expected = layout::kWriterFree;
    if (!s.state.compare_exchange_strong(expected, layout::kWriterLive,
                                         std::memory_order_acq_rel)) {
      unlock_byte(file_->fd(), layout::kWriterLockBase + i);
      continue;
    }
    const long pid = static_cast<long>(::getpid());
    s.pid.store(static_cast<std::uint32_t>(pid), std::memory_order_relaxed);
    s.start_time.store(process_start_time(pid), std::memory_order_relaxed);
    s.generation.fetch_add(1, std::memory_order_relaxed);
    s.attached_unix_ns.store(unix_now_ns(), std::memory_order_relaxed);
    char name[layout::kWriterNameBytes] = {};
    std::memcpy(name, writer_name_.data(),
                std::min<std::size_t>(writer_name_.size(), sizeof name - 1));
    for (std::uint32_t w = 0; w < layout::kWriterNameBytes / 8; ++w) {
      std::uint64_t word;
      std::memcpy(&word, name + std::size_t{w} * 8, 8);
      s.name[w].store(word, std::memory_order_relaxed);
    }
    slot_.store(static_cast<int>(i), std::memory_order_relaxed);
    return true;
  }
  (void)refuse(layout::Refusal::kWritersFull);
  note_once(slot_noted_, "no free writer slot");
  return false;
}

inline std::optional<std::uint32_t> Attachment::claim_pool_lane(std::uint32_t mode) noexcept {
  const std::uint32_t have = own_count_.load(std::memory_order_relaxed);
  if (have >= view_.geometry().lanes_per_writer) return std::nullopt;
  const std::uint32_t n = layout::spill_lane(view_.geometry());  // the lanes before the spill lane
  const auto slot = static_cast<std::uint32_t>(slot_.load(std::memory_order_relaxed));
  const std::uint32_t owner = slot + 1;
  const std::uint32_t start = (slot * 7u) % n;
  for (std::uint32_t k = 0; k < n; ++k) {
    const std::uint32_t i = (start + k) % n;
    layout::Lane& l = view_.lane(i);
    std::uint32_t free = 0;
    if (l.owner.load(std::memory_order_relaxed) != 0 ||
        !l.owner.compare_exchange_strong(free, owner, std::memory_order_acq_rel))
      continue;
    l.mode.store(mode, std::memory_order_release);
    own_lanes_[have].store(i, std::memory_order_relaxed);
    own_count_.store(have + 1, std::memory_order_release);
    return have;
  }
  return std::nullopt;
}

inline bool Attachment::bind_thread() noexcept {
  LaneBinding& b = tls_lanes[id_];
  if (!attached()) return false;
  std::lock_guard lock(mu_);
  layout::Header& h = view_.header();
  // Read before looking for room: a slot or lane freed after the search moves it, so a thread
  // that ends up on the spill lane retries then.
  const std::uint64_t epoch = h.capacity_epoch.load(std::memory_order_acquire);
  std::optional<std::uint32_t> pos;
  bool shared = false;
  if (slot_.load(std::memory_order_relaxed) >= 0 || claim_slot()) {
    const std::uint32_t count = own_count_.load(std::memory_order_relaxed);
    for (std::uint32_t k = 0; k < count && !pos; ++k)
      if (!bound_[k] && static_cast<int>(k) != shared_pos_) pos = k;  // an idle exclusive lane
    if (!pos && exclusive_count_ + 1 < view_.geometry().lanes_per_writer) {
      pos = claim_pool_lane(layout::kLaneExclusive);
      if (pos) ++exclusive_count_;
    }
    if (!pos) {
      if (shared_pos_ < 0)
        if (auto s = claim_pool_lane(layout::kLaneShared)) shared_pos_ = static_cast<int>(*s);
      if (shared_pos_ >= 0) {
        pos = static_cast<std::uint32_t>(shared_pos_);
        shared = true;
      }
    }
    if (!pos) {
      (void)refuse(layout::Refusal::kLanesFull);
      note_once(lanes_refused_noted_, "no free lane in the pool");
    }
  }
  std::uint32_t lane_index = 0;
  if (pos) {
    lane_index = own_lanes_[*pos].load(std::memory_order_relaxed);
  } else {
    // No slot or no lane: the spill lane, shared by every such thread of every process.
    lane_index = layout::spill_lane(view_.geometry());
    shared = true;
    h.capacity_wanted.fetch_add(1, std::memory_order_relaxed);
    h.spill_bindings.fetch_add(1, std::memory_order_relaxed);
  }
  layout::Lane& lane = view_.lane(lane_index);
  if (!shared) {
    bound_[*pos] = true;
    lane.mode.store(layout::kLaneExclusive, std::memory_order_relaxed);
    lane.thread_id.store(static_cast<std::uint32_t>(::syscall(SYS_gettid)),
                         std::memory_order_relaxed);
  }
  static thread_local ThreadExitHook hook;
  (void)&hook;
  b.cells = view_.cells(lane_index);
  b.lane = &lane;
  b.ring = view_.ring(lane_index);
  b.ring_mask = view_.geometry().ring_capacity - 1;
  b.lane_index = lane_index;
  b.shared = shared;
  b.spill = !pos;
  b.capacity_epoch = &h.capacity_epoch;
  b.seen_epoch = epoch;
  b.owner = this;
  tls_exclusive[id_] = shared ? nullptr : b.cells;
  return true;
}

inline LaneBinding* Attachment::rebind(LaneBinding& b) noexcept {
  // What this thread wrote to the spill lane stays there, counted for good: nothing moves.
  b = LaneBinding{};
  return bind_thread() ? &b : nullptr;
}

inline void Attachment::release_lane(std::uint32_t lane_index) noexcept {
  std::lock_guard lock(mu_);
  const std::uint32_t n = own_count_.load(std::memory_order_relaxed);
  for (std::uint32_t k = 0; k < n; ++k) {
    if (own_lanes_[k].load(std::memory_order_relaxed) != lane_index) continue;
    bound_[k] = false;
    // Release: the next thread bound to this lane (under mu_) sees this thread's last values.
    view_.lane(lane_index).mode.store(layout::kLaneIdle, std::memory_order_release);
    view_.lane(lane_index).thread_id.store(0, std::memory_order_relaxed);
  }
}

inline void Attachment::reset_after_fork() noexcept {
  slot_.store(-1, std::memory_order_relaxed);
  shared_pos_ = -1;
  exclusive_count_ = 0;
  for (bool& b : bound_) b = false;
  own_count_.store(0, std::memory_order_relaxed);
}

// ---- Hot path -----------------------------------------------------------------------------------

/// The calling thread's lane for an attachment, binding it on first use; null when refused.
[[gnu::always_inline]] inline LaneBinding* lane_for(std::uint32_t id) noexcept {
  if (id >= kMaxAttachments) return nullptr;
  LaneBinding& b = tls_lanes[id];
  if (b.cells != nullptr) [[likely]] {
    if (!b.spill || b.capacity_epoch->load(std::memory_order_relaxed) == b.seen_epoch) [[likely]]
      return &b;
    return attachment(id)->rebind(b);  // a slot or lane was freed: try for one of our own
  }
  Attachment* a = attachment(id);
  return a != nullptr && a->bind_thread() ? &b : nullptr;
}

}  // namespace sipmetrics::detail
