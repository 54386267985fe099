//! Field values: the types a field can have (checked when a filter is
//! compiled) and the values extraction produces (compared per event).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// The type of a field, which decides the operators it accepts and how the
/// right-hand side of a comparison is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A signed or unsigned integer (ids, counts, sizes, ports, times in ns).
    Num,
    /// Text (names, paths, rendered values).
    Str,
    /// `true` or `false`.
    Bool,
    /// An IPv4 or IPv6 address; compares against addresses or, for network
    /// fields, CIDR ranges.
    Ip,
    /// Raw bytes (I/O buffers).
    Bytes,
}

impl FieldType {
    /// The name used in `scry fields`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Num => "number",
            FieldType::Str => "string",
            FieldType::Bool => "bool",
            FieldType::Ip => "ip",
            FieldType::Bytes => "bytes",
        }
    }
}

/// A value extracted from one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer; wide enough for every signed and unsigned 64-bit value.
    Num(i128),
    /// Text, borrowed from the trace or built for this event.
    Str(Cow<'a, [u8]>),
    /// A boolean.
    Bool(bool),
    /// An address.
    Ip(IpAddr),
    /// Raw bytes.
    Bytes(&'a [u8]),
}

impl Value<'_> {
    /// The value as bytes, for string operators.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value as a number, for numeric operators.
    pub fn as_num(&self) -> Option<i128> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => f.write_str(&String::from_utf8_lossy(s)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Bytes(b) => f.write_str(&printable(b)),
        }
    }
}

/// Bytes as text the way sysdig prints buffers: printable ASCII as is,
/// everything else as `.`.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}
