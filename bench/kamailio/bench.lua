-- bench/kamailio/bench.lua: the sipmetrics side of bench.cfg (app_lua). Each Kamailio process
-- resolves one handle per series on its first call (as integrations/kamailio/sipmetrics.lua
-- attaches on first use), then an increment is a table index and one C call. Handles are keyed
-- by the label string that lua_run() passes.
-- $BENCH_SERIES is the number of series (bench.cfg's SERIES); the segment is $SIPMETRICS_SEGMENT.
local sm = require "sipmetrics"

local series = tonumber(os.getenv("BENCH_SERIES")) or 1
local inc = sm.counter_inc
local handles = nil

local function resolve()
  local c = sm.open(nil, "kamailio-" .. tostring(KSR.pv.get("$pp")))
  c:register_labels("bench_requests_total", {"l"})
  handles = {}
  for i = 0, series - 1 do
    handles[tostring(i)] = c:counter("bench_requests_total", "SIP requests routed.", {l = tostring(i)})
  end
  return handles
end

-- event_route[core:worker-one-init]: all series exist before the first request.
function bench_resolve()
  resolve()
  return 1
end

-- route[METRIC]: lua_run("bench_count", "$var(l)"), the label "0" .. series - 1.
function bench_count(l)
  inc((handles or resolve())[l])
  return 1
end

-- The same call with no metric (bench.cfg's WITH_APP_LUA): the cost of lua_run() itself.
function bench_empty(l)
  return 1
end
