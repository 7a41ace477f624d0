#!/usr/bin/env python3
"""kubernetes_test.py SOURCE_DIR SIPMETRICSD DEMO

Checks deploy/kubernetes/ without a cluster:
  1. every manifest parses; the Deployment's selector matches its pod labels;
  2. the wiring: one emptyDir with medium: Memory and a sizeLimit, mounted read-write at the same
     path in the SIP container and the sipmetricsd sidecar; both name the same segment, inside
     that mount; the sidecar listens on its containerPort on all addresses; liveness and
     readiness probes GET /healthz on that port; the scrape annotations name it; resources
     requests and limits everywhere; the sidecar runs as the image's uid (Dockerfile USER),
     non-root, read-only root file system; fsGroup is the image's group;
  3. the PodMonitor (monitoring.coreos.com/v1, validated field by field since it is a CRD):
     selects the pod, scrapes the sidecar's named port at /metrics, sets job="sipmetrics" like
     deploy/prometheus/prometheus.yml and the rules;
  4. the README's Kubernetes block only applies these manifests (all of them), and its
     port-forward and curl lines name the Deployment, the port and the probe path;
  5. (root) the two containers' settings run for real: the demo workload as the SIP container's
     user and groups writes first, sipmetricsd as the sidecar's user with its environment serves
     its counts; the probe path answers on the port; the segment fits the volume's sizeLimit and
     half the sidecar's memory limit.
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import yaml
except ImportError:
    sys.exit("FATAL: python3-yaml missing (tests/deploy/with_tools.sh installs it)")

SRC, DAEMON, DEMO = (os.path.abspath(a) for a in sys.argv[1:4])
passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("PASS:", what)
    else:
        failed += 1
        print("FAIL:", what)
    return cond


def fatal(what):
    print("FATAL:", what)
    print(f"{passed} passed, {failed + 1} failed")
    sys.exit(1)


def quantity(q):
    """Kubernetes quantity -> number (bytes or cores)."""
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|m)?", str(q))
    if not m:
        fatal(f"bad quantity {q!r}")
    mult = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "k": 1e3, "M": 1e6,
            "G": 1e9, "T": 1e12, "m": 1e-3}[m.group(2)]
    return float(m.group(1)) * mult


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


# ---- 1. Manifests ---------------------------------------------------------------------------------
files = sorted(glob.glob(os.path.join(SRC, "deploy/kubernetes/*.yaml")) +
               glob.glob(os.path.join(SRC, "deploy/kubernetes/*.yml")))
docs = []
for f in files:
    try:
        for d in yaml.safe_load_all(open(f, encoding="utf-8")):
            if d is not None:
                docs.append((os.path.relpath(f, SRC), d))
    except yaml.YAMLError as e:
        fatal(f"{f}: {e}")
ok(len(files) >= 2, f"{len(files)} manifests parse: {[os.path.basename(f) for f in files]}")
for f, d in docs:
    ok(isinstance(d.get("apiVersion"), str) and isinstance(d.get("kind"), str) and
       isinstance(d.get("metadata", {}).get("name"), str), f"{f}: {d.get('kind')} has apiVersion, kind, metadata.name")

deps = [d for _, d in docs if d.get("kind") == "Deployment"]
pms = [d for _, d in docs if d.get("kind") == "PodMonitor"]
if len(deps) != 1 or len(pms) != 1:
    fatal(f"expected one Deployment and one PodMonitor, found {len(deps)} and {len(pms)}")
dep, pm = deps[0], pms[0]
ok(dep["apiVersion"] == "apps/v1", "Deployment is apps/v1")
tmpl = dep["spec"]["template"]
pod_labels = tmpl["metadata"].get("labels", {})
sel = dep["spec"]["selector"].get("matchLabels", {})
ok(sel and all(pod_labels.get(k) == v for k, v in sel.items()), f"Deployment selector {sel} matches the pod labels")
spec = tmpl["spec"]
containers = spec["containers"]
names = [c["name"] for c in containers]
ok(len(set(names)) == len(names), f"container names unique: {names}")
sidecars = [c for c in containers if "sipmetricsd" in c.get("image", "")]
if len(sidecars) != 1 or len(containers) < 2:
    fatal("expected one sipmetricsd sidecar next to at least one SIP container")
side = sidecars[0]
workers = [c for c in containers if c is not side]

# ---- 2. Wiring --------------------------------------------------------------------------------------
mem_vols = {v["name"]: v for v in spec.get("volumes", [])
            if isinstance(v.get("emptyDir"), dict) and v["emptyDir"].get("medium") == "Memory"}
ok(len(mem_vols) == 1, f"one emptyDir with medium: Memory ({list(mem_vols)})")
vol = next(iter(mem_vols.values()))
ok("sizeLimit" in vol["emptyDir"], f"the volume has a sizeLimit ({vol['emptyDir'].get('sizeLimit')})")


def mount(c):
    ms = [m for m in c.get("volumeMounts", []) if m["name"] == vol["name"]]
    return ms[0] if len(ms) == 1 else None


mounts = {c["name"]: mount(c) for c in containers}
ok(all(mounts.values()), f"the volume is mounted in every container: {mounts}")
paths = {m["mountPath"] for m in mounts.values() if m}
ok(len(paths) == 1, f"at the same path in all: {paths}")
ok(not any(m and m.get("readOnly") for m in mounts.values()), "read-write everywhere")
mount_path = next(iter(paths))
segs = {c["name"]: env_of(c).get("SIPMETRICS_SEGMENT", "sipmetrics") for c in containers}
ok(len(set(segs.values())) == 1, f"every container names the same segment: {segs}")
seg = segs[side["name"]]
if "/" in seg:
    ok(os.path.dirname(seg) == mount_path.rstrip("/"), f"segment {seg} is in the shared mount {mount_path}")
else:
    ok(mount_path.rstrip("/") == "/dev/shm", f"segment is the shm name {seg} and the volume is /dev/shm")

ports = [p for p in side.get("ports", []) if p.get("protocol", "TCP") == "TCP"]
ok(len(ports) == 1 and "name" in ports[0], f"sidecar has one named TCP port: {ports}")
port = ports[0]
listen = env_of(side).get("SIPMETRICSD_LISTEN", "0.0.0.0:9477")
args = side.get("args", []) + side.get("command", [])
ok(not any(a.startswith("--listen") for a in args), "no --listen argument overrides SIPMETRICSD_LISTEN")
lhost, _, lport = listen.rpartition(":")
ok(lport == str(port["containerPort"]), f"SIPMETRICSD_LISTEN {listen} is on containerPort {port['containerPort']}")
ok(lhost in ("", "0.0.0.0", "[::]"), f"listens on all addresses ({lhost or '*'}), so probes and Prometheus reach it")
for kind in ("livenessProbe", "readinessProbe"):
    pr = side.get(kind, {}).get("httpGet", {})
    ok(pr.get("path") == "/healthz" and pr.get("port") in (port["name"], port["containerPort"]),
       f"{kind}: GET {pr.get('path')} on port {pr.get('port')}")
ann = tmpl["metadata"].get("annotations", {})
ok(ann.get("prometheus.io/scrape") == "true", "annotation prometheus.io/scrape: \"true\" (a string)")
ok(ann.get("prometheus.io/port") == str(port["containerPort"]), f"annotation prometheus.io/port = {ann.get('prometheus.io/port')}")
ok(ann.get("prometheus.io/path") == "/metrics", "annotation prometheus.io/path = /metrics")
for c in containers:
    r = c.get("resources", {})
    ok("memory" in r.get("requests", {}) and "cpu" in r.get("requests", {}) and "memory" in r.get("limits", {}),
       f"{c['name']}: cpu and memory requests, memory limit")

# The sidecar's identity is the image's (Dockerfile USER uid:gid); the pod's fsGroup is its group.
dockerfile = open(os.path.join(SRC, "Dockerfile"), encoding="utf-8").read()
m = re.search(r"^USER\s+(\d+):(\d+)\s*$", dockerfile, re.M)
if not m:
    fatal("Dockerfile has no numeric USER uid:gid")
img_uid, img_gid = int(m.group(1)), int(m.group(2))
m = re.search(r"^EXPOSE\s+(\d+)", dockerfile, re.M)
ok(m and int(m.group(1)) == port["containerPort"], f"containerPort is the Dockerfile's EXPOSE {m and m.group(1)}")
psc, ssc = spec.get("securityContext", {}), side.get("securityContext", {})
ok(ssc.get("runAsUser", psc.get("runAsUser")) == img_uid, f"sidecar runs as the image's uid {img_uid}")
ok(ssc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, "runAsNonRoot")
ok(ssc.get("readOnlyRootFilesystem") is True and ssc.get("allowPrivilegeEscalation") is False,
   "sidecar: readOnlyRootFilesystem, no privilege escalation")
ok(psc.get("fsGroup") == img_gid, f"pod fsGroup {psc.get('fsGroup')} is the image's group {img_gid}: both containers can write the segment")

# ---- 3. PodMonitor -----------------------------------------------------------------------------------
ok(pm.get("apiVersion") == "monitoring.coreos.com/v1", "PodMonitor is monitoring.coreos.com/v1")
SPEC_KEYS = {"jobLabel", "podTargetLabels", "podMetricsEndpoints", "selector", "namespaceSelector",
             "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit",
             "attachMetadata"}
EP_KEYS = {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "tlsConfig",
           "bearerTokenSecret", "honorLabels", "honorTimestamps", "basicAuth", "oauth2", "metricRelabelings",
           "relabelings", "proxyUrl", "followRedirects", "enableHttp2", "filterRunning", "authorization"}
RL_KEYS = {"sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"}
ACTIONS = {"replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase",
           "uppercase", "keepequal", "dropequal"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
pspec = pm.get("spec", {})
ok(set(pspec) <= SPEC_KEYS, f"PodMonitor spec fields known: {sorted(set(pspec) - SPEC_KEYS) or 'all'}")
psel = pspec.get("selector", {}).get("matchLabels", {})
ok(psel and all(pod_labels.get(k) == v for k, v in psel.items()), f"PodMonitor selects the pods ({psel})")
eps = pspec.get("podMetricsEndpoints", [])
ok(len(eps) >= 1, "PodMonitor has podMetricsEndpoints")
job = None
for ep in eps:
    ok(set(ep) <= EP_KEYS, f"endpoint fields known: {sorted(set(ep) - EP_KEYS) or 'all'}")
    ok(ep.get("port") == port["name"], f"endpoint port '{ep.get('port')}' is the sidecar's port name '{port['name']}'")
    ok(ep.get("path", "/metrics") == "/metrics", "endpoint path /metrics")
    for k in ("interval", "scrapeTimeout"):
        if k in ep:
            ok(DURATION.match(str(ep[k])) is not None, f"endpoint {k} {ep[k]} is a duration")
    for rl in ep.get("relabelings", []) + ep.get("metricRelabelings", []):
        ok(set(rl) <= RL_KEYS and rl.get("action", "replace").lower() in ACTIONS, f"relabeling {rl} well-formed")
        if rl.get("targetLabel") == "job" and rl.get("action", "replace") == "replace" and not rl.get("sourceLabels"):
            job = rl.get("replacement")
prom = yaml.safe_load(open(os.path.join(SRC, "deploy/prometheus/prometheus.yml"), encoding="utf-8"))
prom_jobs = [s["job_name"] for s in prom.get("scrape_configs", [])]
rules = open(os.path.join(SRC, "deploy/prometheus/sipmetrics.rules.yml"), encoding="utf-8").read()
rule_jobs = set(re.findall(r'up\{job="([^"]+)"\}', rules))
ok(job is not None and [job] == prom_jobs and rule_jobs == {job},
   f"PodMonitor job '{job}' = prometheus.yml jobs {prom_jobs} = the rules' up{{job}} {sorted(rule_jobs)}")

# ---- 4. The README block -------------------------------------------------------------------------------
readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
m = re.search(r"<!-- deploy-test: kubernetes -->\n```[a-z]*\n(.*?)\n```", readme, re.S)
if not m:
    fatal("README has no block 'kubernetes'")
applied, fwd = set(), None
for line in m.group(1).splitlines():
    cmd = line.split("#")[0].strip().rstrip("&").strip()
    if not cmd:
        continue
    w = cmd.split()
    if w[:3] == ["kubectl", "apply", "-f"] and len(w) == 4:
        ok(os.path.isfile(os.path.join(SRC, w[3])) and any(f == w[3] for f, _ in docs),
           f"README: {cmd}: a manifest checked here")
        applied.add(w[3])
    elif w[:2] == ["kubectl", "port-forward"] and len(w) == 4:
        kind, _, name = w[2].partition("/")
        local, _, remote = w[3].partition(":")
        ok(kind in ("deployment", "deploy", "deployments") and name == dep["metadata"]["name"] and
           remote in (str(port["containerPort"]), port["name"]),
           f"README: {cmd}: the Deployment and the sidecar's port")
        fwd = local
    elif w[0] == "curl":
        u = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", cmd)
        ok(u is not None and u.group(1) == fwd and u.group(2) == side["livenessProbe"]["httpGet"]["path"],
           f"README: {cmd}: the forwarded port and the probe's path")
    else:
        ok(False, f"README block 'kubernetes' has a line this test cannot check: {line}")
ok(applied == {f for f, _ in docs}, f"README applies every manifest: {sorted(applied)}")

# ---- 5. The containers' settings, for real ----------------------------------------------------------------
if os.geteuid() != 0:
    print("NOTE: not root: step 5 (running as the containers' users) not run")
else:
    tmp = tempfile.mkdtemp(prefix="sipmetrics-k8s.")
    procs = []
    try:
        os.chmod(tmp, 0o755)
        # The emptyDir as kubelet leaves it with fsGroup: group fsGroup, setgid, group-writable.
        voldir = os.path.join(tmp, "volume")
        os.mkdir(voldir)
        os.chown(voldir, 0, psc["fsGroup"])
        os.chmod(voldir, 0o2777)
        local_seg = seg.replace(mount_path.rstrip("/"), voldir, 1) if "/" in seg else seg

        def run_as(c, argv, env, log):
            sc = c.get("securityContext", {})
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            gid = sc.get("runAsGroup", psc.get("runAsGroup", uid))
            groups = [psc["fsGroup"]] + psc.get("supplementalGroups", [])
            full = ["timeout", "-k", "5", "120", "setpriv", f"--reuid={uid}", f"--regid={gid}",
                    "--groups=" + ",".join(map(str, groups)), "--no-new-privs", "--"] + argv
            p = subprocess.Popen(full, env={"PATH": "/usr/bin:/bin", **env}, stdout=open(log, "w"),
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
            procs.append(p)
            return p

        worker = workers[0]
        wenv = {k: (local_seg if k == "SIPMETRICS_SEGMENT" else v) for k, v in env_of(worker).items()}
        run_as(worker, [DEMO, "--workers", "2", "--cps", "20", "--seconds", "15"], wenv, os.path.join(tmp, "worker.log"))
        deadline = time.time() + 10
        while not os.path.exists(local_seg) and time.time() < deadline:
            time.sleep(0.1)
        st = os.stat(local_seg) if os.path.exists(local_seg) else None
        ok(st is not None and (st.st_mode & 0o777) == 0o660 and st.st_gid == psc["fsGroup"],
           f"the SIP container's user created the segment 0660, group fsGroup "
           f"({oct(st.st_mode & 0o777) if st else 'missing'}, gid {st.st_gid if st else '-'})")
        for attempt in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            lp = s.getsockname()[1]
            s.close()
            denv = dict(env_of(side))
            denv["SIPMETRICS_SEGMENT"] = local_seg
            denv["SIPMETRICSD_LISTEN"] = f"127.0.0.1:{lp}"
            d = run_as(side, [DAEMON] + side.get("args", []), denv, os.path.join(tmp, "daemon.log"))
            probe = f"http://127.0.0.1:{lp}{side['readinessProbe']['httpGet']['path']}"
            up = False
            deadline = time.time() + 15
            while time.time() < deadline and d.poll() is None:
                try:
                    up = urllib.request.urlopen(probe, timeout=2).status == 200
                    break
                except OSError:
                    time.sleep(0.1)
            if up:
                break
            os.killpg(d.pid, signal.SIGKILL)
        ok(up, f"the sidecar's probe path answers 200 ({probe})")
        size = writers = invites = None
        deadline = time.time() + 15
        while time.time() < deadline:
            page = urllib.request.urlopen(f"http://127.0.0.1:{lp}/metrics", timeout=5).read().decode()
            vals = {}
            for row in page.splitlines():
                if row and not row.startswith("#"):
                    k, _, v = row.rpartition(" ")
                    vals[k] = float(v)
            size = vals.get("sipmetrics_segment_size_bytes")
            writers = vals.get("sipmetrics_writers", 0)
            invites = sum(v for k, v in vals.items() if k.startswith("sip_invite_result_total{"))
            if writers >= 1 and invites > 0:
                break
            time.sleep(0.2)
        ok(writers >= 1 and invites > 0,
           f"the sidecar serves the SIP container's counts ({writers:.0f} writers, {invites:.0f} INVITE responses)")
        limit = quantity(vol["emptyDir"]["sizeLimit"])
        mem = quantity(side["resources"]["limits"]["memory"])
        ok(size is not None and size <= limit and size <= mem / 2,
           f"segment {size and size / 2**20:.1f} MiB fits the sizeLimit ({limit / 2**20:.0f} MiB) "
           f"and half the sidecar's memory limit ({mem / 2**20:.0f} MiB)")
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if failed:
            for log in ("worker.log", "daemon.log"):
                path = os.path.join(tmp, log)
                if os.path.exists(path):
                    print(f"---- {log} ----")
                    print(open(path).read()[-2000:])
        shutil.rmtree(tmp, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
