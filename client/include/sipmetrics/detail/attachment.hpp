// The client's per-process state for one segment: writer slot, lanes, per-thread lane bindings,
// fork handling and series registration. Everything here except the inline hot-path helpers at
// the bottom is cold: it runs once per thread, per series or per fork.
#pragma once

#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

#include <sipmetrics/detail/key.hpp>
#include <sipmetrics/detail/segment.hpp>
#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

inline constexpr std::uint32_t kMaxAttachments = 8;  // distinct segments one process may use
/// The attachment id of no-op handles (detached client, refused registration). Its lanes are
/// never bound, so its handles always take the slow path, which returns at once.
inline constexpr std::uint8_t kNoopAttachment = kMaxAttachments;

/// What a handle needs to write: the thread's lane in one attachment. Plain data in a
/// zero-initialised thread_local array, so the hot path reads it without any init guard.
class Attachment;

struct LaneBinding {
  std::atomic<std::uint64_t>* cells;  // null until the thread's first write
  const Attachment* owner;            // the attachment this lane belongs to
  layout::Lane* lane;
  layout::RingEntry* ring;
  std::uint32_t ring_mask;
  std::uint32_t lane_index;
  bool shared;   // lane shared by several threads: read-modify-write must be atomic
  bool refused;  // no lane could be had: this thread's updates are dropped (and were counted)
};
inline thread_local LaneBinding tls_lanes[kMaxAttachments + 1];
/// The thread's exclusive lane cells per attachment, or null (unbound, shared lane, no-op id):
/// the only thing the hot path reads before touching its cell. Kept apart from tls_lanes so it
/// is one 8-byte load at a scaled index.
inline thread_local std::atomic<std::uint64_t>* tls_exclusive[kMaxAttachments + 1];

inline std::uint64_t f64_bits(double v) noexcept { return std::bit_cast<std::uint64_t>(v); }
inline double bits_f64(std::uint64_t v) noexcept { return std::bit_cast<double>(v); }

/// Cells a series of this shape owns in every lane.
constexpr std::uint32_t cells_for(layout::MetricType t) noexcept {
  switch (t) {
    case layout::MetricType::kCounter: return 1;
    case layout::MetricType::kGauge: return 2;  // sum: f64 + integral i64; others: value + stamp
    case layout::MetricType::kSummary: return 2;
    case layout::MetricType::kHistogram: return 0;  // not registrable in v1.0
  }
  return 0;
}

/// A registered series as a handle sees it.
struct SeriesRef {
  std::uint32_t cell = 0;    // first cell
  std::uint32_t series = 0;  // catalog index, tagged onto ring samples
  std::uint32_t attachment = kNoopAttachment;  // not a char type: stores through cells cannot alias it
};

class Attachment {
 public:
  Attachment(std::uint8_t id, std::string segment, std::string writer_name,
             std::unique_ptr<SegmentFile> file) noexcept
      : id_(id), segment_(std::move(segment)), writer_name_(std::move(writer_name)),
        file_(std::move(file)) {
    if (file_) view_ = file_->view();
  }

  bool attached() const noexcept { return file_ != nullptr; }
  std::uint8_t id() const noexcept { return id_; }
  const std::string& segment() const noexcept { return segment_; }
  const SegmentView& view() const noexcept { return view_; }

