#!/usr/bin/env bash
# Records the samples in this directory with scry itself (needs root):
# a host-wide capture runs while scripts/workload.sh runs, and the
# workload's process tree is then extracted into the sample, so a sample
# holds its workload and nothing else the host did.
# Run from the repository root:
#   bash samples/record.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p scry -p scry-bench
scry=target/release/scry
bench=target/release/scry-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

record_workload() { # name snaplen
  local name=$1 snaplen=$2
  rm -f "$work/host.scry"
  "$scry" record -w "$work/host.scry" -s "$snaplen" 2>/dev/null &
  local scry_pid=$!
  while [[ ! -s "$work/host.scry" ]]; do sleep 0.05; done
  bash scripts/workload.sh &
  local workload_pid=$!
  wait "$workload_pid"
  sleep 0.2
  kill -INT "$scry_pid"
  wait "$scry_pid"
  "$bench" extract "$work/host.scry" "samples/$name" --tree "$workload_pid"
}

record_workload workload.scry 80
record_workload workload-snaplen0.scry 0
