/* Lua 5.1 module `sipmetrics` (require "sipmetrics"): the C API of <sipmetrics/sipmetrics.h> as
 * a table of thin functions. Each function checks its arguments, makes one C API call and
 * returns its result; nothing here decides anything the C API does not. bindings/lua/README.md
 * is the manual.
 *
 * Values. A client is a full userdata holding a sipmetrics_client*; a counter, gauge, summary or
 * histogram handle is a full userdata holding the C handle by value (12, 16 or 64 bytes; the
 * histogram's is passed to the C API by address, in place). Full userdata is what
 * makes a handle safe: its metatable proves it was made here, so no Lua value can reach the hot
 * path as a forged handle (a light userdata or a number could be anything). docs/performance.md
 * ("Lua binding") has the figures that chose this check: the metatable is compared with the one
 * each function holds as an upvalue, not fetched from a table, nor looked up by name in the
 * registry as luaL_checkudata does (a string hash per call).
 *
 * Errors. A bad argument (wrong type, unknown enum string, a count that is negative or not an
 * integer, more than 16 labels, histogram bounds the C API calls invalid) raises a Lua error
 * naming the argument. A detached client or a refused series is not an error: the handle is a
 * no-op and the status says why.
 *
 * Enums are passed as the seed's label strings ("inbound", "user-hangup", ...): the lists below
 * are in the order of the C enums' values, which tests/lua/lua_test.lua checks series by series on
 * the daemon's /metrics. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <sipmetrics/sipmetrics.h>

/* The upvalues of every function below: the metatables of the module's five kinds of value. */
enum {
  kClientMeta = 1,
  kCounterMeta = 2,
  kGaugeMeta = 3,
  kSummaryMeta = 4,
  kHistogramMeta = 5,
  kMetas = 5
};

typedef struct client_box {
  sipmetrics_client* client;
  int owned; /* from sipmetrics_client_open: closed by __gc (handles stay valid) */
} client_box;

/* ---- Argument checks ------------------------------------------------------------------------ */

/* The userdata at `idx` if its metatable is the module's metatable in upvalue `slot`, else a
 * Lua error "bad argument #idx to 'f' (tname expected, got ...)". */
static void* check_object(lua_State* L, int idx, int slot, const char* tname) {
  void* p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    const int same = lua_rawequal(L, -1, lua_upvalueindex(slot));
    lua_pop(L, 1);
    if (same) return p;
  }
  luaL_typerror(L, idx, tname);
  return NULL;
}

static sipmetrics_client* check_client(lua_State* L, int idx) {
  return ((client_box*)check_object(L, idx, kClientMeta, "sipmetrics client"))->client;
}
#define CHECK_COUNTER(L, i) \
  ((const sipmetrics_counter*)check_object(L, i, kCounterMeta, "sipmetrics counter"))
#define CHECK_GAUGE(L, i) \
  ((const sipmetrics_gauge*)check_object(L, i, kGaugeMeta, "sipmetrics gauge"))
#define CHECK_SUMMARY(L, i) \
  ((const sipmetrics_summary*)check_object(L, i, kSummaryMeta, "sipmetrics summary"))
#define CHECK_HISTOGRAM(L, i) \
  ((const sipmetrics_histogram*)check_object(L, i, kHistogramMeta, "sipmetrics histogram"))

/* A number with an integral value in [lo, hi]. */
static double check_integral(lua_State* L, int idx, double lo, double hi, const char* what) {
  double v = luaL_checknumber(L, idx);
  if (!(v >= lo && v <= hi) || floor(v) != v)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "%s must be an integer in [%f, %f], got %f", what, lo, hi, v));
  return v;
}
static int check_int(lua_State* L, int idx, const char* what) {
  return (int)check_integral(L, idx, -2147483648.0, 2147483647.0, what);
}

/* The index of the string at `idx` in the NULL-terminated list, or a Lua error naming the
 * allowed values. */
