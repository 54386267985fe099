//! The trace writer: header and snapshot first, then compressed event
//! chunks and statistics as they come, and on `finish` the index footer.
//!
//! Every block is handed to the underlying writer and flushed as soon as it
//! is complete, so a writer killed at any moment leaves a file whose
//! complete chunks all read back.

use std::borrow::Cow;
use std::io::Write;

use rustc_hash::FxHashMap;

use crate::block::{self, FLAG_ZSTD, kind};
use crate::chunk::{ChunkBuilder, EventHead, FinishedChunk, ParamEncoder};
use crate::error::{FormatError, Result};
use crate::index::{ChunkSummary, ContainerEntry, IndexEntry, PayloadLayout, StatsEntry};
use crate::model::{CaptureStats, ContainerInfo, Event, FileHeader, Snapshot};

/// Tuning of a [`TraceWriter`].
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// A chunk is sealed once it holds this many events.
    pub chunk_events: u32,
    /// A chunk is sealed once its payload reaches this many bytes.
    pub chunk_bytes: usize,
    /// zstd compression level.
    pub level: i32,
    /// Compress blocks with zstd. Off only for traces built in memory to be
    /// read at once, where compression would cost time for nothing.
    pub compress: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            chunk_events: 32 * 1024,
            chunk_bytes: 2 << 20,
            level: 3,
            compress: true,
        }
    }
}

/// Snapshots up to this size are compressed at [`SMALL_SNAPSHOT_LEVEL`].
const SMALL_SNAPSHOT: usize = 256 << 10;
/// zstd level of small snapshots.
const SMALL_SNAPSHOT_LEVEL: i32 = 19;

/// Container id given to processes the writer was told nothing about.
pub const HOST_CONTAINER: &str = "host";

/// The container id a cgroup name carries: its first run of exactly 64 hex
/// digits (`docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `libpod-<id>.scope`, `nerdctl-<id>.scope`, or the
/// bare id of the cgroupfs driver), or else the machine name of a
/// systemd-machined scope (`machine-<name>.scope`: systemd-nspawn
/// containers and the VMs registered with machined), unescaped. `None` for
/// host cgroups (`session-3.scope`, `user@1000.service`). The one rule
/// shared by the capture (for chunk summaries) and the analyser (for
/// `container.id`), so that a summary never disagrees with what a reader
/// computes.
pub fn container_id_of_cgroup(cgroup: &[u8]) -> Option<Cow<'_, str>> {
    let mut run_start = 0;
    for (index, byte) in cgroup.iter().chain(std::iter::once(&b'/')).enumerate() {
        if byte.is_ascii_hexdigit() {
            continue;
        }
        if index - run_start == 64 {
            return std::str::from_utf8(&cgroup[run_start..index])
                .ok()
                .map(Cow::Borrowed);
        }
        run_start = index + 1;
    }
    // The innermost machine: one nested in another is its own.
    cgroup.rsplit(|&b| b == b'/').find_map(machine_name)
}

/// The machine name of `machine-<name>.scope`, with systemd's unit name
/// escapes (`\x2d` for `-`) undone.
fn machine_name(component: &[u8]) -> Option<Cow<'_, str>> {
    let name = component
        .strip_prefix(b"machine-")?
        .strip_suffix(b".scope")?;
    let name = std::str::from_utf8(name).ok().filter(|n| !n.is_empty())?;
    if !name.contains('\\') {
        return Some(Cow::Borrowed(name));
    }
    let out = crate::text::unescape(name.as_bytes(), crate::text::Escape::Hex);
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Writes a `.scry` file to any [`Write`].
pub struct TraceWriter<W: Write> {
    out: W,
    written: u64,
    options: WriterOptions,
    builder: ChunkBuilder,
    compressor: zstd::bulk::Compressor<'static>,
    block_buf: Vec<u8>,
    index: Vec<IndexEntry>,
    stats: Vec<StatsEntry>,
    recorded_containers: Vec<ContainerEntry>,
    next_num: u64,
    containers: FxHashMap<u32, String>,
}

impl<W: Write> std::fmt::Debug for TraceWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceWriter")
            .field("written", &self.written)
            .field("chunks", &self.index.len())
            .field("events", &self.events_written())
            .finish_non_exhaustive()
    }
}

