#!/usr/bin/env bash
# Regenerates tests/golden/scap/: what each capture of samples/scap holds,
# as sysdig (0.29.3, `apt-get install sysdig`) reads it. The integration
# tests check scry's answers against these files; sysdig is not needed to
# run the tests. Run from the repository root:  samples/scap/expected.sh
#
# Per capture NAME.scap:
#   NAME.syscalls  syscalls: exit events of syscalls, plus the enter events
#                  of exit and exit_group, which never return
#   NAME.procs     "pid name" of every process that made a syscall
#   NAME.paths     the path argument of every open, openat and creat
#   NAME.files     the fd name of every successful open, openat and creat
#   NAME.tuples    the tuple of every connect, accept and accept4
# sysdig's notation is put into scry's where they differ: IPv6 addresses
# are bracketed ([::1]:80); a unix socket tuple is the socket's path
# (sysdig prefixes two kernel addresses).
# curl_google_comments.scap is curl_google.scap with pcapng comments added
# by editcap, which sysdig 0.29.3 cannot read: its expectations are
# curl_google's.
set -euo pipefail
command -v sysdig >/dev/null || { echo "sysdig is not installed" >&2; exit 1; }
out=tests/golden/scap
mkdir -p "$out"

bracket_v6() {
  # a:b::c:PORT -> [a:b::c]:PORT, on each side of an arrow.
  sed -E 's#(^|->)([0-9a-f]*:[0-9a-f:]*:[0-9a-f]*):([0-9]+)#\1[\2]:\3#g'
}

for capture in samples/scap/*.scap; do
  name=$(basename "$capture" .scap)
  [[ $name == curl_google_comments ]] && continue
  exits=$(sysdig -r "$capture" "evt.dir=< and syscall.type exists" | wc -l)
  never=$(sysdig -r "$capture" "evt.dir=> and evt.type in (exit, exit_group)" | wc -l)
  echo $((exits + never)) > "$out/$name.syscalls"
  sysdig -r "$capture" "syscall.type exists" -p "%proc.pid %proc.name" \
    | LC_ALL=C sort -u > "$out/$name.procs"
  sysdig -r "$capture" "evt.type in (open, openat, creat) and evt.dir=<" -p "%evt.arg.name" \
    | LC_ALL=C sort -u > "$out/$name.paths"
  sysdig -r "$capture" "evt.type in (open, openat, creat) and evt.dir=< and evt.rawres>=0" -p "%fd.name" \
    | LC_ALL=C sort -u > "$out/$name.files"
  sysdig -r "$capture" "evt.type in (connect, accept, accept4) and evt.dir=<" -p "%evt.arg.tuple" \
    | sed -E 's#^[0-9a-f]+->[0-9a-f]+ ##' | bracket_v6 | LC_ALL=C sort -u > "$out/$name.tuples"
done
for suffix in syscalls procs paths files tuples; do
  cp "$out/curl_google.$suffix" "$out/curl_google_comments.$suffix"
done
