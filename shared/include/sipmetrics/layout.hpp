// sipmetrics shared-memory segment, layout v3.2 — the ABI between SIP workers and sipmetricsd.
//
// Who does what
//   * Creation. Whichever process attaches first (a worker's client or the daemon) creates the
//     segment under an exclusive flock(2) on the segment file: it sizes it, reserves its memory
//     with fallocate (so a full tmpfs fails at creation, never as SIGBUS in a worker), writes the
//     header and publishes `init_state = kInitReady` last (release). Every attacher takes the
//     same flock while it checks the header, so a creator that died half-way leaves a header
//     that is not ready, and the next attacher re-initialises it. Nobody removes the segment in
//     normal operation: its state outlives daemon restarts; it goes with a reboot or an explicit
//     `rm /dev/shm/<name>`.
//   * Writers (SIP worker processes, through the header-only client) claim a WriterSlot and hold
//     a POSIX record lock (fcntl F_SETLK) on byte `kWriterLockBase + slot` of the segment file
//     for as long as they live. The kernel drops that lock when the process dies, in any PID
//     namespace, so liveness needs neither a heartbeat nor a visible pid (a Kubernetes sidecar
//     does not share the workers' PID namespace). The pid and start time are kept for people.
//   * Lanes. Each writer takes lanes from a shared pool, one per thread (exclusive lanes, written
//     with owner-only relaxed load+store) plus at most one shared lane for threads beyond its
//     lane quota (written with atomic read-modify-write). A lane holds one value cell per catalog
//     cell and one sample ring. A thread that exits leaves its lane, counts included, to the next
//     thread of the same writer.
//   * The spill lane. The pool's last lane (spill_lane()) belongs to the segment, not to a
//     writer: a process that finds no free writer slot, or a thread that finds no free lane,
//     writes its counts and summary sums and counts there with atomic read-modify-write, so no
//     increment is lost to capacity. It is never folded or freed; gauges are not written there
//     (a gauge cannot be withdrawn from it when its process dies). Such a writer retries for a
//     slot or lane of its own whenever `capacity_epoch` moves (the daemon bumps it each time it
//     frees a slot or lanes), and bumps `capacity_wanted` so the daemon looks for dead writers
//     at once rather than at its next housekeeping pass.
//   * Family limits. A family (metric name) may hold at most geometry.family_series_limit series,
//     counted at registration in the families table, so one runaway family cannot take the whole
//     catalog from the others.
//   * Catalog and arena. Series are registered once (cold path) into an open-addressing hash
//     table; a writer claims an entry with a CAS kEntryEmpty -> kEntryClaiming, fills it, and
//     publishes it with a release store of kEntryReady. Entries, arena bytes and cells are never
//     freed: the catalog is append-only for the life of the segment.
//   * The daemon reads everything and writes only its own regions: ring tails, the retained
//     totals, its header line, SeriesEntry::daemon_flags, and — for dead writers only — their
//     slots and lanes (fold, zero, free).
//
// Memory orders
//   * kEntryReady / kWhitelistReady (release, client) pair with the acquire load by any reader:
//     the entry's fields and its arena bytes are visible once the state is seen ready.
//   * Ring entry word `tag` (release, producer) pairs with the daemon's acquire load; the value
//     word is stored (relaxed) before it. The ring tail (release, daemon) pairs with the
//     producer's acquire reload when the ring looks full.
//   * Cells are single atomic words read relaxed: a scrape sees each cell whole, never torn.
//   * `retained_epoch` (release, daemon) selects which of the two retained arrays is current;
//     folding a dead writer writes the other array and then flips, so a daemon that dies in the
//     middle of a fold neither loses nor double-counts anything.
//
// Versions
//   * A different major version is refused by both sides (the daemon names both versions; a
//     client runs detached). A minor version adds only what a reader of an older minor can skip:
//     `version_minor` records the creator's build and readers accept any minor of their major.
//   * 3.0 (from 2.0): the spill lane, the families table, a 1 KiB header; 2.x segments are
//     refused until removed (or `sipmetricsd --recreate-incompatible`).
//   * 3.1 adds histogram series (MetricType::kHistogram, SeriesEntry::bounds_offset). A 3.0
//     daemon skips their catalog entries as corrupt (it validates the type) and serves everything
//     else; it does not know their cells, so it neither serves nor retains them when a writer
//     dies. A 3.0 client cannot register them (its cells_for() is 0 for the type).
//   * 3.2 adds native histograms (MetricType::kNativeHistogram, SeriesEntry::native_*): a 3.1
//     daemon skips them as corrupt in the same way, a 3.1 client cannot register them.
//
// Rules: only trivially copyable, address-free types (offsets, never pointers); every atomic is
// always lock-free; every size and offset is pinned below. Readers must bounds-check everything:
// any process with write access can scribble here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace sipmetrics::layout {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint64_t kMagic = 0x3152'5445'4d50'4953ULL;  // "SIPMETR1", little endian
inline constexpr std::uint32_t kVersionMajor = 3;  // bumped on any incompatible change
inline constexpr std::uint32_t kVersionMinor = 2;  // bumped on additions old readers can ignore

