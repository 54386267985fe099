#!/usr/bin/env bash
# `make demo`: records a short capture of a scripted incident, shows what it
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

step "sudo scry record -w demo.scry -- bash scripts/incident.sh   (the script and everything it starts)"
$sudo "$scry" record -w "$work/demo.scry" -- bash scripts/incident.sh

step "scry info demo.scry"
$scry info "$work/demo.scry"

step "who spawned what: scry tree demo.scry"
$scry tree "$work/demo.scry"

step "where the bytes went: scry top files demo.scry -n 5"
$scry top files "$work/demo.scry" -n 5 --human

step "what was typed on a terminal: scry spy users demo.scry"
$scry spy users "$work/demo.scry" || true

step "the reverse shell's conversation: scry echo demo.scry 'fd.type in (ipv4, ipv6) and proc.name in (sh, id)'"
$scry echo "$work/demo.scry" 'fd.type in (ipv4, ipv6) and proc.name in (sh, id)' || true

step "everything that touched /tmp/.x: scry spy file /tmp/.x demo.scry"
$scry spy file /tmp/.x "$work/demo.scry" || true

step "what failed: scry top errors demo.scry -n 5"
$scry top errors "$work/demo.scry" -n 5

step "scry verify demo.scry"
$scry verify "$work/demo.scry"

# A chunk is sealed every second: a capture of a few seconds has several,
# and a copy cut off part-way keeps every chunk before the cut.
step "sudo scry record -w slow.scry -- a command that works for four seconds"
$sudo "$scry" record -w "$work/slow.scry" -- \
    bash -c 'for i in 1 2 3 4; do cat /etc/hostname > /dev/null; sleep 1; done'
$scry info "$work/slow.scry" | grep -E '^(events +[0-9]|status)'

step "the same capture cut off two thirds of the way, as after a power loss: scry info"
$sudo head -c $(( $($sudo stat -c %s "$work/slow.scry") * 2 / 3 )) "$work/slow.scry" > "$work/cut.scry"
$scry info "$work/cut.scry" | grep -E '^(events +[0-9]|status)'

step "scry verify on it (exit code 3: damaged)"
$scry verify "$work/cut.scry" || echo "exit code $?"