impl<W: Write> TraceWriter<W> {
    /// Starts a file: writes the header and the state snapshot.
    ///
    /// # Errors
    /// I/O errors of `out`, or a snapshot too large to encode.
    pub fn new(
        out: W,
        header: &FileHeader,
        snapshot: &Snapshot,
        options: WriterOptions,
    ) -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(options.level)?;
        let mut containers = FxHashMap::default();
        for process in &snapshot.processes {
            let id = if process.container_id.is_empty() {
                HOST_CONTAINER
            } else {
                &process.container_id
            };
            containers.insert(process.pid, id.to_owned());
        }
        let mut writer = TraceWriter {
            out,
            written: 0,
            options,
            builder: ChunkBuilder::new(),
            compressor,
            block_buf: Vec::new(),
            index: Vec::new(),
            stats: Vec::new(),
            recorded_containers: Vec::new(),
            next_num: 0,
            containers,
        };
        let header_bytes = block::encode_file_header(header);
        writer.write_raw(&header_bytes)?;
        let snapshot_bytes = crate::codec::encode_snapshot(snapshot);
        // A snapshot is written once: when it is small (most are), the
        // strongest level costs milliseconds and saves a tenth of its size.
        let level = if snapshot_bytes.len() <= SMALL_SNAPSHOT {
            SMALL_SNAPSHOT_LEVEL
        } else {
            writer.options.level
        };
        let body = writer.compress_at(&snapshot_bytes, "snapshot", level)?;
        let flags = writer.block_flags();
        writer.write_block(kind::SNAPSHOT, flags, &[], &body)?;
        writer.out.flush()?;
        Ok(writer)
    }

    /// Records that process `tgid` runs in container `id` (`host` or empty
    /// for the host), for the chunk summaries. A chunk with an event of a
    /// process the writer knows nothing about (neither in the snapshot nor
    /// named here) says its container list is incomplete, so that no
    /// reader skips it by container.
    pub fn set_container(&mut self, tgid: u32, id: &str) {
        let id = if id.is_empty() { HOST_CONTAINER } else { id };
        self.containers.insert(tgid, id.to_owned());
    }

    /// Forgets the container of process `tgid`: its next events make their
    /// chunk's container list incomplete, until [`TraceWriter::set_container`]
    /// names it again. For an event whose container a reader could see
    /// either way (the exec that moves a process into a container).
    pub fn forget_container(&mut self, tgid: u32) {
        self.containers.remove(&tgid);
    }

    /// The container the writer attributes process `tgid` to, if it knows.
    pub fn container_of(&self, tgid: u32) -> Option<&str> {
        self.containers.get(&tgid).map(String::as_str)
    }

    /// Appends one event. Events should come in time order; small
    /// inversions (from merging per-CPU buffers) are allowed.
    ///
    /// # Errors
    /// I/O errors when a full chunk is written out.
    pub fn push(&mut self, event: &Event) -> Result<()> {
        let container = self.containers.get(&event.tgid).map(String::as_str);
        self.builder.push(event, container);
        if self.builder.events() >= self.options.chunk_events
            || self.builder.raw_len() >= self.options.chunk_bytes
        {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Appends one event whose parameters `encode` writes in order (see
    /// [`ChunkBuilder::push_encoded`]).
    ///
    /// # Errors
    /// I/O errors when a full chunk is written out.
    pub fn push_encoded(
        &mut self,
        head: &EventHead,
        encode: impl FnOnce(&mut ParamEncoder<'_>),
    ) -> Result<()> {
        let container = self.containers.get(&head.tgid).map(String::as_str);
        self.builder.push_encoded(head, container, encode);
        if self.builder.events() >= self.options.chunk_events
            || self.builder.raw_len() >= self.options.chunk_bytes
        {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Seals the events pushed so far into a chunk and writes it out, even if
    /// it is not full (a capture calls this periodically so that a crash
    /// loses little). Does nothing when no event is pending.
    ///
    /// # Errors
    /// I/O errors of the underlying writer.
    pub fn flush_chunk(&mut self) -> Result<()> {
        if self.builder.events() == 0 {
            return Ok(());
        }
        let builder = std::mem::take(&mut self.builder);
        self.write_built(builder)
    }

    /// Writes the events of `chunk`, built apart from this writer (on
    /// another thread, with the containers this writer knows), as the next
    /// chunk; events pushed before are written first. An empty builder
    /// writes nothing.
    ///
    /// # Errors
    /// I/O errors of the underlying writer.
    pub fn push_chunk(&mut self, chunk: ChunkBuilder) -> Result<()> {
        self.flush_chunk()?;
        if chunk.events() == 0 {
            return Ok(());
        }
        self.write_built(chunk)
    }

    fn write_built(&mut self, builder: ChunkBuilder) -> Result<()> {
        let FinishedChunk {
            summary,
            payload,
            params,
            blob,
        } = builder.finish(self.next_num);
        let main = self.compress(&payload, "chunk")?;
        let mut body = Vec::with_capacity(4 + main.len() + blob.len() / 2);
        body.extend_from_slice(&(main.len() as u32).to_le_bytes());
        body.extend_from_slice(&main);
        if summary.layout == PayloadLayout::Split {
            let frame = self.compress(&params, "chunk parameters")?;
            body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            body.extend_from_slice(&(params.len() as u32).to_le_bytes());
            body.extend_from_slice(&frame);
        }
        if !blob.is_empty() {
            body.extend_from_slice(&self.compress(&blob, "chunk buffers")?);
        }
        self.write_chunk(summary, &body)
    }

    fn write_chunk(&mut self, summary: ChunkSummary, body: &[u8]) -> Result<()> {
        let meta = crate::codec::encode_summary(&summary);
        let offset = self.written;
        let flags = self.block_flags();
        let block_len = self.write_block(kind::CHUNK, flags, meta.as_bytes(), body)?;
        self.next_num += u64::from(summary.events);
        self.index.push(IndexEntry {
            offset,
            block_len,
            summary,
        });
        self.out.flush()?;
        Ok(())
    }

    /// Records capture statistics. Pending events are written first, so the
    /// statistics follow every event they count.
    ///
    /// # Errors
    /// I/O errors of the underlying writer.
    pub fn write_stats(&mut self, stats: &CaptureStats) -> Result<()> {
        self.flush_chunk()?;
        let meta = crate::codec::encode_stats(stats);
        let offset = self.written;
        self.write_block(kind::STATS, 0, meta.as_bytes(), &[])?;
        self.stats.push(StatsEntry {
            offset,
            stats: stats.clone(),
        });
        self.out.flush()?;
        Ok(())
    }

    /// Records a container first seen during the capture (one the snapshot
    /// does not describe), so that readers know its runtime, name and image
    /// (1.4). Written at once: it comes before the chunk of the event that
    /// revealed it.
    ///
    /// # Errors
    /// I/O errors of the underlying writer.
    pub fn write_container(&mut self, info: &ContainerInfo) -> Result<()> {
        let meta = crate::codec::encode_container(info);
        let offset = self.written;
        self.write_block(kind::CONTAINER, 0, meta.as_bytes(), &[])?;
        self.recorded_containers.push(ContainerEntry {
            offset,
            info: info.clone(),
        });
        self.out.flush()?;
        Ok(())
    }

    /// Events written or pending so far.
    pub fn events_written(&self) -> u64 {
        self.next_num + u64::from(self.builder.events())
    }

    /// Bytes handed to the underlying writer so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes pending events, the index and the trailer, and returns the
    /// underlying writer.
    ///
    /// # Errors
    /// I/O errors of the underlying writer.
    pub fn finish(mut self) -> Result<W> {
        self.flush_chunk()?;
        let index = crate::codec::encode_index(&self.index, &self.stats, &self.recorded_containers);
        let offset = self.written;
        self.write_block(kind::INDEX, 0, &index, &[])?;
        self.write_raw(&block::encode_trailer(offset))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn block_flags(&self) -> u8 {
        if self.options.compress { FLAG_ZSTD } else { 0 }
    }

    fn compress(&mut self, data: &[u8], what: &'static str) -> Result<Vec<u8>> {
        if data.len() > block::MAX_BLOCK_LEN {
            return Err(FormatError::Encode {
                what,
                reason: format!("{} bytes is too large", data.len()),
            });
        }
        if !self.options.compress {
            return Ok(data.to_vec());
        }
        Ok(self.compressor.compress(data)?)
    }

    /// As [`TraceWriter::compress`], at another level than the writer's.
    fn compress_at(&mut self, data: &[u8], what: &'static str, level: i32) -> Result<Vec<u8>> {
        if level == self.options.level || !self.options.compress {
            return self.compress(data, what);
        }
        if data.len() > block::MAX_BLOCK_LEN {
            return Err(FormatError::Encode {
                what,
                reason: format!("{} bytes is too large", data.len()),
            });
        }
        Ok(zstd::bulk::compress(data, level)?)
    }

    fn write_block(&mut self, kind: u8, flags: u8, meta: &[u8], body: &[u8]) -> Result<u64> {
        let mut buf = std::mem::take(&mut self.block_buf);
        buf.clear();
        block::encode_block(&mut buf, kind, flags, meta, body);
        let result = self.write_raw(&buf);
        let len = buf.len() as u64;
        self.block_buf = buf;
        result.map(|()| len)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_come_from_runtime_scopes_and_machine_names() {
        let id = "0123456789abcdef".repeat(4);
        for cgroup in [
            format!("docker-{id}.scope"),
            format!("nerdctl-{id}.scope"),
            format!("cri-containerd-{id}.scope"),
            id.clone(),
        ] {
            assert_eq!(
                container_id_of_cgroup(cgroup.as_bytes()).as_deref(),
                Some(id.as_str()),
                "{cgroup}"
            );
        }
        assert_eq!(
            container_id_of_cgroup(b"machine-web.scope"),
            Some(Cow::Borrowed("web"))
        );
        assert_eq!(
            container_id_of_cgroup(b"machine-qemu\\x2d1\\x2dvm.scope").as_deref(),
            Some("qemu-1-vm")
        );
        // An escape cut short stays as it is.
        assert_eq!(
            container_id_of_cgroup(b"machine-a\\x2.scope").as_deref(),
            Some("a\\x2")
        );
        for host in [
            &b"session-3.scope"[..],
            b"machine.slice",
            b"machine-.scope",
            b"machine-web.service",
            b"",
        ] {
            assert_eq!(container_id_of_cgroup(host), None);
        }
    }
}
