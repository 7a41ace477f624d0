-- bench/kamailio/bench_kemi.lua: bench.cfg's routing as a KEMI script (bench_kemi.cfg), with the
-- metric update of $BENCH_METRICS on every SIP request that reaches the routing logic, repeated
-- $BENCH_UPDATES times, its label l chosen among $BENCH_SERIES values by a hash of the Call-ID:
--   none        no update
--   xhttp_prom  KSR.xhttp_prom.counter_inc_l1("bench_requests", 1, l), served on Kamailio's
--               xhttp (ksr_xhttp_event)
--   sipmetrics  sm.counter_inc(handle), a handle per series resolved on the process's first
--               request; sipmetricsd serves it
-- Every process creates all the series on its first request (xhttp_prom's are shared, so this
-- only makes sure they exist before the measured load).
local metrics = os.getenv("BENCH_METRICS") or "none"
local series = tonumber(os.getenv("BENCH_SERIES")) or 1
local updates = tonumber(os.getenv("BENCH_UPDATES")) or 1

local update -- update(l): one metric update for label l (a string "0" .. series - 1)
local function prepare()
  if metrics == "xhttp_prom" then
    local inc = KSR.xhttp_prom.counter_inc_l1
    update = function(l) inc("bench_requests", 1, l) end
  elseif metrics == "sipmetrics" then
    local sm = require "sipmetrics"
    local c = sm.open(nil, "kamailio-" .. tostring(KSR.pv.get("$pp")))
    c:register_labels("bench_requests_total", {"l"})
    local handles = {}
    for i = 0, series - 1 do
      handles[tostring(i)] = c:counter("bench_requests_total", "SIP requests routed.", {l = tostring(i)})
    end
    local inc = sm.counter_inc
    update = function(l) inc(handles[l]) end
  else
    update = function(l) end
  end
  if metrics ~= "none" then
    for i = 0, series - 1 do update(tostring(i)) end
  end
end

local function relay()
  if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
  KSR.x.exit()
end

function ksr_request_route()
  if KSR.maxfwd.process_maxfwd(10) < 0 then
    KSR.sl.sl_send_reply(483, "Too Many Hops")
    KSR.x.exit()
  end
  if KSR.is_CANCEL() then
    if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
    KSR.x.exit()
  end
  if not KSR.is_ACK() then
    if KSR.tmx.t_precheck_trans() > 0 then
      KSR.tm.t_check_trans()
      KSR.x.exit()
    end
    KSR.tm.t_check_trans()
  end
  if update == nil then prepare() end
  if metrics ~= "none" then
    local l = tostring(KSR.pv.get("$(ci{s.corehash,1048576})") % series)
    for _ = 1, updates do update(l) end
  end
  if KSR.siputils.has_totag() > 0 then
    if KSR.rr.loose_route() > 0 then relay() end
    if KSR.is_ACK() and KSR.tm.t_check_trans() > 0 then relay() end
    KSR.sl.sl_send_reply(404, "Not here")
    KSR.x.exit()
  end
  if KSR.is_INVITE() then KSR.rr.record_route() end
  relay()
end

function ksr_xhttp_event(evname)
  if string.find(KSR.pv.get("$hu") or "", "^/metrics") then
    KSR.xhttp_prom.dispatch()
  else
    KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "not found\n")
  end
end
