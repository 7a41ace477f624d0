/* sipmetrics C API: record counters, gauges and latency samples from C SIP servers (Kamailio,
 * OpenSIPS, FreeSWITCH, Asterisk modules) into the shared-memory segment that sipmetricsd
 * serves on /metrics. The C++ client (<sipmetrics/client.hpp>, <sipmetrics/sip.hpp>) underneath,
 * behind a C99 interface in libsipmetrics.so.0.
 *
 *   #include <sipmetrics/sipmetrics.h>       cc prog.c $(pkg-config --cflags --libs sipmetrics)
 *
 *   sipmetrics_client* c = sipmetrics_global();          // attaches on first use
 *   sipmetrics_counter calls;                             // cold: resolve once, at init
 *   const sipmetrics_label l[] = {{"transport", "sip"}, {"status", "ok"}};
 *   sipmetrics_counter_get(c, "voiceserver_calls_total", "Calls.", l, 2, &calls);
 *   sipmetrics_counter_inc(calls);                        // hot: no lock, allocation, syscall
 *   sipmetrics_sip_invite_result(SIPMETRICS_SIP_DIRECTION_INBOUND, 486);
 *
 * Guarantees (every function)
 *   - Never aborts, never lets a C++ exception out, never blocks on the daemon.
 *   - Safe when detached: a process that cannot attach (no permission, no space, a segment of
 *     another layout version, a path in a missing directory) prints one line on stderr and runs
 *     detached; every handle is then a no-op. Detachment lasts for the life of the process.
 *   - Thread-safe: any function may be called from any thread at any time.
 *   - fork(): handles and clients obtained before fork() stay valid in the child, which writes
 *     into a writer slot of its own (claimed on its first write). Resolve in the parent, fork
 *     the workers, use the handles in them: the Kamailio pattern.
 *
 * Strings: every `const char*` is a NUL-terminated UTF-8 string (except where a length is
 * passed), read during the call only. Names, help texts, label keys and values are copied into
 * the segment at registration; the caller may free or reuse its buffers as soon as the call
 * returns. Metric names follow Prometheus' grammar ([a-zA-Z_:][a-zA-Z0-9_:]*), label keys
 * [a-zA-Z_][a-zA-Z0-9_]*; anything else is refused (SIPMETRICS_REFUSED, counted on /metrics).
 *
 * Handles (sipmetrics_counter, sipmetrics_gauge, sipmetrics_summary) are small structs passed by
 * value (in two registers on x86-64 and AArch64); a sipmetrics_histogram, 64 bytes, is passed by
 * pointer. Their contents are private. A handle is valid for the life of the process; a
 * zero-initialised handle (`sipmetrics_counter c = {{0}};`, or any static one) is a valid no-op
 * handle, so a handle used before it was resolved writes nothing. A handle must come from a *_get
 * call or be zero-initialised: never fill one by hand.
 *
 * One process, two clients: libsipmetrics keeps its own attachment, apart from any C++ code of
 * the same process that includes <sipmetrics/client.hpp> directly. Both work; the daemon then
 * sees two writers for the process and sums them as usual.
 *
 * Thread-local storage: libsipmetrics uses the initial-exec TLS model (its hot path reads a
 * thread-local array per update; the general-dynamic model costs a __tls_get_addr call each
 * time). It can be dlopen()ed, directly or as a dependency of a Lua or Python module: glibc
 * serves it from the static TLS surplus (about 0.5 KiB of it). If a process has used up that
 * surplus, dlopen() fails cleanly with "cannot allocate memory in static TLS block"; raise it
 * with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096.
 */
#ifndef SIPMETRICS_SIPMETRICS_H
#define SIPMETRICS_SIPMETRICS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SIPMETRICS_API __attribute__((__visibility__("default")))
#else
#define SIPMETRICS_API
#endif
/* Hot-path functions are called through the GOT rather than a PLT stub (GCC): one indirect
 * jump fewer per update. */
#if defined(__has_attribute)
#if __has_attribute(__noplt__)
#define SIPMETRICS_HOT SIPMETRICS_API __attribute__((__noplt__))
#endif
#endif
#ifndef SIPMETRICS_HOT
#define SIPMETRICS_HOT SIPMETRICS_API
#endif

/* C++ callers may rely on it: nothing here throws. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define SIPMETRICS_NOEXCEPT noexcept
#else
#define SIPMETRICS_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Status, clients ========================================================================= */

/** What a cold-path call achieved. Hot-path calls return nothing: they cannot fail in a way a
 *  caller could act on (a no-op handle is reported when it is resolved). */
typedef enum sipmetrics_status {
  /** Done; the handle (if any) writes to the segment. */
  SIPMETRICS_OK = 0,
  /** The client runs detached (see the top of this file): the handle is a no-op. */
  SIPMETRICS_DETACHED = 1,
  /** The segment refused the series or declaration: a name or label key outside Prometheus'
   *  grammar, a full catalog or arena, the same series already registered with another gauge
   *  mode or cell shape. Counted in the segment and shown on
   *  /metrics (sipmetrics_refusals_total{reason}); the handle is a no-op. */
  SIPMETRICS_REFUSED = 2,
  /** A NULL where a string, label array, client or output pointer is required, or a value
   *  outside its enum (gauge mode). Nothing was registered; the handle is a no-op. */
  SIPMETRICS_INVALID_ARGUMENT = 3,
  /** Out of memory (sipmetrics_client_open only). */
  SIPMETRICS_NO_MEMORY = 4
} sipmetrics_status;

/** A short English description of a status ("ok", "detached", ...); never NULL, static storage.
 *  Thread-safe, cold. */
SIPMETRICS_API const char* sipmetrics_status_string(sipmetrics_status status) SIPMETRICS_NOEXCEPT;

/** The library's version, e.g. "0.1.0"; static storage. */
SIPMETRICS_API const char* sipmetrics_version(void) SIPMETRICS_NOEXCEPT;

/** A connection to one segment, opaque. All clients of one segment in a process share one
 *  attachment and one writer slot, so opening another for the same segment is cheap. */
typedef struct sipmetrics_client sipmetrics_client;

