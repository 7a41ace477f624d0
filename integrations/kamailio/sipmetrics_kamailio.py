# sipmetrics_kamailio.py: the seed's SIP metrics from Kamailio's proxied traffic, through the
# sipmetrics Python module (app_python3; kamailio.cfg, started with -A WITH_PYTHON, calls these
# methods with python_exec()). The same metrics, labels, writer names and semantics as
# sipmetrics.lua:
#
#   sip_invite_result_total{direction, code_class}   final response relayed for each INVITE:
#                                                    2xx from onreply_route, negative (and
#                                                    Kamailio's own 408) from failure_route
#   sip_transaction_timeout_total{method}             a branch that got no reply before
#                                                    fr_timer (local 408), by request method
#   sip_bye_total{direction, by, reason_class}        each BYE proxied (retransmissions
#                                                    excluded); by "remote"/"local" for the far
#                                                    end / our side, reason from its Reason header
#   voiceserver_active_calls{transport="sip"}         dialogs confirmed and not yet ended
#   voiceserver_calls_total{transport="sip",status}   dialogs ended (status "ok")
#   sip_post_dial_delay_ms{direction}                 INVITE received to the first 18x or 2xx
#                                                    relayed, ms (a summary of our own: the seed
#                                                    has no post-dial delay family)
#   sip_post_dial_delay_hist_ms{direction}            the same samples as a classic histogram
#                                                    (SIP_LATENCY_BUCKETS_MS, 5 ms .. 32 s)
#
# Direction is the name of the socket the INVITE arrived on (kamailio.cfg: listen ... name
# "inbound" / "outbound"), kept in the transaction ($avp) and the dialog ($dlg_var).
#
# The file name. app_python3 puts the script's directory first on sys.path and imports the
# script as a module named after its file: a script called sipmetrics.py would be the module
# "sipmetrics" itself, and its "import sipmetrics" would return the script, not the extension.
#
# Processes. app_python3 imports this file once, in the main process before it forks (mod_init),
# and every process inherits the interpreter. Nothing attaches at import: each process attaches
# on its first call, as "kamailio-<proto>-<pid>" ("kamailio-timer-<pid>" for the timer process
# that reports timeouts), so that the daemon's writer list tells Kamailio's processes apart.
# The extension module is found on sys.path: installed into Debian's dist-packages, or through
# PYTHONPATH in Kamailio's environment.
import re

import KSR
import sipmetrics as sm

PDD_HELP = "Post-dial delay: INVITE received to the first 18x or 2xx relayed, ms."
PDD_HIST_HELP = "Post-dial delay: INVITE received to the first 18x or 2xx relayed, ms (histogram)."
DIRECTIONS = ("inbound", "outbound")

# A Reason header (RFC 3326): its protocol and cause, e.g. 'Q.850;cause=16;text="..."'.
REASON_RE = re.compile(r"^\s*([A-Za-z0-9.]+)\s*;.*cause\s*=\s*(\d+)")
# A session-timer reason, in any case (searched in place: no lowered copy of the header).
TIMER_RE = re.compile("timer", re.IGNORECASE)


def socket_direction():
    """The direction of the socket the message arrived on."""
    return "outbound" if KSR.pv.get("$Rn") == "outbound" else "inbound"


def direction():
    """The direction of the INVITE being handled ($avp set at the request), else of the socket."""
    d = KSR.pv.get("$avp(sm_dir)")
    if d == "inbound" or d == "outbound":
        return d
    return socket_direction()


def pv_number(name):
    """A pseudo-variable as an int, 0 when it is null or not a number."""
    v = KSR.pv.get(name)
    if isinstance(v, int):
        return v
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def now_s():
    """The time, seconds (with microseconds) since the epoch: $TV(Sn) is "sec.usec"."""
    return float(KSR.pv.get("$TV(Sn)"))


def reason_class():
    """The reason class of a BYE from its Reason header: Q.850 cause 16 (normal call clearing) is
    a user hangup, a session-timer cause is "timer-expired", any other cause an error, no Reason
    header "normal"."""
    reason = KSR.hdr.get("Reason")
    if reason is None:
        return "normal"
    m = REASON_RE.match(reason)
    proto, cause = (m.group(1), int(m.group(2))) if m else (None, None)
    if TIMER_RE.search(reason):
        return "timer-expired"
    if proto == "Q.850" and cause == 16:
        return "user-hangup"
    if proto == "SIP" and cause == 408:
        return "timer-expired"
    if cause is None:
        return "normal"
    return "error"


