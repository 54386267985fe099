//! The names state gives things: absolute, lexically normalised paths,
//! `comm` values, sysdig-style socket tuples (`client->server`) and container
//! ids found in cgroup names.

use scry_format::SockAddr;

/// `TASK_COMM_LEN` minus its NUL: the kernel keeps this many bytes of a
/// task name.
const COMM_LEN: usize = 15;

/// `path` made absolute against `base` (a directory) and normalised
/// lexically (`.`, `..` and repeated slashes removed). A relative path whose
/// base is unknown (empty or itself relative) is returned as given: a
/// guessed directory would be worse than none.
pub(super) fn resolve(base: &[u8], path: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') {
        if is_normal(path) {
            return path.to_vec();
        }
        return normalize(path, &[]);
    }
    if base.first() != Some(&b'/') {
        return path.to_vec();
    }
    normalize(base, path)
}

/// Whether an absolute path is already what [`normalize`] makes of it (as
/// nearly every path a program opens is): no empty, `.` or `..`
/// component, no trailing slash. Names starting with a dot are sent to
/// [`normalize`] too, which leaves them as they are.
fn is_normal(path: &[u8]) -> bool {
    path == b"/"
        || (path.last() != Some(&b'/')
            && !path
                .windows(2)
                .any(|pair| pair[0] == b'/' && (pair[1] == b'/' || pair[1] == b'.')))
}

/// Joins `first` (absolute) and `second` and normalises the result.
fn normalize(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(first.len() + second.len() + 1);
    // Start offsets of the components in `out`, so `..` can drop one.
    let mut starts: Vec<usize> = Vec::new();
    for component in first
        .split(|&b| b == b'/')
        .chain(second.split(|&b| b == b'/'))
    {
        match component {
            b"" | b"." => {}
            b".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start);
                }
            }
            name => {
                starts.push(out.len());
                out.push(b'/');
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The last component of `path`.
pub(super) fn basename(path: &[u8]) -> &[u8] {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(end) => &path[..=end],
        None => return path,
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(slash) => &trimmed[slash + 1..],
        None => trimmed,
    }
}

/// The task name the kernel derives from an executable name.
pub(super) fn comm_of(name: &[u8]) -> Vec<u8> {
    name[..name.len().min(COMM_LEN)].to_vec()
}

/// Appends `n` in decimal, without going through `fmt`.
fn put_decimal(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `n` in lower-case hexadecimal, without leading zeros.
fn put_hex(out: &mut Vec<u8>, n: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let digit = (n >> shift) & 0xf;
        if digit != 0 || started || shift == 0 {
            started = true;
            out.push(DIGITS[usize::from(digit)]);
        }
    }
}

/// Appends an IPv4 address as `Display` writes it.
pub(crate) fn put_ipv4(out: &mut Vec<u8>, ip: std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        put_decimal(out, octet.into());
    }
}

/// Appends an IPv6 address as `Display` writes it (RFC 5952): the first
/// longest run of two or more zero groups as `::`, IPv4-mapped addresses
/// as `::ffff:a.b.c.d`.
pub(crate) fn put_ipv6(out: &mut Vec<u8>, ip: &std::net::Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        put_ipv4(out, v4);
        return;
    }
    let groups = ip.segments();
    // The first longest run of zero groups: (start, length).
    let (mut zeros, mut run) = ((0, 0), (0, 0));
    for (i, &group) in groups.iter().enumerate() {
        if group == 0 {
            if run.1 == 0 {
                run.0 = i;
            }
            run.1 += 1;
            if run.1 > zeros.1 {
                zeros = run;
            }
        } else {
            run = (0, 0);
        }
    }
    let put_groups = |out: &mut Vec<u8>, groups: &[u16]| {
        for (i, &group) in groups.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            put_hex(out, group);
        }
    };
    if zeros.1 > 1 {
        put_groups(out, &groups[..zeros.0]);
        out.extend_from_slice(b"::");
        put_groups(out, &groups[zeros.0 + zeros.1..]);
    } else {
        put_groups(out, &groups);
    }
}