/** The process-wide client on the default segment: $SIPMETRICS_SEGMENT if set (a value
 *  containing '/' is a file path), else the POSIX shared-memory name "sipmetrics"; the writer
 *  name is the program's name. Attaches on the first call (cold: opens or creates the segment);
 *  afterwards returns the same pointer (a few loads). Never NULL, never to be closed.
 *  Thread-safe. The C++ client's Client::global(). */
SIPMETRICS_API sipmetrics_client* sipmetrics_global(void) SIPMETRICS_NOEXCEPT;

/** Attaches to `segment` (NULL or "": as sipmetrics_global()) as `writer_name` (NULL or "": the
 *  program's name; shown by the daemon's writer list) and stores a new client in *out. Cold.
 *  Returns SIPMETRICS_OK when attached, SIPMETRICS_DETACHED when the segment cannot be used
 *  (*out is still a usable client whose handles are no-ops; the reason went to stderr once),
 *  SIPMETRICS_NO_MEMORY (*out is NULL), or SIPMETRICS_INVALID_ARGUMENT if out is NULL.
 *  At most 8 distinct segments per process; later ones are detached. Thread-safe. */
SIPMETRICS_API sipmetrics_status sipmetrics_client_open(
    const char* segment, const char* writer_name, sipmetrics_client** out) SIPMETRICS_NOEXCEPT;

/** Frees a client from sipmetrics_client_open(). Handles resolved through it stay valid (they
 *  belong to the segment attachment, which lives as long as the process). NULL and the global
 *  client are ignored. Cold; do not use `client` afterwards. */
SIPMETRICS_API void sipmetrics_client_close(sipmetrics_client* client) SIPMETRICS_NOEXCEPT;

/** 1 when `client` is attached, 0 when detached or NULL. Thread-safe, a load. */
SIPMETRICS_API int sipmetrics_client_attached(const sipmetrics_client* client) SIPMETRICS_NOEXCEPT;

/* ==== Handles: resolve once (cold), update on the hot path =====================================
 */

/** One label. Both strings are copied at registration, not kept. */
typedef struct sipmetrics_label {
  const char* key;   /**< [a-zA-Z_][a-zA-Z0-9_]*; keys beginning with "__" are reserved */
  const char* value; /**< any UTF-8; a small fixed vocabulary (never a Call-ID) */
} sipmetrics_label;

/** Labels per series at most; more is SIPMETRICS_INVALID_ARGUMENT. */
#define SIPMETRICS_MAX_LABELS 16

/** How a gauge combines across threads and processes (the C++ GaugeMode, same values). The
 *  contribution of a process that exits or crashes is always dropped. */
typedef enum sipmetrics_gauge_mode {
  /** The sum of every live process's contribution; right for add()-style gauges (active calls). */
  SIPMETRICS_GAUGE_SUM = 0,
  /** The largest value set by any live thread (threads sharing a lane count as one). */
  SIPMETRICS_GAUGE_MAX = 1,
  /** The smallest value set by any live thread. */
  SIPMETRICS_GAUGE_MIN = 2,
  /** The most recently set value (coarse realtime clock). */
  SIPMETRICS_GAUGE_LAST = 3
} sipmetrics_gauge_mode;

/** A counter series. Private contents; zero-initialised = no-op. */
typedef struct sipmetrics_counter {
  uint32_t opaque_[3];
} sipmetrics_counter;
/** A gauge series (with its mode). Private contents; zero-initialised = no-op. */
typedef struct sipmetrics_gauge {
  uint32_t opaque_[4];
} sipmetrics_gauge;
/** A summary series. Private contents; zero-initialised = no-op. */
typedef struct sipmetrics_summary {
  uint32_t opaque_[3];
} sipmetrics_summary;
/** A histogram series (with where its bounds are). Private contents; zero-initialised = no-op.
 *  Passed by pointer. Its size is fixed for the ABI and leaves room for more per-series state
 *  (such as native buckets, registered by a function of their own) without a new handle type. */
typedef struct sipmetrics_histogram {
  uint64_t opaque_[8];
} sipmetrics_histogram;

/** Finite bucket bounds per histogram at most (a +Inf bucket is always added). */
#define SIPMETRICS_MAX_HISTOGRAM_BOUNDS 64

/** Finds or registers the counter series (name, labels) and stores its handle in *out. `help`
 *  may be NULL (no help text; the first registration's help stays). `labels` may be NULL when
 *  `nlabels` is 0; their order does not matter. A key given twice, a value longer than 1024 bytes,
 *  a reserved key (`le`, `quantile`, a `__` prefix) or more than 16 labels refuse the series
 *  (REFUSED, counted by reason on /metrics): nothing is cut or merged. Idempotent: the same
 * series from any thread or process is the same series (the daemon sums it over processes). Cold: a
 * hash probe and a key compare in the shared catalog, plus the registration the first time. Returns
 * SIPMETRICS_OK, or DETACHED / REFUSED / INVALID_ARGUMENT with *out set to a no-op handle (*out
 * untouched only when out is NULL). Thread-safe. */
SIPMETRICS_API sipmetrics_status sipmetrics_counter_get(
    sipmetrics_client* client, const char* name, const char* help, const sipmetrics_label* labels,
    size_t nlabels, sipmetrics_counter* out) SIPMETRICS_NOEXCEPT;

/** Finds or registers a gauge series combined with `mode` across processes; as
 *  sipmetrics_counter_get(). The same series registered before with another mode is REFUSED. */
SIPMETRICS_API sipmetrics_status sipmetrics_gauge_get(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, sipmetrics_gauge_mode mode,
                                                      sipmetrics_gauge* out) SIPMETRICS_NOEXCEPT;

/** Finds or registers a summary series; as sipmetrics_counter_get(). The daemon serves
 *  P50/P90/P95/P99 over a sliding window plus exact _sum and _count. `window_samples` asks for
 *  a quantile window of that many samples (0: the daemon's default). */
SIPMETRICS_API sipmetrics_status sipmetrics_summary_get(
    sipmetrics_client* client, const char* name, const char* help, const sipmetrics_label* labels,
    size_t nlabels, uint32_t window_samples, sipmetrics_summary* out) SIPMETRICS_NOEXCEPT;

