//! The one bridge between the probe's ring-buffer records and the owned
//! event model: bytes are reinterpreted here, and nowhere else.
//!
//! A record is a `scry_event_header` followed by `nparams` parameters, each
//! a `scry_param` header and its value (see `probe/bpf/abi.h`). Values are
//! little-endian and may be unaligned, so they are read with
//! `from_le_bytes`, never by casting pointers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use scry_format::{Event, IA32_SYSCALL, SockAddr, UNKNOWN_SYSCALL, Value};
use scry_probe::{abi, header_copied, param_header_of};
use scry_probe::{scry_event_header, scry_param};

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// Why a record could not be decoded. Records come from our own probe, so
/// this means a bug or a probe of another version; the record is counted,
/// never silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

fn le_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The header of a record, if it is long enough to hold one.
pub fn header(record: &[u8]) -> Result<scry_event_header, Malformed> {
    header_copied(record).ok_or(Malformed("record shorter than its header"))
}

/// The wall-clock time of a record's event: the probe stamps records with
/// the boot clock.
pub fn event_ts(header: &scry_event_header, boot_time_ns: u64) -> u64 {
    boot_time_ns.saturating_add(header.ts_boot_ns)
}

/// Converts one ring-buffer record into an event. `boot_time_ns` turns the
/// probe's boot-clock timestamps into wall-clock time.
#[cfg(test)]
pub fn decode(record: &[u8], boot_time_ns: u64) -> Result<Event, Malformed> {
    let mut event = Event::default();
    decode_into(record, boot_time_ns, &mut event)?;
    Ok(event)
}

/// Like [`decode`], but overwrites `event`, reusing the memory of its
/// parameters: at millions of records a second, a recycled event costs no
/// allocation where its previous values had the same shape. On error,
/// `event` holds partial contents.
pub fn decode_into(record: &[u8], boot_time_ns: u64, event: &mut Event) -> Result<(), Malformed> {
    let h = header(record)?;
    let len = (h.len as usize).min(record.len());
    let mut rest = record
        .get(std::mem::size_of::<scry_event_header>()..len)
        .unwrap_or_default();
    let params = &mut event.params;
    let mut count = 0;
    let event_type = if h.flags & abi::HDR_COMPAT != 0 {
        set_param(
            params,
            &mut count,
            abi::PARAM_UINT,
            &u64::from(h.nr).to_le_bytes(),
        )?;
        IA32_SYSCALL
    } else if h.nr == abi::NR_UNKNOWN {
        UNKNOWN_SYSCALL
    } else {
        h.nr
    };
    for _ in 0..h.nparams {
        let p: scry_param = param_header_of(rest).ok_or(Malformed("parameter header cut off"))?;
        let start = std::mem::size_of::<scry_param>();
        let value = rest
            .get(start..start + usize::from(p.len))
            .ok_or(Malformed("parameter value cut off"))?;
        set_param(params, &mut count, p.kind, value)?;
        rest = &rest[start + value.len()..];
    }
    params.truncate(count);
    event.ts = event_ts(&h, boot_time_ns);
    event.tid = h.tid;
    event.tgid = h.tgid;
    event.cpu = u16::try_from(h.cpu).unwrap_or(u16::MAX);
    event.event_type = event_type;
    event.ret = h.ret;
    event.latency = h.latency_ns;
    Ok(())
}

/// Stores parameter number `*count` in `params`, over the old value in
/// that slot when there is one, and advances `count`.
#[inline(always)]
fn set_param(
    params: &mut Vec<Value>,
    count: &mut usize,
    kind: u8,
    value: &[u8],
) -> Result<(), Malformed> {
    // Numbers (most parameters) are written in place: building a
    // `Result<Value, _>` and moving it into the slot goes through the stack
    // in pieces of other sizes than they are read back, which stalls.
    let number = match kind {
        abi::PARAM_INT => Some(Value::Int(number(value)? as i64)),
        abi::PARAM_UINT => Some(Value::Uint(number(value)?)),
        abi::PARAM_FD => Some(Value::Fd(number(value)? as i64)),
        _ => None,
    };
    match (params.get_mut(*count), number) {
        (Some(slot), Some(number)) => *slot = number,
        (None, Some(number)) => params.push(number),
        // Same shape as before: refill the buffer in place.
        (Some(Value::Str(old)), None) if kind == abi::PARAM_STR => refill(old, value),
        (Some(Value::Bytes(old)), None) if kind == abi::PARAM_BYTES => refill(old, value),
        (Some(slot), None) => *slot = decode_value(kind, value)?,
        (None, None) => params.push(decode_value(kind, value)?),
    }
    *count += 1;
    Ok(())
}

#[inline(always)]
fn number(value: &[u8]) -> Result<u64, Malformed> {
    le_u64(value).ok_or(Malformed("integer parameter shorter than 8 bytes"))
}

fn refill(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.clear();
    buffer.extend_from_slice(bytes);
}

/// A value of any kind but the numbers, which [`set_param`] writes itself.
#[inline(never)]
fn decode_value(kind: u8, value: &[u8]) -> Result<Value, Malformed> {
    Ok(match kind {
        abi::PARAM_ABSENT => Value::Absent,
        abi::PARAM_STR => Value::Str(value.to_vec()),
        abi::PARAM_BYTES => Value::Bytes(value.to_vec()),
        abi::PARAM_SOCKADDR => decode_sockaddr(value).map_or(Value::Absent, Value::SockAddr),
        abi::PARAM_STRLIST => {
            let body = value.strip_suffix(&[0]).unwrap_or(value);
            let items = if body.is_empty() && value.is_empty() {
                Vec::new()
            } else {
                body.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
            };
            Value::StrList(items)
        }
        _ => return Err(Malformed("unknown parameter kind")),
    })
}

