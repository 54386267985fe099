//! Drives the probe: opens the skeleton, sets its knobs, installs one ring
//! buffer per CPU, attaches, and drains the rings into time-stamped
//! records. The only module that talks to libbpf.

use std::mem::MaybeUninit;
use std::os::fd::AsFd;

use libbpf_rs::ErrorKind;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use scry_format::{CaptureStats, CpuStats};
use scry_probe::skel::ScrySkelBuilder;
use scry_probe::{
    abi, add_cgroup, add_target, batch_records, choose_stash, flush_stage, install_rings,
    read_counters, task_storage_usable,
};

use crate::decode;
use crate::error::{CaptureError, Result};
use crate::reorder::Drain;
use crate::ring::RingReader;

/// Largest snaplen the probe supports.
pub(crate) const SNAPLEN_MAX: u32 = abi::SNAPLEN_MAX;
const PAGE: u64 = 4096;
const RING_MAX: u64 = 1 << 30;

/// How the probe is set up.
#[derive(Debug, Clone)]
pub(crate) struct ProbeConfig {
    pub(crate) snaplen: u32,
    pub(crate) ring_bytes: u64,
    pub(crate) self_tgid: u32,
    /// Record only these processes and what they start (`None`: all).
    pub(crate) targets: Option<Vec<u32>>,
    /// Record also the processes in these cgroups (v2 ids), and in those
    /// added later with [`Session::add_cgroups`] (`None`: no cgroup is
    /// matched).
    pub(crate) cgroups: Option<Vec<u64>>,
    /// Record only the syscalls whose number is set (`None`: all).
    pub(crate) syscalls: Option<Vec<bool>>,
    /// The running kernel's `major.minor` (`(0, 0)` if unknown: the most
    /// portable probe variant is used).
    pub(crate) kernel: (u32, u32),
}

/// Most records read from one ring in one drain. A ring whose producer is
/// faster than the reader would otherwise keep one read going forever,
/// while the other rings fill and nothing reaches the writer.
const RECORDS_PER_DRAIN: usize = 1 << 15;

/// How many times a CPU is asked to flush its stage before a drain: it
/// refuses only while it builds a record, which takes a microsecond.
const FLUSH_TRIES: usize = 4;

/// What one drain read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Records that could not be decoded.
    pub(crate) malformed: u64,
    /// Set when a ring had more than one drain's worth, or its CPU was
    /// building a record each time it was asked to flush: the time of the
    /// last event read from the most behind of those rings. Events after it
    /// are still to come from that CPU, so nothing later may be released
    /// yet.
    pub(crate) behind: Option<u64>,
}

/// A loaded, attached probe.
pub(crate) struct Session<'a> {
    skel: scry_probe::skel::ScrySkel<'a>,
    /// One reader per CPU ring, so that each is read with its own budget.
    rings: Vec<RingReader>,
    /// Per ring, the time of the last event read from it.
    last_ts: Vec<u64>,
    boot_time_ns: u64,
    ring_bytes: u64,
}

/// Bytes a CPU stages before sending them to its ring as one batch: a
/// quarter of the ring at most, so that a batch always fits in an empty
/// ring and a ring holds several.
fn stage_flush(ring_bytes: u64) -> u32 {
    u32::try_from(ring_bytes / 4)
        .unwrap_or(u32::MAX)
        .min(abi::RECORD_MAX)
}

/// Whether `cpu` is offline now (a CPU without an `online` file, like the
/// boot CPU, cannot go offline).
fn cpu_is_offline(cpu: usize) -> bool {
    std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{cpu}/online"))
        .is_ok_and(|state| state.trim() == "0")
}

/// The ring size actually used for a requested size: a power of two of at
/// least a page, at most 1 GiB.
pub(crate) fn ring_size(requested: u64) -> u64 {
    requested.clamp(PAGE, RING_MAX).next_power_of_two()
}

fn load_error(error: libbpf_rs::Error) -> CaptureError {
    match error.kind() {
        ErrorKind::PermissionDenied => CaptureError::NotPermitted {
            detail: error.to_string(),
        },
        _ => CaptureError::Load(format!("{error:#}")),
    }
}