/** Finds or registers a classic Prometheus histogram series with these finite bucket bounds (a
 *  +Inf bucket is always added); as sipmetrics_counter_get(). The daemon serves cumulative
 *  `_bucket{le="..."}` samples, `_sum` and `_count`, all exact (kept in the lane's cells, never
 *  sampled or dropped), which add up across processes and hosts in PromQL. `bounds` holds
 *  `nbounds` values, 1 to SIPMETRICS_MAX_HISTOGRAM_BOUNDS of them, finite, not negative and
 *  strictly increasing; they are copied into the segment (the caller's array is not kept).
 *  sipmetrics_sip_latency_buckets_ms() gives the SIP latency bounds. Returns SIPMETRICS_OK;
 *  INVALID_ARGUMENT for bounds that break that rule (none, too many, NaN, +-Inf, a negative,
 *  unsorted or duplicate values) or a NULL `bounds`, as for any other bad argument: nothing is
 *  registered or counted (the C++ client counts such bounds as refusals, invalid_buckets);
 *  REFUSED as sipmetrics_counter_get(), and also for the same series registered before with
 *  other bounds (counted as type_conflict); DETACHED. *out is a no-op handle on every status
 *  but OK (untouched only when out is NULL). Cold. Thread-safe. */
SIPMETRICS_API sipmetrics_status
sipmetrics_histogram_get(sipmetrics_client* client, const char* name, const char* help,
                         const sipmetrics_label* labels, size_t nlabels, const double* bounds,
                         size_t nbounds, sipmetrics_histogram* out) SIPMETRICS_NOEXCEPT;

/** Native buckets for SIP latencies in milliseconds (the C++ kSipLatencyNativeMs): schema 3 (a
 *  factor of 2^(1/8) between bucket edges) over (0.125 ms, 65.5 s], 152 buckets. */
#define SIPMETRICS_SIP_LATENCY_NATIVE_SCHEMA 3
#define SIPMETRICS_SIP_LATENCY_NATIVE_LOWEST_MS 0.125
#define SIPMETRICS_SIP_LATENCY_NATIVE_HIGHEST_MS 65536.0
#define SIPMETRICS_MAX_NATIVE_BUCKETS 256

/** As sipmetrics_histogram_get(), with native (sparse exponential) buckets kept beside the
 *  classic ones and served in the protobuf format Prometheus asks for when started with
 *  --enable-feature=native-histograms (text scrapers keep getting the classic buckets). Bucket
 *  edges are powers of 2^(2^-schema); observations at or below `lowest` (rounded up to a bucket
 *  edge; 0 and negatives too) count in the zero bucket, those above `highest` (rounded up to
 *  one; +Inf too) in the last bucket; NaN in none (in _count and the +Inf bucket). Each native
 *  bucket is one cell in every lane of the segment. INVALID_ARGUMENT also for `schema` outside
 *  0..8, `lowest` not a positive normal number, `highest` not finite or not above `lowest`, or
 *  more than SIPMETRICS_MAX_NATIVE_BUCKETS buckets between them (nothing registered or
 *  counted); REFUSED also for the same series registered before with another window. A family
 *  is of one kind: a name registered both classic and native is served as the kind registered
 *  first (the other counted in sipmetrics_series_rejected_total{reason="type_conflict"}). The
 *  handle is a sipmetrics_histogram like any other: sipmetrics_histogram_observe(). Cold.
 *  Thread-safe. */
SIPMETRICS_API sipmetrics_status sipmetrics_native_histogram_get(
    sipmetrics_client* client, const char* name, const char* help, const sipmetrics_label* labels,
    size_t nlabels, const double* bounds, size_t nbounds, int schema, double lowest, double highest,
    sipmetrics_histogram* out) SIPMETRICS_NOEXCEPT;

/** The bucket bounds for SIP latencies in milliseconds (the C++ kSipLatencyBucketsMs): 5 ms to
 *  32 s, 14 bounds (T1 = 500 ms and its doubling retransmission intervals, the post-dial delays
 *  callers notice (3 s) and abandon at (8 s), timer B = 32 s). Returns them in ascending order,
 *  static storage, and stores their count in *count (when count is not NULL). Pure. */
SIPMETRICS_API const double* sipmetrics_sip_latency_buckets_ms(size_t* count) SIPMETRICS_NOEXCEPT;

/* ---- Counter and gauge updates: inline -----------------------------------------------------
 * With GCC or Clang, sipmetrics_counter_inc(), sipmetrics_counter_add() and
 * sipmetrics_gauge_add() are static inline functions: the update on the calling thread's own
 * lane is compiled into the caller (a thread-local load, a test, a load and a store), as the C++
 * handle's is, and every other case (a thread's first update, a shared lane, a no-op handle, a
 * non-integral or non-SUM gauge step) calls the library. Define SIPMETRICS_NO_INLINE before
 * including this header to call the library every time instead (the same exported functions,
 * the same effect). What the inline code reads of the library is part of its ABI, versioned by
 * the SONAME: the thread-local array sipmetrics_thread_cells_ (the calling thread's own lane
 * cells per attachment, NULL when it has none) and a handle's fields. Names ending in '_' are
 * for this header's inline code only. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(SIPMETRICS_NO_INLINE) && \
    !defined(SIPMETRICS_C_LIBRARY)
#define SIPMETRICS_INLINE_UPDATES 1
#endif

/* A handle's word 2 is its attachment id xor the no-op id 8, so that a zero-initialised handle
 * is the no-op one. The inline updates index sipmetrics_thread_cells_ with its low four bits
 * (always in bounds, no test): the slots from the no-op id up are always NULL, so the no-op id
 * takes the library's path, which returns at once. A handle not made by a *_get call (nor
 * copied from one) is a program error: the library treats any word 2 past the no-op id as the
 * no-op; the inline code reads only word 2's low four bits, and trusts word 0 as the C++ handle
 * trusts its cell. */