/// Header::init_state once the creator has finished; anything else means "not (yet) ready".
inline constexpr std::uint32_t kInitReady = 2;

/// fcntl record-lock byte offsets on the segment file. Far beyond any real size: POSIX allows
/// locks past end of file, and they never overlap the data.
inline constexpr std::int64_t kDaemonLockByte = std::int64_t{1} << 40;
inline constexpr std::int64_t kWriterLockBase = kDaemonLockByte + 1;

// ---- Limits that bound every loop a reader runs over segment data -------------------------------
inline constexpr std::uint32_t kMaxWriters = 4096;
inline constexpr std::uint32_t kMaxLanePool = 16384;
inline constexpr std::uint32_t kMaxLanesPerWriter = 64;
inline constexpr std::uint32_t kMaxSeries = 1u << 20;  // catalog capacity, a power of two
inline constexpr std::uint32_t kMaxCells = 1u << 22;
inline constexpr std::uint32_t kMaxRingCapacity = 1u << 20;  // a power of two
inline constexpr std::uint64_t kMaxArenaBytes = std::uint64_t{1} << 30;
inline constexpr std::uint32_t kMaxWhitelists = 1u << 16;
inline constexpr std::uint32_t kMaxNameBytes = 200;         // metric and label names
inline constexpr std::uint32_t kMaxLabelValueBytes = 1024;  // longer values are cut (UTF-8 safe)
inline constexpr std::uint32_t kMaxHelpBytes = 1024;
inline constexpr std::uint32_t kMaxLabels = 16;           // per series
inline constexpr std::uint32_t kMaxHistogramBounds = 64;  // finite bucket bounds per histogram
inline constexpr std::uint32_t kMaxNativeBuckets = 256;   // native buckets per histogram (3.2)
inline constexpr std::int32_t kMaxNativeSchema = 8;       // native resolution: 2^(2^-schema)
inline constexpr std::uint32_t kWriterNameBytes = 32;

// ---- Geometry -----------------------------------------------------------------------------------
/// Capacities chosen by the creator and fixed for the life of the segment.
struct Geometry {
  std::uint32_t max_writers;
  std::uint32_t lane_pool;         // lanes shared by all writers
  std::uint32_t lanes_per_writer;  // quota per writer, its shared lane included
  std::uint32_t max_series;        // catalog entries, a power of two
  std::uint32_t max_cells;         // value cells per lane
  std::uint32_t ring_capacity;     // sample entries per lane ring, a power of two
  std::uint32_t max_whitelists;
  std::uint32_t family_series_limit;  // series one family may register, at most
  std::uint64_t arena_bytes;
};
static_assert(sizeof(Geometry) == 40);

/// Defaults: about 31 MiB, for 128 worker processes (159 writing threads with lanes of their own,
/// and the spill lane), 4,096 series (8,192 cells; one family 1,024 at most) and rings that absorb
/// 8,192 samples per thread between two drains (16 ms at 500,000 samples/s per process).
inline constexpr Geometry kDefaultGeometry{
    .max_writers = 128,
    .lane_pool = 160,
    .lanes_per_writer = 8,
    .max_series = 4096,
    .max_cells = 8192,
    .ring_capacity = 8192,
    .max_whitelists = 512,
    .family_series_limit = 1024,
    .arena_bytes = std::uint64_t{1} << 20,
};

