-- lua_bench.lua: what a call into sipmetrics costs from Lua, against the cheapest call Lua can
-- make into C (an empty function registered through luaL_Reg like sipmetrics' own).
--
--   LUA_CPATH="build/bindings/lua/?.so;;" SIPMETRICS_SEGMENT=/tmp/bench-seg \
--     lua5.1 bench/lua_bench.lua [ITERATIONS [REPETITIONS]]
--
-- Each case runs ITERATIONS calls (default 5,000,000) in a numeric for loop, REPETITIONS times
-- (default 5); the median of os.clock() per call is printed, with the empty loop's own cost
-- subtracted, next to the difference from the empty C function of the same run.
local sm = require "sipmetrics"
local floor = require "sipmetrics_bench"
local N = tonumber(arg[1]) or 5000000
local R = tonumber(arg[2]) or 5
assert(N >= 1 and R >= 1, "ITERATIONS and REPETITIONS must be >= 1")

local c = sm.global()
assert(sm.attached(c), "not attached: set SIPMETRICS_SEGMENT to a writable path")
local k = c:counter("lua_bench_total", "Benchmark counter.")
local g = c:gauge("lua_bench_gauge", "Benchmark gauge.")
local s = c:summary("lua_bench_ms", "Benchmark summary.")
local h = c:histogram("lua_bench_hist_ms", "Benchmark histogram.", nil, sm.SIP_LATENCY_BUCKETS_MS)
local u = floor.new()

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end
-- Seconds per iteration of f(a, b) over N iterations (one run); f "inc" or "observe" is a
-- method call on a instead.
local function run(f, a, b)
  local t0 = os.clock()
  if f == "inc" then
    for _ = 1, N do a:inc() end
  elseif f == "observe" then
    for _ = 1, N do a:observe(b) end
  else
    for _ = 1, N do f(a, b) end
  end
  return (os.clock() - t0) / N
end
local function run_loop()
  local t0 = os.clock()
  for _ = 1, N do end
  return (os.clock() - t0) / N
end

local cases = {
  {"floor: empty C function f(h)", floor.empty, k},
  {"floor: lua_touserdata only (no type check)", floor.touserdata, u},
  {"floor: luaL_checkudata (metatable by name)", floor.checkudata, u},
  {"floor: metatable from the environment", floor.envcheck, u},
  {"floor: metatable as an upvalue (sipmetrics)", floor.upvaluecheck, u},
  {"floor: number index into a C array", floor.number, 1},
  {"counter_inc(k)", sm.counter_inc, k},
  {"counter_add(k, 3)", sm.counter_add, k, 3},
  {"gauge_add(g, 1)", sm.gauge_add, g, 1},
  {"gauge_set(g, 7)", sm.gauge_set, g, 7},
  {"summary_observe(s, 182)", sm.summary_observe, s, 182},
  {"k:inc() (method call)", "inc", k},
  {"s:observe(182) (method call)", "observe", s, 182},
  {"histogram_observe(h, 182)", sm.histogram_observe, h, 182},
  {"h:observe(182) (method call)", "observe", h, 182},
  {"invite_result(\"inbound\", 486)", sm.invite_result, "inbound", 486},
  {"transaction_timeout(\"INVITE\")", sm.transaction_timeout, "INVITE"},
  {"call_started(\"sip\")", sm.call_started, "sip"},
}
-- Each repetition runs the empty loop, the empty C function and every case back to back, so
-- that a case is compared with the floor of its own moment (the machine is shared).
local per, diff, loops = {}, {}, {}
for i = 1, #cases do per[i], diff[i] = {}, {} end
for r = 1, R do
  loops[r] = run_loop()
  local empty = run(floor.empty, k) - loops[r]
  for i, case in ipairs(cases) do
    local t = run(case[2], case[3], case[4]) - loops[r]
    per[i][r], diff[i][r] = t, t - empty
  end
end
print(string.format("%d calls x %d runs, medians; empty loop %.2f ns per iteration", N, R,
                    median(loops) * 1e9))
print(string.format("%-46s %10s %14s", "case", "ns/call", "- empty C fn"))
for i, case in ipairs(cases) do
  print(string.format("%-46s %10.2f %14.2f", case[1], median(per[i]) * 1e9, median(diff[i]) * 1e9))
end