#define SIPMETRICS_NOOP_ATTACHMENT_ 8u
#define SIPMETRICS_THREAD_CELL_SLOTS_ 16u

/* What the inline updates call for every case but the common one: a handle's words, as scalars
 * (passing the struct makes GCC copy it through the stack on every update). */
SIPMETRICS_API void sipmetrics_counter_add_slow_(uint32_t w0, uint32_t w1, uint32_t w2,
                                                 uint64_t n) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_gauge_add_slow_(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
                                               double d) SIPMETRICS_NOEXCEPT;

#ifdef SIPMETRICS_INLINE_UPDATES
SIPMETRICS_API extern __thread uint64_t* sipmetrics_thread_cells_[SIPMETRICS_THREAD_CELL_SLOTS_]
    __attribute__((__tls_model__("initial-exec")));

/* The calling thread's own lane cells for a handle's word 2, or NULL. */
static inline uint64_t* sipmetrics_own_cells_(uint32_t word) SIPMETRICS_NOEXCEPT {
  return sipmetrics_thread_cells_[(word ^ SIPMETRICS_NOOP_ATTACHMENT_) &
                                  (SIPMETRICS_THREAD_CELL_SLOTS_ - 1u)];
}

/** Adds n to the counter (counters never go down: at 2^64 - 1 the count saturates and stays).
 *  Hot; as sipmetrics_counter_inc(). */
static inline void sipmetrics_counter_add(sipmetrics_counter counter,
                                          uint64_t n) SIPMETRICS_NOEXCEPT {
  uint64_t* const cells = sipmetrics_own_cells_(counter.opaque_[2]);
  if (__builtin_expect(cells != NULL, 1)) {
    uint64_t* const cell = cells + counter.opaque_[0];
    uint64_t sum;
    /* A branch, not a select: the select would lengthen the load-add-store chain. */
    if (__builtin_add_overflow(__atomic_load_n(cell, __ATOMIC_RELAXED), n, &sum)) sum = UINT64_MAX;
    __atomic_store_n(cell, sum, __ATOMIC_RELAXED);
    return;
  }
  sipmetrics_counter_add_slow_(counter.opaque_[0], counter.opaque_[1], counter.opaque_[2], n);
}

/** Adds 1 to the counter. Hot: an owner-only load and store on the calling thread's lane (an
 *  atomic add when the process runs more threads than it has lanes); no lock, allocation,
 *  system call or string work. The first update on a thread binds the thread to a lane (cold,
 *  once). A no-op handle returns at once. Thread-safe. */
static inline void sipmetrics_counter_inc(sipmetrics_counter counter) SIPMETRICS_NOEXCEPT {
  sipmetrics_counter_add(counter, 1);
}

/** Adds d (negative to subtract) to this process's contribution. SUM mode: integral steps (the
 *  usual +1/-1) are exact and cheapest. Other modes add to the value this thread last set.
 *  Hot; as sipmetrics_counter_inc(). */
static inline void sipmetrics_gauge_add(sipmetrics_gauge gauge, double d) SIPMETRICS_NOEXCEPT {
  uint64_t* const cells = sipmetrics_own_cells_(gauge.opaque_[2]);
  /* SUM mode (0) and an integral step within +-2^53: the integer cell after the value cell. */
  if (__builtin_expect(cells != NULL && (gauge.opaque_[3] & 3u) == 0 && d >= -9007199254740992.0 &&
                           d <= 9007199254740992.0,
                       1)) {
    const int64_t step = (int64_t)d;
    if (__builtin_expect((double)step == d, 1)) {
      uint64_t* const cell = cells + gauge.opaque_[0] + 1;
      __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + (uint64_t)step,
                       __ATOMIC_RELAXED);
      return;
    }
  }
  sipmetrics_gauge_add_slow_(gauge.opaque_[0], gauge.opaque_[1], gauge.opaque_[2], gauge.opaque_[3],
                             d);
}
#else
/* The same three as calls (documented with the inline versions above). */
SIPMETRICS_HOT void sipmetrics_counter_inc(sipmetrics_counter counter) SIPMETRICS_NOEXCEPT;
SIPMETRICS_HOT void sipmetrics_counter_add(sipmetrics_counter counter,
                                           uint64_t n) SIPMETRICS_NOEXCEPT;
SIPMETRICS_HOT void sipmetrics_gauge_add(sipmetrics_gauge gauge, double d) SIPMETRICS_NOEXCEPT;
#endif

/** Sets the value. SUM mode: makes this process's contribution v (reads this process's other
 *  lanes: a few loads; other threads' later adds count on top). MAX / MIN / LAST: this
 *  thread's value. Hot; as sipmetrics_counter_inc(). */
SIPMETRICS_HOT void sipmetrics_gauge_set(sipmetrics_gauge gauge, double v) SIPMETRICS_NOEXCEPT;

/** One sample, in the metric's unit (e.g. milliseconds). Only finite, non-negative samples are
 *  recorded: NaN, +-Inf and negatives are counted in sipmetrics_invalid_samples_total and left
 *  out of _sum, _count and the quantiles. Adds to _sum and _count and queues the sample on the
 *  thread's ring for the quantiles; a full ring drops the sample for the quantiles only (counted
 *  in voiceserver_metrics_observe_dropped_total), never for _sum and _count. Hot; as
 *  sipmetrics_counter_inc(). */
SIPMETRICS_HOT void sipmetrics_summary_observe(sipmetrics_summary summary,
                                               double v) SIPMETRICS_NOEXCEPT;

/** One observation, in the metric's unit (e.g. milliseconds): +1 in its bucket and in _count,
 *  + v to _sum. Values outside [0, +Inf) are still counted, so that every exposition format
 *  stays valid (_count equals the +Inf bucket, _sum is never NaN or negative): a negative value
 *  (and -Inf) in the first bucket, +Inf and NaN in the +Inf bucket, none of them added to _sum.
 *  Hot: a search over the bounds (read in place from the segment) and three owner-only load and
 *  stores on the calling thread's lane (atomic adds on a shared lane); no lock, allocation,
 *  system call or string work. A NULL or no-op handle returns at once. Thread-safe. */
