//! Rendering of event values as text: times, parameters (`evt.args`,
//! `evt.arg.X`) the way sysdig shows them, and event categories.

use std::net::SocketAddr;

use scry_format::{FdKind, SockAddrRef, ValueRef};

use crate::fields::{Ctx, errno_name, typechar};
use crate::flags::{ArgFormat, fd_in_register};
use crate::output::{is_json_plain, push_json_bytes_escaped};
use crate::state::text::{put_ipv4, put_ipv6};
use crate::types::TypeInfo;

/// How text taken from the trace goes into a line: as it is in text lines,
/// escaped in JSON ones. Everything else a line is made of (numbers,
/// flag and errno names, punctuation) is plain ASCII either way. Text is
/// checked where it comes from, before it is copied: checking it once
/// written would read back bytes just stored, which stalls.
pub(crate) trait TextStyle {
    /// Text (names, paths), invalid UTF-8 replaced.
    fn text(text: &[u8], out: &mut Vec<u8>);

    /// Buffer bytes, the non-printable ones as `.`.
    fn printable(bytes: &[u8], out: &mut Vec<u8>);

    /// `name=` of parameter `index` of the event's type, when the type
    /// table has it.
    fn label(info: &TypeInfo, index: usize) -> Option<&Literal>;
}

/// Text lines.
#[derive(Debug)]
pub(crate) struct AsIs;

impl TextStyle for AsIs {
    #[inline(always)]
    fn text(text: &[u8], out: &mut Vec<u8>) {
        push_lossy(text, out);
    }

    #[inline(always)]
    fn printable(bytes: &[u8], out: &mut Vec<u8>) {
        push_printable(bytes, out);
    }

    #[inline(always)]
    fn label(info: &TypeInfo, index: usize) -> Option<&Literal> {
        info.arg_label(index)
    }
}

/// The inside of JSON string literals.
#[derive(Debug)]
pub(crate) struct InJson;

impl TextStyle for InJson {
    #[inline(always)]
    fn text(text: &[u8], out: &mut Vec<u8>) {
        if is_json_plain(text) {
            out.extend_from_slice(text);
        } else {
            push_json_bytes_escaped(text, out);
        }
    }

    #[inline(always)]
    fn printable(bytes: &[u8], out: &mut Vec<u8>) {
        // Printable bytes need escaping only for quotes and backslashes.
        let quotes = bytes.iter().fold(0u8, |seen, &b| {
            seen | u8::from(b == b'"') | u8::from(b == b'\\')
        });
        if quotes == 0 {
            push_printable(bytes, out);
        } else {
            let mut shown = Vec::with_capacity(bytes.len());
            push_printable(bytes, &mut shown);
            push_json_bytes_escaped(&shown, out);
        }
    }

    #[inline(always)]
    fn label(info: &TypeInfo, index: usize) -> Option<&Literal> {
        info.arg_label_json(index)
    }
}

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

/// A socket address as `evt.args` shows it: `10.0.0.5:443`, `[::1]:443`,
/// a unix path.
fn write_sockaddr<S: TextStyle>(addr: SockAddrRef<'_>, out: &mut Vec<u8>) {
    match addr {
        // By hand, as the state names sockets: every connect and accept
        // has one, and `fmt` is many times slower.
        SockAddrRef::Inet(SocketAddr::V4(a)) => {
            put_ipv4(out, *a.ip());
            out.push(b':');
            push_u64(out, a.port().into());
        }
        SockAddrRef::Inet(SocketAddr::V6(a)) => {
            out.push(b'[');
            put_ipv6(out, a.ip());
            out.extend_from_slice(b"]:");
            push_u64(out, a.port().into());
        }
        SockAddrRef::Unix(path) => S::printable(path, out),
        SockAddrRef::Other { family, .. } => {
            out.extend_from_slice(b"family ");
            push_u64(out, family.into());
        }
    }
}