fn cgroup_error(id: u64, error: &libbpf_rs::Error) -> CaptureError {
    CaptureError::Load(format!(
        "adding cgroup {id} to the recorded cgroups (at most {}): {error:#}",
        abi::CGROUPS_MAX
    ))
}

/// Loads and attaches the probe, runs `body` with it, and detaches it when
/// `body` returns. `boot_time_ns` converts the probe's clock to wall time.
pub(crate) fn with_probe<T>(
    config: &ProbeConfig,
    boot_time_ns: u64,
    body: impl FnOnce(&mut Session<'_>) -> Result<T>,
) -> Result<T> {
    let ncpus = libbpf_rs::num_possible_cpus()
        .map_err(|e| CaptureError::Unsupported(format!("cannot count the CPUs: {e}")))?;
    let ring_bytes = ring_size(config.ring_bytes);
    let mut storage = MaybeUninit::uninit();
    let mut open_skel = ScrySkelBuilder::default()
        .open(&mut storage)
        .map_err(load_error)?;
    let rodata =
        open_skel.maps.rodata_data.as_deref_mut().ok_or_else(|| {
            CaptureError::Load("the probe has no read-only data section".to_owned())
        })?;
    rodata.targ_snaplen = config.snaplen.min(SNAPLEN_MAX);
    rodata.targ_self_tgid = config.self_tgid;
    rodata.targ_targets = u32::from(config.targets.is_some());
    rodata.targ_cgroups = u32::from(config.cgroups.is_some());
    rodata.targ_stage_flush = stage_flush(ring_bytes);
    if let Some(syscalls) = &config.syscalls {
        for (slot, &on) in rodata.targ_syscalls.iter_mut().zip(syscalls) {
            *slot = u8::from(on);
        }
        // A chosen set names syscalls: numbers nobody could choose are out.
        rodata.targ_unknown_syscalls = 0;
    }
    open_skel
        .maps
        .events
        .set_max_entries(u32::try_from(ncpus).unwrap_or(u32::MAX))
        .map_err(load_error)?;
    choose_stash(&mut open_skel, task_storage_usable(config.kernel)).map_err(load_error)?;
    let mut skel = open_skel.load().map_err(load_error)?;
    // Before attaching: the kernel follows forks only from then on, and a
    // target must be recorded from its first event.
    for &tgid in config.targets.iter().flatten() {
        add_target(&skel.maps.targets, tgid).map_err(|e| {
            CaptureError::Load(format!("adding process {tgid} to the targets: {e:#}"))
        })?;
    }
    for &id in config.cgroups.iter().flatten() {
        add_cgroup(&skel.maps.cgroups, id).map_err(|e| cgroup_error(id, &e))?;
    }
    let rings = install_rings(&skel.maps.events, ncpus, ring_bytes as u32)
        .map_err(|e| CaptureError::Load(format!("creating the ring buffers: {e:#}")))?;
    let readers = rings
        .iter()
        .map(|ring| RingReader::new(ring.as_fd(), ring_bytes as usize))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| CaptureError::Load(format!("mapping the ring buffers: {e}")))?;
    skel.attach().map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied => CaptureError::NotPermitted {
            detail: e.to_string(),
        },
        _ => CaptureError::Attach {
            program: "the syscall tracepoints".to_owned(),
            detail: format!("{e:#}"),
        },
    })?;
    let mut session = Session {
        skel,
        last_ts: vec![0; readers.len()],
        rings: readers,
        boot_time_ns,
        ring_bytes,
    };
    body(&mut session)
}

