//! Rendering of event values as text: times, parameters (`evt.args`,
//! `evt.arg.X`) the way sysdig shows them, and event categories.

use std::net::SocketAddr;

use scry_format::{FdKind, SockAddrRef, ValueRef};

use crate::fields::{Ctx, errno_name, typechar};
use crate::flags::ArgFormat;
use crate::value::printable;

/// `HH:MM:SS.nnnnnnnnn` of a timestamp (UTC).
pub fn clock_time(ns: u64) -> String {
    let text = scry_format::format_rfc3339(ns);
    text[11..text.len() - 1].to_owned()
}

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` of a timestamp (UTC).
pub fn date_time(ns: u64) -> String {
    let text = scry_format::format_rfc3339(ns);
    format!("{} {}", &text[..10], &text[11..text.len() - 1])
}

fn sockaddr(addr: SockAddrRef<'_>) -> String {
    match addr {
        SockAddrRef::Inet(SocketAddr::V4(a)) => a.to_string(),
        SockAddrRef::Inet(SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
        SockAddrRef::Unix(path) => printable(path),
        SockAddrRef::Other { family, .. } => format!("family {family}"),
    }
}

/// Parameter `index` as `evt.arg.X` shows it, which is sysdig's resolved
/// form where there is one: an fd as its kind and name (`<f>/etc/hosts`,
/// `<4t>10.0.0.1:5000->10.0.0.2:80`), `AT_FDCWD`, or the errno name of a
/// failure (`EBADF`), the number when none applies; flags and enums by
/// name alone (`O_RDONLY|O_CLOEXEC`, `AF_INET`); modes in octal.
pub fn param(ctx: &Ctx<'_>, index: usize, value: ValueRef<'_>) -> String {
    let mut out = Vec::new();
    write_param(ctx, index, value, Style::Alone, &mut out);
    into_string(out)
}

/// How a flag or enum parameter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// In `evt.args`: the number, then its names (`flags=524288(O_RDONLY|O_CLOEXEC)`).
    InArgs,
    /// In `evt.arg.X`: the names only, the number when none applies.
    Alone,
}

/// Parameter `index` of the event, formatted by its type's table.
fn write_param(ctx: &Ctx<'_>, index: usize, value: ValueRef<'_>, style: Style, out: &mut Vec<u8>) {
    let number = match value {
        ValueRef::Uint(n) => Some(n),
        ValueRef::Int(n) => u64::try_from(n).ok(),
        _ => None,
    };
    if let ValueRef::Fd(fd) = value {
        return write_fd(ctx, fd, style, out);
    }
    let Some(number) = number else {
        return write_value(ctx, value, out);
    };
    match ctx.info.param_spec(index).format {
        ArgFormat::Plain => write_value(ctx, value, out),
        ArgFormat::Octal => {
            // `%#o`, as sysdig prints modes: 0 alone, otherwise a leading 0.
            let mut digits = [0u8; 23];
            let mut at = digits.len();
            let mut rest = number;
            loop {
                at -= 1;
                digits[at] = b'0' + (rest & 7) as u8;
                rest >>= 3;
                if rest == 0 {
                    break;
                }
            }
            if number != 0 {
                out.push(b'0');
            }
            out.extend_from_slice(&digits[at..]);
        }
        ArgFormat::Names(table) => match style {
            Style::Alone => {
                if !table.write(number, out) {
                    push_u64(out, number);
                }
            }
            Style::InArgs => {
                push_u64(out, number);
                let open = out.len();
                out.push(b'(');
                if table.write(number, out) {
                    out.push(b')');
                } else {
                    out.truncate(open);
                }
            }
        },
    }
}

/// The result as `evt.arg.res` shows it: the errno name of a failure, the
/// fd a call returned as `evt.arg.fd` shows fds, otherwise the number.
pub fn result(ctx: &Ctx<'_>) -> String {
    let ret = ctx.event.ret();
    if ret < 0
        && let Some(name) = errno_name(ret)
    {
        return name.to_owned();
    }
    let mut out = Vec::new();
    if ctx.info.returns_fd && ret >= 0 {
        write_fd(ctx, ret, Style::Alone, &mut out);
    } else {
        push_int(&mut out, ret.into());
    }
    into_string(out)
}

/// Every parameter as `name=value`, the result first: what sysdig prints
/// as the event's information.
pub fn args(ctx: &Ctx<'_>) -> String {
    let mut out = Vec::new();
    write_args(ctx, &mut out);
    into_string(out)
}

fn into_string(bytes: Vec<u8>) -> String {
    // Every piece is written as valid UTF-8, so this never copies.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Bytes as UTF-8, invalid sequences replaced.
fn push_lossy(bytes: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(bytes) {
        Ok(_) => out.extend_from_slice(bytes),
        Err(_) => out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
    }
}

/// `n` in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i128) {
    if n < 0 {
        out.push(b'-');
    }
    match u64::try_from(n.unsigned_abs()) {
        Ok(small) => push_u64(out, small),
        // Beyond 64 bits: rare enough for the slow path.
        Err(_) => out.extend_from_slice(n.unsigned_abs().to_string().as_bytes()),
    }
}