/// Parameter `index` as `evt.arg.X` shows it, which is sysdig's resolved
/// form where there is one: an fd as its kind and name (`<f>/etc/hosts`,
/// `<4t>10.0.0.1:5000->10.0.0.2:80`), `AT_FDCWD`, or the errno name of a
/// failure (`EBADF`), the number when none applies; flags and enums by
/// name alone (`O_RDONLY|O_CLOEXEC`, `AF_INET`); modes in octal.
pub fn param(ctx: &Ctx<'_>, index: usize, value: ValueRef<'_>) -> String {
    let mut out = Vec::new();
    write_param::<AsIs>(ctx, index, value, Style::Alone, &mut out);
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

/// Parameter `index` of the event, formatted by its type's table. Inlined
/// into its callers, so that the value stays in registers.
#[inline(always)]
fn write_param<S: TextStyle>(
    ctx: &Ctx<'_>,
    index: usize,
    value: ValueRef<'_>,
    style: Style,
    out: &mut Vec<u8>,
) {
    let number = match value {
        ValueRef::Uint(n) => Some(n),
        ValueRef::Int(n) => u64::try_from(n).ok(),
        _ => None,
    };
    if let ValueRef::Fd(fd) = value {
        return write_fd::<S>(ctx, fd, style, out);
    }
    let Some(number) = number else {
        return write_value::<S>(ctx, value, out);
    };
    match ctx.info.param_spec(index).format {
        ArgFormat::Plain => write_value::<S>(ctx, value, out),
        ArgFormat::Fd => write_fd::<S>(ctx, fd_in_register(number), style, out),
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
        write_fd::<AsIs>(ctx, ret, Style::Alone, &mut out);
    } else {
        push_i64(&mut out, ret);
    }
    into_string(out)
}

/// Every parameter as `name=value`, the result first: what sysdig prints
/// as the event's information.
pub fn args(ctx: &Ctx<'_>) -> String {
    let mut out = Vec::new();
    write_args::<AsIs>(ctx, usize::MAX, &mut out);
    into_string(out)
}

fn into_string(bytes: Vec<u8>) -> String {
    // Every piece is written as valid UTF-8, so this never copies.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Bytes as UTF-8, invalid sequences replaced; ASCII (nearly all text in
/// a trace) is copied without a full UTF-8 check.
#[inline]
pub(crate) fn push_lossy(bytes: &[u8], out: &mut Vec<u8>) {
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        out.extend_from_slice(bytes);
    } else {
        out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes());
    }
}

/// `n` in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i128) {
    if let Ok(small) = i64::try_from(n) {
        return push_i64(out, small);
    }
    if n < 0 {
        out.push(b'-');
    }
    match u64::try_from(n.unsigned_abs()) {
        Ok(small) => push_u64(out, small),
        // Beyond 64 bits: rare enough for the slow path.
        Err(_) => out.extend_from_slice(n.unsigned_abs().to_string().as_bytes()),
    }
}

/// `n` in decimal.
#[inline]
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Two decimal digits for each value below 100.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `n` in decimal. Numbers below 100 (cpus, fds, small results: most of
/// them) take a fixed two-byte copy; longer ones are written in place
/// digit pair by digit pair.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < 100 {
        let pair = n as usize * 2;
        out.extend_from_slice(&[DIGIT_PAIRS[pair], DIGIT_PAIRS[pair + 1]]);
    } else {
        push_long_u64(out, n);
    }
}

/// [`push_u64`] from 100 up: up to four digits from two table pairs (a
/// shorter chain than eight digits at once), up to eight computed together
/// ([`digit_values`]) and copied as one fixed 8-byte block; longer
/// numbers, rare, apart.
#[inline(never)]
fn push_long_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        let (high, low) = ((n / 100) as usize * 2, (n % 100) as usize * 2);
        let digits = [
            DIGIT_PAIRS[high],
            DIGIT_PAIRS[high + 1],
            DIGIT_PAIRS[low],
            DIGIT_PAIRS[low + 1],
        ];
        if n < 1000 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.extend_from_slice(&digits);
        }
    } else if n < 100_000_000 {
        push_up_to_eight(out, n as u32);
    } else {
        push_huge_u64(out, n);
    }
}