SIPMETRICS_HOT void sipmetrics_histogram_observe(const sipmetrics_histogram* histogram,
                                                 double v) SIPMETRICS_NOEXCEPT;

/** 1 when the handle writes to a segment, 0 for a no-op handle. Thread-safe, no memory read. */
SIPMETRICS_API int sipmetrics_counter_valid(sipmetrics_counter counter) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API int sipmetrics_gauge_valid(sipmetrics_gauge gauge) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API int sipmetrics_summary_valid(sipmetrics_summary summary) SIPMETRICS_NOEXCEPT;
/** 1 when the histogram handle writes to a segment, 0 for a no-op handle or NULL. */
SIPMETRICS_API int sipmetrics_histogram_valid(const sipmetrics_histogram* histogram)
    SIPMETRICS_NOEXCEPT;

/** Declares the label keys allowed for a family (the seed's RegisterLabels); the daemon drops
 *  other keys, merges the series that collapse and counts each violation in
 *  voiceserver_metrics_unknown_label_total. Declaring again replaces the list (the newest
 *  declaration wins); an identical declaration is not stored twice. `keys` may be NULL when
 *  `nkeys` is 0 (no label allowed). Cold (takes the attachment's lock).
 *  Returns SIPMETRICS_OK; DETACHED; REFUSED for a family name or key outside the grammar, more
 *  than 255 keys, or a full whitelist table or arena (counted on /metrics; for a full table the
 *  refusal is only counted, and OK is returned); INVALID_ARGUMENT for a NULL. Thread-safe. */
SIPMETRICS_API sipmetrics_status sipmetrics_register_labels(sipmetrics_client* client,
                                                            const char* family,
                                                            const char* const* keys,
                                                            size_t nkeys) SIPMETRICS_NOEXCEPT;

/* ==== The seed's registry-style calls ==========================================================
 */
/* Each call looks the series up (a hash probe and a key compare in the shared catalog, no
 * allocation once the series exists) and updates it: convenient off the hot path; on a hot
 * path, resolve a handle once instead. Statuses as sipmetrics_counter_get(). Thread-safe. */

/** The named counter += 1 (the seed's IncCounter). */
SIPMETRICS_API sipmetrics_status sipmetrics_inc_counter(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels) SIPMETRICS_NOEXCEPT;
/** The named counter += n (the seed's AddCounter). */
SIPMETRICS_API sipmetrics_status sipmetrics_add_counter(sipmetrics_client* client, const char* name,
                                                        const char* help,
                                                        const sipmetrics_label* labels,
                                                        size_t nlabels,
                                                        uint64_t n) SIPMETRICS_NOEXCEPT;
/** The named SUM-mode gauge set to v for this process (the seed's SetGauge). */
SIPMETRICS_API sipmetrics_status sipmetrics_set_gauge(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, double v) SIPMETRICS_NOEXCEPT;
/** The named SUM-mode gauge += v (the seed's AddGauge). */
SIPMETRICS_API sipmetrics_status sipmetrics_add_gauge(sipmetrics_client* client, const char* name,
                                                      const char* help,
                                                      const sipmetrics_label* labels,
                                                      size_t nlabels, double v) SIPMETRICS_NOEXCEPT;
/** One sample into the unlabelled summary `name` (the seed's Observe). */
SIPMETRICS_API sipmetrics_status sipmetrics_observe(sipmetrics_client* client, const char* name,
                                                    const char* help, double v) SIPMETRICS_NOEXCEPT;
/** sipmetrics_observe() with a quantile window of max_samples (<= 0: the daemon's default; the
 *  seed's ObserveN). */
SIPMETRICS_API sipmetrics_status sipmetrics_observe_n(sipmetrics_client* client, const char* name,
                                                      const char* help, double v,
                                                      int max_samples) SIPMETRICS_NOEXCEPT;
/** The seed's ObserveAsync: sipmetrics_observe(), which already never blocks. */
SIPMETRICS_API sipmetrics_status sipmetrics_observe_async(sipmetrics_client* client,
                                                          const char* name, const char* help,
                                                          double v) SIPMETRICS_NOEXCEPT;
/** Samples this process's rings dropped because they were full (the seed's AsyncDroppedCount;
 *  a fork child counts its own only). 0 when detached or client is NULL. Cold: a few loads per
 *  lane. Thread-safe. */
SIPMETRICS_API uint64_t sipmetrics_async_dropped_count(const sipmetrics_client* client)
    SIPMETRICS_NOEXCEPT;

/* ==== Typed SIP helpers (<sipmetrics/sip.hpp>) =================================================
 */
/* The seed's helpers with its metric names, label keys, label values and series bounds (listed
 * in docs/metrics.md), implemented by the C++ helpers. Each exists twice: on the global client
 * (sipmetrics_sip_X) and on an explicit one (sipmetrics_sip_X_on; a NULL client is a no-op).
 * Cost: the first helper call on a client (or sipmetrics_sip_prepare) declares every family's
 * whitelist and registers all 92 series (cold, once; one allocation kept for the process);
 * every other call is hot: a table lookup, an index and one handle update (no lock, allocation,
 * system call or string formatting). Thread-safe, fork-safe, return nothing.
 * An enumerator outside its enum's range is dropped, except for a method (counted as "other");
 * a status code outside 100..699 counts as code_class="other". Nothing creates a new series. */

