#!/usr/bin/env bash
# Records the samples in this directory with scry itself (needs root):
# a host-wide capture runs while a scripted workload runs, and the
# workload's process tree is then extracted into the sample, so a sample
# holds its workload and nothing else the host did.
# Run from the repository root:
#   bash samples/record.sh                 all of them
#   bash samples/record.sh incident.scry   only the ones named
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --quiet -p scry -p scry-bench
scry=target/release/scry
bench=target/release/scry-bench
only=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

record_workload() { # name snaplen script
  local name=$1 snaplen=$2 script=$3
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then return; fi
  rm -f "$work/host.scry"
  "$scry" record -w "$work/host.scry" -s "$snaplen" 2>/dev/null &
  local scry_pid=$!
  while [[ ! -s "$work/host.scry" ]]; do sleep 0.05; done
  bash "$script" &
  local workload_pid=$!
  wait "$workload_pid"
  sleep 0.2
  kill -INT "$scry_pid"
  wait "$scry_pid"
  "$bench" extract "$work/host.scry" "samples/$name" --tree "$workload_pid"
}

record_workload workload.scry 80 scripts/workload.sh
record_workload workload-snaplen0.scry 0 scripts/workload.sh
record_workload incident.scry 80 scripts/incident.sh