// ---- Header -------------------------------------------------------------------------------------
/// Why a series registration (or an attach) was refused; indexes Header::refusals.
enum class Refusal : std::uint32_t {
  kCatalogFull = 0,      // no free catalog entry
  kArenaFull = 1,        // no room for the name, labels or help text
  kCellsFull = 2,        // no free value cells
  kInvalidName = 3,      // metric or label name outside Prometheus' grammar, or too many labels
  kWritersFull = 4,      // no free writer slot: that process runs detached
  kLanesFull = 5,        // no lane left in the pool for a thread: its updates are lost
  kWhitelistFull = 6,    // no free whitelist entry
  kTypeConflict = 7,     // the same series name registered with another type or shape
  kFamilyFull = 8,       // the family already holds geometry.family_series_limit series
  kLabelTooLong = 9,     // a label value longer than kMaxLabelValueBytes (never cut: cut values
                         // that differ only past the cut would merge into one series)
  kDuplicateLabel = 10,  // the same label key twice in one series
  kReservedLabel = 11,   // `le` or `quantile` (Prometheus generates them), a `__` prefix
  kInvalidBuckets = 12,  // histogram bounds that are not 1..64 finite, non-negative, increasing
                         // values
};
inline constexpr std::uint32_t kRefusalKinds = 13;  // reasons defined so far
inline constexpr std::uint32_t kRefusalSlots = 16;  // Header::refusals: room for more

struct alignas(kCacheLine) Header {
  // Identity: written once by the creator; `init_state` last.
  std::uint64_t magic;
  std::uint32_t version_major;
  std::uint32_t version_minor;
  std::atomic<std::uint32_t> init_state;
  std::uint32_t creator_pid;
  std::uint64_t generation;  // differs between two initialisations of the same name
  std::uint64_t total_size;  // bytes, the whole segment
  std::uint64_t created_unix_ns;
  std::uint8_t reserved_identity[16];

  Geometry geometry;
  std::uint8_t reserved_geometry[24];

  // Region offsets from the segment start, each a multiple of kCacheLine.
  std::uint64_t writers_offset;    // WriterSlot[max_writers]
  std::uint64_t lanes_offset;      // Lane[lane_pool]
  std::uint64_t catalog_offset;    // SeriesEntry[max_series]
  std::uint64_t whitelist_offset;  // WhitelistEntry[max_whitelists]
  std::uint64_t arena_offset;      // char[arena_bytes]
  std::uint64_t retained_offset;   // atomic<u64>[2][max_cells]
  std::uint64_t cells_offset;      // atomic<u64>[lane_pool][max_cells]
  std::uint64_t rings_offset;      // RingEntry[lane_pool][ring_capacity]
  std::uint64_t families_offset;   // FamilyEntry[max_series]
  std::uint64_t reserved_offsets[7];

  // Allocation cursors, advanced by clients with CAS at registration (cold path).
  alignas(kCacheLine) std::atomic<std::uint64_t> arena_used;
  std::atomic<std::uint32_t> cells_used;
  std::atomic<std::uint32_t> series_count;
  std::atomic<std::uint32_t> whitelist_count;
  std::atomic<std::uint32_t> family_count;
  std::uint8_t reserved_cursors[40];

  // Refusals by reason (see Refusal), incremented by clients; served on /metrics.
  alignas(kCacheLine) std::atomic<std::uint64_t> refusals[kRefusalSlots];

  // Events counted by clients (cold paths, or a rare branch of a hot one).
  alignas(kCacheLine) std::atomic<std::uint64_t> spill_bindings;  // threads bound to the spill
                                                                  // lane, ever
  std::atomic<std::uint64_t> capacity_wanted;  // bumped with every writers_full or lanes_full
  std::atomic<std::uint64_t> invalid_samples;  // NaN or infinite summary samples not recorded
  std::uint8_t reserved_client_events[40];

  // Written by the daemon only.
  alignas(kCacheLine) std::atomic<std::uint64_t> retained_epoch;  // current array = epoch & 1
  std::atomic<std::uint64_t> retained_dropped[2];   // samples dropped by writers now gone
  std::atomic<std::uint64_t> writers_folded;        // dead writers folded, ever
  std::atomic<std::uint64_t> capacity_epoch;        // bumped when a slot or lanes are freed
  std::atomic<std::uint64_t> unknown_label_series;  // series ever found with a label key
                                                    // outside their whitelist (daemon_flags)
  std::atomic<std::uint32_t> daemon_pid;
  std::atomic<std::uint32_t> config_reload_failures;  // SIGHUPs whose config was refused
  std::uint8_t reserved_daemon_line[8];