  /// Finds or registers a series. Idempotent across threads and processes; never throws; a
  /// refusal (full catalog, bad name, ...) is counted in the header and yields a no-op ref.
  SeriesRef register_series(layout::MetricType type, std::string_view name, std::string_view help,
                            Labels labels, layout::GaugeMode mode,
                            std::uint32_t window_samples) noexcept {
    if (!attached()) return {};
    SortedLabels sorted;
    if (!valid_metric_name(name) || !sort_labels(labels, sorted))
      return refuse(layout::Refusal::kInvalidName);
    const std::uint32_t ncells = cells_for(type);
    if (ncells == 0) return refuse(layout::Refusal::kTypeConflict);
    const std::uint64_t hash = key_hash(type, name, sorted);
    const std::uint32_t mask = view_.geometry().max_series - 1;
    std::uint32_t idx = static_cast<std::uint32_t>(hash) & mask;
    for (std::uint32_t probes = 0; probes <= mask; ++probes, idx = (idx + 1) & mask) {
      layout::SeriesEntry& e = view_.entry(idx);
      std::uint32_t word = e.state.load(std::memory_order_acquire);
      if (layout::entry_state(word) == layout::kEntryEmpty) {
        // A claimed entry that cannot be filled is dead for good: check for room first, so a
        // full arena or cell array refuses without using up the catalog (only a race with
        // another registration can still leave a dead entry behind).
        if (const auto why = no_room_for(type, name, help, sorted)) return refuse(*why);
        const std::uint32_t claim = layout::kEntryClaiming | (claimer() << 8);
        if (e.state.compare_exchange_strong(word, claim, std::memory_order_acq_rel))
          return fill(e, idx, type, name, help, sorted, hash, mode, window_samples);
      }
      word = wait_while_claiming(e, word);
      if (layout::entry_state(word) != layout::kEntryReady) continue;  // dead, or a claim never finished
      if (e.hash != static_cast<std::uint32_t>(hash) || e.type != type) continue;
      auto bytes = view_.arena_bytes(e.key_offset, e.key_length);
      if (!bytes || !key_equals(*bytes, name, sorted)) continue;
      if (e.cell_count != ncells || (type == layout::MetricType::kGauge && e.gauge_mode != mode) ||
          e.first_cell >= view_.geometry().max_cells ||
          ncells > view_.geometry().max_cells - e.first_cell)
        return refuse(layout::Refusal::kTypeConflict);
      return SeriesRef{e.first_cell, idx, id_};
    }
    return refuse(layout::Refusal::kCatalogFull);
  }

  /// Declares the label keys allowed for a family (the seed's RegisterLabels: the newest
  /// declaration wins). Skipped when the newest declaration is already identical.
  void register_labels(std::string_view family, std::span<const std::string_view> keys) noexcept {
    if (!attached()) return;
    if (!valid_metric_name(family) || keys.size() > 255) {
      (void)refuse(layout::Refusal::kInvalidName);
      return;
    }
    std::size_t len = 2 + family.size() + 1;
    for (std::string_view k : keys) {
      if (!valid_label_name(k)) {
        (void)refuse(layout::Refusal::kInvalidName);
        return;
      }
      len += 2 + k.size();
    }
    std::lock_guard lock(mu_);
    layout::Header& h = view_.header();
    const std::uint32_t max = view_.geometry().max_whitelists;
    const std::uint32_t count = std::min(h.whitelist_count.load(std::memory_order_acquire), max);
    for (std::uint32_t i = count; i-- > 0;) {
      layout::WhitelistEntry& w = view_.whitelist(i);
      if (w.state.load(std::memory_order_acquire) != layout::kWhitelistReady) continue;
      auto bytes = view_.arena_bytes(w.offset, w.length);
      if (!bytes) continue;
      KeyReader r(*bytes);
      if (r.str16() != family) continue;
      bool same = r.u8() == keys.size();
      for (std::size_t k = 0; same && k < keys.size(); ++k) same = r.str16() == keys[k];
      if (same && r.ok() && r.done()) return;
      break;  // the newest declaration for this family differs: append a newer one
    }
    const std::uint32_t idx = h.whitelist_count.fetch_add(1, std::memory_order_acq_rel);
    if (idx >= max) {
      (void)refuse(layout::Refusal::kWhitelistFull);
      return;
    }
    const auto off = arena_alloc(len);
    if (!off) {
      (void)refuse(layout::Refusal::kArenaFull);
      return;
    }
    char* p = view_.arena() + *off;
    auto put16 = [&p](std::size_t v) {
      *p++ = static_cast<char>(v & 0xffu);
      *p++ = static_cast<char>((v >> 8) & 0xffu);
    };
    put16(family.size());
    p = std::copy(family.begin(), family.end(), p);
    *p++ = static_cast<char>(keys.size());
    for (std::string_view k : keys) {
      put16(k.size());
      p = std::copy(k.begin(), k.end(), p);
    }
    layout::WhitelistEntry& w = view_.whitelist(idx);
    w.offset = *off;
    w.length = static_cast<std::uint32_t>(len);
    w.state.store(layout::kWhitelistReady, std::memory_order_release);
  }

