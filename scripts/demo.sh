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

step "what the workload did: scry read demo.scry -p FORMAT 'programs run, files renamed or chmod-ed, /etc/passwd opened'"
$scry read "$work/demo.scry" -p '%evt.time %proc.name (%proc.pid, parent %proc.pname) %evt.type %fs.path.name %evt.res' \
  'proc.name in (cat, cp, mv, chmod, id) and evt.type in (renameat2, fchmodat, execve) or (evt.type=openat and fd.name in (/etc/passwd))' || true

step "the refused connection: scry read demo.scry 'evt.type=connect and evt.failed=true and fd.sockfamily=ip'"
$scry read "$work/demo.scry" 'evt.type=connect and evt.failed=true and fd.sockfamily=ip' || true

step "scry verify demo.scry"
$scry verify "$work/demo.scry"

step "the same capture cut off mid-way, as after a power loss: scry info"
$sudo head -c $(( $($sudo stat -c %s "$work/demo.scry") * 2 / 3 )) "$work/demo.scry" > "$work/cut.scry"
$scry info "$work/cut.scry" | grep -E '^(events|status)'

step "scry verify on it (exit code 3: damaged)"
$scry verify "$work/cut.scry" || echo "exit code $?"