static int check_enum(lua_State* L, int idx, const char* what, const char* const list[]) {
  const char* s = luaL_checkstring(L, idx);
  int i;
  luaL_Buffer b;
  for (i = 0; list[i] != NULL; ++i)
    if (strcmp(list[i], s) == 0) return i;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "%s must be one of ", what);
  luaL_addvalue(&b);
  for (i = 0; list[i] != NULL; ++i) {
    if (i > 0) luaL_addstring(&b, ", ");
    luaL_addchar(&b, '"');
    luaL_addstring(&b, list[i]);
    luaL_addchar(&b, '"');
  }
  lua_pushfstring(L, "; got \"%s\"", s);
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return luaL_argerror(L, idx, lua_tostring(L, -1));
}

static const char* const kDirections[] = {"inbound", "outbound", NULL};
static const char* const kByeBy[] = {"local", "remote", NULL};
static const char* const kByeReasons[] = {"normal", "timer-expired", "error", "user-hangup", NULL};
static const char* const kRefreshResults[] = {"ok",  "422-bumped", "422-gave-up",
                                              "481", "role-swap",  NULL};
static const char* const kDtlsResults[] = {"ok", "fail", "timeout", "fingerprint-mismatch", NULL};
static const char* const kStirResults[] = {"verified", "failed", "soft-fail", "no-identity", NULL};
static const char* const kVoiceAttachModes[] = {"cascaded", "realtime", NULL};
static const char* const kVoiceAttachResults[] = {"ok", "config_error", NULL};
static const char* const kVoiceModes[] = {"pipeline", "realtime", NULL};
static const char* const kTransports[] = {"sip", "webrtc", NULL};
static const char* const kCallStatuses[] = {"ok", "dialog-hangup", "ice-failed", "pipeline-error",
                                            NULL};
static const char* const kDialogOutcomes[] = {"ok", "fail", NULL};
static const char* const kGaugeModes[] = {"sum", "max", "min", "last", NULL};
/* Results of sipmetrics_sip_classify_code() and _classify_method(), by enum value. */
static const char* const kCodeClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "other"};
static const char* const kMethods[] = {"INVITE",  "ACK",   "BYE",       "CANCEL", "REGISTER",
                                       "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY", "UPDATE",
                                       "MESSAGE", "REFER", "PUBLISH",   "INFO",   "other"};

/* Labels from a table {key = "value", ...} (nil or absent: none) at `idx`, into out[]. The
 * strings stay referenced by the table for the duration of the call. Returns the count. */
static size_t check_labels(lua_State* L, int idx, sipmetrics_label out[SIPMETRICS_MAX_LABELS]) {
  size_t n = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "labels must map strings to strings, got %s = %s",
                                    luaL_typename(L, -2), luaL_typename(L, -1)));
    if (n == SIPMETRICS_MAX_LABELS)
      luaL_argerror(L, idx, "more than 16 labels (SIPMETRICS_MAX_LABELS)");
    out[n].key = lua_tostring(L, -2);
    out[n].value = lua_tostring(L, -1);
    ++n;
    lua_pop(L, 1);
  }
  return n;
}

/* The short name of a cold call's status. INVALID_ARGUMENT and NO_MEMORY raise an error: the
 * arguments were checked here first, so the C API refusing them is a bad argument all the same. */
static const char* status_name(lua_State* L, sipmetrics_status s) {
  switch (s) {
    case SIPMETRICS_OK: return "ok";
    case SIPMETRICS_DETACHED: return "detached";
    case SIPMETRICS_REFUSED: return "refused";
    case SIPMETRICS_NO_MEMORY: luaL_error(L, "sipmetrics: out of memory"); break;
    case SIPMETRICS_INVALID_ARGUMENT:
    default: luaL_error(L, "sipmetrics: %s", sipmetrics_status_string(s)); break;
  }
  return NULL;
}
static int push_status(lua_State* L, sipmetrics_status s) {
  lua_pushstring(L, status_name(L, s));
  return 1;
}

/* A new userdata of `size` bytes with the metatable in upvalue `slot`. */
static void* new_object(lua_State* L, size_t size, int slot) {
  void* p = lua_newuserdata(L, size);
  lua_pushvalue(L, lua_upvalueindex(slot));
  lua_setmetatable(L, -2);
  return p;
}

/* ---- Clients -------------------------------------------------------------------------------- */

