//! Message encodings of every structure that is not an event record: the
//! file header, the state snapshot, capture statistics, chunk summaries and
//! the index. Field numbers are part of the format (see `FORMAT.md`); a
//! reader ignores numbers it does not know, so minor versions can add fields.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::chunk::SockAddrRef;
use crate::event_table::{EventTable, EventTypeInfo, GENERIC_PARAMS};
use crate::index::{ChunkSummary, ContainerEntry, IndexEntry, PayloadLayout, StatsEntry};
use crate::model::*;
use crate::wire::{
    Cursor, FieldValue, Malformed, MessageReader, MessageWriter, WireResult, decode_table,
    encode_table, put_bytes, put_uvarint,
};

// ---- socket addresses (shared with event records) ----

const ADDR_INET4: u8 = 1;
const ADDR_INET6: u8 = 2;
const ADDR_UNIX: u8 = 3;
const ADDR_OTHER: u8 = 4;

/// Appends a socket address: a kind byte, then the address.
pub(crate) fn put_sockaddr(buf: &mut Vec<u8>, addr: &SockAddr) {
    match addr {
        SockAddr::Inet(SocketAddr::V4(v4)) => {
            buf.push(ADDR_INET4);
            buf.extend_from_slice(&v4.ip().octets());
            buf.extend_from_slice(&v4.port().to_be_bytes());
        }
        SockAddr::Inet(SocketAddr::V6(v6)) => {
            buf.push(ADDR_INET6);
            buf.extend_from_slice(&v6.ip().octets());
            buf.extend_from_slice(&v6.port().to_be_bytes());
        }
        SockAddr::Unix(path) => {
            buf.push(ADDR_UNIX);
            put_bytes(buf, path);
        }
        SockAddr::Other { family, data } => {
            buf.push(ADDR_OTHER);
            put_uvarint(buf, u64::from(*family));
            put_bytes(buf, data);
        }
    }
}

/// Reads a socket address written by [`put_sockaddr`], borrowing its
/// path or raw bytes from the buffer.
pub(crate) fn read_sockaddr<'a>(cursor: &mut Cursor<'a>) -> WireResult<SockAddrRef<'a>> {
    Ok(match cursor.u8()? {
        ADDR_INET4 => {
            let ip = Ipv4Addr::from(cursor.array::<4>()?);
            let port = u16::from_be_bytes(cursor.array::<2>()?);
            SockAddrRef::Inet(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        ADDR_INET6 => {
            let ip = Ipv6Addr::from(cursor.array::<16>()?);
            let port = u16::from_be_bytes(cursor.array::<2>()?);
            SockAddrRef::Inet(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)))
        }
        ADDR_UNIX => SockAddrRef::Unix(cursor.bytes()?),
        ADDR_OTHER => {
            let family = cursor.uvarint_as("address family out of range")?;
            SockAddrRef::Other {
                family,
                data: cursor.bytes()?,
            }
        }
        _ => return Err(Malformed("unknown socket address kind")),
    })
}

fn sockaddr_bytes(addr: &SockAddr) -> Vec<u8> {
    let mut buf = Vec::new();
    put_sockaddr(&mut buf, addr);
    buf
}

fn sockaddr_from(bytes: &[u8]) -> WireResult<SockAddr> {
    read_sockaddr(&mut Cursor::new(bytes)).map(|addr| addr.to_sockaddr())
}

