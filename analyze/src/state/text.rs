//! The names state gives things: absolute, lexically normalised paths,
//! `comm` values, sysdig-style socket tuples (`client->server`) and container
//! ids found in cgroup names.

use std::io::Write as _;

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

/// Appends the text of one socket endpoint: `1.2.3.4:80`, `[::1]:80`, a
/// unix path (abstract names with `@` for their leading NUL, as `ss`
/// shows them).
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

fn put_addr(out: &mut Vec<u8>, addr: &SockAddr) {
    match addr {
        // IPv4 by hand: socket names are built for every connect and
        // accept, and `fmt` is several times slower.
        SockAddr::Inet(std::net::SocketAddr::V4(v4)) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                put_decimal(out, octet.into());
            }
            out.push(b':');
            put_decimal(out, v4.port().into());
        }
        SockAddr::Inet(inet) => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{inet}");
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
    let mut out = Vec::new();
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