  // Written by the daemon only: its own event counts, kept here so that they never go back
  // when a daemon restarts (each served as a counter).
  alignas(kCacheLine) std::atomic<std::uint64_t> samples_drained;
  std::atomic<std::uint64_t> corrupt[4];          // by Corrupt: entries skipped, lanes freed
  std::atomic<std::uint64_t> series_rejected[3];  // by Rejected: each series once (daemon_flags)

  std::uint8_t reserved_tail[kCacheLine * 6];
};

/// Header::corrupt: where the daemon found data that failed validation.
enum class Corrupt : std::uint32_t { kCatalog = 0, kLane = 1, kRing = 2, kWhitelist = 3 };
/// Header::series_rejected: why a registered series is not exposed.
enum class Rejected : std::uint32_t { kFamilyCap = 0, kNameClash = 1, kTypeConflict = 2 };

// ---- Writers ------------------------------------------------------------------------------------
inline constexpr std::uint32_t kWriterFree = 0;
inline constexpr std::uint32_t kWriterLive = 1;     // claimed; alive while its lock byte is held
inline constexpr std::uint32_t kWriterFolding = 2;  // dead, being folded by the daemon

/// One attached process. The client claims it (CAS kWriterFree -> kWriterLive, after taking its
/// lock byte); the daemon frees it once the process is gone and its lanes are folded.
struct alignas(kCacheLine) WriterSlot {
  std::atomic<std::uint32_t> state;
  std::atomic<std::uint32_t> pid;         // in the writer's own PID namespace
  std::atomic<std::uint64_t> start_time;  // /proc/<pid>/stat field 22: catches pid reuse
  std::atomic<std::uint64_t> generation;  // bumped by every claim of this slot
  std::atomic<std::uint64_t> attached_unix_ns;
  std::atomic<std::uint64_t> fold_epoch;  // daemon: retained epoch its fold flips to
  std::atomic<std::uint64_t> name[kWriterNameBytes / 8];  // NUL-padded, any bytes
  std::uint8_t reserved[kCacheLine - 8];
};

// ---- Lanes --------------------------------------------------------------------------------------
inline constexpr std::uint32_t kLaneFree = 0;       // in the pool
inline constexpr std::uint32_t kLaneIdle = 1;       // owned by a writer, no thread bound
inline constexpr std::uint32_t kLaneExclusive = 2;  // bound to one thread: owner-only writes
inline constexpr std::uint32_t kLaneShared = 3;     // many threads: atomic RMW, multi-producer ring

/// Lane::owner of the spill lane: the segment's own (see spill_lane()).
inline constexpr std::uint32_t kSpillOwner = 0xffff'ffffu;

/// Control block of one lane. The producer line is written by the owning thread(s); the consumer
/// line by the daemon only, so draining never bounces the producer's line.
struct alignas(kCacheLine) Lane {
  // Producer line.
  std::atomic<std::uint32_t> owner;        // writer slot index + 1; 0 when free
  std::atomic<std::uint32_t> mode;         // kLane*
  std::atomic<std::uint64_t> ring_head;    // next position to write (monotonic for the segment)
  std::atomic<std::uint64_t> cached_tail;  // the producer's last view of ring_tail
  std::atomic<std::uint64_t> dropped;      // samples refused because the ring was full
  std::atomic<std::uint32_t> thread_id;    // of the bound thread, for people
  std::uint8_t reserved_producer[28];
  // Consumer line.
  alignas(kCacheLine) std::atomic<std::uint64_t> ring_tail;  // next position the daemon reads
  std::uint8_t reserved_consumer[kCacheLine - 8];
};

/// One sample. `value` holds the bits of a double; `tag` packs the low 32 bits of (position + 1)
/// above the series' catalog index, so the daemon can tell a written entry from a stale one.
struct RingEntry {
  std::atomic<std::uint64_t> tag;
  std::atomic<std::uint64_t> value;
};
constexpr std::uint64_t ring_tag(std::uint64_t position, std::uint32_t series) noexcept {
  return ((position + 1) << 32) | series;
}