/// Decodes a message field by field; `apply` sees each known field and
/// ignores the rest.
fn decode<T: Default>(
    bytes: &[u8],
    mut apply: impl FnMut(&mut T, u32, crate::wire::FieldValue<'_>) -> WireResult<()>,
) -> WireResult<T> {
    let mut value = T::default();
    for field in MessageReader::new(bytes) {
        let (number, field) = field?;
        apply(&mut value, number, field)?;
    }
    Ok(value)
}

// ---- file header ----

/// zstd level of the packed header: it is small and written once per file,
/// so the strongest level costs nothing noticeable.
const PACKED_HEADER_LEVEL: i32 = 19;
/// No packed header expands beyond this; a frame that claims more is
/// damage (or a crafted file), not a header.
const PACKED_HEADER_LIMIT: u64 = 64 << 20;

/// Encodes the header message: the writer and creation time in the clear,
/// the machine, capture settings and event table packed into one zstd
/// frame (field 6), where they usually take a third of their plain size.
/// A body too small to gain from a frame (an imported capture's, which
/// names a standard table and little else) stays in the clear.
pub(crate) fn encode_header(header: &FileHeader) -> Vec<u8> {
    let mut msg = MessageWriter::new();
    msg.str(1, &header.writer).uint(2, header.created_ns);
    let body = encode_header_body(header);
    match zstd::bulk::compress(&body, PACKED_HEADER_LEVEL) {
        Ok(packed) if packed.len() < body.len() => {
            msg.bytes(6, &packed);
        }
        _ => msg.fields(&body),
    }
    msg.finish()
}

/// Fields 3 (machine), 4 (capture settings) and 5 (event table) of the
/// header message.
fn encode_header_body(header: &FileHeader) -> Vec<u8> {
    let mut msg = MessageWriter::new();
    let machine = &header.machine;
    let mut m = MessageWriter::new();
    m.str(1, &machine.hostname)
        .str(2, &machine.kernel_release)
        .str(3, &machine.kernel_version)
        .str(4, &machine.arch)
        .str(5, &machine.os)
        .uint(6, u64::from(machine.cpus))
        .uint(7, machine.memory_bytes)
        .uint(8, machine.boot_time_ns);
    msg.message(3, &m);
    let capture = &header.capture;
    let mut c = MessageWriter::new();
    c.uint(1, u64::from(capture.snaplen));
    for name in &capture.event_types {
        c.repeated_bytes(2, name.as_bytes());
    }
    c.str(3, &capture.filter)
        .str(4, &capture.target)
        .uint(5, capture.buffer_bytes);
    for arg in &capture.command_line {
        c.repeated_bytes(6, arg.as_bytes());
    }
    msg.message(4, &c);
    let (base, entries) = match header.event_table.against_base() {
        Some((base, entries)) => (Some(base), entries),
        None => (None, header.event_table.entries().iter().collect()),
    };
    if let Some(base) = base {
        msg.str(7, base);
    }
    for entry in entries {
        let mut e = MessageWriter::new();
        e.uint(1, u64::from(entry.id)).str(2, &entry.name);
        if entry.params == GENERIC_PARAMS {
            // Most syscalls are recorded raw: say so in one field instead
            // of six names, which keeps headers small.
            e.bool(4, true);
        } else {
            for param in &entry.params {
                e.repeated_bytes(3, param.as_bytes());
            }
        }
        msg.message(5, &e);
    }
    msg.finish()
}

/// Decodes a header message, of format 1.0 (every field in the clear) or
/// 1.1 (fields 3 to 5 packed in field 6).
pub(crate) fn decode_header(bytes: &[u8]) -> WireResult<FileHeader> {
    let mut header = FileHeader::default();
    let mut entries = Vec::new();
    let mut base = None;
    header_fields(bytes, &mut header, &mut entries, &mut base, true)?;
    header.event_table = match base {
        Some(name) => EventTable::from_base(&name, entries).ok_or(Malformed(
            "the event table names a base this version does not know",
        ))?,
        None => EventTable::new(entries),
    };
    Ok(header)
}

/// Reads the fields of a header message into `h`; a packed header (field
/// 6) is read the same way, but only at the top level.
fn header_fields(
    bytes: &[u8],
    h: &mut FileHeader,
    entries: &mut Vec<EventTypeInfo>,
    base: &mut Option<String>,
    top: bool,
) -> WireResult<()> {
    for field in MessageReader::new(bytes) {
        let (n, v) = field?;
        match n {
            1 => h.writer = v.string()?,
            2 => h.created_ns = v.uint()?,
            3 => {
                h.machine = decode(v.bytes()?, |m: &mut MachineInfo, n, v| {
                    match n {
                        1 => m.hostname = v.string()?,
                        2 => m.kernel_release = v.string()?,
                        3 => m.kernel_version = v.string()?,
                        4 => m.arch = v.string()?,
                        5 => m.os = v.string()?,
                        6 => m.cpus = v.uint_as()?,
                        7 => m.memory_bytes = v.uint()?,
                        8 => m.boot_time_ns = v.uint()?,
                        _ => {}
                    }
                    Ok(())
                })?
            }
            4 => {
                h.capture = decode(v.bytes()?, |c: &mut CaptureSettings, n, v| {
                    match n {
                        1 => c.snaplen = v.uint_as()?,
                        2 => c.event_types.push(v.string()?),
                        3 => c.filter = v.string()?,
                        4 => c.target = v.string()?,
                        5 => c.buffer_bytes = v.uint()?,
                        6 => c.command_line.push(v.string()?),
                        _ => {}
                    }
                    Ok(())
                })?
            }
            5 => {
                let mut entry = EventTypeInfo {
                    id: 0,
                    name: String::new(),
                    params: Vec::new(),
                };
                for field in v.message()? {
                    let (n, v) = field?;
                    match n {
                        1 => entry.id = v.uint_as()?,
                        2 => entry.name = v.string()?,
                        3 => entry.params.push(v.string()?),
                        4 if v.bool()? => {
                            entry.params = GENERIC_PARAMS.iter().map(|&p| p.to_owned()).collect();
                        }
                        _ => {}
                    }
                }
                entries.push(entry);
            }
            6 if top => {
                let packed = unpack_header(v.bytes()?)?;
                header_fields(&packed, h, entries, base, false)?;
            }
            7 => *base = Some(v.string()?),
            _ => {}
        }
    }
    Ok(())
}

/// Decompresses a packed header, bounded so that a crafted frame cannot
/// expand without limit.
fn unpack_header(frame: &[u8]) -> WireResult<Vec<u8>> {
    let malformed = |_| Malformed("packed header does not decompress");
    let decoder = zstd::stream::read::Decoder::new(frame).map_err(malformed)?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(decoder, PACKED_HEADER_LIMIT + 1),
        &mut out,
    )
    .map_err(malformed)?;
    if out.len() as u64 > PACKED_HEADER_LIMIT {
        return Err(Malformed("packed header is larger than 64 MiB"));
    }
    Ok(out)
}

