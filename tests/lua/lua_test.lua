-- lua_test.lua: the Lua module in plain lua5.1 (run by lua_test.sh, which starts sipmetricsd on
-- the segment file $SIPMETRICS_SEGMENT and compares /metrics with lua_test.expected).
--
--   lua5.1 lua_test.lua                 checks in-process behaviour (errors, statuses, detached
--                                       no-ops), writes the series of lua_test.expected, prints
--                                       "ready", then waits for a line on stdin before exiting
--                                       (a gauge lives only as long as its writer)
-- Exits 1 after printing "not ok" lines if any in-process check failed.
local sm = require "sipmetrics"

local failures = 0
local function check(cond, what)
  if cond then
    print("ok - " .. what)
  else
    failures = failures + 1
    print("not ok - " .. what)
  end
end
-- f(...) raises an error whose message contains `want` (a plain substring).
local function raises(want, f, ...)
  local ok, err = pcall(f, ...)
  check(not ok and string.find(tostring(err), want, 1, true) ~= nil,
        "raises '" .. want .. "' (got: " .. tostring(err) .. ")")
end

-- ---- Clients --------------------------------------------------------------------------------
check(sm.version() == arg[1], "version() is the project's version " .. tostring(arg[1]))
local c, status = sm.open(os.getenv("SIPMETRICS_SEGMENT"), "lua-test-writer")
check(status == "ok" and sm.attached(c) and c:attached(), "open(segment, writer) attaches")
local g = sm.global()
check(sm.attached(g), "global() attaches to $SIPMETRICS_SEGMENT")
check(getmetatable(c) == "sipmetrics.client", "a client's metatable is locked")

-- A client that cannot attach: every call is a no-op, never an error.
local d, dstatus = sm.open("/nonexistent-sipmetrics-dir/seg", "detached")
check(dstatus == "detached" and not sm.attached(d), "a segment in a missing directory: detached")
local dk, dks = sm.counter(d, "lua_detached_total", "Never seen.")
check(dks == "detached" and not sm.valid(dk), "a detached client's counter is a no-op handle")
dk:inc()
dk:add(3)
local dg = sm.gauge(d, "lua_detached_gauge", "Never seen.", nil, "max")
dg:set(1)
dg:add(1)
local ds = sm.summary(d, "lua_detached_ms", "Never seen.")
ds:observe(1)
local dh, dhs = sm.histogram(d, "lua_detached_hist_ms", "Never seen.", nil,
                             sm.SIP_LATENCY_BUCKETS_MS)
check(dhs == "detached" and not sm.valid(dh) and not dh:valid(),
      "a detached client's histogram is a no-op handle")
dh:observe(1)
sm.histogram_observe(dh, 2)
check(sm.inc_counter(d, "lua_detached_total", "x") == "detached", "registry call on detached")
check(sm.register_labels(d, "lua_detached_total", {"a"}) == "detached", "register_labels detached")
d:invite_result("inbound", 200)
d:call_started("sip")
check(sm.sip_prepare_on(d) == "detached", "sip_prepare_on(detached)")
check(sm.async_dropped_count(d) == 0, "async_dropped_count(detached) is 0")

-- ---- Bad arguments raise clear errors ---------------------------------------------------------
raises("sipmetrics client expected", sm.counter, nil, "x")
raises("sipmetrics client expected", sm.counter, {}, "x")
raises("string expected", sm.counter, c, nil)
raises("labels must map strings to strings", sm.counter, c, "lua_x_total", "h", {a = 1})
raises("labels must map strings to strings", sm.counter, c, "lua_x_total", "h", {"sip"})
raises("table expected", sm.counter, c, "lua_x_total", "h", "transport=sip")
local many = {}
for i = 1, 17 do many["k" .. i] = "v" end
raises("more than 16 labels", sm.counter, c, "lua_x_total", "h", many)
raises("mode must be one of \"sum\", \"max\", \"min\", \"last\"; got \"avg\"", sm.gauge, c,
       "lua_x", "h", nil, "avg")
raises("window_samples must be an integer", sm.summary, c, "lua_x_ms", "h", nil, -1)
local k = sm.counter(c, "lua_requests_total", "Requests.", {method = "INVITE", transport = "udp"})
local gg = sm.gauge(c, "lua_queue_depth", "Queue depth.")
local s = sm.summary(c, "lua_latency_ms", "Latency.", {leg = "a"})
local hist = c:histogram("lua_pdd_hist_ms", "Post-dial delay, ms.", {direction = "inbound"},
                         sm.SIP_LATENCY_BUCKETS_MS)
raises("table expected", sm.histogram, c, "lua_x_ms", "h", nil) -- bounds are required
raises("table expected", sm.histogram, c, "lua_x_ms", "h", nil, 5)
raises("bound 2 is a string, not a number", sm.histogram, c, "lua_x_ms", "h", nil, {1, "2"})
raises("bound 2 is a nil, not a number", sm.histogram, c, "lua_x_ms", "h", nil, {1, nil, 3})
local bad_bounds = {{}, {2, 1}, {1, 1}, {1, 0 / 0}, {-1, 1}, {1, math.huge}}
for _, b in ipairs(bad_bounds) do
  raises("bounds must be 1 to 64 finite, non-negative, strictly increasing numbers", sm.histogram,
         c, "lua_x_ms", "h", nil, b)