// ---- Catalog ------------------------------------------------------------------------------------
enum class MetricType : std::uint8_t {
  kCounter = 1,    // cells: u64 count
  kGauge = 2,      // cells: see GaugeMode
  kSummary = 3,    // cells: sum (f64 bits), count (u64); samples go through the lane ring
  kHistogram = 4,  // since 3.1. cells: one u64 count per bucket (not cumulative): the n finite
                   // bounds in ascending order, then +Inf; then sum (f64 bits), count (u64).
                   // cell_count = n + 3; the bounds are in the arena at bounds_offset
  kNativeHistogram = 5,  // since 3.2. A classic histogram plus native (sparse exponential)
                         // buckets over a fixed window of K consecutive indexes: cells are the
                         // n finite buckets, +Inf, the zero bucket, the K native buckets, then
                         // sum and count (so cell_count = n + 4 + K, sum and count last). Native
                         // bucket i (index native_first_index + i) counts observations in
                         // (2^((index - 1) / 2^schema), 2^(index / 2^schema)]; the zero bucket
                         // those at or below the window's lower edge (negatives included), the
                         // last bucket those above the window (+Inf included); NaN is in no
                         // native bucket (it is in +Inf and count)
};

/// A histogram of either kind: served as a Prometheus histogram, its classic buckets first.
constexpr bool is_histogram(MetricType t) noexcept {
  return t == MetricType::kHistogram || t == MetricType::kNativeHistogram;
}

/// How a gauge combines across threads and writers. Dead writers' gauges are always dropped.
enum class GaugeMode : std::uint8_t {
  kSum = 0,   // 2 cells (f64, i64 for integral steps): contributions add up; right for
              // add()-style gauges (active calls)
  kMax = 1,   // 2 cells (f64, set flag): the largest value set by any live thread (threads
              // sharing a lane count as one: the last set() among them)
  kMin = 2,   // 2 cells (f64, set flag): the smallest
  kLast = 3,  // 2 cells (f64, coarse realtime ns): the most recently set value
};

inline constexpr std::uint32_t kEntryEmpty = 0;
inline constexpr std::uint32_t kEntryClaiming = 1;  // upper bits: claimer's writer slot + 1
inline constexpr std::uint32_t kEntryReady = 2;
inline constexpr std::uint32_t kEntryDead = 3;  // claim abandoned; probing continues past it
constexpr std::uint32_t entry_state(std::uint32_t word) noexcept { return word & 0xffu; }

/// One series. Key bytes in the arena: u16 name length, name, u8 label count, then per label
/// u16 key length, key, u16 value length, value; labels sorted by key, keys unique. All
/// integers little endian. A histogram's bounds: cell_count - 3 doubles (cell_count - 4 -
/// native_buckets for a native one; IEEE 754, little endian) at arena offset `bounds_offset`, a
/// multiple of 8, finite, >= 0 and strictly increasing. Fields
/// other than `state` are written before the release store of kEntryReady and never change
/// afterwards.
struct alignas(kCacheLine) SeriesEntry {
  std::atomic<std::uint32_t> state;
  std::uint32_t hash;        // low 32 bits of the key hash, to skip most mismatches cheaply
  std::uint64_t key_offset;  // arena-relative
  std::uint64_t help_offset;
  std::uint32_t key_length;
  std::uint32_t help_length;
  std::uint32_t first_cell;
  std::uint16_t cell_count;
  MetricType type;
  GaugeMode gauge_mode;
  std::uint32_t window_samples;  // summary: quantile window size wanted; 0 = daemon default
  std::uint32_t bounds_offset;   // histogram: arena-relative bounds (3.1); else 0
  std::atomic<std::uint32_t> daemon_flags;  // the daemon's own (kFlag*); clients never write it
  std::int32_t native_first_index;          // native histogram (3.2): index of native bucket 0
  std::uint16_t native_buckets;             // native histogram: K, 1..kMaxNativeBuckets
  std::int8_t native_schema;                // native histogram: 0..kMaxNativeSchema
  std::uint8_t reserved[5];
};

/// SeriesEntry::daemon_flags (and WhitelistEntry's): what the daemon has counted this entry in
/// already, so that a reload or a restart never counts it twice.
inline constexpr std::uint32_t kFlagUnknownLabelCounted = 1;  // Header::unknown_label_series
inline constexpr std::uint32_t kFlagCorruptCounted = 2;       // Header::corrupt
/// Header::series_rejected[r] is counted under kFlagRejectedCounted << r.
inline constexpr std::uint32_t kFlagRejectedCounted = 4;