typedef enum sipmetrics_sip_direction {
  SIPMETRICS_SIP_DIRECTION_INBOUND = 0, /**< "inbound" */
  SIPMETRICS_SIP_DIRECTION_OUTBOUND = 1 /**< "outbound" */
} sipmetrics_sip_direction;
/** Who sent the BYE. */
typedef enum sipmetrics_sip_bye_by {
  SIPMETRICS_SIP_BYE_BY_LOCAL = 0, /**< "local" */
  SIPMETRICS_SIP_BYE_BY_REMOTE = 1 /**< "remote" */
} sipmetrics_sip_bye_by;
typedef enum sipmetrics_sip_bye_reason {
  SIPMETRICS_SIP_BYE_REASON_NORMAL = 0,        /**< "normal": 200 OK BYE, no special cause */
  SIPMETRICS_SIP_BYE_REASON_TIMER_EXPIRED = 1, /**< "timer-expired": RFC 4028 session timer */
  SIPMETRICS_SIP_BYE_REASON_ERROR = 2,         /**< "error": pipeline failure etc. */
  SIPMETRICS_SIP_BYE_REASON_USER_HANGUP = 3    /**< "user-hangup": explicit hangup intent */
} sipmetrics_sip_bye_reason;
/** RFC 4028 refresher events. */
typedef enum sipmetrics_sip_refresh_result {
  SIPMETRICS_SIP_REFRESH_OK = 0,              /**< "ok": peer accepted with 200 */
  SIPMETRICS_SIP_REFRESH_BUMPED_422 = 1,      /**< "422-bumped": retried with Min-SE */
  SIPMETRICS_SIP_REFRESH_GAVE_UP_422 = 2,     /**< "422-gave-up": second 422, stopped */
  SIPMETRICS_SIP_REFRESH_DIALOG_GONE_481 = 3, /**< "481": dialog disappeared */
  SIPMETRICS_SIP_REFRESH_ROLE_SWAP = 4        /**< "role-swap": peer took the refresher role */
} sipmetrics_sip_refresh_result;
typedef enum sipmetrics_sip_dtls_result {
  SIPMETRICS_SIP_DTLS_OK = 0,                  /**< "ok" */
  SIPMETRICS_SIP_DTLS_FAIL = 1,                /**< "fail" */
  SIPMETRICS_SIP_DTLS_TIMEOUT = 2,             /**< "timeout" */
  SIPMETRICS_SIP_DTLS_FINGERPRINT_MISMATCH = 3 /**< "fingerprint-mismatch" */
} sipmetrics_sip_dtls_result;
typedef enum sipmetrics_sip_stir_result {
  SIPMETRICS_SIP_STIR_VERIFIED = 0,   /**< "verified" */
  SIPMETRICS_SIP_STIR_FAILED = 1,     /**< "failed" */
  SIPMETRICS_SIP_STIR_SOFT_FAIL = 2,  /**< "soft-fail": verifier rejected, call went on */
  SIPMETRICS_SIP_STIR_NO_IDENTITY = 3 /**< "no-identity" */
} sipmetrics_sip_stir_result;
/** The resolved engine mode of a voice attach. */
typedef enum sipmetrics_sip_voice_attach_mode {
  SIPMETRICS_SIP_VOICE_ATTACH_CASCADED = 0, /**< "cascaded" */
  SIPMETRICS_SIP_VOICE_ATTACH_REALTIME = 1  /**< "realtime" */
} sipmetrics_sip_voice_attach_mode;
typedef enum sipmetrics_sip_voice_attach_result {
  SIPMETRICS_SIP_VOICE_ATTACH_OK = 0,          /**< "ok" */
  SIPMETRICS_SIP_VOICE_ATTACH_CONFIG_ERROR = 1 /**< "config_error" */
} sipmetrics_sip_voice_attach_result;
/** Modes a voice-attach mode fallback goes from and to. */
typedef enum sipmetrics_sip_voice_mode {
  SIPMETRICS_SIP_VOICE_MODE_PIPELINE = 0, /**< "pipeline" */
  SIPMETRICS_SIP_VOICE_MODE_REALTIME = 1  /**< "realtime" */
} sipmetrics_sip_voice_mode;
typedef enum sipmetrics_sip_transport {
  SIPMETRICS_SIP_TRANSPORT_SIP = 0,   /**< "sip" */
  SIPMETRICS_SIP_TRANSPORT_WEBRTC = 1 /**< "webrtc" */
} sipmetrics_sip_transport;
/** How a call ended. */
typedef enum sipmetrics_sip_call_status {
  SIPMETRICS_SIP_CALL_OK = 0,            /**< "ok" */
  SIPMETRICS_SIP_CALL_DIALOG_HANGUP = 1, /**< "dialog-hangup" */
  SIPMETRICS_SIP_CALL_ICE_FAILED = 2,    /**< "ice-failed" */
  SIPMETRICS_SIP_CALL_PIPELINE_ERROR = 3 /**< "pipeline-error" */
} sipmetrics_sip_call_status;
typedef enum sipmetrics_sip_dialog_outcome {
  SIPMETRICS_SIP_DIALOG_OK = 0,  /**< "ok" */
  SIPMETRICS_SIP_DIALOG_FAIL = 1 /**< "fail" */
} sipmetrics_sip_dialog_outcome;
/** SIP response classes (RFC 3261 section 7.2). */
typedef enum sipmetrics_sip_code_class {
  SIPMETRICS_SIP_CODE_1XX = 0,  /**< "1xx" provisional */
  SIPMETRICS_SIP_CODE_2XX = 1,  /**< "2xx" successful */
  SIPMETRICS_SIP_CODE_3XX = 2,  /**< "3xx" redirection */
  SIPMETRICS_SIP_CODE_4XX = 3,  /**< "4xx" request failure */
  SIPMETRICS_SIP_CODE_5XX = 4,  /**< "5xx" server failure */
  SIPMETRICS_SIP_CODE_6XX = 5,  /**< "6xx" global failure */
  SIPMETRICS_SIP_CODE_OTHER = 6 /**< "other": not a SIP status code (outside 100..699) */
} sipmetrics_sip_code_class;
/** Methods counted by name; anything else is OTHER. */
typedef enum sipmetrics_sip_method {
  SIPMETRICS_SIP_METHOD_INVITE = 0,
  SIPMETRICS_SIP_METHOD_ACK = 1,
  SIPMETRICS_SIP_METHOD_BYE = 2,
  SIPMETRICS_SIP_METHOD_CANCEL = 3,
  SIPMETRICS_SIP_METHOD_REGISTER = 4,
  SIPMETRICS_SIP_METHOD_OPTIONS = 5,
  SIPMETRICS_SIP_METHOD_PRACK = 6,     /**< RFC 3262 */
  SIPMETRICS_SIP_METHOD_SUBSCRIBE = 7, /**< RFC 6665 */
  SIPMETRICS_SIP_METHOD_NOTIFY = 8,    /**< RFC 6665 */
  SIPMETRICS_SIP_METHOD_UPDATE = 9,    /**< RFC 3311 */
  SIPMETRICS_SIP_METHOD_MESSAGE = 10,  /**< RFC 3428 */
  SIPMETRICS_SIP_METHOD_REFER = 11,    /**< RFC 3515 */
  SIPMETRICS_SIP_METHOD_PUBLISH = 12,  /**< RFC 3903 */
  SIPMETRICS_SIP_METHOD_INFO = 13,     /**< RFC 6086 */
  SIPMETRICS_SIP_METHOD_OTHER = 14     /**< "other" */
} sipmetrics_sip_method;

