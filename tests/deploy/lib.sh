# shellcheck shell=bash
# Shared by the shell tests (tests/deploy/*_test.sh, tests/integration/prometheus_test.sh):
# results, a scratch directory, processes that cannot outlive the test, tools installed from
# Debian when missing, loopback ports, README blocks. Source it after setting LIFETIME (seconds
# any started process may live).
#
# Every process started through start_bg runs under `timeout` (so it dies on its own even if the
# test is SIGKILLed) in its own process group, and is killed with that group by the EXIT trap.

passed=0
failed=0
PIDS=()
TMP=""
: "${LIFETIME:=240}"

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() {  # DESCRIPTION COMMAND...: pass if the command succeeds
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# Log files (relative to $TMP) that die() and finish() print the end of.
LOGS=()
show_logs() {
  [[ -n $TMP ]] || return 0
  local f
  for f in "${LOGS[@]}"; do
    if [[ -s $TMP/$f ]]; then
      echo "---- $f (last 30 lines) ----"
      tail -n 30 "$TMP/$f"
    fi
  done
}
die() {
  echo "FATAL: $*"
  failed=$((failed + 1))
  show_logs
  echo "$passed passed, $failed failed"
  exit 1
}
finish() {
  if ((failed > 0)); then
    show_logs
    echo "$passed passed, $failed failed"
    exit 1
  fi
  echo "$passed passed, 0 failed"
  exit 0
}

cleanup() {
  local rc=$? pid i alive
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do  # up to 5 s for a clean stop
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [[ -n $TMP && -d $TMP && -z ${KEEP_TMP:-} ]] && rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_tmp() {  # NAME: creates $TMP
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/sipmetrics-$1.XXXXXX")
}

# Starts "$@" in the background under `timeout`, output to LOG (relative to $TMP, listed for
# show_logs); the pid (a process-group leader) is left in $STARTED.
start_bg() {
  local log=$1
  shift
  LOGS+=("$log")
  (cd "$TMP" && exec timeout -k 5 "$LIFETIME" "$@") >"$TMP/$log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
}
stop_bg() {  # PID: SIGTERM, bounded wait, then SIGKILL to its group
  local j
  kill -TERM "$1" 2>/dev/null || true
  for ((j = 0; j < 50; j++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# ---- Tools ------------------------------------------------------------------------------------------
AS_ROOT=()
as_root_init() {
  if [[ $(id -u) -eq 0 ]]; then
    AS_ROOT=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
  else
    return 1
  fi
}
# need_tools COMMAND:PACKAGE ...: installs, with apt-get, the Debian package of every missing
# command (as root or through sudo), and dies if a command is still missing afterwards.
need_tools() {
  local spec missing=() cmd pkg
  for spec in "$@"; do
    cmd=${spec%%:*}
    pkg=${spec#*:}
    command -v "$cmd" >/dev/null || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "installing with apt-get: ${missing[*]}"
  as_root_init || die "need root or sudo to install: ${missing[*]}"
  # Tests run side by side and several may install at once: apt-get waits up to 300 s for
  # dpkg's lock (DPkg::Lock::Timeout) instead of failing at once.
  apt_install() {
    timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold "$@"
  }
  if ! apt_install "${missing[@]}"; then
    echo "apt-get install failed; refreshing the package lists and trying again"
    timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update || true
    apt_install "${missing[@]}" || echo "apt-get install reported a failure (checking for the tools anyway)"
  fi
  hash -r
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null || die "${spec%%:*} still missing after apt-get install"
  done
}

# A python3 that can `import yaml` (Debian's python3-yaml, installed when missing); in $PY.
# shellcheck disable=SC2034  # PY is for the sourcing script
need_python_yaml() {
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then
      PY=$(command -v "$p")
      return 0
    fi
  done
  as_root_init || die "need root or sudo to install python3-yaml"
  timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends python3 python3-yaml ||
    { timeout 420 "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=300 update || true
      timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends python3 python3-yaml || true; }
  /usr/bin/python3 -c 'import yaml' 2>/dev/null || die "python3-yaml still missing"
  PY=/usr/bin/python3
}

# ---- Loopback ports ---------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# Listening TCP sockets on PORT (any address), from /proc/net/tcp and /proc/net/tcp6.
listeners() {
  python3 -c 'import sys
port, n = int(sys.argv[1]), 0
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(f).read().splitlines()[1:]
    except OSError:
        continue
    for r in rows:
        c = r.split()
        if len(c) > 3 and c[3] == "0A" and int(c[1].rsplit(":", 1)[1], 16) == port:
            n += 1
print(n)' "$1"
}
http_code() {  # URL
  curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$1" || true
}

# start_daemon LOG ENV_ASSIGNMENTS... -- COMMAND...: starts a sipmetricsd listening on a free
# loopback port given to it as SIPMETRICSD_LISTEN; retries on another port when the port turns
# out to be shared (cpp-httplib binds with SO_REUSEPORT). Leaves $DAEMON_PID and $DAEMON_PORT.
start_daemon() {
  local log=$1 attempt port deadline envs=()
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  DAEMON_PORT=""
  for attempt in 1 2 3; do
    port=$(free_port)
    start_bg "$log" env "${envs[@]}" SIPMETRICSD_LISTEN="127.0.0.1:$port" "$@"
    DAEMON_PID=$STARTED
    deadline=$((SECONDS + 15))
    while ((SECONDS < deadline)); do
      if [[ $(http_code "http://127.0.0.1:$port/healthz") == 200 ]]; then
        [[ $(listeners "$port") == 1 ]] && DAEMON_PORT=$port
        break
      fi
      kill -0 "$DAEMON_PID" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $DAEMON_PORT ]] && return 0
    echo "sipmetricsd not usable on 127.0.0.1:$port (attempt $attempt):"
    tail -n 5 "$TMP/$log" || true
    stop_bg "$DAEMON_PID"
  done
  return 1
}

# Value of the first sample line of /metrics at PORT whose name and labels are exactly KEY.
metric_value() {  # PORT KEY
  # awk reads to the end: an early exit would make curl fail on a closed pipe (pipefail).
  { curl -s --max-time 5 "http://127.0.0.1:$1/metrics" || true; } | awk -v k="$2" '!done && $1 == k { print $2; done = 1 }'
}

# ---- Prometheus HTTP API ----------------------------------------------------------------------------
# prom_api_query URL PROMQL: an instant query through a Prometheus-compatible HTTP API (Prometheus,
# VictoriaMetrics); the single sample's value, "none", "multiple:N" or "error:...".
prom_api_query() {
  { curl -s --max-time 5 --get --data-urlencode "query=$2" "$1/api/v1/query" || true; } | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error:not JSON"); sys.exit(0)
if d.get("status") != "success":
    print("error:" + str(d.get("error"))); sys.exit(0)
r = d["data"]["result"]
if d["data"]["resultType"] == "scalar": print(r[1])
elif not r: print("none")
elif len(r) > 1: print("multiple:%d" % len(r))
else: print(r[0]["value"][1])'
}

# prom_api_vector URL PROMQL LABEL: an instant query's series, one line each: the value of LABEL
# and the sample's value, sorted; or one line "error:...".
prom_api_vector() {
  { curl -s --max-time 5 --get --data-urlencode "query=$2" "$1/api/v1/query" || true; } | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error:not JSON"); sys.exit(0)
if d.get("status") != "success" or d["data"]["resultType"] != "vector":
    print("error:" + str(d.get("error", d.get("data", {}).get("resultType")))); sys.exit(0)
for line in sorted("%s %s" % (r["metric"].get(sys.argv[1], ""), r["value"][1]) for r in d["data"]["result"]):
    print(line)' "$3"
}

# ---- README blocks ----------------------------------------------------------------------------------
# readme_block FILE NAME: the fenced code block that follows the line `<!-- deploy-test: NAME -->`
# (exit 1 if there is none). The tests run or compare these blocks, so the README stays true.
readme_block() {
  awk -v tag="<!-- deploy-test: $2 -->" '
    $0 == tag { found = 1; next }
    found == 1 && /^```/ { found = 2; next }
    found == 2 && /^```/ { done = 1; exit }
    found == 2 { print }
    END { exit done ? 0 : 1 }' "$1"
}