/// Appends the text of one socket endpoint: `1.2.3.4:80`, `[::1]:80` (as
/// `Display` writes them), a unix path (abstract names with `@` for their
/// leading NUL, as `ss` shows them). Written by hand: socket names are
/// built for every connect and accept, and `fmt` is several times slower.
fn put_addr(out: &mut Vec<u8>, addr: &SockAddr) {
    match addr {
        SockAddr::Inet(std::net::SocketAddr::V4(v4)) => {
            put_ipv4(out, *v4.ip());
            out.push(b':');
            put_decimal(out, v4.port().into());
        }
        SockAddr::Inet(std::net::SocketAddr::V6(v6)) => {
            out.push(b'[');
            put_ipv6(out, v6.ip());
            if v6.scope_id() != 0 {
                out.push(b'%');
                put_decimal(out, v6.scope_id());
            }
            out.extend_from_slice(b"]:");
            put_decimal(out, v6.port().into());
        }
        SockAddr::Unix(path) => put_unix(out, path),
        SockAddr::Other { .. } => {}
    }
}

fn put_unix(out: &mut Vec<u8>, path: &[u8]) {
    match path.split_first() {
        Some((0, rest)) => {
            out.push(b'@');
            out.extend_from_slice(rest.split(|&b| b == 0).next().unwrap_or_default());
        }
        _ => out.extend_from_slice(path.split(|&b| b == 0).next().unwrap_or_default()),
    }
}

/// The name of a socket fd. For IP sockets with a peer this is the tuple,
/// client first (`client->server`), which is the local side unless the fd
/// came from `accept`; for unix sockets it is the path (the peer's, else
/// the bound one); for a socket with only a local address it is that
/// address.
pub(super) fn socket_name(
    local: Option<&SockAddr>,
    remote: Option<&SockAddr>,
    is_server: bool,
) -> Vec<u8> {
    // Room for a tuple of two IPv4 endpoints, or of IPv6 ones mostly.
    let mut out = Vec::with_capacity(64);
    match (local, remote) {
        (local, Some(remote @ SockAddr::Inet(peer))) => {
            let unspecified;
            let local = match local {
                Some(local @ SockAddr::Inet(_)) => local,
                _ => {
                    // An unbound socket: the kernel reports the wildcard
                    // address of the peer's family, port 0.
                    let ip = match peer {
                        std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                        std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
                    };
                    unspecified = SockAddr::Inet(std::net::SocketAddr::new(ip, 0));
                    &unspecified
                }
            };
            let (client, server) = if is_server {
                (remote, local)
            } else {
                (local, remote)
            };
            put_addr(&mut out, client);
            out.extend_from_slice(b"->");
            put_addr(&mut out, server);
        }
        (_, Some(remote @ SockAddr::Unix(path))) if !path.is_empty() => put_addr(&mut out, remote),
        (Some(local), _) => put_addr(&mut out, local),
        (None, Some(remote)) => put_addr(&mut out, remote),
        (None, None) => {}
    }
    out
}