/* global() -> client: the process-wide client (sipmetrics_global()). */
static int l_global(lua_State* L) {
  client_box* b = (client_box*)new_object(L, sizeof *b, kClientMeta);
  b->client = NULL;
  b->owned = 0;
  b->client = sipmetrics_global();
  return 1;
}

/* open([segment [, writer_name]]) -> client, status ("ok" or "detached"). */
static int l_open(lua_State* L) {
  const char* segment = luaL_optstring(L, 1, NULL);
  const char* writer = luaL_optstring(L, 2, NULL);
  client_box* b = (client_box*)new_object(L, sizeof *b, kClientMeta);
  sipmetrics_status s;
  b->client = NULL;
  b->owned = 0;
  s = sipmetrics_client_open(segment, writer, &b->client);
  if (b->client == NULL) return luaL_error(L, "sipmetrics.open: %s", sipmetrics_status_string(s));
  b->owned = 1;
  lua_pushstring(L, status_name(L, s));
  return 2;
}

static int l_client_gc(lua_State* L) {
  client_box* b = (client_box*)lua_touserdata(L, 1);
  if (b->owned) sipmetrics_client_close(b->client);
  b->client = NULL;
  b->owned = 0;
  return 0;
}

/* attached(client) -> boolean. */
static int l_attached(lua_State* L) {
  lua_pushboolean(L, sipmetrics_client_attached(check_client(L, 1)));
  return 1;
}

/* version() -> "0.1.0". */
static int l_version(lua_State* L) {
  lua_pushstring(L, sipmetrics_version());
  return 1;
}

/* ---- Handles: resolve once, update on the hot path ----------------------------------------- */

/* counter(client, name [, help [, labels]]) -> counter, status. */
static int l_counter(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  sipmetrics_counter* h = (sipmetrics_counter*)new_object(L, sizeof *h, kCounterMeta);
  memset(h, 0, sizeof *h);
  lua_pushstring(L, status_name(L, sipmetrics_counter_get(c, name, help, labels, n, h)));
  return 2;
}

/* gauge(client, name [, help [, labels [, mode]]]) -> gauge, status; mode "sum" (default), "max",
 * "min" or "last". */
static int l_gauge(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  int mode = lua_isnoneornil(L, 5) ? 0 : check_enum(L, 5, "mode", kGaugeModes);
  sipmetrics_gauge* h = (sipmetrics_gauge*)new_object(L, sizeof *h, kGaugeMeta);
  memset(h, 0, sizeof *h);
  lua_pushstring(L, status_name(L, sipmetrics_gauge_get(c, name, help, labels, n,
                                                        (sipmetrics_gauge_mode)mode, h)));
  return 2;
}

/* summary(client, name [, help [, labels [, window_samples]]]) -> summary, status. */
static int l_summary(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  uint32_t window = lua_isnoneornil(L, 5)
                        ? 0u
                        : (uint32_t)check_integral(L, 5, 0, 4294967295.0, "window_samples");
  sipmetrics_summary* h = (sipmetrics_summary*)new_object(L, sizeof *h, kSummaryMeta);
  memset(h, 0, sizeof *h);
  lua_pushstring(L, status_name(L, sipmetrics_summary_get(c, name, help, labels, n, window, h)));
  return 2;
}

/* histogram(client, name, help, labels, bounds) -> histogram, status. help and labels may be
 * nil; bounds is an array of numbers (sipmetrics.SIP_LATENCY_BUCKETS_MS, or your own). */