// ---- Families -----------------------------------------------------------------------------------
/// Series registered per metric name, for Geometry::family_series_limit. An open-addressing
/// table like the catalog: claimed with a CAS kEntryEmpty -> kEntryClaiming, published with a
/// release store of kEntryReady; `series` is then raised with a CAS below the limit by every
/// registration of a new series of the family. Name bytes in the arena, not encoded.
struct alignas(32) FamilyEntry {
  std::atomic<std::uint32_t> state;
  std::uint32_t hash;         // low 32 bits of the name's hash
  std::uint64_t name_offset;  // arena-relative
  std::uint32_t name_length;
  std::atomic<std::uint32_t> series;
  std::uint8_t reserved[8];
};

// ---- Label whitelists ---------------------------------------------------------------------------
inline constexpr std::uint32_t kWhitelistEmpty = 0;
inline constexpr std::uint32_t kWhitelistReady = 2;

/// A label-key whitelist declared by a client for one family. Append-only; for a family the
/// entry with the highest index wins (the seed's "last RegisterLabels wins"). Arena bytes:
/// u16 family length, family, u8 key count, then per key u16 length, key.
struct alignas(32) WhitelistEntry {
  std::atomic<std::uint32_t> state;
  std::uint32_t length;
  std::uint64_t offset;                     // arena-relative
  std::atomic<std::uint32_t> daemon_flags;  // the daemon's own (kFlag*); clients never write it
  std::uint8_t reserved[12];
};

// ---- Pinned ABI ---------------------------------------------------------------------------------
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8, "cells are plain 8-byte words");
static_assert(std::is_trivially_destructible_v<Header>);
static_assert(std::is_standard_layout_v<Header> && std::is_standard_layout_v<SeriesEntry>);
static_assert(sizeof(Header) == 1024, "header is 16 cache lines");
static_assert(offsetof(Header, magic) == 0 && offsetof(Header, version_major) == 8,
              "magic and version first, so any build can name a foreign version");
static_assert(offsetof(Header, init_state) == 16);
static_assert(offsetof(Header, geometry) == 64);
static_assert(offsetof(Header, writers_offset) == 128);
static_assert(offsetof(Header, arena_used) == 256);
static_assert(offsetof(Header, refusals) == 320);
static_assert(offsetof(Header, spill_bindings) == 448);
static_assert(offsetof(Header, retained_epoch) == 512);
static_assert(offsetof(Header, samples_drained) == 576);
static_assert(sizeof(WriterSlot) == 128);
static_assert(offsetof(WriterSlot, name) == 40);
static_assert(sizeof(Lane) == 128, "producer and consumer on their own cache lines");
static_assert(offsetof(Lane, ring_tail) == kCacheLine);
static_assert(sizeof(RingEntry) == 16, "four samples per cache line");
static_assert(sizeof(SeriesEntry) == 64);
static_assert(offsetof(SeriesEntry, first_cell) == 32 &&
              offsetof(SeriesEntry, window_samples) == 40 &&
              offsetof(SeriesEntry, bounds_offset) == 44);
static_assert(kMaxArenaBytes <= std::uint64_t{1} << 32, "bounds_offset is 32 bits");
static_assert(kMaxHistogramBounds + 4 + kMaxNativeBuckets <= 0xffff, "cell_count is 16 bits");
static_assert(sizeof(WhitelistEntry) == 32);
static_assert(sizeof(FamilyEntry) == 32);
static_assert(offsetof(SeriesEntry, daemon_flags) == 48);
static_assert(offsetof(SeriesEntry, native_first_index) == 52 &&
              offsetof(SeriesEntry, native_buckets) == 56 &&
              offsetof(SeriesEntry, native_schema) == 58);