// ---- state snapshot ----

pub(crate) fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut msg = MessageWriter::new();
    msg.uint(1, snapshot.ts);
    let mut rows = Vec::new();
    for p in &snapshot.processes {
        let mut m = MessageWriter::new();
        m.uint(1, p.pid.into())
            .uint(2, p.ppid.into())
            .uint(3, p.vpid.into())
            .uint(4, p.sid.into())
            .uint(5, p.pgid.into())
            .bytes(6, &p.comm)
            .bytes(7, &p.exe);
        for arg in &p.args {
            m.repeated_bytes(8, arg);
        }
        m.bytes(9, &p.cwd)
            .uint(10, p.uid.into())
            .uint(11, p.euid.into())
            .uint(12, p.gid.into())
            .uint(13, p.egid.into())
            .uint(14, p.loginuid.into())
            .uint(15, p.tty.into())
            .uint(16, p.cap_effective)
            .uint(17, p.cap_permitted)
            .uint(18, p.cap_inheritable)
            .uint(19, p.start_ts)
            .bytes(20, &p.cgroup)
            .str(21, &p.container_id)
            .uint(22, p.mntns);
        rows.push(m.finish());
    }
    put_table(&mut msg, 2, &mut rows);
    for t in &snapshot.threads {
        let mut m = MessageWriter::new();
        m.uint(1, t.tid.into())
            .uint(2, t.tgid.into())
            .bytes(3, &t.comm);
        rows.push(m.finish());
    }
    put_table(&mut msg, 3, &mut rows);
    for f in &snapshot.fds {
        let mut m = MessageWriter::new();
        m.uint(1, f.pid.into())
            .int(2, f.fd.into())
            .uint(3, f.kind.code().into())
            .bytes(4, &f.name)
            .uint(5, f.flags.into())
            .uint(6, f.ino);
        if let Some(local) = &f.local {
            m.bytes(7, &sockaddr_bytes(local));
        }
        if let Some(remote) = &f.remote {
            m.bytes(8, &sockaddr_bytes(remote));
        }
        m.uint(9, f.l4proto.into());
        rows.push(m.finish());
    }
    put_table(&mut msg, 4, &mut rows);
    for u in &snapshot.users {
        let mut m = MessageWriter::new();
        m.uint(1, u.uid.into())
            .uint(2, u.gid.into())
            .str(3, &u.name)
            .str(4, &u.home)
            .str(5, &u.shell);
        rows.push(m.finish());
    }
    put_table(&mut msg, 5, &mut rows);
    for g in &snapshot.groups {
        let mut m = MessageWriter::new();
        m.uint(1, g.gid.into()).str(2, &g.name);
        rows.push(m.finish());
    }
    put_table(&mut msg, 6, &mut rows);
    for c in &snapshot.containers {
        rows.push(encode_container(c).finish());
    }
    put_table(&mut msg, 7, &mut rows);
    msg.finish()
}

