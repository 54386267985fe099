//! The block layer of a scap file: the pcapng-style sequence of
//! `type, length, body, padding, length` records, read from a byte slice
//! (a plain capture, mapped) or from a gzip stream (`sysdig -z`), which is
//! decompressed as it is read rather than into memory.
//!
//! Inflating is the costliest part of reading a gzip'd capture, so a reader
//! that converts events on one thread can hand it to another
//! ([`Blocks::inflate_on`]): that thread fills large buffers ahead while
//! blocks are taken from the previous ones, and a block that straddles two
//! buffers is the only one copied.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use flate2::read::MultiGzDecoder;

/// Bytes of a block's header (type and length) plus its trailer.
const FRAMING: usize = 12;
/// Larger blocks are taken for damage: the biggest real ones (process
/// lists of very busy hosts) are a few MiB.
const MAX_BLOCK: usize = 256 << 20;
/// How much of the gzip stream is decompressed at a time inline.
const READ_SIZE: usize = 1 << 20;
/// How much an inflating thread decompresses into each buffer it hands on.
const INFLATED_SIZE: usize = 4 << 20;
/// The smallest page size of the machines a capture is mapped on.
const PAGE: usize = 4096;
/// Buffers an inflating thread may fill ahead of the reader.
const INFLATED_AHEAD: usize = 2;

