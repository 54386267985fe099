#!/usr/bin/env bash
# Rebuilds the damaged traces in this directory from one intact synthetic
# trace written by scry's own writer (scry-bench gen). Run from the
# repository root: bash samples/corrupt/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release -p scry-bench -- gen --events 1200 --chunk-events 200 intact.scry
python3 - <<'PY'
import struct
import zlib
data = open("intact.scry", "rb").read()
hdr_len = struct.unpack_from("<I", data, 12)[0]
pos = 16 + hdr_len + 4
blocks = []  # (offset, kind, length)
while data[pos:pos + 4] == b"SCBK":
    kind = data[pos + 4]
    meta, body = struct.unpack_from("<II", data, pos + 8)
    blocks.append((pos, kind, 20 + meta + body))
    pos += 20 + meta + body
chunks = [b for b in blocks if b[1] == 2]
def write(name, content):
    open(name, "wb").write(content)
write("zero-length.scry", b"")
write("bad-magic.scry", b"PK\x03\x04" + data[4:])
future = bytearray(data); future[8:12] = struct.pack("<HH", 2, 0)
# A genuine newer file: its header checksum covers the new version.
header_end = 16 + hdr_len
struct.pack_into("<I", future, header_end, zlib.crc32(bytes(future[8:header_end])))
write("future-version.scry", bytes(future))
third = chunks[2]
write("truncated-mid-chunk.scry", data[:third[0] + third[2] // 2])
write("no-index.scry", data[:third[0]])
flipped = bytearray(data); flipped[third[0] + third[2] - 10] ^= 0x20
write("flipped-chunk.scry", bytes(flipped))
header_flip = bytearray(data); header_flip[20] ^= 0x01
write("bad-header-checksum.scry", bytes(header_flip))
PY
rm -f intact.scry