/// Writes the records of snapshot field `field` as a table in field
/// `field + 6` (1.3), or one by one in `field` in the rare case a table
/// would not be valid (rows of empty records outnumbering its bytes).
fn put_table(msg: &mut MessageWriter, field: u32, rows: &mut Vec<Vec<u8>>) {
    if rows.is_empty() {
        return;
    }
    let table = encode_table(rows);
    if rows.len() <= table.len() {
        msg.bytes(field + TABLE_FIELD_OFFSET, &table);
    } else {
        for row in rows.iter() {
            msg.repeated_bytes(field, row);
        }
    }
    rows.clear();
}

/// A snapshot list in field `n` (2 to 7) is written as a table in field
/// `n + 6` (8 to 13).
const TABLE_FIELD_OFFSET: u32 = 6;

pub(crate) fn decode_snapshot(bytes: &[u8]) -> WireResult<Snapshot> {
    decode(bytes, |s: &mut Snapshot, n, v| {
        if (2 + TABLE_FIELD_OFFSET..=7 + TABLE_FIELD_OFFSET).contains(&n) {
            for row in decode_table(v.bytes()?)? {
                snapshot_field(s, n - TABLE_FIELD_OFFSET, FieldValue::Bytes(&row))?;
            }
            return Ok(());
        }
        snapshot_field(s, n, v)
    })
}

/// Applies one field of a snapshot message (a record in the lists' fields).
fn snapshot_field(s: &mut Snapshot, n: u32, v: FieldValue<'_>) -> WireResult<()> {
    {
        match n {
            1 => s.ts = v.uint()?,
            2 => s
                .processes
                .push(decode(v.bytes()?, |p: &mut ProcessInfo, n, v| {
                    match n {
                        1 => p.pid = v.uint_as()?,
                        2 => p.ppid = v.uint_as()?,
                        3 => p.vpid = v.uint_as()?,
                        4 => p.sid = v.uint_as()?,
                        5 => p.pgid = v.uint_as()?,
                        6 => p.comm = v.bytes()?.to_vec(),
                        7 => p.exe = v.bytes()?.to_vec(),
                        8 => p.args.push(v.bytes()?.to_vec()),
                        9 => p.cwd = v.bytes()?.to_vec(),
                        10 => p.uid = v.uint_as()?,
                        11 => p.euid = v.uint_as()?,
                        12 => p.gid = v.uint_as()?,
                        13 => p.egid = v.uint_as()?,
                        14 => p.loginuid = v.uint_as()?,
                        15 => p.tty = v.uint_as()?,
                        16 => p.cap_effective = v.uint()?,
                        17 => p.cap_permitted = v.uint()?,
                        18 => p.cap_inheritable = v.uint()?,
                        19 => p.start_ts = v.uint()?,
                        20 => p.cgroup = v.bytes()?.to_vec(),
                        21 => p.container_id = v.string()?,
                        22 => p.mntns = v.uint()?,
                        _ => {}
                    }
                    Ok(())
                })?),
            3 => s
                .threads
                .push(decode(v.bytes()?, |t: &mut ThreadInfo, n, v| {
                    match n {
                        1 => t.tid = v.uint_as()?,
                        2 => t.tgid = v.uint_as()?,
                        3 => t.comm = v.bytes()?.to_vec(),
                        _ => {}
                    }
                    Ok(())
                })?),
            4 => s.fds.push(decode(v.bytes()?, |f: &mut FdInfo, n, v| {
                match n {
                    1 => f.pid = v.uint_as()?,
                    2 => {
                        f.fd = i32::try_from(v.int()?).map_err(|_| Malformed("fd out of range"))?
                    }
                    3 => f.kind = FdKind::from_code(v.uint()?),
                    4 => f.name = v.bytes()?.to_vec(),
                    5 => f.flags = v.uint_as()?,
                    6 => f.ino = v.uint()?,
                    7 => f.local = Some(sockaddr_from(v.bytes()?)?),
                    8 => f.remote = Some(sockaddr_from(v.bytes()?)?),
                    9 => f.l4proto = v.uint_as()?,
                    _ => {}
                }
                Ok(())
            })?),
            5 => s.users.push(decode(v.bytes()?, |u: &mut UserInfo, n, v| {
                match n {
                    1 => u.uid = v.uint_as()?,
                    2 => u.gid = v.uint_as()?,
                    3 => u.name = v.string()?,
                    4 => u.home = v.string()?,
                    5 => u.shell = v.string()?,
                    _ => {}
                }
                Ok(())
            })?),
            6 => s.groups.push(decode(v.bytes()?, |g: &mut GroupInfo, n, v| {
                match n {
                    1 => g.gid = v.uint_as()?,
                    2 => g.name = v.string()?,
                    _ => {}
                }
                Ok(())
            })?),
            7 => s.containers.push(decode_container(v.bytes()?)?),
            _ => {}
        }
        Ok(())
    }
}