end
local long = {}
for i = 1, 65 do long[i] = i end
raises("more than 64 bounds", sm.histogram, c, "lua_x_ms", "h", nil, long)
raises("labels must map strings to strings", sm.histogram, c, "lua_x_ms", "h", {1}, {1})
raises("sipmetrics client expected", sm.histogram, nil, "lua_x_ms", "h", nil, {1})
raises("sipmetrics histogram expected", sm.histogram_observe, s, 1)
raises("sipmetrics summary expected", sm.summary_observe, hist, 1)
raises("number expected", sm.histogram_observe, hist, "1.5x")
raises("number expected", hist.observe, hist, nil)
raises("sipmetrics counter expected", sm.counter_inc, gg)
raises("sipmetrics counter expected", sm.counter_inc, nil)
raises("sipmetrics counter expected", sm.counter_inc, io.stdout) -- another library's userdata
raises("sipmetrics gauge expected", sm.gauge_add, k, 1)
raises("sipmetrics summary expected", sm.summary_observe, gg, 1)
raises("n must be an integer", sm.counter_add, k, -1)
raises("n must be an integer", sm.counter_add, k, 1.5)
raises("number expected", sm.gauge_set, gg, "seven")
raises("number expected", sm.summary_observe, s, nil)
raises("sipmetrics counter, gauge, summary or histogram expected", sm.valid, c)
raises("direction must be one of \"inbound\", \"outbound\"; got \"sideways\"", sm.invite_result,
       "sideways", 200)
raises("code must be an integer", sm.invite_result, "inbound", 486.5)
raises("number expected", sm.invite_result, "inbound", "486x")
raises("reason must be one of", sm.bye, "inbound", "remote", "hangup")
raises("by must be one of", sm.bye_outbound, "nobody", "normal")
raises("string expected", sm.transaction_timeout, nil)
raises("boolean expected", sm.voice_attach, "cascaded", 1)
raises("rtt_ms must be an integer", sm.observe_call_qos, -5, 1, 0.1, 4)
raises("transport must be one of \"sip\", \"webrtc\"", sm.call_started, "pstn")
raises("status must be one of", sm.call_ended, "sip", "fine")
raises("sipmetrics client expected", sm.invite_result_on, nil, "inbound", 200)
raises("key 2 is a number, not a string", sm.register_labels, c, "lua_requests_total",
       {"method", 7})

-- ---- Statuses --------------------------------------------------------------------------------
local bad, bads = sm.counter(c, "lua bad name", "Refused.")
check(bads == "refused" and not sm.valid(bad), "a name outside the grammar: refused, no-op handle")
bad:inc() -- a refused handle is a no-op too
local _, conflict = sm.gauge(c, "lua_queue_depth", "Queue depth.", nil, "max")
check(conflict == "refused", "the same gauge with another mode: refused")
check(sm.valid(k) and k:valid() and sm.valid(gg) and sm.valid(s), "resolved handles are valid")
check(sm.valid(hist) and hist:valid() and getmetatable(hist) == "sipmetrics.histogram",
      "a resolved histogram is valid, its metatable locked")
local _, hconflict = c:histogram("lua_pdd_hist_ms", "PDD.", {direction = "inbound"}, {1, 2})
check(hconflict == "refused", "the same histogram with other bounds: refused")
local _, hbad = c:histogram("lua bad hist", "Refused.", nil, {1})
check(hbad == "refused", "a histogram name outside the grammar: refused")
check(table.concat(sm.SIP_LATENCY_BUCKETS_MS, ",") ==
        "5,10,25,50,100,250,500,1000,2000,3000,4000,8000,16000,32000",
      "SIP_LATENCY_BUCKETS_MS: the 14 SIP latency bounds, 5 ms .. 32 s")
check(sm.classify_code(486) == "4xx" and sm.classify_code(99) == "other" and
        sm.classify_code(700) == "other", "classify_code")
check(sm.classify_method("INVITE") == "INVITE" and sm.classify_method("invite") == "other" and
        sm.classify_method("INFO") == "INFO", "classify_method")
local lc = sm.labels_call("webrtc", "ice-failed")
check(lc.transport == "webrtc" and lc.status == "ice-failed", "labels_call")
local ld = sm.labels_dialog_outcome("sip", "fail")
check(ld.transport == "sip" and ld.outcome == "fail", "labels_dialog_outcome")

-- ---- The series of lua_test.expected -----------------------------------------------------------
check(sm.register_labels(c, "lua_requests_total", {"method", "transport"}) == "ok",
      "register_labels")
