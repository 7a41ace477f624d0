#!/usr/bin/env bash
# with_tools.sh [COMMAND:PACKAGE ...] -- SCRIPT.py ARGS...
#
# Installs (lib.sh need_tools: apt-get, as root or via sudo) the Debian package of every missing
# COMMAND, and python3-yaml when missing, then runs SCRIPT.py with a python3 that has it.
set -euo pipefail
LIFETIME=60
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
trap - EXIT
specs=()
while [[ $# -gt 0 && $1 != -- ]]; do specs+=("$1"); shift; done
[[ $# -ge 2 ]] || { echo "usage: $0 [COMMAND:PACKAGE ...] -- SCRIPT.py ARGS..." >&2; exit 2; }
shift
((${#specs[@]} == 0)) || need_tools "${specs[@]}"
need_python_yaml
exec "$PY" "$@"