/// A container message: a snapshot's container (field 7) and a container
/// block's meta (1.4) alike.
pub(crate) fn encode_container(c: &ContainerInfo) -> MessageWriter {
    let mut m = MessageWriter::new();
    m.str(1, &c.id)
        .str(2, &c.runtime)
        .str(3, &c.name)
        .str(4, &c.image)
        .bool(5, c.privileged)
        .uint(6, c.start_ts);
    m
}

pub(crate) fn decode_container(bytes: &[u8]) -> WireResult<ContainerInfo> {
    decode(bytes, |c: &mut ContainerInfo, n, v| {
        match n {
            1 => c.id = v.string()?,
            2 => c.runtime = v.string()?,
            3 => c.name = v.string()?,
            4 => c.image = v.string()?,
            5 => c.privileged = v.bool()?,
            6 => c.start_ts = v.uint()?,
            _ => {}
        }
        Ok(())
    })
}

// ---- capture statistics ----

pub(crate) fn encode_stats(stats: &CaptureStats) -> MessageWriter {
    let mut msg = MessageWriter::new();
    msg.uint(1, stats.ts);
    for cpu in &stats.cpus {
        let mut m = MessageWriter::new();
        m.uint(1, cpu.cpu.into())
            .uint(2, cpu.delivered)
            .uint(3, cpu.dropped);
        msg.message(2, &m);
    }
    msg.uint(3, stats.events_written)
        .uint(4, stats.events_filtered)
        .bool(5, stats.is_final)
        .uint(6, stats.undecodable);
    msg
}

pub(crate) fn decode_stats(bytes: &[u8]) -> WireResult<CaptureStats> {
    decode(bytes, |s: &mut CaptureStats, n, v| {
        match n {
            1 => s.ts = v.uint()?,
            2 => s.cpus.push(decode(v.bytes()?, |c: &mut CpuStats, n, v| {
                match n {
                    1 => c.cpu = v.uint_as()?,
                    2 => c.delivered = v.uint()?,
                    3 => c.dropped = v.uint()?,
                    _ => {}
                }
                Ok(())
            })?),
            3 => s.events_written = v.uint()?,
            4 => s.events_filtered = v.uint()?,
            5 => s.is_final = v.bool()?,
            6 => s.undecodable = v.uint()?,
            _ => {}
        }
        Ok(())
    })
}