/// [`push_u64`] from 10^8 up: blocks of eight digits.
#[cold]
#[inline(never)]
fn push_huge_u64(out: &mut Vec<u8>, n: u64) {
    const E8: u64 = 100_000_000;
    if n < E8 * E8 {
        push_up_to_eight(out, (n / E8) as u32);
    } else {
        push_up_to_eight(out, (n / (E8 * E8)) as u32);
        out.extend_from_slice(&eight_digits((n / E8 % E8) as u32).to_le_bytes());
    }
    out.extend_from_slice(&eight_digits((n % E8) as u32).to_le_bytes());
}

/// `n`, from 1 to 10^8 - 1, in decimal: its eight padded digits copied as
/// one block, the line cut back to the number's own length.
#[inline(always)]
fn push_up_to_eight(out: &mut Vec<u8>, n: u32) {
    // The leading zeros of the padded digits are the low zero bytes of
    // the digit values.
    let values = digit_values(n);
    let zeros = (values.trailing_zeros() / 8) as usize;
    let digits = (values + ASCII_ZEROS) >> (8 * zeros);
    let end = out.len() + 8 - zeros;
    out.extend_from_slice(&digits.to_le_bytes());
    out.truncate(end);
}

/// `'0'` in each of the eight bytes.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `n` (below 10^8, zero-padded) as ASCII, the
/// first digit in the lowest byte.
#[inline]
pub(crate) fn eight_digits(n: u32) -> u64 {
    digit_values(n) + ASCII_ZEROS
}

/// The eight decimal digits of `n` (below 10^8, zero-padded), one value
/// from 0 to 9 per byte, the first digit in the lowest byte: `n` is split
/// into halves of four digits, pairs and single digits, every part of a
/// level computed at once in its own lane of one integer, by
/// multiplications instead of divisions.
#[inline]
fn digit_values(n: u32) -> u64 {
    // Two 32-bit lanes: the first four digits, the last four.
    let halves = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    // Four 16-bit lanes of two digits: x / 100 is x * 10486 >> 20 below
    // 10^4.
    let high = ((halves * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let pairs = high | ((halves - high * 100) << 16);
    // Eight 8-bit lanes of one digit: x / 10 is x * 103 >> 10 below 100.
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    tens | ((pairs - tens * 10) << 8)
}

/// Buffer bytes the way sysdig shows them inline: printable ASCII as is,
/// everything else as `.`. Branch-free, so the loop runs on whole vectors.
#[inline]
pub(crate) fn push_printable(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(bytes);
    for byte in &mut out[start..] {
        let printable = byte.wrapping_sub(0x20) < 0x5f;
        *byte = if printable { *byte } else { b'.' };
    }
}

/// Text appended to lines over and over (literal parts of a format,
/// parameter names): when short, it is kept in a fixed 16-byte block that
/// is copied whole (a copy of known size, no call) and cut back to its
/// length.
#[derive(Debug, Clone)]
pub(crate) enum Literal {
    /// Up to 16 bytes, padded, and the length.
    Short([u8; 16], u8),
    /// Longer text.
    Long(Box<[u8]>),
}

impl Literal {
    pub(crate) fn new(text: &[u8]) -> Literal {
        match text.len() {
            len @ 0..=16 => {
                let mut block = [0u8; 16];
                block[..len].copy_from_slice(text);
                Literal::Short(block, len as u8)
            }
            _ => Literal::Long(text.into()),
        }
    }

    /// Appends the text to `out`.
    #[inline]
    pub(crate) fn push(&self, out: &mut Vec<u8>) {
        match self {
            Literal::Short(block, len) => {
                let end = out.len() + usize::from(*len);
                out.extend_from_slice(block);
                out.truncate(end);
            }
            Literal::Long(text) => out.extend_from_slice(text),
        }
    }
}

/// An fd the way sysdig writes it: in `evt.args` the number, then what it
/// resolves to in parentheses (`3(<f>/etc/hosts)`, `-100(AT_FDCWD)`,
/// `-9(EBADF)`); alone (`evt.arg.fd`) what it resolves to, or the number
/// when it resolves to nothing (an fd from before the capture).
#[inline]
fn write_fd<S: TextStyle>(ctx: &Ctx<'_>, fd: i64, style: Style, out: &mut Vec<u8>) {
    let start = out.len();
    if style == Style::InArgs {
        push_i64(out, fd);
        out.push(b'(');
    }
    let resolved = out.len();
    if fd >= 0 {
        if let Some(entry) = ctx.process_ref().and_then(|process| process.fd(fd)) {
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
            S::text(&entry.name, out);
        }
    } else if fd == AT_FDCWD {
        out.extend_from_slice(b"AT_FDCWD");
    } else if let Some(name) = errno_name(fd) {
        out.extend_from_slice(name.as_bytes());
    }
    match style {
        Style::InArgs if out.len() == resolved => out.truncate(resolved - 1),
        Style::InArgs => out.push(b')'),
        Style::Alone if out.len() == start => push_i64(out, fd),
        Style::Alone => {}
    }
}

/// The `dirfd` of the `*at` calls that means the working directory.
const AT_FDCWD: i64 = -100;

/// [`value`], appended to `out`.
#[inline(always)]
pub(crate) fn write_value<S: TextStyle>(ctx: &Ctx<'_>, value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Absent => out.extend_from_slice(b"<NA>"),
        ValueRef::Int(n) => push_i64(out, n),
        ValueRef::Uint(n) => push_u64(out, n),
        ValueRef::Fd(fd) => write_fd::<S>(ctx, fd, Style::InArgs, out),
        ValueRef::Str(s) => S::text(s, out),
        ValueRef::Bytes(b) => S::printable(b, out),
        ValueRef::SockAddr(addr) => write_sockaddr::<S>(addr, out),
        ValueRef::StrList(list) => {
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                S::text(item, out);
            }
        }
    }
}

