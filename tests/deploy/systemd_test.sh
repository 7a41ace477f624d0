#!/usr/bin/env bash
# systemd_test.sh BUILD_DIR SOURCE_DIR DEMO
#
# The systemd deployment, as far as it can be taken without a running systemd:
#   1. `systemd-analyze verify` on the unit installed by `cmake --install --prefix <scratch>`
#      (its ExecStart is the installed binary; man:sipmetricsd(8) resolves through MANPATH): no
#      output at all; `systemd-analyze security --offline` exposure at most 2.0; the settings the
#      deployment relies on are present and agree with sysusers.d, tmpfiles.d, the env file and
#      the drop-in;
#   2. the SIP-service drop-in on stand-in kamailio.service and asterisk.service units: verify is
#      clean (and provably reads drop-ins: a canary key is reported);
#   3. the README's copy-paste blocks, run line by line in a scratch root: `cmake --install` with
#      DESTDIR, systemd-sysusers/-tmpfiles/systemctl with --root; the user, the setgid segment
#      directory and the enable symlink they produce;
#   4. the unit's execution settings applied for real (User/Group via setpriv, UMask,
#      Environment + EnvironmentFile, ExecStart expansion), paths inside the scratch root: a SIP
#      "worker" (the demo, another uid, umask 022, the drop-in's SupplementaryGroups and
#      environment) starts first and creates the segment; the daemon, as User=sipmetrics,
#      attaches and serves the worker's counts; the README's curl line works against it;
#   5. the daemon's system calls and socket families during that run (strace) all pass the
#      unit's SystemCallFilter= and RestrictAddressFamilies=;
#   6. PrivateIPC=yes does not hide a shm-name segment: a daemon in a new IPC namespace serves a
#      worker outside it.
# Steps 4-6 need root (setpriv to other uids, unshare).
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 BUILD_DIR SOURCE_DIR DEMO" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
DEMO=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
LIFETIME=150
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SRC/tests/deploy/lib.sh"
START=$SECONDS

need_tools systemd-analyze:systemd systemd-sysusers:systemd systemd-tmpfiles:systemd systemctl:systemd \
  man:man-db curl:curl python3:python3 strace:strace setpriv:util-linux unshare:util-linux
make_tmp systemd
chmod 0755 "$TMP"  # the scratch root is walked by other uids in step 4
DROPIN_SRC=$SRC/systemd/sip-service-sipmetrics.conf

# ---- 1. The installed unit ------------------------------------------------------------------------
P=$TMP/prefix
LOGS+=(install.log)
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 || die "cmake --install failed"
UNIT=$P/lib/systemd/system/sipmetricsd.service
grep -qx "ExecStart=$P/bin/sipmetricsd \$SIPMETRICSD_OPTS" "$UNIT" || die "installed unit's ExecStart is not $P/bin/sipmetricsd"
set +e
out=$(MANPATH=$P/share/man systemd-analyze verify "$UNIT" 2>&1)
rc=$?
set -e
if [[ $rc -eq 0 && -z $out ]]; then
  pass "systemd-analyze verify: installed unit clean (ExecStart and man:sipmetricsd(8) resolve)"
else
  fail "systemd-analyze verify (exit $rc):"
  echo "$out" | sed 's/^/    /'
fi
# The same check sees a missing binary: it is a real check of ExecStart.
sed "s|^ExecStart=$P/bin/sipmetricsd|ExecStart=$TMP/nonexistent/sipmetricsd|" "$UNIT" >"$TMP/broken.service"
if ! MANPATH=$P/share/man systemd-analyze verify "$TMP/broken.service" >/dev/null 2>&1; then
  pass "systemd-analyze verify rejects a unit whose ExecStart does not exist"
else
  fail "systemd-analyze verify accepts a missing ExecStart: the check above proves nothing"