/// `n` in decimal, two digits at a time.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// An fd the way sysdig writes it: in `evt.args` the number, then what it
/// resolves to in parentheses (`3(<f>/etc/hosts)`, `-100(AT_FDCWD)`,
/// `-9(EBADF)`); alone (`evt.arg.fd`) what it resolves to, or the number
/// when it resolves to nothing (an fd from before the capture).
fn write_fd(ctx: &Ctx<'_>, fd: i64, style: Style, out: &mut Vec<u8>) {
    let start = out.len();
    if style == Style::InArgs {
        push_int(out, fd.into());
        out.push(b'(');
    }
    let resolved = out.len();
    if fd >= 0 {
        if let Some(entry) = ctx.state.fd(ctx.event.tgid(), fd) {
            out.push(b'<');
            out.extend_from_slice(typechar(entry.kind).as_bytes());
            if matches!(entry.kind, FdKind::Ipv4 | FdKind::Ipv6) {
                match entry.l4proto {
                    6 => out.push(b't'),
                    17 => out.push(b'u'),
                    1 | 58 => out.push(b'i'),
                    255 => out.push(b'r'),
                    _ => {}
                }
            }
            out.push(b'>');
            push_lossy(&entry.name, out);
        }
    } else if fd == AT_FDCWD {
        out.extend_from_slice(b"AT_FDCWD");
    } else if let Some(name) = errno_name(fd) {
        out.extend_from_slice(name.as_bytes());
    }
    match style {
        Style::InArgs if out.len() == resolved => out.truncate(resolved - 1),
        Style::InArgs => out.push(b')'),
        Style::Alone if out.len() == start => push_int(out, fd.into()),
        Style::Alone => {}
    }
}

/// The `dirfd` of the `*at` calls that means the working directory.
const AT_FDCWD: i64 = -100;

/// [`value`], appended to `out`.
pub(crate) fn write_value(ctx: &Ctx<'_>, value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Absent => out.extend_from_slice(b"<NA>"),
        ValueRef::Int(n) => push_int(out, n.into()),
        ValueRef::Uint(n) => push_int(out, n.into()),
        ValueRef::Fd(fd) => write_fd(ctx, fd, Style::InArgs, out),
        ValueRef::Str(s) => push_lossy(s, out),
        ValueRef::Bytes(b) => out.extend(
            b.iter()
                .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
        ),
        ValueRef::SockAddr(addr) => out.extend_from_slice(sockaddr(addr).as_bytes()),
        ValueRef::StrList(list) => {
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                push_lossy(item, out);
            }
        }
    }
}

/// [`args`], appended to `out`.
pub(crate) fn write_args(ctx: &Ctx<'_>, out: &mut Vec<u8>) {
    let event = &ctx.event;
    let start = out.len();
    if ctx.info.is_syscall {
        let ret = event.ret();
        out.extend_from_slice(b"res=");
        if let Some(name) = (ret < 0).then(|| errno_name(ret)).flatten() {
            push_int(out, ret.into());
            out.push(b'(');
            out.extend_from_slice(name.as_bytes());
            out.push(b')');
        } else if ctx.info.returns_fd && ret >= 0 {
            write_fd(ctx, ret, Style::InArgs, out);
        } else {
            push_int(out, ret.into());
        }
    }
    let names = ctx.names;
    for (index, param) in event.params().enumerate() {
        if out.len() > start {
            out.push(b' ');
        }
        let spec = ctx.info.param_spec(index);
        let name = spec
            .label
            .or_else(|| names.get(index).map(String::as_str))
            .unwrap_or("?");
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        write_param(ctx, index, param, Style::InArgs, out);
    }
}

/// The event's class, as sysdig's `evt.category`.
pub fn category(ctx: &Ctx<'_>, fd_kind: Option<FdKind>) -> &'static str {
    let info = ctx.info;
    if info.is_io_read || info.is_io_write {
        return match fd_kind {
            Some(FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Netlink) => "net",
            Some(FdKind::Unix | FdKind::Pipe) => "ipc",
            Some(_) => "file",
            None => "io",
        };
    }
    if info.is_wait {
        return "wait";
    }
    let name = info.name.as_str();
    if info.is_open
        || name.contains("stat")
        || name.contains("link")
        || name.contains("dir")
        || name.contains("chmod")
        || name.contains("chown")
        || name.contains("rename")
        || name == "close"
    {
        "file"
    } else if [
        "socket",
        "bind",
        "listen",
        "connect",
        "accept",
        "shutdown",
        "getsockopt",
        "setsockopt",
    ]
    .iter()
    .any(|n| name.starts_with(n))
    {
        "net"
    } else if name.starts_with("mmap")
        || name.starts_with("munmap")
        || name == "brk"
        || name.starts_with("mprotect")
        || name.starts_with("madvise")
    {
        "memory"
    } else if [
        "clone", "fork", "vfork", "execve", "exit", "procexit", "wait", "kill", "setuid", "setgid",
        "capset", "prctl", "unshare", "setns",
    ]
    .iter()
    .any(|n| name.starts_with(n))
    {
        "process"
    } else if name.starts_with("rt_sig") || name.starts_with("sig") {
        "signal"
    } else if name.contains("time") || name.starts_with("clock") {
        "time"
    } else if name.starts_with("get") || name.starts_with("set") {
        "user"
    } else {
        "other"
    }
}
