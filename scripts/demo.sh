#!/usr/bin/env bash
# `make demo`: writes a trace of a scripted workload, shows what it holds,
# checks it, and shows how a trace cut off by a crash still reads back.
set -euo pipefail
cd "$(dirname "$0")/.."
scry=target/release/scry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bold=$'\e[1m'; plain=$'\e[0m'
[[ -t 1 ]] || { bold=""; plain=""; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }

step "writing a trace of a synthetic responder workload (200,000 events)"
cargo build --release --quiet -p scry-bench
target/release/scry-bench gen --events 200000 "$work/demo.scry"
ls -l "$work/demo.scry"

step "scry info demo.scry"
$scry info "$work/demo.scry"

step "scry verify demo.scry"
$scry verify "$work/demo.scry"

step "the same trace cut off mid-chunk, as after a power loss: scry info"
head -c $(( $(stat -c %s "$work/demo.scry") * 2 / 3 )) "$work/demo.scry" > "$work/cut.scry"
$scry info "$work/cut.scry" | grep -E '^(events|status)'

step "scry verify on it (exit code 3: damaged)"
$scry verify "$work/cut.scry" || echo "exit code $?"