/// A `struct sockaddr` as the kernel lays it out (family in host order,
/// port in network order).
fn decode_sockaddr(raw: &[u8]) -> Option<SockAddr> {
    let family = u16::from_le_bytes(raw.get(..2)?.try_into().ok()?);
    let port = || raw.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    Some(match family {
        AF_INET => {
            let ip: [u8; 4] = raw.get(4..8)?.try_into().ok()?;
            SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(ip),
                port()?,
            )))
        }
        AF_INET6 => {
            let ip: [u8; 16] = raw.get(8..24)?.try_into().ok()?;
            let scope = raw
                .get(24..28)
                .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
            SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port()?,
                0,
                scope,
            )))
        }
        AF_UNIX => {
            let path = raw.get(2..).unwrap_or_default();
            // Filesystem paths end at their NUL; abstract names (leading
            // NUL) keep every byte the caller passed.
            let path = match path.first() {
                Some(0) => path,
                _ => path.split(|&b| b == 0).next().unwrap_or_default(),
            };
            SockAddr::Unix(path.to_vec())
        }
        _ => SockAddr::Other {
            family,
            data: raw.get(2..).unwrap_or_default().to_vec(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_inet_and_unix_addresses() {
        let mut v4 = vec![2, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.extend([0; 8]);
        assert_eq!(
            decode_sockaddr(&v4),
            Some(SockAddr::Inet("127.0.0.1:8080".parse().unwrap()))
        );
        let mut v6 = vec![10, 0, 0x01, 0xbb, 0, 0, 0, 0];
        v6.extend(std::net::Ipv6Addr::LOCALHOST.octets());
        v6.extend([0; 4]);
        assert_eq!(
            decode_sockaddr(&v6),
            Some(SockAddr::Inet("[::1]:443".parse().unwrap()))
        );
        let unix = [1, 0, b'/', b'r', b'u', b'n', 0, 0];
        assert_eq!(
            decode_sockaddr(&unix),
            Some(SockAddr::Unix(b"/run".to_vec()))
        );
        let abstract_name = [1, 0, 0, b'x'];
        assert_eq!(
            decode_sockaddr(&abstract_name),
            Some(SockAddr::Unix(b"\0x".to_vec()))
        );
        assert_eq!(decode_sockaddr(&[1]), None);
    }

    /// A record of `nr` with the given (kind, value) parameters.
    fn record(nr: u16, params: &[(u8, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in params {
            body.extend([*kind, 0]);
            body.extend(u16::try_from(value.len()).unwrap().to_le_bytes());
            body.extend(*value);
        }
        // The header's layout (abi.h): ts, latency, ret, tid, tgid, cpu,
        // nr, nparams, len, flags.
        let len = std::mem::size_of::<scry_event_header>() + body.len();
        let mut bytes = Vec::with_capacity(len);
        bytes.extend(5u64.to_le_bytes());
        bytes.extend([0; 8 + 8 + 4 + 4 + 4]);
        bytes.extend(nr.to_le_bytes());
        bytes.extend(u16::try_from(params.len()).unwrap().to_le_bytes());
        bytes.extend(u32::try_from(len).unwrap().to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(body);
        bytes
    }

    /// Records leave the ring for the writer thread packed in one buffer,
    /// so a record may start at any address.
    #[test]
    fn a_record_decodes_wherever_it_starts() {
        let fd = 3u64.to_le_bytes();
        let write = record(1, &[(abi::PARAM_FD, &fd), (abi::PARAM_BYTES, b"hello")]);
        let expected = decode(&write, 10).unwrap();
        for shift in 1..8 {
            let mut shifted = vec![0u8; shift];
            shifted.extend(&write);
            assert_eq!(decode(&shifted[shift..], 10).unwrap(), expected);
        }
    }

    #[test]
    fn a_recycled_event_is_overwritten_whatever_it_held_before() {
        let fd = 3u64.to_le_bytes();
        let write = record(1, &[(abi::PARAM_FD, &fd), (abi::PARAM_BYTES, b"hello")]);
        let open = record(2, &[(abi::PARAM_STR, b"/etc/passwd")]);
        let mut event = decode(&write, 10).unwrap();
        assert_eq!(
            event.params,
            vec![Value::Fd(3), Value::Bytes(b"hello".to_vec())]
        );
        decode_into(&open, 10, &mut event).unwrap();
        assert_eq!(event, decode(&open, 10).unwrap());
        assert_eq!(event.params, vec![Value::Str(b"/etc/passwd".to_vec())]);
        let longer = record(1, &[(abi::PARAM_FD, &fd), (abi::PARAM_BYTES, b"x")]);
        decode_into(&write, 10, &mut event).unwrap();
        decode_into(&longer, 10, &mut event).unwrap();
        assert_eq!(event, decode(&longer, 10).unwrap());
        assert_eq!(event.ts, 15);
    }

    #[test]
    fn splits_argument_lists() {
        assert_eq!(
            decode_value(abi::PARAM_STRLIST, b"ls\0-l\0\0").unwrap(),
            Value::StrList(vec![b"ls".to_vec(), b"-l".to_vec(), Vec::new()])
        );
        assert_eq!(
            decode_value(abi::PARAM_STRLIST, b"").unwrap(),
            Value::StrList(Vec::new())
        );
        assert!(decode_value(99, b"").is_err());
    }
}
