#!/usr/bin/env bash
# `make test`: the whole suite (capture tests need root, and are skipped
# with a note otherwise), then one closing line with the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# A hung test must fail the run with its name, not stall it: the suite
# (build included) normally takes minutes.
timeout --kill-after=30 "${SCRY_TEST_TIMEOUT:-2400}" \
    cargo test --workspace --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if (( status == 124 || status == 137 )); then
    echo "make test: the suite did not finish within ${SCRY_TEST_TIMEOUT:-2400} s" >&2
fi
cargo test --workspace --doc 2>&1 | tee -a "$log"
doc_status=${PIPESTATUS[0]}
(( status == 0 )) && status=$doc_status
echo
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
