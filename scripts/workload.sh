#!/usr/bin/env bash
# A small scripted workload with the shape of an intrusion, for the demo and
# the samples: file writes and reads, a rename and a chmod, a read of
# /etc/passwd, a refused network connection, and child processes.
set -u
dir=$(mktemp -d /tmp/scry-workload.XXXXXX)
echo "quarterly numbers: 42" > "$dir/report.txt"
cat "$dir/report.txt" > /dev/null
cp "$dir/report.txt" "$dir/copy.txt"
mv "$dir/copy.txt" "$dir/.hidden"
chmod 600 "$dir/.hidden"
ls -la "$dir" > /dev/null
cat /etc/passwd > /dev/null
# Port 1 on loopback has no listener: the connect fails with ECONNREFUSED.
(exec 3<>/dev/tcp/127.0.0.1/1) 2>/dev/null
sh -c 'id; uname -a' > /dev/null
rm -rf "$dir"