// ---- chunk summaries and the index ----

pub(crate) fn encode_summary(summary: &ChunkSummary) -> MessageWriter {
    let mut msg = MessageWriter::new();
    msg.uint(1, summary.first_num)
        .uint(2, summary.events.into())
        .uint(3, summary.min_ts)
        .uint(4, summary.max_ts)
        .uint(5, summary.raw_len.into());
    let mut packed = Vec::new();
    let mut previous = 0u64;
    for &(event_type, count) in &summary.types {
        put_uvarint(&mut packed, u64::from(event_type) - previous);
        put_uvarint(&mut packed, count.into());
        previous = event_type.into();
    }
    msg.bytes(6, &packed);
    packed.clear();
    let mut previous = 0u64;
    for &tgid in &summary.tgids {
        put_uvarint(&mut packed, u64::from(tgid) - previous);
        previous = tgid.into();
    }
    msg.bytes(7, &packed).bool(8, summary.tgids_overflow);
    for container in &summary.containers {
        msg.repeated_bytes(9, container.as_bytes());
    }
    msg.uint(10, summary.blob_len.into())
        .bool(11, summary.containers_incomplete)
        .uint(12, summary.layout.code());
    msg
}

pub(crate) fn decode_summary(bytes: &[u8]) -> WireResult<ChunkSummary> {
    decode(bytes, |s: &mut ChunkSummary, n, v| {
        match n {
            1 => s.first_num = v.uint()?,
            2 => s.events = v.uint_as()?,
            3 => s.min_ts = v.uint()?,
            4 => s.max_ts = v.uint()?,
            5 => s.raw_len = v.uint_as()?,
            6 => {
                let mut cursor = Cursor::new(v.bytes()?);
                let mut previous = 0u64;
                while !cursor.is_empty() {
                    previous = previous
                        .checked_add(cursor.uvarint()?)
                        .ok_or(Malformed("list value overflows"))?;
                    let event_type = u16::try_from(previous)
                        .map_err(|_| Malformed("event type out of range"))?;
                    s.types
                        .push((event_type, cursor.uvarint_as("count out of range")?));
                }
            }
            7 => {
                let mut cursor = Cursor::new(v.bytes()?);
                let mut previous = 0u64;
                while !cursor.is_empty() {
                    previous = previous
                        .checked_add(cursor.uvarint()?)
                        .ok_or(Malformed("list value overflows"))?;
                    s.tgids
                        .push(u32::try_from(previous).map_err(|_| Malformed("tgid out of range"))?);
                }
            }
            8 => s.tgids_overflow = v.bool()?,
            9 => s.containers.push(v.string()?),
            10 => s.blob_len = v.uint_as()?,
            11 => s.containers_incomplete = v.bool()?,
            12 => s.layout = PayloadLayout::from_code(v.uint()?)?,
            _ => {}
        }
        Ok(())
    })
}

/// Encodes the index. A chunk's entry names its block and, instead of
/// repeating the block's summary, the CRC-32 of it (1.3): the reader takes
/// the summary from the block and knows it is the one the index vouched for.
pub(crate) fn encode_index(
    chunks: &[IndexEntry],
    stats: &[StatsEntry],
    containers: &[ContainerEntry],
) -> Vec<u8> {
    let mut msg = MessageWriter::new();
    for entry in chunks {
        let mut m = MessageWriter::new();
        m.uint(1, entry.offset).uint(2, entry.block_len).uint(
            4,
            crc32fast::hash(encode_summary(&entry.summary).as_bytes()).into(),
        );
        msg.message(1, &m);
    }
    for entry in stats {
        let mut m = MessageWriter::new();
        m.uint(1, entry.offset)
            .message(2, &encode_stats(&entry.stats));
        msg.message(2, &m);
    }
    for entry in containers {
        let mut m = MessageWriter::new();
        m.uint(1, entry.offset)
            .message(2, &encode_container(&entry.info));
        msg.message(3, &m);
    }
    msg.finish()
}