static_assert((ring_tag(0xffff'fffeULL, kMaxSeries - 1) & 0xffff'ffffu) == kMaxSeries - 1 &&
                  (ring_tag(0xffff'fffeULL, kMaxSeries - 1) >> 32) == 0xffff'ffffu,
              "a ring tag keeps the whole series index and the position's low word apart");

// ---- Derived sizes ------------------------------------------------------------------------------
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) noexcept {
  return (v + a - 1) / a * a;
}
constexpr bool is_pow2(std::uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

/// Bytes between two lanes' cell arrays: the cells, then one Lane's worth of skew. Lane i's
/// control block sits at page offset (i * sizeof(Lane)) % 4096 of the lanes region, and its cell
/// array starts at the same page offset of the cells region, so the cells that share a page
/// offset with the lane's producer line are the same indexes in every lane (cell_reserved):
/// leaving those unallocated keeps a store to a cell from delaying the next load of ring_head
/// (4 KiB aliasing: the core compares only the low 12 address bits of a load with the stores in
/// flight). Adjacent lanes share at most one page, never a cache line.
constexpr std::uint64_t lane_cells_stride(const Geometry& g) noexcept {
  return align_up(std::uint64_t{g.max_cells} * 8, 4096) + sizeof(Lane);
}

/// Cells per 4 KiB page, and how many at the start of each page alias a lane's producer line.
inline constexpr std::uint32_t kCellsPerPage = 4096 / 8;
inline constexpr std::uint32_t kAliasedCells = kCacheLine / 8;

/// Whether cell index c is never handed to a series (see lane_cells_stride).
constexpr bool cell_reserved(std::uint32_t c) noexcept { return c % kCellsPerPage < kAliasedCells; }
static_assert(kMaxHistogramBounds + 4 + kMaxNativeBuckets <= kCellsPerPage - kAliasedCells,
              "a series' cells fit in the unreserved run of one page, as first_fit() needs");

/// The segment's spill lane: the pool's last (see the opening comment).
constexpr std::uint32_t spill_lane(const Geometry& g) noexcept { return g.lane_pool - 1; }

/// Whether a geometry is within the limits every reader assumes.
constexpr bool geometry_valid(const Geometry& g) noexcept {
  return g.max_writers >= 1 && g.max_writers <= kMaxWriters && g.lane_pool >= 2 &&
         g.lane_pool <= kMaxLanePool && g.lanes_per_writer >= 1 &&
         g.lanes_per_writer <= kMaxLanesPerWriter && is_pow2(g.max_series) &&
         g.max_series <= kMaxSeries && g.max_cells >= 2 * kAliasedCells &&
         g.max_cells <= kMaxCells && is_pow2(g.ring_capacity) &&
         g.ring_capacity <= kMaxRingCapacity && g.max_whitelists >= 1 &&
         g.max_whitelists <= kMaxWhitelists && g.family_series_limit >= 1 &&
         g.family_series_limit <= g.max_series && g.arena_bytes >= 4096 &&
         g.arena_bytes <= kMaxArenaBytes;
}

/// Region offsets and total size for a geometry; what the creator writes into the header.
struct Regions {
  std::uint64_t writers, lanes, catalog, whitelist, arena, retained, cells, rings, families, total;
};
constexpr Regions regions_for(const Geometry& g) noexcept {
  Regions r{};
  std::uint64_t at = align_up(sizeof(Header), 4096);
  auto take = [&at](std::uint64_t bytes) {
    const std::uint64_t off = at;
    at = align_up(at + bytes, 4096);  // page-aligned regions: touching one never faults another
    return off;
  };
  r.writers = take(std::uint64_t{g.max_writers} * sizeof(WriterSlot));
  r.lanes = take(std::uint64_t{g.lane_pool} * sizeof(Lane));
  r.catalog = take(std::uint64_t{g.max_series} * sizeof(SeriesEntry));
  r.whitelist = take(std::uint64_t{g.max_whitelists} * sizeof(WhitelistEntry));
  r.arena = take(g.arena_bytes);
  r.retained = take(std::uint64_t{2} * g.max_cells * 8);
  r.cells = take(std::uint64_t{g.lane_pool} * lane_cells_stride(g));
  r.rings = take(std::uint64_t{g.lane_pool} * g.ring_capacity * sizeof(RingEntry));
  r.families = take(std::uint64_t{g.max_series} * sizeof(FamilyEntry));
  r.total = at;
  return r;
}

inline constexpr std::uint64_t kDefaultSegmentBytes = regions_for(kDefaultGeometry).total;
static_assert(geometry_valid(kDefaultGeometry));
static_assert(kDefaultSegmentBytes < (std::uint64_t{32} << 20),
              "defaults fit Docker's 64 MiB /dev/shm");

}  // namespace sipmetrics::layout