/** The response class of a status code: 100..699 -> its hundreds class, else OTHER. Pure. */
SIPMETRICS_API sipmetrics_sip_code_class sipmetrics_sip_classify_code(int code) SIPMETRICS_NOEXCEPT;
/** The counted method for a method name of `len` bytes (need not be NUL-terminated: Kamailio's
 *  str, $rm). Case-sensitive (RFC 3261 section 7.1): only the exact upper-case token of a listed
 *  method matches; anything else, and NULL, is OTHER. Pure, no allocation. */
SIPMETRICS_API sipmetrics_sip_method sipmetrics_sip_classify_method(const char* method,
                                                                    size_t len) SIPMETRICS_NOEXCEPT;

/** Declares the whitelists and registers all 92 series of the helpers now, instead of on the
 *  first helper call. Cold; idempotent. Call it at worker start, before fork() if workers fork.
 *  Returns SIPMETRICS_OK, DETACHED, or INVALID_ARGUMENT for a NULL client. */
SIPMETRICS_API sipmetrics_status sipmetrics_sip_prepare(void) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API sipmetrics_status sipmetrics_sip_prepare_on(sipmetrics_client* client)
    SIPMETRICS_NOEXCEPT;

/** sip_invite_result_total{direction, code_class} += 1; code 100..699 under "1xx".."6xx", any
 *  other under "other". Bound: 14 series. */
SIPMETRICS_API void sipmetrics_sip_invite_result(sipmetrics_sip_direction direction,
                                                 int code) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_invite_result_on(sipmetrics_client* client,
                                                    sipmetrics_sip_direction direction,
                                                    int code) SIPMETRICS_NOEXCEPT;

/** sip_bye_total{direction, by, reason_class} += 1. Bound: 16 series. */
SIPMETRICS_API void sipmetrics_sip_bye(sipmetrics_sip_direction direction, sipmetrics_sip_bye_by by,
                                       sipmetrics_sip_bye_reason reason) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_bye_on(sipmetrics_client* client,
                                          sipmetrics_sip_direction direction,
                                          sipmetrics_sip_bye_by by,
                                          sipmetrics_sip_bye_reason reason) SIPMETRICS_NOEXCEPT;
/** The seed's two-argument Bye(): sipmetrics_sip_bye() with direction "outbound". */
SIPMETRICS_API void sipmetrics_sip_bye_outbound(
    sipmetrics_sip_bye_by by, sipmetrics_sip_bye_reason reason) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_bye_outbound_on(
    sipmetrics_client* client, sipmetrics_sip_bye_by by,
    sipmetrics_sip_bye_reason reason) SIPMETRICS_NOEXCEPT;

/** sip_transaction_timeout_total{method} += 1 (timer B or F fired). Bound: 15 series. */
SIPMETRICS_API void sipmetrics_sip_transaction_timeout(sipmetrics_sip_method method)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_on(
    sipmetrics_client* client, sipmetrics_sip_method method) SIPMETRICS_NOEXCEPT;
/** As sipmetrics_sip_transaction_timeout(), the method given by name (`len` bytes, classified as
 *  sipmetrics_sip_classify_method() does). */
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_str(const char* method,
                                                           size_t len) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_transaction_timeout_str_on(sipmetrics_client* client,
                                                              const char* method,
                                                              size_t len) SIPMETRICS_NOEXCEPT;

/** sip_session_timer_refresh_total{result} += 1. Bound: 5 series. */
SIPMETRICS_API void sipmetrics_sip_session_timer_refresh(sipmetrics_sip_refresh_result result)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_session_timer_refresh_on(
    sipmetrics_client* client, sipmetrics_sip_refresh_result result) SIPMETRICS_NOEXCEPT;

/** sip_dtls_handshake_total{result} += 1. Bound: 4 series. */
SIPMETRICS_API void sipmetrics_sip_dtls_handshake(sipmetrics_sip_dtls_result result)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_dtls_handshake_on(
    sipmetrics_client* client, sipmetrics_sip_dtls_result result) SIPMETRICS_NOEXCEPT;

/** sip_stir_verify_total{result} += 1. Bound: 4 series. */
SIPMETRICS_API void sipmetrics_sip_stir_verify(sipmetrics_sip_stir_result result)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_stir_verify_on(
    sipmetrics_client* client, sipmetrics_sip_stir_result result) SIPMETRICS_NOEXCEPT;

/** Once per call, at cleanup: one sample each into sip_call_rtt_ms, sip_call_jitter_ms,
 *  sip_call_loss_fraction and sip_call_mos_estimate (no labels). An input that is zero or
 *  negative means "no data" and is skipped (a loss of exactly 0 included); NaN and infinities
 *  are skipped too. Units: milliseconds, milliseconds, a fraction in [0, 1], MOS 1..5. */
SIPMETRICS_API void sipmetrics_sip_observe_call_qos(uint32_t rtt_ms, double jitter_ms,
                                                    double loss_fraction,
                                                    double mos_estimate) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_observe_call_qos_on(sipmetrics_client* client, uint32_t rtt_ms,
                                                       double jitter_ms, double loss_fraction,
                                                       double mos_estimate) SIPMETRICS_NOEXCEPT;

/** sip_voice_attach_total{mode, result} += 1 for one OnACK dispatch; result "ok" when `ok` is
 *  non-zero, else "config_error". Bound: 4 series. */