  /// Binds the calling thread to a lane (claiming the writer slot first if needed).
  bool bind_thread() noexcept;
  /// Returns a thread's exclusive lane to this writer's idle list (thread exit).
  void release_lane(std::uint32_t lane_index) noexcept;
  /// In a fork child: forget the parent's slot and lanes; the child claims its own on first write.
  void reset_after_fork() noexcept;
  std::mutex& mutex() noexcept { return mu_; }

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
      const std::atomic<std::uint64_t>* cells = view_.cells(l);
      sum += bits_f64(cells[cell].load(std::memory_order_relaxed)) +
             static_cast<double>(static_cast<std::int64_t>(cells[cell + 1].load(std::memory_order_relaxed)));
    }
    return sum;
  }

 private:
  std::uint32_t claimer() const noexcept {
    const int s = slot_.load(std::memory_order_relaxed);
    return s >= 0 ? static_cast<std::uint32_t>(s) + 1 : 0;
  }

  SeriesRef refuse(layout::Refusal why) noexcept {
    if (attached())
      view_.header().refusals[static_cast<std::uint32_t>(why)].fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  static std::uint32_t wait_while_claiming(layout::SeriesEntry& e, std::uint32_t word) noexcept {
    // Another process is filling this entry: microseconds normally. If it died mid-claim the
    // entry stays claiming; after 2 s we probe past it (the daemon merges any duplicate).
    for (int i = 0; layout::entry_state(word) == layout::kEntryClaiming && i < 20000; ++i) {
      struct timespec ts {0, 100'000};
      ::nanosleep(&ts, nullptr);
      word = e.state.load(std::memory_order_acquire);
    }
    return word;
  }

  std::optional<std::uint64_t> arena_alloc(std::uint64_t n) noexcept {
    auto& used = view_.header().arena_used;
    std::uint64_t at = used.load(std::memory_order_relaxed);
    do {
      if (at > view_.geometry().arena_bytes || n > view_.geometry().arena_bytes - at) return std::nullopt;
    } while (!used.compare_exchange_weak(at, at + n, std::memory_order_acq_rel));
    return at;
  }

  std::optional<std::uint32_t> cells_alloc(std::uint32_t n) noexcept {
    auto& used = view_.header().cells_used;
    std::uint32_t at = used.load(std::memory_order_relaxed);
    do {
      if (at > view_.geometry().max_cells || n > view_.geometry().max_cells - at) return std::nullopt;
    } while (!used.compare_exchange_weak(at, at + n, std::memory_order_acq_rel));
    return at;
  }

  std::optional<layout::Refusal> no_room_for(layout::MetricType type, std::string_view name,
                                             std::string_view help,
                                             const SortedLabels& labels) const noexcept {
    const layout::Geometry& g = view_.geometry();
    const std::uint64_t bytes =
        key_length(name, labels) + utf8_prefix(help, layout::kMaxHelpBytes).size();
    const std::uint64_t used = view_.header().arena_used.load(std::memory_order_relaxed);
    if (used > g.arena_bytes || bytes > g.arena_bytes - used) return layout::Refusal::kArenaFull;
    const std::uint32_t cells = view_.header().cells_used.load(std::memory_order_relaxed);
    if (cells > g.max_cells || cells_for(type) > g.max_cells - cells) return layout::Refusal::kCellsFull;
    return std::nullopt;
  }

  SeriesRef fill(layout::SeriesEntry& e, std::uint32_t idx, layout::MetricType type,
                 std::string_view name, std::string_view help, const SortedLabels& labels,
                 std::uint64_t hash, layout::GaugeMode mode, std::uint32_t window) noexcept {
    help = utf8_prefix(help, layout::kMaxHelpBytes);
    const std::size_t klen = key_length(name, labels);
    const auto off = arena_alloc(klen + help.size());
    const auto first = off ? cells_alloc(cells_for(type)) : std::nullopt;
    if (!off || !first) {
      e.state.store(layout::kEntryDead, std::memory_order_release);
      return refuse(off ? layout::Refusal::kCellsFull : layout::Refusal::kArenaFull);
    }
    char* p = view_.arena() + *off;
    encode_key(name, labels, [&p](const char* s, std::size_t n) { p = std::copy(s, s + n, p); });
    std::copy(help.begin(), help.end(), p);
    e.hash = static_cast<std::uint32_t>(hash);
    e.key_offset = *off;
    e.key_length = static_cast<std::uint32_t>(klen);
    e.help_offset = *off + klen;
    e.help_length = static_cast<std::uint32_t>(help.size());
    e.first_cell = *first;
    e.cell_count = static_cast<std::uint16_t>(cells_for(type));
    e.type = type;
    e.gauge_mode = type == layout::MetricType::kGauge ? mode : layout::GaugeMode::kSum;
    e.window_samples = window;
    e.state.store(layout::kEntryReady, std::memory_order_release);
    view_.header().series_count.fetch_add(1, std::memory_order_relaxed);
    return SeriesRef{*first, idx, id_};
  }

  bool claim_slot() noexcept;
  std::optional<std::uint32_t> claim_pool_lane(std::uint32_t mode) noexcept;
  void note_once(bool& flag, const char* what) noexcept {
    if (flag) return;
    flag = true;
    std::fprintf(stderr, "sipmetrics: segment '%s': %s; updates from this %s are discarded\n",
                 segment_.c_str(), what, slot_.load(std::memory_order_relaxed) < 0 ? "process" : "thread");
  }

  std::uint8_t id_;
  std::string segment_;
  std::string writer_name_;
  std::unique_ptr<SegmentFile> file_;
  SegmentView view_;

  std::mutex mu_;  // guards everything below (cold path only)
  std::atomic<int> slot_{-1};  // read without the lock only to tag catalog claims
  bool slot_refused_ = false, lanes_refused_noted_ = false, slot_noted_ = false;
  int shared_pos_ = -1;  // index into own_lanes_ of the shared lane, if any
  std::uint32_t exclusive_count_ = 0;
  bool bound_[layout::kMaxLanesPerWriter] = {};
  // Read without the lock by sum-mode gauge set(): entries are published before the count.
  std::atomic<std::uint32_t> own_lanes_[layout::kMaxLanesPerWriter] = {};
  std::atomic<std::uint32_t> own_count_{0};
};

// ---- Process-wide registry of attachments ----------------------------------------------------------
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
  if (r.count == kMaxAttachments) {
    std::fprintf(stderr, "sipmetrics: more than %u segments in one process; '%s' is discarded\n",
                 kMaxAttachments, segment.c_str());
    file.reset();
    // Reuse the last id for a detached attachment so handles stay no-ops.
    static Attachment overflow(kNoopAttachment, "", "", nullptr);
    return &overflow;
  }
  auto* a = new Attachment(static_cast<std::uint8_t>(r.count), segment, writer_name, std::move(file));
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
  if (slot_refused_) return false;
  const std::uint32_t n = view_.geometry().max_writers;
  for (std::uint32_t i = 0; i < n; ++i) {
    layout::WriterSlot& s = view_.writer(i);
    if (s.state.load(std::memory_order_acquire) != layout::kWriterFree) continue;
    // Lock first: the daemon must never see a live slot without its lock held.
    if (!try_lock_byte(file_->fd(), layout::kWriterLockBase + i)) continue;
    std::uint32_t expected = layout::kWriterFree;
    if (!s.state.compare_exchange_strong(expected, layout::kWriterLive, std::memory_order_acq_rel)) {
      unlock_byte(file_->fd(), layout::kWriterLockBase + i);
      continue;
    }
    const long pid = static_cast<long>(::getpid());
    s.pid.store(static_cast<std::uint32_t>(pid), std::memory_order_relaxed);
    s.start_time.store(process_start_time(pid), std::memory_order_relaxed);
    s.generation.fetch_add(1, std::memory_order_relaxed);
    s.attached_unix_ns.store(unix_now_ns(), std::memory_order_relaxed);
    char name[layout::kWriterNameBytes] = {};
    std::memcpy(name, writer_name_.data(), std::min<std::size_t>(writer_name_.size(), sizeof name - 1));
    for (std::uint32_t w = 0; w < layout::kWriterNameBytes / 8; ++w) {
      std::uint64_t word;
      std::memcpy(&word, name + w * 8, 8);
      s.name[w].store(word, std::memory_order_relaxed);
    }
    slot_.store(static_cast<int>(i), std::memory_order_relaxed);
    return true;
  }
  slot_refused_ = true;
  (void)refuse(layout::Refusal::kWritersFull);
  note_once(slot_noted_, "no free writer slot");
  return false;
}

