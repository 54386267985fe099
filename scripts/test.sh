#!/usr/bin/env bash
# `make test`: the whole suite (capture tests need root, and are skipped
# with a note otherwise), then one closing line with the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
cargo test --workspace --doc 2>&1 | tee -a "$log"
doc_status=${PIPESTATUS[0]}
(( status == 0 )) && status=$doc_status
echo
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
