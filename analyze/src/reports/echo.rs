//! `echo`: the bytes read and written on chosen fds, in order, each block
//! headed by its direction, size, process and fd, as sysdig's `echo_fds`
//! chisel prints them. A reverse shell reads as the conversation it was.
//!
//! Only the bytes the capture kept (its snaplen) can be shown; a header
//! says when a call moved more than that.

use std::io::Write;

use scry_format::ValueRef;

use crate::fields::Ctx;
use crate::output::{hex_dump, push_json_str};
use crate::render::{clock_time, push_int};
use crate::value::printable;

/// How the bytes are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoStyle {
    /// Printable text, other bytes as `.`, line ends kept.
    Text,
    /// A hex dump with an ASCII column.
    Hex,
    /// One JSON object per block.
    Json,
}

/// One read or write with its bytes.
#[derive(Debug)]
pub struct Block<'a> {
    /// The call read (true) or wrote.
    pub read: bool,
    /// Bytes the call moved.
    pub size: u64,
    /// The bytes the capture kept.
    pub data: &'a [u8],
}

/// The block `ctx` stands for: a successful read or write that moved
/// bytes.
pub fn block<'a>(ctx: &Ctx<'a>) -> Option<Block<'a>> {
    let info = ctx.info;
    if !(info.is_io_read || info.is_io_write) {
        return None;
    }
    let size = u64::try_from(ctx.event.ret()).ok().filter(|&n| n > 0)?;
    let data = match ctx.event.param(info.data_param?)? {
        ValueRef::Bytes(bytes) => bytes,
        _ => &[],
    };
    Some(Block {
        read: info.is_io_read,
        size,
        data,
    })
}

/// Writes the block of `ctx`, if it has one; returns whether it did.
pub fn write(ctx: &Ctx<'_>, style: EchoStyle, out: &mut Vec<u8>) -> bool {
    let Some(block) = block(ctx) else {
        return false;
    };
    let event = &ctx.event;
    let process = ctx.state.process(event.tgid());
    let name = process.map_or_else(String::new, |p| {
        String::from_utf8_lossy(&p.comm).into_owned()
    });
    let fd = ctx.fd_num().unwrap_or(-1);
    let fd_name = ctx
        .state
        .fd(event.tgid(), fd)
        .map_or_else(String::new, |f| {
            String::from_utf8_lossy(&f.name).into_owned()
        });
    if style == EchoStyle::Json {
        out.extend_from_slice(b"{\"evt.num\":");
        push_int(out, i128::from(event.num()));
        out.extend_from_slice(b",\"evt.rawtime\":");
        push_int(out, i128::from(event.ts()));
        out.extend_from_slice(b",\"evt.io_dir\":");
        push_json_str(if block.read { "r" } else { "w" }, out);
        out.extend_from_slice(b",\"evt.rawres\":");
        push_int(out, i128::from(block.size));
        out.extend_from_slice(b",\"proc.name\":");
        push_json_str(&name, out);
        out.extend_from_slice(b",\"proc.pid\":");
        push_int(out, i128::from(event.tgid()));
        out.extend_from_slice(b",\"fd.num\":");
        push_int(out, i128::from(fd));
        out.extend_from_slice(b",\"fd.name\":");
        push_json_str(&fd_name, out);
        out.extend_from_slice(b",\"evt.buffer\":");
        push_json_str(&String::from_utf8_lossy(block.data), out);
        out.extend_from_slice(b"}\n");
        return true;
    }
    let (verb, preposition) = if block.read {
        ("Read", "from")
    } else {
        ("Write", "to")
    };
    let _ = write!(
        out,
        "------ {} {verb} {} B {preposition} {fd_name} ({name} {}, fd {fd})",
        clock_time(event.ts()),
        block.size,
        event.tgid()
    );
    if (block.data.len() as u64) < block.size {
        let _ = write!(out, ", first {} B captured", block.data.len());
    }
    out.push(b'\n');
    match style {
        EchoStyle::Hex => hex_dump(block.data, out),
        _ => {
            for line in block.data.split_inclusive(|&b| b == b'\n') {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                out.extend_from_slice(printable(text).as_bytes());
                out.push(b'\n');
            }
        }
    }
    true
}
