-- sipmetrics.lua: the seed's SIP metrics from Kamailio's proxied traffic, through the sipmetrics
-- Lua module (app_lua; kamailio.cfg calls these functions with lua_run()).
--
--   sip_invite_result_total{direction, code_class}   final response relayed for each INVITE:
--                                                    2xx from onreply_route, negative (and
--                                                    Kamailio's own 408) from failure_route
--   sip_transaction_timeout_total{method}             a branch that got no reply before
--                                                    fr_timer (local 408), by request method
--   sip_bye_total{direction, by, reason_class}        each BYE proxied (retransmissions
--                                                    excluded); by "remote"/"local" for the far
--                                                    end / our side, reason from its Reason header
--   voiceserver_active_calls{transport="sip"}         dialogs confirmed and not yet ended
--   voiceserver_calls_total{transport="sip",status}   dialogs ended (status "ok")
--   sip_post_dial_delay_ms{direction}                 INVITE received to the first 18x or 2xx
--                                                    relayed, ms (a summary of our own: the seed
--                                                    has no post-dial delay family)
--   sip_post_dial_delay_hist_ms{direction}            the same samples as a classic histogram
--                                                    (SIP_LATENCY_BUCKETS_MS, 5 ms .. 32 s), named
--                                                    like sip.hpp's histogram twins: its buckets
--                                                    add up across proxies in PromQL
--
-- Direction is the name of the socket the INVITE arrived on (kamailio.cfg: listen ... name
-- "inbound" / "outbound"), kept in the transaction ($avp) and the dialog ($dlg_var).
--
-- Processes. app_lua runs this file in every Kamailio process, and once in the main process
-- before it forks. Nothing attaches at load: each process attaches on its first call, as
-- "kamailio-<proto>-<pid>" ("kamailio-timer-<pid>" for the timer process that reports timeouts),
-- so that the daemon's writer list tells Kamailio's processes apart. (Attaching at load would
-- work too, by the fork rule, but every child would then carry the main process's name.)
local sm = require "sipmetrics"

local client, pdd, pdd_hist = nil, {}, {}

local function attach(role)
  local c, status = sm.open(nil, "kamailio-" .. role .. "-" .. tostring(KSR.pv.get("$pp")))
  if status ~= "ok" then
    KSR.err("sipmetrics: running detached (" .. status .. "): metrics are discarded\n")
  end
  c:sip_prepare()
  c:register_labels("sip_post_dial_delay_ms", {"direction"})
  c:register_labels("sip_post_dial_delay_hist_ms", {"direction"})
  for _, dir in ipairs({"inbound", "outbound"}) do
    pdd[dir] = c:summary("sip_post_dial_delay_ms",
                         "Post-dial delay: INVITE received to the first 18x or 2xx relayed, ms.",
                         {direction = dir})
    pdd_hist[dir] = c:histogram("sip_post_dial_delay_hist_ms",
                                "Post-dial delay: INVITE received to the first 18x or 2xx "
                                  .. "relayed, ms (histogram).",
                                {direction = dir}, sm.SIP_LATENCY_BUCKETS_MS)
  end
  client = c
  return c
end

local function sip_client()
  return client or attach(string.lower(tostring(KSR.pv.get("$pr") or "sip")))
end

local function pv_number(name)
  return tonumber(KSR.pv.get(name)) or 0
end

local function now_ms()
  return tonumber(KSR.pv.get("$TV(Sn)")) * 1000
end

-- The direction of the INVITE being handled ($avp set at the request), else of the socket.
local function direction()
  local dir = KSR.pv.get("$avp(sm_dir)")
  if dir == "inbound" or dir == "outbound" then return dir end
  return KSR.pv.get("$Rn") == "outbound" and "outbound" or "inbound"
end

-- request_route, initial INVITE.
function sipmetrics_invite()
  sip_client()
  local dir = KSR.pv.get("$Rn") == "outbound" and "outbound" or "inbound"
  KSR.pv.sets("$avp(sm_dir)", dir)
  KSR.pv.sets("$avp(sm_t0)", KSR.pv.get("$TV(Sn)"))
  KSR.pv.sets("$dlg_var(sm_dir)", dir)
  return 1
end

-- onreply_route of INVITE transactions. Transaction AVPs mark the first
-- 18x/2xx and the first 2xx, so that retransmitted replies are not counted again.
function sipmetrics_invite_reply()
  local c = sip_client()
  local code = pv_number("$rs")
  if code < 180 or code >= 300 then return 1 end
  local dir = direction()
  if KSR.pv.is_null("$avp(sm_pdd)") then
    KSR.pv.seti("$avp(sm_pdd)", 1)
    local t0 = tonumber(KSR.pv.get("$avp(sm_t0)"))
    if t0 ~= nil then
      local ms = now_ms() - t0 * 1000
      pdd[dir]:observe(ms)
      pdd_hist[dir]:observe(ms)
    end
  end
  if code >= 200 and KSR.pv.is_null("$avp(sm_2xx)") then
    KSR.pv.seti("$avp(sm_2xx)", 1)
    c:invite_result(dir, code)
  end
  return 1
end

-- failure_route: every branch failed; $T_reply_code is the response Kamailio relays (its own
-- 408 when a branch timed out).
function sipmetrics_failure()
  local timed_out = KSR.tm.t_branch_timeout() > 0 and KSR.tm.t_branch_replied() < 0
  local c = client or attach(timed_out and "timer" or "sip")
  local method = KSR.pv.get("$rm")
  if method == "INVITE" then c:invite_result(direction(), pv_number("$T_reply_code")) end
  if timed_out then c:transaction_timeout(method) end
  return 1
end

-- The reason class of a BYE from its Reason header (RFC 3326): Q.850 cause 16 (normal call
-- clearing) is a user hangup, a session-timer cause is "timer-expired", any other cause an
-- error, no Reason header "normal".
local function reason_class()
  local reason = KSR.hdr.get("Reason")
  if reason == nil then return "normal" end
  local proto, cause = string.match(reason, "^%s*([%w%.]+)%s*;.*cause%s*=%s*(%d+)")
  cause = tonumber(cause)
  if string.find(string.lower(reason), "timer", 1, true) then return "timer-expired" end
  if proto == "Q.850" and cause == 16 then return "user-hangup" end
  if proto == "SIP" and cause == 408 then return "timer-expired" end
  if cause == nil then return "normal" end
  return "error"
end

-- request_route, in-dialog BYE (after loose_route; retransmissions were absorbed before).
function sipmetrics_bye()
  local c = sip_client()
  local dir = KSR.pv.get("$dlg_var(sm_dir)")
  if dir ~= "inbound" and dir ~= "outbound" then
    dir = KSR.pv.get("$Rn") == "outbound" and "outbound" or "inbound"
  end
  -- The caller of an inbound call is the far end; of an outbound call, our side.
  local from_caller = KSR.rr.is_direction("downstream") > 0
  local by = (from_caller == (dir == "inbound")) and "remote" or "local"
  c:bye(dir, by, reason_class())
  return 1
end

-- event_route[dialog:start] and [dialog:end].
function sipmetrics_call_started()
  sip_client():call_started("sip")
  return 1
end
function sipmetrics_call_ended()
  sip_client():call_ended("sip", "ok")
  return 1
end
