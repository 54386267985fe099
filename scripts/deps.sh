#!/usr/bin/env bash
# Installs the system packages scry needs, and only those that are missing.
#   scripts/deps.sh build   what building needs (clang and libelf for the probe)
#   scripts/deps.sh demo    build + what the demo's scripted incident runs
#   scripts/deps.sh test    build + what the test suite needs
#   scripts/deps.sh bench   build + the reference tools the benchmarks compare with
set -euo pipefail

want=(clang libelf-dev zlib1g-dev pkg-config make gcc)
case "${1:-build}" in
  build) ;;
  demo) want+=(python3 bsdutils) ;;
  test) want+=(util-linux tmux) ;;
  bench) want+=(bpftrace strace sysdig) ;;
  *) echo "usage: $0 build|demo|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