impl Session<'_> {
    /// Ring buffer size per CPU in bytes.
    pub(crate) fn ring_bytes(&self) -> u64 {
        self.ring_bytes
    }

    /// Copies the records waiting in the rings, at most
    /// [`RECORDS_PER_DRAIN`] per ring, into `drain`. They are decoded on
    /// the writer thread; here only their time is read, to order them.
    pub(crate) fn drain(&mut self, drain: &mut Drain) -> Result<Drained> {
        let busy = self.flush_stages()?;
        let mut behind: Option<u64> = None;
        let mut malformed = 0;
        for (index, ring) in self.rings.iter_mut().enumerate() {
            let last_ts = &mut self.last_ts[index];
            let read = ring.read(RECORDS_PER_DRAIN, |batch| {
                let mut records = 0;
                for record in batch_records(batch) {
                    records += 1;
                    match record {
                        Some((header, record)) => {
                            let ts = decode::event_ts(header, self.boot_time_ns);
                            *last_ts = ts;
                            drain.push(ts, record);
                        }
                        None => malformed += 1,
                    }
                }
                records
            });
            // A CPU that could not flush, like a ring read only in part,
            // has records after the last one read.
            if read >= RECORDS_PER_DRAIN || busy[index] {
                behind = Some(behind.map_or(*last_ts, |b| b.min(*last_ts)));
            }
        }
        Ok(Drained { malformed, behind })
    }

    /// Sends the records every CPU has staged to its ring, and says which
    /// CPUs were building a record every time they were asked: what they
    /// staged is still to come.
    fn flush_stages(&self) -> Result<Vec<bool>> {
        let mut busy = vec![false; self.rings.len()];
        for (cpu, busy) in busy.iter_mut().enumerate() {
            *busy = true;
            for _ in 0..FLUSH_TRIES {
                let flushed = flush_stage(
                    &self.skel.progs.handle__flush,
                    u32::try_from(cpu).unwrap_or(u32::MAX),
                );
                match flushed {
                    Ok(true) => {
                        *busy = false;
                        break;
                    }
                    Ok(false) => {}
                    // An offline CPU has staged nothing.
                    Err(_) if cpu_is_offline(cpu) => {
                        *busy = false;
                        break;
                    }
                    Err(error) => {
                        return Err(CaptureError::Load(format!(
                            "flushing the records staged on CPU {cpu}: {error:#}"
                        )));
                    }
                }
            }
        }
        Ok(busy)
    }

    /// Detaches every program: from now on the kernel delivers nothing
    /// more, so once the rings are drained, what the counters say was
    /// delivered is exactly what was read.
    pub(crate) fn detach(&mut self) {
        self.skel.links = scry_probe::skel::ScryLinks::default();
    }

    /// Adds processes to the targets of an attached probe (those found
    /// after attaching; a process already there is harmless).
    pub(crate) fn add_targets(&self, tgids: &[u32]) -> Result<()> {
        for &tgid in tgids {
            add_target(&self.skel.maps.targets, tgid).map_err(|e| {
                CaptureError::Load(format!("adding process {tgid} to the targets: {e:#}"))
            })?;
        }
        Ok(())
    }

    /// Makes the processes of more cgroups recorded, from their next
    /// syscall on.
    pub(crate) fn add_cgroups(&self, ids: &[u64]) -> Result<()> {
        for &id in ids {
            add_cgroup(&self.skel.maps.cgroups, id).map_err(|e| cgroup_error(id, &e))?;
        }
        Ok(())
    }

    /// Children of targets the full `targets` map could not take: they
    /// ran unrecorded.
    pub(crate) fn targets_full(&self) -> Result<u64> {
        let counters = read_counters(&self.skel.maps.counters)
            .map_err(|e| CaptureError::Load(format!("reading the probe's counters: {e:#}")))?;
        Ok(counters.iter().map(|c| c.targets_full).sum())
    }

    /// The probe's per-CPU counters as capture statistics.
    pub(crate) fn stats(&self, events_written: u64, now_ns: u64) -> Result<CaptureStats> {
        let counters = read_counters(&self.skel.maps.counters)
            .map_err(|e| CaptureError::Load(format!("reading the probe's counters: {e:#}")))?;
        let cpus = counters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.delivered > 0 || c.dropped > 0 || c.dropped_no_ring > 0)
            .map(|(cpu, c)| CpuStats {
                cpu: cpu as u32,
                delivered: c.delivered,
                dropped: c.dropped + c.dropped_no_ring,
            })
            .collect();
        Ok(CaptureStats {
            ts: now_ns,
            cpus,
            events_written,
            ..CaptureStats::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_are_powers_of_two_pages() {
        assert_eq!(ring_size(0), 4096);
        assert_eq!(ring_size(8 << 20), 8 << 20);
        assert_eq!(ring_size(5 << 20), 8 << 20);
        assert_eq!(ring_size(u64::MAX), 1 << 30);
    }
}
