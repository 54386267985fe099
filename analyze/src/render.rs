//! Rendering of event values as text: times, parameters (`evt.args`,
//! `evt.arg.X`) the way sysdig shows them, and event categories.

use std::net::SocketAddr;

use scry_format::{FdKind, SockAddrRef, ValueRef};

use crate::fields::{Ctx, errno_name, typechar};
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

/// One parameter as text; fds show their kind and name when known
/// (`3(<f>/etc/hosts)`).
pub fn value(ctx: &Ctx<'_>, value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Absent => "<NA>".to_owned(),
        ValueRef::Int(n) => n.to_string(),
        ValueRef::Uint(n) => n.to_string(),
        ValueRef::Fd(fd) => match ctx.state.fd(ctx.event.tgid(), fd) {
            Some(entry) if fd >= 0 => {
                format!(
                    "{fd}(<{}>{})",
                    typechar(entry.kind),
                    String::from_utf8_lossy(&entry.name)
                )
            }
            _ if fd == -100 => "AT_FDCWD".to_owned(),
            _ => fd.to_string(),
        },
        ValueRef::Str(s) => String::from_utf8_lossy(s).into_owned(),
        ValueRef::Bytes(b) => printable(b),
        ValueRef::SockAddr(addr) => sockaddr(addr),
        ValueRef::StrList(list) => list
            .iter()
            .map(|item| String::from_utf8_lossy(item).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Every parameter as `name=value`, the result first: what sysdig prints
/// as the event's information.
pub fn args(ctx: &Ctx<'_>) -> String {
    let event = &ctx.event;
    let mut out = String::new();
    if ctx.info.is_syscall {
        let ret = event.ret();
        out.push_str("res=");
        out.push_str(&ret.to_string());
        if let Some(name) = (ret < 0).then(|| errno_name(ret)).flatten() {
            out.push('(');
            out.push_str(name);
            out.push(')');
        } else if ctx.info.returns_fd && ret >= 0 {
            out = format!("res={}", value(ctx, ValueRef::Fd(ret)));
        }
    }
    let names = ctx.names;
    for (index, param) in event.params().enumerate() {
        if !out.is_empty() {
            out.push(' ');
        }
        let name = names.get(index).map_or("?", String::as_str);
        out.push_str(name);
        out.push('=');
        out.push_str(&value(ctx, param));
    }
    out
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
