#!/usr/bin/env bash
# prometheus_rules_test.sh SOURCE_DIR
#
#   1. README "Prometheus rules and dashboard": the promtool block, run line by line from the
#      repository root (promtool check config, check rules, test rules);
#   2. the rules' conventions: recording rules named level:metric:operations; every alert has a
#      severity (critical, warning, info), a summary and a description, and is unit-tested
#      firing at least once in sipmetrics.rules.test.yml.
# The rules against a real Prometheus and sipmetricsd: dashboard_test.py.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
SRC=$(cd "$1" && pwd)
LIFETIME=60
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SRC/tests/deploy/lib.sh"
START=$SECONDS
need_tools promtool:prometheus
need_python_yaml
make_tmp rules

block=$(readme_block "$SRC/README.md" promtool) || die "README has no block 'promtool'"
n=0
while IFS= read -r line; do
  cmd=${line%%#*}
  cmd=$(sed 's/[[:space:]]*$//' <<<"$cmd")
  [[ -z $cmd ]] && continue
  [[ $cmd == promtool\ * ]] || { fail "README block 'promtool' has a line that is not promtool: $line"; continue; }
  n=$((n + 1))
  if out=$(cd "$SRC" && bash -c "$cmd" 2>&1); then
    pass "README: $cmd"
  else
    fail "README: $cmd"
    echo "$out" | head -n 40 | sed 's/^/    /'
  fi
done <<<"$block"
for want in "check config" "check rules" "test rules"; do
  grep -q "^promtool $want " <<<"$block" && pass "README runs promtool $want" || fail "README does not run promtool $want"
done

set +e
"$PY" - "$SRC/deploy/prometheus/sipmetrics.rules.yml" "$SRC/deploy/prometheus/sipmetrics.rules.test.yml" <<'EOF'
import re, sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]
tests = yaml.safe_load(open(sys.argv[2]))
bad = 0
def check(cond, what):
    global bad
    print(("PASS: " if cond else "FAIL: ") + what)
    bad += not cond
records = [r["record"] for r in rules if "record" in r]
alerts = [r for r in rules if "alert" in r]
check(all(re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", n) for n in records),
      f"{len(records)} recording rules named level:metric:operations")
check(len(set(records)) == len(records) and len({a['alert'] for a in alerts}) == len(alerts), "rule names unique")
for a in alerts:
    check(a.get("labels", {}).get("severity") in ("critical", "warning", "info") and
          a.get("annotations", {}).get("summary") and a.get("annotations", {}).get("description"),
          f"alert {a['alert']}: severity {a.get('labels', {}).get('severity')}, summary, description")
firing = {t["alertname"] for test in tests["tests"] for t in test.get("alert_rule_test", []) if t.get("exp_alerts")}
quiet = {t["alertname"] for test in tests["tests"] for t in test.get("alert_rule_test", []) if not t.get("exp_alerts")}
untested = sorted({a["alert"] for a in alerts} - firing)
check(not untested, f"every alert is unit-tested firing ({len(firing)}){': missing ' + str(untested) if untested else ''}")
print(f"NOTE: alerts also tested not firing: {len(quiet)} of {len(alerts)}")
sys.exit(1 if bad else 0)
EOF
rc=$?
set -e
((rc == 0)) && passed=$((passed + 1)) || failed=$((failed + 1))

echo "test took $((SECONDS - START)) s"
finish