static int l_histogram(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  double bounds[SIPMETRICS_MAX_HISTOGRAM_BOUNDS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  size_t i, nb;
  sipmetrics_histogram* h;
  sipmetrics_status s;
  luaL_checktype(L, 5, LUA_TTABLE);
  nb = lua_objlen(L, 5);
  if (nb > SIPMETRICS_MAX_HISTOGRAM_BOUNDS)
    return luaL_argerror(L, 5, "more than 64 bounds (SIPMETRICS_MAX_HISTOGRAM_BOUNDS)");
  for (i = 0; i < nb; ++i) {
    lua_rawgeti(L, 5, (int)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER)
      return luaL_argerror(
          L, 5,
          lua_pushfstring(L, "bound %d is a %s, not a number", (int)i + 1, luaL_typename(L, -1)));
    bounds[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  h = (sipmetrics_histogram*)new_object(L, sizeof *h, kHistogramMeta);
  memset(h, 0, sizeof *h);
  s = sipmetrics_histogram_get(c, name, help, labels, n, bounds, nb, h);
  /* Every other argument was checked above: the C API's INVALID_ARGUMENT is about the bounds. */
  if (s == SIPMETRICS_INVALID_ARGUMENT)
    return luaL_argerror(
        L, 5, "bounds must be 1 to 64 finite, non-negative, strictly increasing numbers");
  lua_pushstring(L, status_name(L, s));
  return 2;
}

/* counter_inc(counter), counter:inc() */
static int l_counter_inc(lua_State* L) {
  sipmetrics_counter_inc(*CHECK_COUNTER(L, 1));
  return 0;
}
/* counter_add(counter, n), counter:add(n): n an integer >= 0 (counters never go down). */
static int l_counter_add(lua_State* L) {
  const sipmetrics_counter* h = CHECK_COUNTER(L, 1);
  sipmetrics_counter_add(*h, (uint64_t)check_integral(L, 2, 0, 9007199254740992.0, "n"));
  return 0;
}
/* gauge_add(gauge, d), gauge:add(d) */
static int l_gauge_add(lua_State* L) {
  const sipmetrics_gauge* h = CHECK_GAUGE(L, 1);
  sipmetrics_gauge_add(*h, luaL_checknumber(L, 2));
  return 0;
}
/* gauge_set(gauge, v), gauge:set(v) */
static int l_gauge_set(lua_State* L) {
  const sipmetrics_gauge* h = CHECK_GAUGE(L, 1);
  sipmetrics_gauge_set(*h, luaL_checknumber(L, 2));
  return 0;
}
/* summary_observe(summary, v), summary:observe(v) */
static int l_summary_observe(lua_State* L) {
  const sipmetrics_summary* h = CHECK_SUMMARY(L, 1);
  sipmetrics_summary_observe(*h, luaL_checknumber(L, 2));
  return 0;
}
/* histogram_observe(histogram, v), histogram:observe(v) */
static int l_histogram_observe(lua_State* L) {
  const sipmetrics_histogram* h = CHECK_HISTOGRAM(L, 1);
  sipmetrics_histogram_observe(h, luaL_checknumber(L, 2));
  return 0;
}
/* valid(handle) -> boolean: false for the no-op handle of a detached client or refused series. */
static int l_valid(lua_State* L) {
  void* p = lua_touserdata(L, 1);
  int slot = 0, ok = 0;
  if (p != NULL && lua_getmetatable(L, 1)) {
    for (slot = kCounterMeta; slot <= kHistogramMeta; ++slot)
      if (lua_rawequal(L, -1, lua_upvalueindex(slot))) break;
    lua_pop(L, 1);
  }
  switch (slot) {
    case kCounterMeta: ok = sipmetrics_counter_valid(*(const sipmetrics_counter*)p); break;
    case kGaugeMeta: ok = sipmetrics_gauge_valid(*(const sipmetrics_gauge*)p); break;
    case kSummaryMeta: ok = sipmetrics_summary_valid(*(const sipmetrics_summary*)p); break;
    case kHistogramMeta: ok = sipmetrics_histogram_valid((const sipmetrics_histogram*)p); break;
    default: return luaL_typerror(L, 1, "sipmetrics counter, gauge, summary or histogram");
  }
  lua_pushboolean(L, ok);
  return 1;
}

/* register_labels(client, family, {key, ...}) -> status. */
static int l_register_labels(lua_State* L) {
  const char* keys[256];
  sipmetrics_client* c = check_client(L, 1);
  const char* family = luaL_checkstring(L, 2);
  size_t i, n;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = lua_objlen(L, 3);
  if (n > 255) return luaL_argerror(L, 3, "more than 255 label keys");
  for (i = 0; i < n; ++i) {
    lua_rawgeti(L, 3, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_argerror(
          L, 3,
          lua_pushfstring(L, "key %d is a %s, not a string", (int)i + 1, luaL_typename(L, -1)));
    keys[i] = lua_tostring(L, -1); /* still referenced by the table */
    lua_pop(L, 1);
  }
  return push_status(L, sipmetrics_register_labels(c, family, keys, n));
}

/* ---- The seed's registry-style calls (look the series up on every call) --------------------- */

/* inc_counter(client, name, help, labels) -> status */
static int l_inc_counter(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  return push_status(L, sipmetrics_inc_counter(c, name, help, labels, n));
}
/* add_counter(client, name, help, labels, n) -> status */
static int l_add_counter(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  uint64_t v = (uint64_t)check_integral(L, 5, 0, 9007199254740992.0, "n");
  return push_status(L, sipmetrics_add_counter(c, name, help, labels, n, v));
}
/* set_gauge(client, name, help, labels, v) -> status */
static int l_set_gauge(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  return push_status(L, sipmetrics_set_gauge(c, name, help, labels, n, luaL_checknumber(L, 5)));
}
/* add_gauge(client, name, help, labels, d) -> status */
static int l_add_gauge(lua_State* L) {
  sipmetrics_label labels[SIPMETRICS_MAX_LABELS];
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  size_t n = check_labels(L, 4, labels);
  return push_status(L, sipmetrics_add_gauge(c, name, help, labels, n, luaL_checknumber(L, 5)));
}
/* observe(client, name, help, v) -> status */
static int l_observe(lua_State* L) {
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  return push_status(L, sipmetrics_observe(c, name, help, luaL_checknumber(L, 4)));
}
/* observe_n(client, name, help, v, max_samples) -> status */
static int l_observe_n(lua_State* L) {
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  double v = luaL_checknumber(L, 4);
  return push_status(L, sipmetrics_observe_n(c, name, help, v, check_int(L, 5, "max_samples")));
}
/* observe_async(client, name, help, v) -> status */
static int l_observe_async(lua_State* L) {
  sipmetrics_client* c = check_client(L, 1);
  const char* name = luaL_checkstring(L, 2);
  const char* help = luaL_optstring(L, 3, NULL);
  return push_status(L, sipmetrics_observe_async(c, name, help, luaL_checknumber(L, 4)));
}
/* async_dropped_count(client) -> number */
static int l_async_dropped_count(lua_State* L) {
  lua_pushnumber(L, (lua_Number)sipmetrics_async_dropped_count(check_client(L, 1)));
  return 1;
}

/* ---- Typed SIP helpers ----------------------------------------------------------------------
 * Each helper twice: X(args) on the global client, X_on(client, args) (and client:X(args)) on an
 * explicit one. SIP_HELPER(name, call) defines both; in `call`, `A` is the index of the first
 * helper argument and ON(f, args...) calls the C function of the right variant. */
#define SIP_HELPER(name, call)                        \
  static int l_##name(lua_State* L) {                 \
    const int A = 1;                                  \
    sipmetrics_client* const c_ = NULL;               \
    (void)c_;                                         \
    call;                                             \
    return 0;                                         \
  }                                                   \
  static int l_##name##_on(lua_State* L) {            \
    const int A = 2;                                  \
    sipmetrics_client* const c_ = check_client(L, 1); \
    (void)c_;                                         \
    call;                                             \
    return 0;                                         \
  }
#define ON(f, ...) (A == 1 ? f(__VA_ARGS__) : f##_on(c_, __VA_ARGS__))

SIP_HELPER(invite_result, ON(sipmetrics_sip_invite_result,
                             (sipmetrics_sip_direction)check_enum(L, A, "direction", kDirections),
                             check_int(L, A + 1, "code")))
SIP_HELPER(bye, ON(sipmetrics_sip_bye,
                   (sipmetrics_sip_direction)check_enum(L, A, "direction", kDirections),
                   (sipmetrics_sip_bye_by)check_enum(L, A + 1, "by", kByeBy),
                   (sipmetrics_sip_bye_reason)check_enum(L, A + 2, "reason", kByeReasons)))
SIP_HELPER(bye_outbound,
           ON(sipmetrics_sip_bye_outbound, (sipmetrics_sip_bye_by)check_enum(L, A, "by", kByeBy),
              (sipmetrics_sip_bye_reason)check_enum(L, A + 1, "reason", kByeReasons)))
SIP_HELPER(transaction_timeout, {
  size_t len;
  const char* m = luaL_checklstring(L, A, &len);
  ON(sipmetrics_sip_transaction_timeout_str, m, len);
})
SIP_HELPER(session_timer_refresh,
           ON(sipmetrics_sip_session_timer_refresh,
              (sipmetrics_sip_refresh_result)check_enum(L, A, "result", kRefreshResults)))
SIP_HELPER(dtls_handshake, ON(sipmetrics_sip_dtls_handshake,
                              (sipmetrics_sip_dtls_result)check_enum(L, A, "result", kDtlsResults)))
SIP_HELPER(stir_verify, ON(sipmetrics_sip_stir_verify,
                           (sipmetrics_sip_stir_result)check_enum(L, A, "result", kStirResults)))
/* rtt_ms: an integer in [0, 2^32); the seed's "0 = no data" rule applies to all four inputs. */
SIP_HELPER(observe_call_qos, {
  uint32_t rtt = (uint32_t)check_integral(L, A, 0, 4294967295.0, "rtt_ms");
  double jitter = luaL_checknumber(L, A + 1);
  double loss = luaL_checknumber(L, A + 2);
  ON(sipmetrics_sip_observe_call_qos, rtt, jitter, loss, luaL_checknumber(L, A + 3));
})
SIP_HELPER(voice_attach, {
  sipmetrics_sip_voice_attach_mode mode =
      (sipmetrics_sip_voice_attach_mode)check_enum(L, A, "mode", kVoiceAttachModes);
  luaL_checktype(L, A + 1, LUA_TBOOLEAN);
  ON(sipmetrics_sip_voice_attach, mode, lua_toboolean(L, A + 1));
})
SIP_HELPER(voice_attach_with_result,
           ON(sipmetrics_sip_voice_attach_with_result,
              (sipmetrics_sip_voice_attach_mode)check_enum(L, A, "mode", kVoiceAttachModes),
              (sipmetrics_sip_voice_attach_result)check_enum(L, A + 1, "result",
                                                             kVoiceAttachResults)))
SIP_HELPER(voice_attach_mode_fallback,
           ON(sipmetrics_sip_voice_attach_mode_fallback,
              (sipmetrics_sip_voice_mode)check_enum(L, A, "from", kVoiceModes),
              (sipmetrics_sip_voice_mode)check_enum(L, A + 1, "to", kVoiceModes)))
SIP_HELPER(voice_attach_native, {
  luaL_checktype(L, A, LUA_TBOOLEAN);
  ON(sipmetrics_sip_voice_attach_native, lua_toboolean(L, A));
})
SIP_HELPER(call_started, ON(sipmetrics_sip_call_started,
                            (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports)))
SIP_HELPER(call_ended,
           ON(sipmetrics_sip_call_ended,
              (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports),
              (sipmetrics_sip_call_status)check_enum(L, A + 1, "status", kCallStatuses)))
SIP_HELPER(asr_error, ON(sipmetrics_sip_asr_error,
                         (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports)))
SIP_HELPER(tts_error, ON(sipmetrics_sip_tts_error,
                         (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports)))
SIP_HELPER(barge_in, ON(sipmetrics_sip_barge_in,
                        (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports)))
SIP_HELPER(dialog_reconnect,
           ON(sipmetrics_sip_dialog_reconnect,
              (sipmetrics_sip_transport)check_enum(L, A, "transport", kTransports),
              (sipmetrics_sip_dialog_outcome)check_enum(L, A + 1, "outcome", kDialogOutcomes)))
SIP_HELPER(observe_e2e_first_byte, ON(sipmetrics_sip_observe_e2e_first_byte, check_int(L, A, "ms")))
SIP_HELPER(observe_llm_first_byte, ON(sipmetrics_sip_observe_llm_first_byte, check_int(L, A, "ms")))
SIP_HELPER(observe_tts_first_byte, ON(sipmetrics_sip_observe_tts_first_byte, check_int(L, A, "ms")))

/* sip_prepare() / sip_prepare_on(client) -> status: registers all 92 helper series now. */
static int l_sip_prepare(lua_State* L) { return push_status(L, sipmetrics_sip_prepare()); }
static int l_sip_prepare_on(lua_State* L) {
  return push_status(L, sipmetrics_sip_prepare_on(check_client(L, 1)));
}

/* classify_code(code) -> "1xx".."6xx" or "other" */
static int l_classify_code(lua_State* L) {
  lua_pushstring(L, kCodeClasses[sipmetrics_sip_classify_code(check_int(L, 1, "code"))]);
  return 1;
}
/* classify_method(name) -> "INVITE", ... or "other" */
static int l_classify_method(lua_State* L) {
  size_t len;
  const char* m = luaL_checklstring(L, 1, &len);
  lua_pushstring(L, kMethods[sipmetrics_sip_classify_method(m, len)]);
  return 1;
}

static int push_label_table(lua_State* L, const sipmetrics_label* l, size_t n) {
  size_t i;
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; ++i) {
    lua_pushstring(L, l[i].value);
    lua_setfield(L, -2, l[i].key);
  }
  return 1;
}
/* labels_call(transport, status) -> {transport = ..., status = ...} */
static int l_labels_call(lua_State* L) {
  sipmetrics_label out[2];
  size_t n = sipmetrics_sip_labels_call(
      (sipmetrics_sip_transport)check_enum(L, 1, "transport", kTransports),
      (sipmetrics_sip_call_status)check_enum(L, 2, "status", kCallStatuses), out);
  return push_label_table(L, out, n);
}
/* labels_dialog_outcome(transport, outcome) -> {transport = ..., outcome = ...} */
static int l_labels_dialog_outcome(lua_State* L) {
  sipmetrics_label out[2];
  size_t n = sipmetrics_sip_labels_dialog_outcome(
      (sipmetrics_sip_transport)check_enum(L, 1, "transport", kTransports),
      (sipmetrics_sip_dialog_outcome)check_enum(L, 2, "outcome", kDialogOutcomes), out);
  return push_label_table(L, out, n);
}

/* ---- Registration --------------------------------------------------------------------------- */

#define HELPER_ENTRIES(name) {#name, l_##name}, {#name "_on", l_##name##_on},
/* clang-format off */
#define SIP_HELPERS(X)                                                                          \
  X(invite_result) X(bye) X(bye_outbound) X(transaction_timeout) X(session_timer_refresh)       \
  X(dtls_handshake) X(stir_verify) X(observe_call_qos) X(voice_attach)                          \
  X(voice_attach_with_result) X(voice_attach_mode_fallback) X(voice_attach_native)              \
  X(call_started) X(call_ended) X(asr_error) X(tts_error) X(barge_in) X(dialog_reconnect)       \
  X(observe_e2e_first_byte) X(observe_llm_first_byte) X(observe_tts_first_byte)
/* clang-format on */

static const luaL_Reg kModule[] = {{"global", l_global},
                                   {"open", l_open},
                                   {"attached", l_attached},
                                   {"version", l_version},
                                   {"counter", l_counter},
                                   {"gauge", l_gauge},
                                   {"summary", l_summary},
                                   {"histogram", l_histogram},
                                   {"counter_inc", l_counter_inc},
                                   {"counter_add", l_counter_add},
                                   {"gauge_add", l_gauge_add},
                                   {"gauge_set", l_gauge_set},
                                   {"summary_observe", l_summary_observe},
                                   {"histogram_observe", l_histogram_observe},
                                   {"valid", l_valid},
                                   {"register_labels", l_register_labels},
                                   {"inc_counter", l_inc_counter},
                                   {"add_counter", l_add_counter},
                                   {"set_gauge", l_set_gauge},
                                   {"add_gauge", l_add_gauge},
                                   {"observe", l_observe},
                                   {"observe_n", l_observe_n},
                                   {"observe_async", l_observe_async},
                                   {"async_dropped_count", l_async_dropped_count},
                                   {"sip_prepare", l_sip_prepare},
                                   {"sip_prepare_on", l_sip_prepare_on},
                                   {"classify_code", l_classify_code},
                                   {"classify_method", l_classify_method},
                                   {"labels_call", l_labels_call},
                                   {"labels_dialog_outcome", l_labels_dialog_outcome},
                                   SIP_HELPERS(HELPER_ENTRIES){NULL, NULL}};

/* client:counter(...), client:inc_counter(...), client:invite_result(...), ... */
#define METHOD_ENTRY(name) {#name, l_##name##_on},
static const luaL_Reg kClientMethods[] = {{"attached", l_attached},
                                          {"counter", l_counter},
                                          {"gauge", l_gauge},
                                          {"summary", l_summary},
                                          {"histogram", l_histogram},
                                          {"register_labels", l_register_labels},
                                          {"inc_counter", l_inc_counter},
                                          {"add_counter", l_add_counter},
                                          {"set_gauge", l_set_gauge},
                                          {"add_gauge", l_add_gauge},
                                          {"observe", l_observe},
                                          {"observe_n", l_observe_n},
                                          {"observe_async", l_observe_async},
                                          {"async_dropped_count", l_async_dropped_count},
                                          {"sip_prepare", l_sip_prepare_on},
                                          SIP_HELPERS(METHOD_ENTRY){NULL, NULL}};
static const luaL_Reg kCounterMethods[] = {
    {"inc", l_counter_inc}, {"add", l_counter_add}, {"valid", l_valid}, {NULL, NULL}};
static const luaL_Reg kGaugeMethods[] = {
    {"add", l_gauge_add}, {"set", l_gauge_set}, {"valid", l_valid}, {NULL, NULL}};
static const luaL_Reg kSummaryMethods[] = {
    {"observe", l_summary_observe}, {"valid", l_valid}, {NULL, NULL}};
static const luaL_Reg kHistogramMethods[] = {
    {"observe", l_histogram_observe}, {"valid", l_valid}, {NULL, NULL}};

/* Sets the functions of `l` into the table at the top of the stack, each a closure over the
 * kMetas metatables at stack indices first..first + kMetas - 1. */
static void set_functions(lua_State* L, const luaL_Reg* l, int first) {
  int i;
  for (; l->name != NULL; ++l) {
    for (i = 0; i < kMetas; ++i) lua_pushvalue(L, first + i);
    lua_pushcclosure(L, l->func, kMetas);
    lua_setfield(L, -2, l->name);
  }
}

static const luaL_Reg kNoFunctions[] = {{NULL, NULL}};

int luaopen_sipmetrics(lua_State* L);
__attribute__((visibility("default"))) int luaopen_sipmetrics(lua_State* L) {
  static const char* const kNames[] = {"sipmetrics.client", "sipmetrics.counter",
                                       "sipmetrics.gauge", "sipmetrics.summary",
                                       "sipmetrics.histogram"};
  static const luaL_Reg* const kMethodTables[] = {kClientMethods, kCounterMethods, kGaugeMethods,
                                                  kSummaryMethods, kHistogramMethods};
  const int first = lua_gettop(L) + 1;
  size_t nb = 0;
  const double* bounds = sipmetrics_sip_latency_buckets_ms(&nb);
  int i;
  /* The metatables first, so that every function can be a closure over all five. Each gets
   * __index (its methods), __metatable (getmetatable() from Lua sees the name; setmetatable()
   * refuses to replace it) and, for clients, __gc. */
  for (i = 0; i < kMetas; ++i) lua_createtable(L, 0, 3);
  for (i = 0; i < kMetas; ++i) {
    lua_newtable(L);
    set_functions(L, kMethodTables[i], first);
    lua_setfield(L, first + i, "__index");
    lua_pushstring(L, kNames[i]);
    lua_setfield(L, first + i, "__metatable");
  }
  lua_pushcfunction(L, l_client_gc);
  lua_setfield(L, first + kClientMeta - 1, "__gc");
  luaL_register(L, "sipmetrics", kNoFunctions); /* the module table, as Lua 5.1 modules make it */
  set_functions(L, kModule, first);
  lua_pushstring(L, sipmetrics_version());
  lua_setfield(L, -2, "_VERSION");
  /* SIP_LATENCY_BUCKETS_MS: the C API's bounds for SIP latencies, as an array. */
  lua_createtable(L, (int)nb, 0);
  for (i = 0; i < (int)nb; ++i) {
    lua_pushnumber(L, bounds[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "SIP_LATENCY_BUCKETS_MS");
  return 1;
}