/// The two compressions a capture may come in.
pub(super) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The first `n` bytes a gzip stream decompresses to (fewer if it is
/// shorter or damaged).
pub(super) fn gzip_prefix(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let _ = MultiGzDecoder::new(bytes)
        .take(n as u64)
        .read_to_end(&mut out);
    out
}

/// What the next read found.
#[derive(Debug)]
pub(super) enum Next<'b> {
    /// A whole block: its type and its body (everything between the length
    /// and the trailer, padding and options included).
    Block { kind: u32, body: &'b [u8] },
    /// The input ended cleanly between two blocks.
    End,
    /// The input ends inside a block: `partial` bytes of it are present.
    Truncated { partial: u64 },
    /// The block cannot be delimited; nothing after it can be trusted.
    Damaged(String),
}

/// The compressed bytes of a capture, read by a decoder that may move to
/// another thread.
pub(super) struct Shared<D> {
    data: Arc<D>,
    pos: usize,
}

impl<D: AsRef<[u8]>> Read for Shared<D> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let rest = &D::as_ref(&self.data)[self.pos..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

type Decoder<D> = Box<MultiGzDecoder<Shared<D>>>;

enum Source<D> {
    /// The whole capture and the position of the next block.
    Slice { data: Arc<D>, pos: usize },
    /// A gzip stream decompressed on the reading thread.
    Gzip {
        decoder: Decoder<D>,
        /// Decompressed bytes not consumed yet are `buf[start..]`.
        buf: Vec<u8>,
        start: usize,
        eof: bool,
        /// Why the stream stopped early, if it did.
        error: Option<io::Error>,
    },
    /// A gzip stream decompressed by a thread of its own.
    Inflated(Box<Inflated>),
    /// Nothing more to read (the inflating thread was let go).
    Done { error: Option<io::Error> },
}

/// The reading end of an inflating thread.
struct Inflated {
    /// The buffer blocks are taken from, and the position in it.
    cur: Vec<u8>,
    pos: usize,
    /// The buffer that follows `cur`, from its position on, once a block
    /// straddling the two has begun to be copied into `cur`.
    next: Option<(Vec<u8>, usize)>,
    buffers: Receiver<io::Result<Vec<u8>>>,
    recycle: SyncSender<Vec<u8>>,
    eof: bool,
    error: Option<io::Error>,
}

impl Inflated {
    /// Makes at least `want` bytes available from `pos` (fewer only at the
    /// end of the stream) and returns them.
    fn available(&mut self, want: usize) -> &[u8] {
        while self.cur.len() - self.pos < want {
            if self.next.is_none() {
                if self.eof {
                    break;
                }
                match self.buffers.recv() {
                    Ok(Ok(buf)) => self.next = Some((buf, 0)),
                    Ok(Err(error)) => {
                        self.error = Some(error);
                        self.eof = true;
                        break;
                    }
                    Err(_) => {
                        self.eof = true;
                        break;
                    }
                }
            }
            let Some((next, at)) = self.next.as_mut() else {
                break;
            };
            if self.pos == self.cur.len() {
                // `cur` is used up: the next buffer takes its place.
                let used = std::mem::replace(&mut self.cur, std::mem::take(next));
                self.pos = *at;
                self.next = None;
                let _ = self.recycle.try_send(used);
                continue;
            }
            // A block straddles the two buffers: bring its bytes together
            // (the rest of `cur` is small, a block or less).
            if self.pos > 0 {
                self.cur.drain(..self.pos);
                self.pos = 0;
            }
            let take = (want - self.cur.len()).min(next.len() - *at);
            self.cur.extend_from_slice(&next[*at..*at + take]);
            *at += take;
            if *at == next.len() {
                let used = std::mem::take(next);
                self.next = None;
                let _ = self.recycle.try_send(used);
            }
        }
        &self.cur[self.pos..]
    }
}

/// Reads blocks front to back.
pub(super) struct Blocks<D> {
    source: Source<D>,
    /// Offset of the next block in the (decompressed) capture.
    offset: u64,
    /// Tells a thread touching the pages ahead that nothing more is read.
    stop: Arc<AtomicBool>,
}

impl<D> Drop for Blocks<D> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl<D> std::fmt::Debug for Blocks<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<D: AsRef<[u8]> + Send + Sync> Blocks<D> {
    /// Blocks of `data`, decompressed first if they are gzip.
    pub(super) fn new(data: D) -> Self {
        let data = Arc::new(data);
        let source = if is_gzip(D::as_ref(&data)) {
            Source::Gzip {
                decoder: Box::new(MultiGzDecoder::new(Shared { data, pos: 0 })),
                buf: Vec::with_capacity(READ_SIZE),
                start: 0,
                eof: false,
                error: None,
            }
        } else {
            Source::Slice { data, pos: 0 }
        };
        Blocks {
            source,
            offset: 0,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Hands decompression to a thread of `scope`, if the capture is
    /// gzip'd: what is decompressed already is read first. The thread ends
    /// when the stream does, or once these blocks are dropped or
    /// [`Blocks::stop_inflating`] is called.
    pub(super) fn inflate_on<'scope>(&mut self, scope: &'scope Scope<'scope, '_>)
    where
        D: 'scope,
    {
        if let Source::Slice { data, pos } = &self.source {
            // Mapping the file's pages as they are first touched costs the
            // converting thread more than reading them: a thread of its own
            // touches one byte of each page ahead of it.
            let data = Arc::clone(data);
            let from = *pos;
            let stop = Arc::clone(&self.stop);
            super::spawn_named(scope, "scap-prefault", move || {
                let bytes = D::as_ref(&data);
                let mut sum = 0u8;
                for at in (from..bytes.len()).step_by(PAGE) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    sum = sum.wrapping_add(bytes[at]);
                }
                std::hint::black_box(sum);
            });
            return;
        }
        if !matches!(self.source, Source::Gzip { eof: false, .. }) {
            return;
        }
        let Source::Gzip {
            decoder,
            buf,
            start,
            eof: _,
            error,
        } = std::mem::replace(&mut self.source, Source::Done { error: None })
        else {
            return;
        };
        self.source = Source::Inflated(Box::new(spawn_reader(
            scope,
            "scap-inflate",
            decoder,
            INFLATED_SIZE,
            buf,
            start,
            error,
        )));
    }

    /// Lets an inflating thread go: nothing more is read.
    pub(super) fn stop_inflating(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Source::Inflated(inflated) = &mut self.source {
            let error = inflated.error.take();
            self.source = Source::Done { error };
        }
    }

    /// Offset of the next block in the decompressed capture.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The decompression error that ended a gzip stream early, if any.
    pub(super) fn stream_error(&self) -> Option<&io::Error> {
        match &self.source {
            Source::Gzip { error, .. } | Source::Done { error } => error.as_ref(),
            Source::Inflated(inflated) => inflated.error.as_ref(),
            Source::Slice { .. } => None,
        }
    }

    /// Makes at least `want` bytes available and returns what is there
    /// (fewer only at the end of the input).
    #[inline]
    fn available(&mut self, want: usize) -> &[u8] {
        match &self.source {
            Source::Slice { .. } => {}
            _ => return self.fill_available(want),
        }
        match &self.source {
            Source::Slice { data, pos } => &D::as_ref(data)[*pos..],
            _ => &[],
        }
    }

    /// [`Blocks::available`] of the sources that are read into buffers.
    #[inline(never)]
    fn fill_available(&mut self, want: usize) -> &[u8] {
        match &mut self.source {
            Source::Slice { data, pos } => &D::as_ref(data)[*pos..],
            Source::Gzip {
                decoder,
                buf,
                start,
                eof,
                error,
            } => {
                while buf.len() - *start < want && !*eof {
                    if *start > 0 {
                        buf.drain(..*start);
                        *start = 0;
                    }
                    let have = buf.len();
                    let grow = (want - have).max(READ_SIZE);
                    buf.resize(have + grow, 0);
                    let mut filled = have;
                    while filled < buf.len() {
                        match decoder.read(&mut buf[filled..]) {
                            Ok(0) => {
                                *eof = true;
                                break;
                            }
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                *error = Some(e);
                                *eof = true;
                                break;
                            }
                        }
                    }
                    buf.truncate(filled);
                }
                &buf[*start..]
            }
            Source::Inflated(inflated) => inflated.available(want),
            Source::Done { .. } => &[],
        }
    }

    /// The first `n` bytes not read yet (fewer at the end of the input).
    pub(super) fn peek(&mut self, n: usize) -> &[u8] {
        let bytes = self.available(n);
        &bytes[..n.min(bytes.len())]
    }

    fn consume(&mut self, len: usize) {
        self.offset += len as u64;
        match &mut self.source {
            Source::Slice { pos, .. } => *pos += len,
            Source::Gzip { start, .. } => *start += len,
            Source::Inflated(inflated) => inflated.pos += len,
            Source::Done { .. } => {}
        }
    }

    /// Delimits the next block: its type and total length, or why there is
    /// none. Its bytes are then available.
    #[inline]
    fn frame(&mut self) -> Result<(u32, usize), Next<'static>> {
        let head = self.available(8);
        if head.is_empty() {
            return Err(Next::End);
        }
        if head.len() < 8 {
            return Err(Next::Truncated {
                partial: head.len() as u64,
            });
        }
        let kind = u32_at(head, 0);
        let total = u32_at(head, 4) as usize;
        if total < FRAMING || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Err(Next::Damaged(format!(
                "block of type {kind:#x} declares an impossible length of {total} bytes"
            )));
        }
        let bytes = self.available(total);
        if bytes.len() < total {
            return Err(Next::Truncated {
                partial: bytes.len() as u64,
            });
        }
        if u32_at(bytes, total - 4) as usize != total {
            return Err(Next::Damaged(format!(
                "block of type {kind:#x} ends with a length that differs from its start"
            )));
        }
        Ok((kind, total))
    }

    /// The next block, left to be read again.
    pub(super) fn peek_block(&mut self) -> Next<'_> {
        match self.frame() {
            Err(next) => next,
            Ok((kind, total)) => Next::Block {
                kind,
                body: &self.available(total)[8..total - 4],
            },
        }
    }

    /// Goes past the next block, if there is one.
    pub(super) fn skip_block(&mut self) {
        if let Ok((_, total)) = self.frame() {
            self.consume(total);
        }
    }

    /// The next block.
    #[inline]
    pub(super) fn next_block(&mut self) -> Next<'_> {
        // A whole, well-formed block of a mapped capture (nearly every
        // one) is delimited here without going through `frame`.
        let whole = match &self.source {
            Source::Slice { data, pos } => {
                let rest = &D::as_ref(data)[*pos..];
                if rest.len() >= 8 {
                    let kind = u32_at(rest, 0);
                    let total = u32_at(rest, 4) as usize;
                    let fits = (FRAMING..=MAX_BLOCK).contains(&total)
                        && total.is_multiple_of(4)
                        && rest.len() >= total
                        && u32_at(rest, total - 4) as usize == total;
                    fits.then_some((kind, *pos, total))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some((kind, start, total)) = whole {
            self.consume(total);
            return match &self.source {
                Source::Slice { data, .. } => Next::Block {
                    kind,
                    body: &D::as_ref(data)[start + 8..start + total - 4],
                },
                _ => Next::End,
            };
        }
        self.next_framed()
    }

    /// [`Blocks::next_block`] through `frame`.
    #[inline(never)]
    fn next_framed(&mut self) -> Next<'_> {
        let (kind, total) = match self.frame() {
            Ok(framed) => framed,
            Err(next) => return next,
        };
        self.consume(total);
        let (bytes, end): (&[u8], usize) = match &self.source {
            Source::Slice { data, pos } => (D::as_ref(data), *pos),
            Source::Gzip { buf, start, .. } => (&buf[..], *start),
            Source::Inflated(inflated) => (&inflated.cur[..], inflated.pos),
            Source::Done { .. } => return Next::End,
        };
        Next::Block {
            kind,
            body: &bytes[end - total + 8..end - 4],
        }
    }
}