class SipMetrics:
    """The handler object app_python3 calls: python_exec("name") runs self.name(msg)."""

    def __init__(self):
        self.client = None
        self.pdd = {}
        self.pdd_hist = {}

    def child_init(self, rank):
        # Called in every process after the fork; attaching waits for the first call.
        return 0

    def attach(self, role):
        c = sm.Client(None, "kamailio-%s-%s" % (role, KSR.pv.get("$pp")))
        if not c.attached:
            KSR.err("sipmetrics: running detached: metrics are discarded\n")
        c.prepare()
        c.register_labels("sip_post_dial_delay_ms", ("direction",))
        c.register_labels("sip_post_dial_delay_hist_ms", ("direction",))
        for d in DIRECTIONS:
            labels = {"direction": d}
            self.pdd[d] = c.summary("sip_post_dial_delay_ms", PDD_HELP, labels)
            self.pdd_hist[d] = c.histogram("sip_post_dial_delay_hist_ms", PDD_HIST_HELP, labels,
                                           sm.SIP_LATENCY_BUCKETS_MS)
        self.client = c
        return c

    def sip_client(self):
        c = self.client
        if c is None:
            c = self.attach(str(KSR.pv.get("$pr") or "sip").lower())
        return c

    # request_route, initial INVITE.
    def sipmetrics_invite(self, msg):
        self.sip_client()
        d = socket_direction()
        KSR.pv.sets("$avp(sm_dir)", d)
        KSR.pv.sets("$avp(sm_t0)", KSR.pv.get("$TV(Sn)"))
        KSR.pv.sets("$dlg_var(sm_dir)", d)
        return 1

    # onreply_route of INVITE transactions. Transaction AVPs mark the first 18x/2xx and the first
    # 2xx, so that retransmitted replies are not counted again.
    def sipmetrics_invite_reply(self, msg):
        c = self.sip_client()
        code = pv_number("$rs")
        if code < 180 or code >= 300:
            return 1
        d = direction()
        if KSR.pv.is_null("$avp(sm_pdd)"):
            KSR.pv.seti("$avp(sm_pdd)", 1)
            t0 = KSR.pv.get("$avp(sm_t0)")
            if t0 is not None:
                ms = (now_s() - float(t0)) * 1000
                self.pdd[d].observe(ms)
                self.pdd_hist[d].observe(ms)
        if code >= 200 and KSR.pv.is_null("$avp(sm_2xx)"):
            KSR.pv.seti("$avp(sm_2xx)", 1)
            c.invite_result(d, code)
        return 1

    # failure_route: every branch failed; $T_reply_code is the response Kamailio relays (its own
    # 408 when a branch timed out).
    def sipmetrics_failure(self, msg):
        timed_out = KSR.tm.t_branch_timeout() > 0 and KSR.tm.t_branch_replied() < 0
        c = self.client
        if c is None:
            c = self.attach("timer" if timed_out else "sip")
        method = KSR.pv.get("$rm")
        if method == "INVITE":
            c.invite_result(direction(), pv_number("$T_reply_code"))
        if timed_out:
            c.transaction_timeout(method)
        return 1

    # request_route, in-dialog BYE (after loose_route; retransmissions were absorbed before).
    def sipmetrics_bye(self, msg):
        c = self.sip_client()
        d = KSR.pv.get("$dlg_var(sm_dir)")
        if d != "inbound" and d != "outbound":
            d = socket_direction()
        # The caller of an inbound call is the far end; of an outbound call, our side.
        from_caller = KSR.rr.is_direction("downstream") > 0
        by = "remote" if from_caller == (d == "inbound") else "local"
        c.bye(d, by, reason_class())
        return 1

    # event_route[dialog:start] and [dialog:end].
    def sipmetrics_call_started(self, msg):
        self.sip_client().call_started("sip")
        return 1

    def sipmetrics_call_ended(self, msg):
        self.sip_client().call_ended("sip", "ok")
        return 1


def mod_init():
    # In the main process, before the fork: the handler object every process inherits.
    return SipMetrics()