/// The container id in a cgroup name (see
/// [`scry_format::container_id_of_cgroup`]).
pub(super) fn container_of_cgroup(cgroup: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    scry_format::container_id_of_cgroup(cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_and_normalise() {
        assert_eq!(resolve(b"/home/u", b"a.txt"), b"/home/u/a.txt");
        assert_eq!(resolve(b"/home/u/", b"./x/../y//z"), b"/home/u/y/z");
        assert_eq!(resolve(b"/home/u", b"../../../etc"), b"/etc");
        assert_eq!(resolve(b"/home/u", b"/etc/./passwd"), b"/etc/passwd");
        assert_eq!(resolve(b"/", b".."), b"/");
        assert_eq!(resolve(b"", b"rel/x"), b"rel/x");
        assert_eq!(resolve(b"rel", b"x"), b"x");
    }

    #[test]
    fn absolute_paths_already_normal_are_kept_and_the_others_normalised() {
        for path in [
            &b"/"[..],
            b"/etc/passwd",
            b"/home/u/.bashrc",
            b"/a/b/",
            b"//a",
            b"/a/./b",
            b"/a/../b",
            b"/a/..",
            b"/a/.",
            b"/.hidden/x",
        ] {
            assert_eq!(resolve(b"/cwd", path), normalize(path, &[]), "{path:?}");
        }
    }

    #[test]
    fn basenames_and_comms() {
        assert_eq!(basename(b"/usr/bin/cat"), b"cat");
        assert_eq!(basename(b"cat"), b"cat");
        assert_eq!(basename(b"/usr/bin/"), b"bin");
        assert_eq!(basename(b"/"), b"/");
        assert_eq!(comm_of(b"a-very-long-program-name"), b"a-very-long-pro");
    }

    #[test]
    fn tuples_put_the_client_first() {
        let a = SockAddr::Inet("10.0.0.5:43210".parse().unwrap());
        let b = SockAddr::Inet("93.184.216.34:443".parse().unwrap());
        assert_eq!(
            socket_name(Some(&a), Some(&b), false),
            b"10.0.0.5:43210->93.184.216.34:443"
        );
        assert_eq!(
            socket_name(Some(&b), Some(&a), true),
            b"10.0.0.5:43210->93.184.216.34:443"
        );
        let v6 = SockAddr::Inet("[::1]:80".parse().unwrap());
        assert_eq!(socket_name(None, Some(&v6), false), b"[::]:0->[::1]:80");
        let unix = SockAddr::Unix(b"/run/x.sock".to_vec());
        assert_eq!(socket_name(None, Some(&unix), false), b"/run/x.sock");
        let abstract_ = SockAddr::Unix(b"\0name\0\0".to_vec());
        assert_eq!(socket_name(Some(&abstract_), None, false), b"@name");
        assert_eq!(socket_name(Some(&a), None, false), b"10.0.0.5:43210");
    }

    /// Endpoints are written as `Display` writes them, over addresses of
    /// every shape: zero runs of each length and place, IPv4-mapped and
    /// compatible ones, scope ids, ports.
    #[test]
    fn endpoints_are_written_as_display_writes_them() {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
        let check = |addr: SocketAddr| {
            let mut out = Vec::new();
            put_addr(&mut out, &SockAddr::Inet(addr));
            assert_eq!(String::from_utf8(out).unwrap(), addr.to_string());
        };
        // Groups drawn from a few values, zeros most often.
        let values = [0u16, 0, 0, 1, 0xa, 0xff, 0x100, 0xfff, 0x1000, 0xffff];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut groups = [0u16; 8];
            for (i, group) in groups.iter_mut().enumerate() {
                *group = values[((seed >> (i * 4)) & 0xf) as usize % values.len()];
            }
            if round % 7 == 0 {
                groups[..5].fill(0);
                groups[5] = 0xffff;
            }
            let scope = if round % 5 == 0 { seed as u32 } else { 0 };
            let port = (seed >> 40) as u16;
            check(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(groups),
                port,
                0,
                scope,
            )));
            let v4 =
                Ipv4Addr::from((seed >> 8) as u32 & [0xffff_ffff, 0xff00_00ff][round as usize % 2]);
            check(SocketAddr::V4(SocketAddrV4::new(v4, port)));
        }
        for text in [
            "[::]:0",
            "[::1]:80",
            "[::ffff:10.0.0.1]:443",
            "[::10.0.0.1]:1",
            "[1::]:2",
        ] {
            check(text.parse().unwrap());
        }
    }

    #[test]
    fn container_ids_come_from_cgroup_names() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(
            container_of_cgroup(format!("docker-{id}.scope").as_bytes()),
            Some(id.as_str().into())
        );
        assert_eq!(container_of_cgroup(id.as_bytes()), Some(id.as_str().into()));
        assert_eq!(container_of_cgroup(b"session-3.scope"), None);
        assert_eq!(container_of_cgroup(format!("{id}0").as_bytes()), None);
    }
}