/// Where the summary of an indexed chunk is.
#[derive(Debug, Default)]
pub(crate) enum IndexedSummary {
    /// In the index entry (1.0 to 1.2).
    #[default]
    Here,
    /// In the chunk block's meta, whose CRC-32 this is (1.3).
    InBlock(u32),
}

/// Decodes the index: its chunk entries, each with where its summary is,
/// its statistics entries and its container entries.
pub(crate) type DecodedIndex = (
    Vec<(IndexEntry, IndexedSummary)>,
    Vec<StatsEntry>,
    Vec<ContainerEntry>,
);

pub(crate) fn decode_index(bytes: &[u8]) -> WireResult<DecodedIndex> {
    let mut chunks = Vec::new();
    let mut stats = Vec::new();
    let mut containers = Vec::new();
    for field in MessageReader::new(bytes) {
        match field? {
            (1, v) => chunks.push(decode(
                v.bytes()?,
                |(e, at): &mut (IndexEntry, IndexedSummary), n, v| {
                    match n {
                        1 => e.offset = v.uint()?,
                        2 => e.block_len = v.uint()?,
                        3 => e.summary = decode_summary(v.bytes()?)?,
                        4 => *at = IndexedSummary::InBlock(v.uint_as()?),
                        _ => {}
                    }
                    Ok(())
                },
            )?),
            (2, v) => stats.push(decode(v.bytes()?, |e: &mut StatsEntry, n, v| {
                match n {
                    1 => e.offset = v.uint()?,
                    2 => e.stats = decode_stats(v.bytes()?)?,
                    _ => {}
                }
                Ok(())
            })?),
            (3, v) => containers.push(decode(v.bytes()?, |e: &mut ContainerEntry, n, v| {
                match n {
                    1 => e.offset = v.uint()?,
                    2 => e.info = decode_container(v.bytes()?)?,
                    _ => {}
                }
                Ok(())
            })?),
            _ => {}
        }
    }
    Ok((chunks, stats, containers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> FileHeader {
        let mut header = FileHeader {
            writer: "scry test".to_owned(),
            created_ns: 42,
            ..FileHeader::default()
        };
        header.machine.hostname = "box".to_owned();
        header.capture.filter = "evt.type=open".to_owned();
        // Not written against a base table: every entry is in the file.
        let mut entries = EventTable::builtin_x86_64().entries().to_vec();
        entries.reverse();
        header.event_table = EventTable::new(entries);
        header
    }

    #[test]
    fn a_table_written_against_a_base_lists_only_its_changes() {
        let mut header = header();
        header.event_table = EventTable::builtin_x86_64();
        let bytes = encode_header(&header);
        assert!(bytes.len() < 100, "{} bytes", bytes.len());
        assert_eq!(decode_header(&bytes).unwrap(), header);
        let imported = crate::scap::import_table();
        header.event_table = imported.clone();
        let bytes = encode_header(&header);
        assert!(bytes.len() < 100, "{} bytes", bytes.len());
        assert_eq!(decode_header(&bytes).unwrap().event_table, imported);
        // A base this version does not know is damage.
        let mut msg = MessageWriter::new();
        msg.str(1, "w").str(7, "sparc/9");
        assert!(decode_header(&msg.finish()).is_err());
    }

    #[test]
    fn a_packed_header_round_trips_and_is_smaller() {
        let header = header();
        let packed = encode_header(&header);
        let plain = encode_header_body(&header);
        assert!(
            packed.len() * 2 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        let back = decode_header(&packed).unwrap();
        assert_eq!(back, header);
    }

    #[test]
    fn a_header_with_every_field_in_the_clear_still_reads() {
        // Format 1.0: fields 1 to 5 in the header message itself.
        let header = header();
        let mut old = MessageWriter::new();
        old.str(1, &header.writer).uint(2, header.created_ns);
        let mut bytes = old.finish();
        bytes.extend_from_slice(&encode_header_body(&header));
        assert_eq!(decode_header(&bytes).unwrap(), header);
    }

    #[test]
    fn a_packed_header_that_does_not_decompress_is_malformed() {
        let mut msg = MessageWriter::new();
        msg.str(1, "w").bytes(6, b"not a zstd frame");
        assert!(decode_header(&msg.finish()).is_err());
    }
}