/// Starts a thread of `scope` that reads `input` ahead into buffers of
/// `size` bytes; the reading end starts with `buf[start..]`.
fn spawn_reader<'scope, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    input: R,
    size: usize,
    buf: Vec<u8>,
    start: usize,
    error: Option<io::Error>,
) -> Inflated {
    let (send, buffers) = sync_channel(INFLATED_AHEAD);
    let (recycle, recycled) = sync_channel::<Vec<u8>>(INFLATED_AHEAD + 2);
    super::spawn_named(scope, name, move || {
        read_ahead(input, size, &send, &recycled);
    });
    Inflated {
        cur: buf,
        pos: start,
        next: None,
        buffers,
        recycle,
        eof: false,
        error,
    }
}

/// The reading thread: fills buffers and sends them until the input ends,
/// fails, or nobody reads any more.
fn read_ahead<R: Read>(
    mut decoder: R,
    size: usize,
    send: &SyncSender<io::Result<Vec<u8>>>,
    recycled: &Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.clear();
        buf.resize(size, 0);
        let mut filled = 0;
        let mut end = None;
        while filled < buf.len() {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => {
                    end = Some(None);
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(Some(e));
                    break;
                }
            }
        }
        buf.truncate(filled);
        if filled > 0 && send.send(Ok(buf)).is_err() {
            return;
        }
        match end {
            None => {}
            Some(None) => return,
            Some(Some(error)) => {
                let _ = send.send(Err(error));
                return;
            }
        }
    }
}

/// A little-endian u32 at `at` (the caller checked the length).
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
