#!/usr/bin/env bash
# The benchmarks behind `make bench`: one table per area, each figure next to
# a reference measured in the same run. Expects a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
target/release/scry-bench "$@"