/// [`args`], appended to `out` in style `S`, buffers cut to `buffer_len`
/// bytes (`-s`).
// The parameters are counted by hand: the adapter of `enumerate` keeps the
// parameter decoder from being inlined here.
#[allow(clippy::explicit_counter_loop)]
pub(crate) fn write_args<S: TextStyle>(ctx: &Ctx<'_>, buffer_len: usize, out: &mut Vec<u8>) {
    let event = &ctx.event;
    let info = ctx.info;
    let start = out.len();
    if info.is_syscall {
        let ret = event.ret();
        out.extend_from_slice(b"res=");
        if let Some(name) = (ret < 0).then(|| errno_name(ret)).flatten() {
            push_i64(out, ret);
            out.push(b'(');
            out.extend_from_slice(name.as_bytes());
            out.push(b')');
        } else if info.returns_fd && ret >= 0 {
            write_fd::<S>(ctx, ret, Style::InArgs, out);
        } else {
            push_i64(out, ret);
        }
    }
    let mut index = 0;
    for param in event.params() {
        if out.len() > start {
            out.push(b' ');
        }
        match S::label(info, index) {
            Some(label) => label.push(out),
            None => {
                let name = ctx.names.get(index).map_or("?", String::as_str);
                S::text(name.as_bytes(), out);
                out.push(b'=');
            }
        }
        let param = match param {
            ValueRef::Bytes(bytes) if bytes.len() > buffer_len => {
                ValueRef::Bytes(&bytes[..buffer_len])
            }
            other => other,
        };
        write_param::<S>(ctx, index, param, Style::InArgs, out);
        index += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_std_writes_them() {
        let mut samples: Vec<u64> = (0..20_000).collect();
        let mut power = 1u64;
        while let Some(next) = power.checked_mul(10) {
            for near in [power - 1, power, power + 1, next / 2 + 7, next - 1] {
                samples.push(near);
            }
            power = next;
        }
        samples.extend([
            u64::MAX,
            u64::MAX - 1,
            12_345_678_901_234_567,
            99_999_999_999,
        ]);
        // A spread of values of every length.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(x >> (x % 64));
        }
        for n in samples {
            let mut out = b"x".to_vec();
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes(), "{n}");
            let below = (n % 100_000_000) as u32;
            assert_eq!(
                eight_digits(below).to_le_bytes(),
                *format!("{below:08}").as_bytes()
            );
        }
        let mut out = Vec::new();
        push_i64(&mut out, i64::MIN);
        push_i64(&mut out, -7);
        assert_eq!(out, format!("{}-7", i64::MIN).into_bytes());
    }
}