check(c:sip_prepare() == "ok" and sm.sip_prepare() == "ok", "sip_prepare on both clients")
for _ = 1, 7 do k:inc() end
sm.counter_add(k, 35)                             -- lua_requests_total{...} 42
gg:add(5)
sm.gauge_add(gg, -2)                              -- lua_queue_depth 3
local peak = c:gauge("lua_peak_calls", "Peak.", nil, "max")
peak:set(4)
sm.gauge_set(peak, 9)                             -- lua_peak_calls 9
s:observe(10)
sm.summary_observe(s, 30.5)                       -- _count 2, _sum 40.5
local w = sm.summary(c, "lua_window_ms", "Windowed.", nil, 64)
w:observe(2)
hist:observe(180)
sm.histogram_observe(hist, 2350)
hist:observe(40000)                               -- above 32 s: +Inf; _count 3, _sum 42530
local small, small_status = sm.histogram(c, "lua_small_hist", "Small.", nil, {1, 5, 10})
check(small_status == "ok", "histogram() on the module: ok")
for _, v in ipairs({0.5, 3, 7, 20}) do small:observe(v) end
-- Outside [0, +Inf): counted in a bucket and _count, never in _sum (the C API's rule).
small:observe(-1)
small:observe(-math.huge)                         -- first bucket
small:observe(0 / 0)
small:observe(math.huge)                          -- +Inf bucket; _count 8, _sum 30.5
sm.inc_counter(c, "lua_registry_total", "Registry-style.", {kind = "a"})
c:inc_counter("lua_registry_total", "Registry-style.", {kind = "a"})
sm.add_counter(c, "lua_registry_total", "Registry-style.", {kind = "b"}, 10)
sm.set_gauge(c, "lua_registry_gauge", "Registry-style gauge.", nil, 6)
c:add_gauge("lua_registry_gauge", "Registry-style gauge.", nil, 1.5)
sm.observe(c, "lua_registry_ms", "Registry-style summary.", 4)
sm.observe_n(c, "lua_registry_ms", "Registry-style summary.", 6, 100)
c:observe_async("lua_registry_ms", "Registry-style summary.", 10)
check(sm.async_dropped_count(c) == 0, "nothing dropped")

-- Every enum value of every helper, once each; global and explicit clients alternate.
local function both(name, ...)
  sm[name](...)
  sm[name .. "_on"](c, ...)
  c[name](c, ...)
end
for _, dir in ipairs({"inbound", "outbound"}) do
  for _, code in ipairs({100, 180, 200, 302, 486, 503, 603, 0, 700, -1}) do
    sm.invite_result(dir, code)
  end
end
c:invite_result("inbound", 486)
for _, dir in ipairs({"inbound", "outbound"}) do
  for _, by in ipairs({"local", "remote"}) do
    for _, reason in ipairs({"normal", "timer-expired", "error", "user-hangup"}) do
      sm.bye(dir, by, reason)
    end
  end
end
sm.bye_outbound("remote", "user-hangup")
c:bye_outbound("local", "normal")
for _, m in ipairs({"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
                    "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PUBLISH", "INFO", "invite", "FOO"}) do
  sm.transaction_timeout(m)
end
for _, r in ipairs({"ok", "422-bumped", "422-gave-up", "481", "role-swap"}) do
  sm.session_timer_refresh(r)
end
for _, r in ipairs({"ok", "fail", "timeout", "fingerprint-mismatch"}) do sm.dtls_handshake(r) end
for _, r in ipairs({"verified", "failed", "soft-fail", "no-identity"}) do sm.stir_verify(r) end
both("observe_call_qos", 40, 2.5, 0.25, 4.5)
sm.observe_call_qos(0, 0, 0, 0) -- "no data" for all four: nothing recorded
sm.voice_attach("cascaded", true)
sm.voice_attach("realtime", false)
sm.voice_attach_with_result("realtime", "ok")
sm.voice_attach_with_result("cascaded", "config_error")
sm.voice_attach_mode_fallback("pipeline", "realtime")
sm.voice_attach_mode_fallback("realtime", "pipeline") -- not a fallback the seed knows: dropped
both("voice_attach_native", true)
sm.voice_attach_native(false)
for _, t in ipairs({"sip", "webrtc"}) do
  both("call_started", t)
  for _ = 1, (t == "sip" and 2 or 3) do sm.call_started(t) end -- active: sip 5 - 4, webrtc 6 - 4
  for _, st in ipairs({"ok", "dialog-hangup", "ice-failed", "pipeline-error"}) do
    sm.call_ended(t, st)
  end
  sm.asr_error(t)
  both("tts_error", t)
  sm.barge_in(t)
  sm.dialog_reconnect(t, "ok")
  c:dialog_reconnect(t, "fail")
end
both("observe_e2e_first_byte", 640)
sm.observe_e2e_first_byte(0) -- skipped
sm.observe_llm_first_byte(120)
c:observe_llm_first_byte(80)
sm.observe_tts_first_byte_on(c, 95)

io.stdout:write(failures == 0 and "ready\n" or "failed\n")
io.stdout:flush()
if failures > 0 then os.exit(1) end
io.read("*l") -- until lua_test.sh has scraped
os.exit(0)
