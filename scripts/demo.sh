#!/usr/bin/env bash
# `make demo`: records a short capture of a scripted workload, shows what it
# holds, checks it, and shows how a capture cut off by a crash still reads.
set -euo pipefail
cd "$(dirname "$0")/.."
scry=target/release/scry
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bold=$'\e[1m'; plain=$'\e[0m'
[[ -t 1 ]] || { bold=""; plain=""; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }

step "sudo scry record -w demo.scry   (while scripts/workload.sh runs)"
$sudo "$scry" record -w "$work/demo.scry" &
scry_pid=$!
while [[ ! -s "$work/demo.scry" ]]; do sleep 0.05; done
bash scripts/workload.sh
sleep 0.5
$sudo kill -INT "$scry_pid"
wait "$scry_pid"

step "scry info demo.scry"
$scry info "$work/demo.scry"

step "scry verify demo.scry"
$scry verify "$work/demo.scry"

step "the same capture cut off mid-way, as after a power loss: scry info"
$sudo head -c $(( $($sudo stat -c %s "$work/demo.scry") * 2 / 3 )) "$work/demo.scry" > "$work/cut.scry"
$scry info "$work/cut.scry" | grep -E '^(events|status)'

step "scry verify on it (exit code 3: damaged)"
$scry verify "$work/cut.scry" || echo "exit code $?"