inline std::optional<std::uint32_t> Attachment::claim_pool_lane(std::uint32_t mode) noexcept {
  const std::uint32_t have = own_count_.load(std::memory_order_relaxed);
  if (have >= view_.geometry().lanes_per_writer) return std::nullopt;
  const std::uint32_t n = view_.geometry().lane_pool;
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
  if (!attached() || b.refused) return false;
  std::lock_guard lock(mu_);
  if (slot_.load(std::memory_order_relaxed) < 0 && !claim_slot()) {
    b.refused = true;
    return false;
  }
  const std::uint32_t count = own_count_.load(std::memory_order_relaxed);
  std::optional<std::uint32_t> pos;
  for (std::uint32_t k = 0; k < count && !pos; ++k)
    if (!bound_[k] && static_cast<int>(k) != shared_pos_) pos = k;  // an idle exclusive lane
  if (!pos && exclusive_count_ + 1 < view_.geometry().lanes_per_writer) {
    pos = claim_pool_lane(layout::kLaneExclusive);
    if (pos) ++exclusive_count_;
  }
  bool shared = false;
  if (!pos) {
    if (shared_pos_ < 0)
      if (auto s = claim_pool_lane(layout::kLaneShared)) shared_pos_ = static_cast<int>(*s);
    if (shared_pos_ >= 0) {
      pos = static_cast<std::uint32_t>(shared_pos_);
      shared = true;
    }
  }
  if (!pos) {
    b.refused = true;
    (void)refuse(layout::Refusal::kLanesFull);
    note_once(lanes_refused_noted_, "no free lane in the pool");
    return false;
  }
  const std::uint32_t lane_index = own_lanes_[*pos].load(std::memory_order_relaxed);
  layout::Lane& lane = view_.lane(lane_index);
  if (!shared) {
    bound_[*pos] = true;
    lane.mode.store(layout::kLaneExclusive, std::memory_order_relaxed);
    lane.thread_id.store(static_cast<std::uint32_t>(::syscall(SYS_gettid)), std::memory_order_relaxed);
  }
  static thread_local ThreadExitHook hook;
  (void)&hook;
  b.cells = view_.cells(lane_index);
  b.lane = &lane;
  b.ring = view_.ring(lane_index);
  b.ring_mask = view_.geometry().ring_capacity - 1;
  b.lane_index = lane_index;
  b.shared = shared;
  b.owner = this;
  tls_exclusive[id_] = shared ? nullptr : b.cells;
  return true;
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
  slot_refused_ = false;
  shared_pos_ = -1;
  exclusive_count_ = 0;
  for (bool& b : bound_) b = false;
  own_count_.store(0, std::memory_order_relaxed);
}