SIPMETRICS_API void sipmetrics_sip_voice_attach(sipmetrics_sip_voice_attach_mode mode,
                                                int ok) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_voice_attach_on(sipmetrics_client* client,
                                                   sipmetrics_sip_voice_attach_mode mode,
                                                   int ok) SIPMETRICS_NOEXCEPT;
/** As sipmetrics_sip_voice_attach(), with the result spelled out. */
SIPMETRICS_API void sipmetrics_sip_voice_attach_with_result(
    sipmetrics_sip_voice_attach_mode mode,
    sipmetrics_sip_voice_attach_result result) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_voice_attach_with_result_on(
    sipmetrics_client* client, sipmetrics_sip_voice_attach_mode mode,
    sipmetrics_sip_voice_attach_result result) SIPMETRICS_NOEXCEPT;

/** sip_voice_attach_mode_fallback_total{from="pipeline", to="realtime"} += 1; that is the only
 *  fallback the seed knows: any other pair is dropped. Bound: 1 series. */
SIPMETRICS_API void sipmetrics_sip_voice_attach_mode_fallback(
    sipmetrics_sip_voice_mode from, sipmetrics_sip_voice_mode to) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_voice_attach_mode_fallback_on(
    sipmetrics_client* client, sipmetrics_sip_voice_mode from,
    sipmetrics_sip_voice_mode to) SIPMETRICS_NOEXCEPT;

/** sip_voice_attach_native_total{result} += 1; result "ok" when `ok` is non-zero, else "err". */
SIPMETRICS_API void sipmetrics_sip_voice_attach_native(int ok) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_voice_attach_native_on(sipmetrics_client* client,
                                                          int ok) SIPMETRICS_NOEXCEPT;

/** A call went live: voiceserver_active_calls{transport} += 1 (SUM over live processes; a
 *  crashed worker's calls leave with it). Does not count voiceserver_calls_total. */
SIPMETRICS_API void sipmetrics_sip_call_started(sipmetrics_sip_transport transport)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_call_started_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport) SIPMETRICS_NOEXCEPT;

/** A call ended: voiceserver_active_calls{transport} -= 1 and
 *  voiceserver_calls_total{transport, status} += 1. Bound: 8 series. */
SIPMETRICS_API void sipmetrics_sip_call_ended(
    sipmetrics_sip_transport transport, sipmetrics_sip_call_status status) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_call_ended_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport,
    sipmetrics_sip_call_status status) SIPMETRICS_NOEXCEPT;

/** voiceserver_asr_errors_total{transport} += 1 (recognizer error callback). */
SIPMETRICS_API void sipmetrics_sip_asr_error(sipmetrics_sip_transport transport)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_asr_error_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport) SIPMETRICS_NOEXCEPT;

/** voiceserver_tts_errors_total{transport} += 1 (Speak failed, or was interrupted or drained
 *  before producing any audio). */
SIPMETRICS_API void sipmetrics_sip_tts_error(sipmetrics_sip_transport transport)
    SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_tts_error_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport) SIPMETRICS_NOEXCEPT;

/** voiceserver_barge_in_total{transport} += 1 (VAD interrupted the AI's TTS). */
SIPMETRICS_API void sipmetrics_sip_barge_in(sipmetrics_sip_transport transport) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_barge_in_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport) SIPMETRICS_NOEXCEPT;

/** voiceserver_dialog_reconnect_total{transport, outcome} += 1 per reconnect attempt to the
 *  dialog plane. Bound: 4 series. */
SIPMETRICS_API void sipmetrics_sip_dialog_reconnect(
    sipmetrics_sip_transport transport, sipmetrics_sip_dialog_outcome outcome) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_dialog_reconnect_on(
    sipmetrics_client* client, sipmetrics_sip_transport transport,
    sipmetrics_sip_dialog_outcome outcome) SIPMETRICS_NOEXCEPT;

/** One sample of voiceserver_e2e_first_byte_ms (ASR final to first audible AI byte, ms);
 *  ms <= 0 means "no ASR final preceded this turn" and is skipped. */
SIPMETRICS_API void sipmetrics_sip_observe_e2e_first_byte(int ms) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_observe_e2e_first_byte_on(sipmetrics_client* client,
                                                             int ms) SIPMETRICS_NOEXCEPT;

/** One sample of voiceserver_llm_first_byte_ms (time to first LLM token, ms); ms <= 0 skipped. */
SIPMETRICS_API void sipmetrics_sip_observe_llm_first_byte(int ms) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_observe_llm_first_byte_on(sipmetrics_client* client,
                                                             int ms) SIPMETRICS_NOEXCEPT;

/** One sample of voiceserver_tts_first_byte_ms (Speak to first PCM frame, ms); ms <= 0 skipped. */
SIPMETRICS_API void sipmetrics_sip_observe_tts_first_byte(int ms) SIPMETRICS_NOEXCEPT;
SIPMETRICS_API void sipmetrics_sip_observe_tts_first_byte_on(sipmetrics_client* client,
                                                             int ms) SIPMETRICS_NOEXCEPT;

/** The (transport, status) label set of voiceserver_calls_total (the seed's LabelsCall), for
 *  sipmetrics_*_get() and the registry-style calls: writes 2 labels into out[0..1], pointing to
 *  static strings, and returns 2; returns 0 (out untouched) for an out-of-range enumerator or a
 *  NULL out. Pure. */
SIPMETRICS_API size_t sipmetrics_sip_labels_call(sipmetrics_sip_transport transport,
                                                 sipmetrics_sip_call_status status,
                                                 sipmetrics_label out[2]) SIPMETRICS_NOEXCEPT;
/** The (transport, outcome) label set of voiceserver_dialog_reconnect_total (the seed's
 *  LabelsDialogOutcome); as sipmetrics_sip_labels_call(). */
SIPMETRICS_API size_t sipmetrics_sip_labels_dialog_outcome(
    sipmetrics_sip_transport transport, sipmetrics_sip_dialog_outcome outcome,
    sipmetrics_label out[2]) SIPMETRICS_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* SIPMETRICS_SIPMETRICS_H */