fi
exposure=$({ systemd-analyze security --offline=yes "$UNIT" 2>&1 || true; } |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [[ -n $exposure ]] && python3 -c "import sys; sys.exit(0 if float('$exposure') <= 2.0 else 1)"; then
  pass "systemd-analyze security --offline: exposure $exposure (at most 2.0)"
else
  fail "systemd-analyze security --offline: exposure '${exposure:-?}', expected at most 2.0"
fi

unit_has() {  # KEY=VALUE present as a line of the unit
  grep -qxF "$1" "$UNIT" && pass "unit: $1" || fail "unit lacks $1"
}
for kv in User=sipmetrics Group=sipmetrics RuntimeDirectory=sipmetrics RuntimeDirectoryMode=2770 \
  RuntimeDirectoryPreserve=yes EnvironmentFile=-/etc/default/sipmetricsd \
  Environment=SIPMETRICS_SEGMENT=/run/sipmetrics/segment Restart=always UMask=0007 \
  ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes RemoveIPC=no 'ExecReload=/bin/kill -HUP $MAINPID' \
  WantedBy=multi-user.target; do
  unit_has "$kv"
done
# Everything that names the segment, its directory or the user agrees.
grep -qx 'd /run/sipmetrics 2770 sipmetrics sipmetrics -' "$SRC/systemd/sipmetrics.tmpfiles" &&
  pass "tmpfiles.d creates /run/sipmetrics 2770 sipmetrics:sipmetrics, like RuntimeDirectory*=" ||
  fail "tmpfiles.d entry disagrees with RuntimeDirectory=sipmetrics / RuntimeDirectoryMode=2770"
grep -qE '^u sipmetrics ' "$SRC/systemd/sipmetrics.sysusers" &&
  pass "sysusers.d creates the unit's User=sipmetrics (and its group)" || fail "sysusers.d does not create user sipmetrics"
grep -qx 'SIPMETRICS_SEGMENT=/run/sipmetrics/segment' "$SRC/systemd/sipmetricsd.env" &&
  grep -qx 'Environment=SIPMETRICS_SEGMENT=/run/sipmetrics/segment' "$DROPIN_SRC" &&
  pass "env file and drop-in name the unit's segment /run/sipmetrics/segment" ||
  fail "env file or drop-in name another segment than the unit"

# ---- 2. The drop-in on stand-in SIP services ----------------------------------------------------------
U=$TMP/units
mkdir -p "$U"
cp "$UNIT" "$U/sipmetricsd.service"
for svc in kamailio asterisk canary; do
  printf '[Unit]\nDescription=stand-in %s\n[Service]\nExecStart=/bin/true\nUser=%s\n[Install]\nWantedBy=multi-user.target\n' \
    "$svc" "$svc" >"$U/$svc.service"
  mkdir -p "$U/$svc.service.d"
  cp "$DROPIN_SRC" "$U/$svc.service.d/sipmetrics.conf"
done
echo "CanaryKeyNobodyKnows=1" >>"$U/canary.service.d/sipmetrics.conf"
if MANPATH=$P/share/man systemd-analyze verify "$U/canary.service" 2>&1 | grep -q CanaryKeyNobodyKnows; then
  pass "systemd-analyze verify reads <unit>.service.d/*.conf drop-ins (canary reported)"
else
  fail "systemd-analyze verify ignored a drop-in: a clean result below would prove nothing"
fi
for svc in kamailio asterisk; do
  set +e
  out=$(MANPATH=$P/share/man systemd-analyze verify "$U/$svc.service" 2>&1)
  rc=$?
  set -e
  [[ $rc -eq 0 && -z $out ]] && pass "systemd-analyze verify: $svc.service + drop-in clean" ||
    { fail "systemd-analyze verify $svc.service + drop-in (exit $rc):"; echo "$out" | sed 's/^/    /'; }
done
eval "$(python3 "$SRC/tests/deploy/unit_exec.py" --no-users / "$U/kamailio.service" "$U/kamailio.service.d/sipmetrics.conf" | grep -E '^U_(WANTS|AFTER)=')"
[[ " $U_WANTS " == *" sipmetricsd.service "* && " $U_AFTER " == *" sipmetricsd.service "* ]] &&
  pass "drop-in: Wants= and After= the unit's file name (sipmetricsd.service)" ||
  fail "drop-in: Wants='$U_WANTS' After='$U_AFTER' do not name sipmetricsd.service"
grep -q '^Requires=\|^BindsTo=\|^PartOf=' "$DROPIN_SRC" &&
  fail "drop-in ties the SIP service's life to the exporter (Requires/BindsTo/PartOf)" ||
  pass "drop-in: the SIP service does not stop or fail with the exporter"

# ---- 3. The README's blocks in a scratch root ----------------------------------------------------------
R=$TMP/root
mkdir -p "$R/etc/default" "$R/etc/systemd/system" "$R/run"
chmod 0755 "$R" "$R/run"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
README_CURL=()
run_readme_block() {  # NAME: runs each line of the README block NAME inside $R
  local name=$1 line cmd words w i
  local block
  block=$(readme_block "$SRC/README.md" "$name") || { fail "README has no block '$name'"; return; }
  while IFS= read -r line; do
    cmd=${line%%#*}                                  # comments
    cmd=$(sed 's/[[:space:]]*$//' <<<"$cmd")
    [[ -z $cmd ]] && continue
    cmd=${cmd#sudo }
    read -r -a words <<<"$cmd"
    case "${words[0]} ${words[1]:-}" in
      "cmake --install")
        [[ ${words[2]} == build ]] || { fail "README '$line': expected 'cmake --install build ...'"; continue; }
        extra=()
        [[ $prefix == /usr/local ]] || extra=(--prefix /usr/local)  # the README assumes the default prefix
        DESTDIR=$R cmake --install "$BUILD" "${words[@]:3}" "${extra[@]}" >>"$TMP/install.log" 2>&1 &&
          pass "README: $line" || fail "README: $line"
        ;;
      "systemd-sysusers "* | "systemd-tmpfiles "*)
        "${words[0]}" --root="$R" "${words[@]:1}" >>"$TMP/root.log" 2>&1 && pass "README: $line (--root)" ||
          fail "README: $line (--root)"
        ;;
      "install "*)
        for ((i = 1; i < ${#words[@]}; i++)); do
          w=${words[$i]}
          [[ $w == /* ]] && words[i]=$R$w
        done
        "${words[@]}" && pass "README: $line (in the scratch root)" || fail "README: $line"
        ;;
      "systemctl daemon-reload" | "systemctl restart" | "systemctl start")
        echo "NOTE: README: '$line' needs a running systemd: not run"
        ;;
      "systemctl enable")
        local units=()
        for w in "${words[@]:2}"; do [[ $w == --now ]] || units+=("$w"); done
        systemctl --root="$R" enable "${units[@]}" >>"$TMP/root.log" 2>&1 &&
          pass "README: $line (--root, without --now)" || fail "README: $line"
        ;;
      "curl "*)
        README_CURL+=("$cmd")  # run in step 4, against the daemon started as the unit would
        ;;
      *)
        fail "README block '$name' has a line this test cannot exercise: $line"
        ;;
    esac
  done <<<"$block"
}
LOGS+=(root.log)
run_readme_block systemd-install
run_readme_block systemd-dropin
if diff <(readme_block "$SRC/README.md" systemd-dropin-file) "$DROPIN_SRC" >/dev/null; then
  pass "README shows systemd/sip-service-sipmetrics.conf verbatim"
else
  fail "README's drop-in block differs from systemd/sip-service-sipmetrics.conf"
fi

SM_UID=$(awk -F: '$1 == "sipmetrics" { print $3 }' "$R/etc/passwd" 2>/dev/null || true)
SM_GID=$(awk -F: '$1 == "sipmetrics" { print $3 }' "$R/etc/group" 2>/dev/null || true)
[[ -n $SM_UID && -n $SM_GID ]] && pass "systemd-sysusers created user and group sipmetrics ($SM_UID:$SM_GID)" ||
  die "systemd-sysusers did not create user/group sipmetrics in the scratch root"
st=$(stat -c '%a %u %g' "$R/run/sipmetrics" 2>/dev/null || echo missing)
[[ $st == "2770 $SM_UID $SM_GID" ]] && pass "systemd-tmpfiles created /run/sipmetrics 2770 sipmetrics:sipmetrics" ||
  fail "/run/sipmetrics is '$st', expected '2770 $SM_UID $SM_GID'"
[[ -L $R/etc/systemd/system/multi-user.target.wants/sipmetricsd.service ]] &&
  pass "systemctl enable linked sipmetricsd.service into multi-user.target.wants" ||
  fail "no multi-user.target.wants/sipmetricsd.service symlink"
[[ -f $R/etc/default/sipmetricsd ]] && pass "README installed /etc/default/sipmetricsd" ||
  fail "README did not install /etc/default/sipmetricsd"
# The drop-in's place: <a unit search path>/kamailio.service.d/<name>.conf, as systemd.unit(5) says.
dropin_dir=$(readme_block "$SRC/README.md" systemd-dropin | grep -oE '/etc/systemd/system/[^ ]+\.service\.d/[^ ]+\.conf' | head -n 1)
if [[ -n $dropin_dir ]] && systemd-analyze unit-paths | grep -qx "${dropin_dir%/*.service.d/*}"; then
  pass "README's drop-in $dropin_dir is in a unit search path of systemd"
else
  fail "README's drop-in '${dropin_dir:-?}' is not <unit search path>/<unit>.service.d/<name>.conf"
fi
[[ -f $R$dropin_dir ]] && cmp -s "$R$dropin_dir" "$DROPIN_SRC" && pass "README installed the drop-in there" ||
  fail "README did not install the drop-in at $dropin_dir"

# ---- 4. Running it as the unit says ----------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  echo "NOTE: not root: steps 4-6 (other uids, strace of the daemon, IPC namespace) not run"
  echo "test took $((SECONDS - START)) s"
  finish
fi
RUNIT=$R/usr/local/lib/systemd/system/sipmetricsd.service
[[ -f $RUNIT ]] || die "README install put no unit at /usr/local/lib/systemd/system"
out=$(python3 "$SRC/tests/deploy/unit_exec.py" "$R" "$RUNIT") || die "cannot read $RUNIT"
eval "$out"
D_ENV=("${U_ENV[@]}") D_EXEC=("${U_EXEC[@]}") D_UID=$U_UID D_GID=$U_GID D_UMASK=$U_UMASK
D_FILTER=("${U_SYSCALL_FILTER[@]}") D_FAMILIES=$U_FAMILIES
[[ $D_UID == "$SM_UID" && $D_GID == "$SM_GID" ]] && pass "unit runs as sipmetrics ($D_UID:$D_GID)" ||
  fail "unit runs as '$D_UID:$D_GID'"
seg=""
for kv in "${D_ENV[@]}"; do [[ $kv == SIPMETRICS_SEGMENT=* ]] && seg=${kv#*=}; done
[[ $seg == /run/sipmetrics/segment ]] && pass "unit environment (with /etc/default/sipmetricsd): segment $seg" ||
  fail "unit environment names segment '$seg'"
SEG=$R$seg

# The worker: the stand-in kamailio.service (its user as Debian's package would create it) with
# the drop-in the README installed.
echo "kamailio:x:4242:4242:Kamailio:/run/kamailio:/usr/sbin/nologin" >>"$R/etc/passwd"
echo "kamailio:x:4242:" >>"$R/etc/group"
out=$(python3 "$SRC/tests/deploy/unit_exec.py" "$R" "$U/kamailio.service" "$R$dropin_dir") ||
  die "cannot read kamailio.service with the drop-in"
eval "$out"
W_ENV=("${U_ENV[@]}") W_UID=$U_UID W_GID=$U_GID
[[ $U_GROUPS == "$SM_GID" ]] && pass "drop-in: SupplementaryGroups resolves to group sipmetrics ($U_GROUPS)" ||
  fail "drop-in SupplementaryGroups gives '$U_GROUPS'"
W_SEG=""
for kv in "${W_ENV[@]}"; do [[ $kv == SIPMETRICS_SEGMENT=* ]] && W_SEG=${kv#*=}; done
[[ $W_SEG == "$seg" ]] && pass "worker and daemon environments name the same segment" ||
  fail "worker segment '$W_SEG' != daemon segment '$seg'"

# The SIP service's user is not in group sipmetrics: only the drop-in gives it that group.
WORKER_UID=$W_UID
start_bg worker.log env -i PATH=/usr/bin:/bin SIPMETRICS_SEGMENT="$R$W_SEG" \
  setpriv --reuid "$W_UID" --regid "$W_GID" --groups "$U_GROUPS" --no-new-privs -- \
  sh -c 'umask 022; exec "$@"' sh "$DEMO" --workers 2 --cps 20 --seconds 20
WORKER_PID=$STARTED
deadline=$((SECONDS + 10))
until [[ -s $SEG ]] || ((SECONDS >= deadline)); do sleep 0.1; done
st=$(stat -c '%a %u %g' "$SEG" 2>/dev/null || echo missing)
[[ $st == "660 $WORKER_UID $SM_GID" ]] &&
  pass "the worker (uid $WORKER_UID, umask 022) created the segment 0660, group sipmetrics" ||
  fail "segment created by the worker is '$st', expected '660 $WORKER_UID $SM_GID'"

# The daemon: unit's user, group, umask, environment and ExecStart, traced.
mkdir -m 0777 "$TMP/trace"
port=$(free_port)
envs=()
for kv in "${D_ENV[@]}"; do
  case $kv in
    SIPMETRICS_SEGMENT=*) envs+=("SIPMETRICS_SEGMENT=$SEG") ;;
    SIPMETRICSD_LISTEN=*) envs+=("SIPMETRICSD_LISTEN=127.0.0.1:$port") ;;
    *) envs+=("$kv") ;;
  esac
done
[[ " ${envs[*]} " == *" SIPMETRICSD_LISTEN="* ]] || envs+=("SIPMETRICSD_LISTEN=127.0.0.1:$port")
start_bg daemon.log env -i PATH=/usr/bin:/bin "${envs[@]}" \
  setpriv --reuid "$D_UID" --regid "$D_GID" --clear-groups --no-new-privs -- \
  sh -c 'umask "$0"; exec "$@"' "${D_UMASK:-0022}" strace -f -qq -o "$TMP/trace/daemon.trace" -- "${D_EXEC[@]}"
DAEMON_WRAPPER=$STARTED
deadline=$((SECONDS + 15))
until [[ $(http_code "http://127.0.0.1:$port/healthz") == 200 ]] || ((SECONDS >= deadline)); do
  kill -0 "$DAEMON_WRAPPER" 2>/dev/null || break
  sleep 0.1
done
[[ $(http_code "http://127.0.0.1:$port/healthz") == 200 ]] || die "the daemon, run as the unit says, did not come up"
[[ $(listeners "$port") == 1 ]] || die "port $port is shared with another process; rerun"
pass "sipmetricsd runs as the unit says (User, Group, UMask, EnvironmentFile, ExecStart)"
# The daemon's pid: timeout -> strace -> sipmetricsd.
strace_pid=$(awk '{print $1}' "/proc/$DAEMON_WRAPPER/task/$DAEMON_WRAPPER/children" 2>/dev/null || true)
DAEMON_PID=$(awk '{print $1}' "/proc/$strace_pid/task/$strace_pid/children" 2>/dev/null || true)
[[ -n $DAEMON_PID && $(readlink "/proc/$DAEMON_PID/exe" 2>/dev/null) == "${D_EXEC[0]}" ]] ||
  die "cannot find the daemon's pid under strace"

writers="" invites=""
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
  writers=$(metric_value "$port" sipmetrics_writers)
  invites=$({ curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true; } |
    awk '$1 ~ /^sip_invite_result_total[{]/ { s += $2 } END { print s + 0 }')
  [[ ${writers:-0} -ge 2 && ${invites:-0} -gt 0 ]] && break
  sleep 0.2
done
[[ ${writers:-0} -ge 2 && ${invites:-0} -gt 0 ]] &&
  pass "the daemon (sipmetrics) serves the worker's segment: $writers writers, $invites INVITE responses" ||
  fail "the daemon serves writers '$writers', INVITE responses '$invites'"
for c in "${README_CURL[@]}"; do
  c=${c//127.0.0.1:9477/127.0.0.1:$port}
  out=$(bash -c "$c" 2>&1) && pass "README: ${c//$port/9477} -> $(head -n 1 <<<"$out")" ||
    fail "README: $c failed: $out"
done
# Exercise the rest: gzip, the index, a reload (ExecReload), then stop (SIGTERM).
curl -sf --compressed -o /dev/null "http://127.0.0.1:$port/metrics" || fail "gzip /metrics"
curl -sf -o /dev/null "http://127.0.0.1:$port/" || fail "GET /"
kill -HUP "$DAEMON_PID"
sleep 0.5
[[ $(http_code "http://127.0.0.1:$port/healthz") == 200 ]] && pass "serving after SIGHUP (ExecReload)" ||
  fail "not serving after SIGHUP"
kill -TERM "$DAEMON_PID"
stop_bg "$DAEMON_WRAPPER"
grep -q 'signal 15: stopping' "$TMP/daemon.log" && pass "SIGTERM stops it cleanly" || fail "no clean stop on SIGTERM"
stop_bg "$WORKER_PID"

# ---- 5. System calls and socket families against the unit's filters --------------------------------
systemd-analyze syscall-filter >"$TMP/syscall-groups.txt" 2>/dev/null || true
set +e
python3 - "$TMP/trace/daemon.trace" "$TMP/syscall-groups.txt" "$D_FAMILIES" "${D_FILTER[@]}" <<'EOF'
import re, sys
trace, groups_file, families = sys.argv[1], sys.argv[2], sys.argv[3].split()
filters = sys.argv[4:]
groups, cur = {}, None
for line in open(groups_file):
    if line.startswith("@"):
        cur = line.strip(); groups[cur] = []
    elif line.startswith("    ") and cur and not line.strip().startswith("#"):
        groups[cur].append(line.strip())
    elif not line.strip():
        cur = None
def expand(name):
    if not name.startswith("@"):
        return {name}
    if name not in groups:
        sys.exit(f"unknown syscall group {name}")
    out = set()
    for m in groups[name]:
        out |= expand(m)
    return out
allowed = None
for f in filters:
    deny = f.startswith("~")
    names = set()
    for item in f.lstrip("~").split():
        names |= expand(item)
    if allowed is None:
        if deny:
            sys.exit("a deny-list filter: this check handles allow-lists")
        allowed = set()
    allowed = allowed - names if deny else allowed | names
used, socks = {}, set()
for line in open(trace):
    m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
    if m:
        used[m.group(1)] = used.get(m.group(1), 0) + 1
    s = re.match(r"^\d+\s+socket\((AF_[A-Z0-9]+)", line)
    if s:
        socks.add(s.group(1))
if not used:
    sys.exit("FAIL: empty trace")
bad = sorted(n for n in used if n not in allowed)
print(f"{len(used)} distinct system calls, {sum(used.values())} calls; socket families {sorted(socks)}")
rc = 0
if bad:
    print("FAIL: system calls outside SystemCallFilter=:", " ".join(f"{n}({used[n]})" for n in bad)); rc = 1
else:
    print("PASS: every system call of the run passes SystemCallFilter=", " ".join(filters))
fam_bad = sorted(socks - set(families))
if fam_bad:
    print("FAIL: socket families outside RestrictAddressFamilies=:", fam_bad); rc = 1
else:
    print("PASS: every socket family passes RestrictAddressFamilies=", " ".join(families))
sys.exit(rc)
EOF
rc=$?
set -e
((rc == 0)) && passed=$((passed + 2)) || failed=$((failed + 1))

# ---- 6. PrivateIPC=yes: POSIX shm is a file system, not IPC-namespaced ------------------------------
SHM=sipmetrics-deploytest-$$-$RANDOM
[[ ! -e /dev/shm/$SHM ]] || die "/dev/shm/$SHM exists"
start_daemon ipc-daemon.log SIPMETRICS_SEGMENT="$SHM" -- unshare --ipc -- "$P/bin/sipmetricsd" --housekeeping-interval-ms 50 ||
  { rm -f "/dev/shm/$SHM"; die "sipmetricsd in a new IPC namespace did not start"; }
IPC_DAEMON=$DAEMON_PID
[[ $(readlink "/proc/$$/ns/ipc") != $(readlink "/proc/$(cat "/proc/$IPC_DAEMON/task/$IPC_DAEMON/children" | awk '{print $1}')/ns/ipc" 2>/dev/null) ]] &&
  pass "daemon runs in an IPC namespace of its own" || fail "daemon is not in another IPC namespace"
SIPMETRICS_SEGMENT=$SHM timeout 20 "$DEMO" --workers 1 --cps 50 --seconds 2 >"$TMP/ipc-worker.log" 2>&1 || true
v=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  v=$({ curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/metrics" || true; } |
    awk '$1 ~ /^sip_invite_result_total[{]/ { s += $2 } END { print s + 0 }')
  [[ ${v:-0} -gt 0 ]] && break
  sleep 0.1
done
stop_bg "$IPC_DAEMON"
rm -f "/dev/shm/$SHM"
[[ ${v:-0} -gt 0 ]] && pass "a daemon in its own IPC namespace serves a worker outside it ($v INVITE responses)" ||
  fail "a daemon in its own IPC namespace does not see the worker's shm segment"

echo "test took $((SECONDS - START)) s"
finish