// ---- Hot path ----------------------------------------------------------------------------------------

/// The calling thread's lane for an attachment, binding it on first use; null when refused.
[[gnu::always_inline]] inline LaneBinding* lane_for(std::uint32_t id) noexcept {
  if (id >= kMaxAttachments) return nullptr;
  LaneBinding& b = tls_lanes[id];
  if (b.cells != nullptr) [[likely]]
    return &b;
  Attachment* a = attachment(id);
  return a != nullptr && a->bind_thread() ? &b : nullptr;
}

// An exclusive lane has exactly one writing thread, so a relaxed load and store cannot lose an
// update: no lock-prefixed instruction on the hot path. A shared lane falls back to atomic RMW.
[[gnu::always_inline]] inline void cell_add(const LaneBinding& b, std::uint32_t cell,
                                            std::uint64_t n) noexcept {
  std::atomic<std::uint64_t>& c = b.cells[cell];
  if (!b.shared) [[likely]]
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  else
    c.fetch_add(n, std::memory_order_relaxed);
}

[[gnu::always_inline]] inline void cell_add_f64(const LaneBinding& b, std::uint32_t cell,
                                                double d) noexcept {
  std::atomic<std::uint64_t>& c = b.cells[cell];
  std::uint64_t old = c.load(std::memory_order_relaxed);
  if (!b.shared) [[likely]] {
    c.store(f64_bits(bits_f64(old) + d), std::memory_order_relaxed);
    return;
  }
  while (!c.compare_exchange_weak(old, f64_bits(bits_f64(old) + d), std::memory_order_relaxed)) {
  }
}

