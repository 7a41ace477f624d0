#!/usr/bin/env bash
# Installs what building and testing sipmetrics needs, from Debian's packages; does nothing
# when everything is present. Every entry point (./run, .ci/run, the Dockerfile) uses it.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --bench    also Google Benchmark and prometheus-cpp (the benchmark peer)
#   scripts/install-deps.sh --fuzz     also clang 14 and its libFuzzer/sanitizer runtimes
#   scripts/install-deps.sh --lint     also clang-format 14 and clang-tidy 14
#   scripts/install-deps.sh --runtime  only what the sipmetricsd binary needs at run time
# Several of --bench, --fuzz and --lint may be given at once.
set -euo pipefail

build=(build-essential cmake pkg-config libboost-dev libcpp-httplib-dev libspdlog-dev
       libcli11-dev doctest-dev curl ca-certificates python3 python3-dev
       libtomlplusplus-dev libyaml-cpp-dev  # the config file (TOML), the web config (YAML)
       libssl-dev libcrypt-dev zlib1g-dev openssl whois wrk  # TLS, bcrypt, gzip; tests: openssl, mkpasswd, wrk
       liblua5.1-0-dev  # the Lua 5.1 module (bindings/lua); python3-dev: the Python module
       libprotobuf-dev protobuf-compiler golang-github-prometheus-client-model-dev)  # protobuf exposition: metrics.proto
# One line: tests/deploy/dockerfile_test.py reads it with grep.
runtime=(libcpp-httplib0.11 libspdlog1.10 libssl3 libcrypt1 zlib1g libtomlplusplus3 libyaml-cpp0.7 libprotobuf32 curl ca-certificates)
want=("${build[@]}")
for flag in "$@"; do
  case "$flag" in
    --bench) want+=(libbenchmark-dev prometheus-cpp-dev) ;;  # prometheus-cpp: bench/bench_peer.cpp only
    --fuzz) want+=(clang-14 libclang-rt-14-dev) ;;
    --lint) want+=(clang-format-14 clang-tidy-14) ;;
    --runtime) [ $# -eq 1 ] || { echo "$0: --runtime goes alone" >&2; exit 2; }; want=("${runtime[@]}") ;;
    *) echo "usage: $0 [--bench] [--fuzz] [--lint] | --runtime" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