[[gnu::always_inline]] inline void cell_store(const LaneBinding& b, std::uint32_t cell,
                                              std::uint64_t v) noexcept {
  b.cells[cell].store(v, std::memory_order_relaxed);
}

/// Queues one sample for the daemon; counts it as dropped when the lane's ring is full.
[[gnu::always_inline]] inline void ring_push(const LaneBinding& b, std::uint32_t series,
                                             double v) noexcept {
  layout::Lane& l = *b.lane;
  const std::uint64_t cap = std::uint64_t{b.ring_mask} + 1;
  std::uint64_t head = l.ring_head.load(std::memory_order_relaxed);
  if (!b.shared) [[likely]] {
    if (head - l.cached_tail.load(std::memory_order_relaxed) >= cap) {
      const std::uint64_t tail = l.ring_tail.load(std::memory_order_acquire);
      l.cached_tail.store(tail, std::memory_order_relaxed);
      if (head - tail >= cap) {
        l.dropped.store(l.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return;
      }
    }
    layout::RingEntry& e = b.ring[head & b.ring_mask];
    e.value.store(f64_bits(v), std::memory_order_relaxed);
    e.tag.store(layout::ring_tag(head, series), std::memory_order_release);
    l.ring_head.store(head + 1, std::memory_order_relaxed);
    return;
  }
  // Shared lane: reserve a position first; the daemon waits for its tag before reading it.
  do {
    if (head - l.ring_tail.load(std::memory_order_acquire) >= cap) {
      l.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  } while (!l.ring_head.compare_exchange_weak(head, head + 1, std::memory_order_relaxed));
  layout::RingEntry& e = b.ring[head & b.ring_mask];
  e.value.store(f64_bits(v), std::memory_order_relaxed);
  e.tag.store(layout::ring_tag(head, series), std::memory_order_release);
}

/// True (and `out` set) when d is an integer small enough to be exact as a double.
[[gnu::always_inline]] inline bool integral(double d, std::int64_t& out) noexcept {
  if (!(d >= -0x1p53 && d <= 0x1p53)) return false;  // also false for NaN
  out = static_cast<std::int64_t>(d);
  return static_cast<double>(out) == d;
}

inline std::uint64_t coarse_realtime_ns() noexcept {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);  // vDSO: no system call
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace sipmetrics::detail
