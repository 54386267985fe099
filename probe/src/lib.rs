//! scry-probe owns the kernel side of the capture: the CO-RE BPF programs,
//! the ABI header they share with user space, the vendored `vmlinux.h`, and
//! the build step that compiles them into a libbpf skeleton. It is the only
//! crate that needs clang.
//!
//! # Using the skeleton
//!
//! ```text
//! ScrySkelBuilder::default().open(&mut storage)   -> OpenScrySkel
//!   knobs:      let ro = open_skel.maps.rodata_data.as_deref_mut().unwrap();
//!               ro.targ_snaplen (u32, default 80, capped at SNAPLEN_MAX),
//!               ro.targ_self_tgid (u32, skipped tgid, 0 = none),
//!               ro.targ_tgid (u32, only this tgid, 0 = all),
//!               ro.targ_targets (u32, 1 = only the tgids in the `targets`
//!               map, which follows forks and exits in the kernel),
//!               ro.targ_cgroups (u32, 1 = also the processes whose cgroup
//!               v2 id is in the `cgroups` map),
//!               ro.targ_syscalls[nr] (u8, 1 = record; all 1 by default)
//!               ro.targ_unknown_syscalls (u32, 1 = record numbers outside
//!               targ_syscalls; default 1)
//!               ro.targ_stage_flush (u32, bytes staged per CPU before they
//!               go to the ring as one sample; at most RECORD_MAX and a
//!               quarter of the ring)
//!   stash:      choose_stash(&mut open_skel, task_storage_usable(release))
//!               (required: it picks one of the two sys_enter/sys_exit pairs)
//!   size:       open_skel.maps.events.set_max_entries(num_possible_cpus)
//!               open_skel.maps.inflight / inflight_ext .set_max_entries(..)
//!               (threads inside a syscall at once; 65536 / 4096 by default)
//! .load()                                          -> ScrySkel
//!   rings:      install_rings(&skel.maps.events, ncpus, bytes) -> Vec<MapHandle>
//!   targets:    add_target(&skel.maps.targets, tgid) for each initial target
//!               (with targ_targets; TARGETS_MAX at once)
//!   cgroups:    add_cgroup(&skel.maps.cgroups, id) (with targ_cgroups;
//!               CGROUPS_MAX at once; also while attached)
//!   consumer:   RingBufferBuilder::add(&ring, cb) for each ring, build(),
//!               or a reader of the ring's own memory map
//! .attach()                                        -> programs run
//!   drain:      on a timer: flush_stage(&skel.progs.handle__flush, cpu)
//!               for every CPU, then consume each ring and split each sample
//!               with batch_records (records are submitted with
//!               BPF_RB_NO_WAKEUP, so epoll never fires: do not rely on poll)
//!   stats:      read_counters(&skel.maps.counters) -> one scry_counters per CPU
//! ```
//!
//! Ring buffers: `events` is a `BPF_MAP_TYPE_ARRAY_OF_MAPS` whose slot `cpu`
//! holds that CPU's `BPF_MAP_TYPE_RINGBUF`. User space creates the rings after
//! load, any power-of-two multiple of the page size each (the kernel does not
//! compare `max_entries` of ring-buffer inner maps against the prototype), and
//! inserts them with a map update; [`install_rings`] does both. Insert them
//! before attaching: a record emitted on a CPU without a ring is counted in
//! `dropped_no_ring`.
//!
//! Records: one ring sample is one record, a
//! [`scry_event_header`] followed by `nparams` packed parameters, each a
//! [`scry_param`] header and `len` value bytes, with no padding (so a
//! parameter may be unaligned: use [`param_header_of`], which copies). The
//! per-syscall parameter table and the value encodings are documented in
//! `bpf/abi.h`; its enums (limits, kinds, flags, event types) are generated as
//! `skel::types::scry_*` newtypes with associated constants, re-exported with
//! plain integer types in [`abi`].

use libbpf_rs::MapCore;
use libbpf_rs::MapFlags;
use libbpf_rs::MapHandle;
use libbpf_rs::MapType;
use libbpf_rs::libbpf_sys;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;

/// The generated libbpf skeleton (`ScrySkelBuilder`, `OpenScrySkel`,
/// `ScrySkel`) and the ABI types from `bpf/abi.h` (`types::scry_*`).
#[allow(
    unsafe_code,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    missing_debug_implementations,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::unwrap_used
)]
pub mod skel {
    include!(concat!(env!("OUT_DIR"), "/scry.skel.rs"));
}

pub use skel::types::scry_counters;
pub use skel::types::scry_event_header;
pub use skel::types::scry_param;

// SAFETY: `scry_event_header` is `#[repr(C)]` with only integer fields and no
// padding (48 bytes), so every byte pattern of the right size is a valid value.
#[allow(unsafe_code)]
unsafe impl plain::Plain for scry_event_header {}

// SAFETY: `scry_param` is `#[repr(C)]`, two `u8` and one `u16`, no padding:
// any 4 bytes are a valid value.
#[allow(unsafe_code)]
unsafe impl plain::Plain for scry_param {}

// SAFETY: `scry_counters` is `#[repr(C)]`, five `u64`, no padding: any 40
// bytes are a valid value.
#[allow(unsafe_code)]
unsafe impl plain::Plain for scry_counters {}

/// The constants of `bpf/abi.h`, taken from the generated
/// `skel::types::scry_*` enums and given the integer type of the field they
/// are compared with.
#[allow(clippy::cast_possible_truncation)]
pub mod abi {
    use crate::skel::types::scry_event_type;
    use crate::skel::types::scry_header_flags;
    use crate::skel::types::scry_limits;
    use crate::skel::types::scry_param_flags;
    use crate::skel::types::scry_param_kind;

    // The narrowing casts below are exact: checked at compile time.
    const _: () = assert!(scry_param_kind::SCRY_PARAM_STRLIST.0 <= u8::MAX as u32);
    const _: () = assert!(scry_param_flags::SCRY_PARAM_F_TRUNCATED.0 <= u8::MAX as u32);
    const _: () = assert!(scry_event_type::SCRY_NR_UNKNOWN.0 <= u16::MAX as u32);

    /// Largest record, header included (bytes).
    pub const RECORD_MAX: u32 = scry_limits::SCRY_RECORD_MAX.0;
    /// Bytes read for one string argument, NUL included.
    pub const PATH_MAX: u32 = scry_limits::SCRY_PATH_MAX.0;
    /// Bytes read for one `struct sockaddr`.
    pub const SOCKADDR_MAX: u32 = scry_limits::SCRY_SOCKADDR_MAX.0;
    /// Bytes of execve argv kept.
    pub const ARGV_MAX: u32 = scry_limits::SCRY_ARGV_MAX.0;
    /// Most execve arguments read.
    pub const ARGV_ARGS: u32 = scry_limits::SCRY_ARGV_ARGS.0;
    /// Upper bound of `targ_snaplen`.
    pub const SNAPLEN_MAX: u32 = scry_limits::SCRY_SNAPLEN_MAX.0;
    /// Default `targ_snaplen`.
    pub const SNAPLEN_DEFAULT: u32 = scry_limits::SCRY_SNAPLEN_DEFAULT.0;
    /// Length of `targ_syscalls`.
    pub const NR_MAX: usize = scry_limits::SCRY_NR_MAX.0 as usize;
    /// Default size of each per-CPU ring buffer (bytes).
    pub const RINGBUF_DEFAULT: u32 = scry_limits::SCRY_RINGBUF_DEFAULT.0;
    /// Default `max_entries` of the `events` outer map.
    pub const MAX_CPUS: u32 = scry_limits::SCRY_MAX_CPUS.0;
    /// Processes the `targets` map holds at once.
    pub const TARGETS_MAX: u32 = scry_limits::SCRY_TARGETS_MAX.0;
    /// Cgroups the `cgroups` map holds at once.
    pub const CGROUPS_MAX: u32 = scry_limits::SCRY_CGROUPS_MAX.0;

    /// `header.nr` of a process exit record.
    pub const EVT_PROCEXIT: u16 = scry_event_type::SCRY_EVT_PROCEXIT.0 as u16;
    /// `header.nr` of a syscall number outside `0..NR_MAX`.
    pub const NR_UNKNOWN: u16 = scry_event_type::SCRY_NR_UNKNOWN.0 as u16;

    /// `header.flags`: no entry seen; latency 0, arguments read at exit.
    pub const HDR_NO_ENTER: u32 = scry_header_flags::SCRY_HDR_NO_ENTER.0;
    /// `header.flags`: an ia32 task; `nr` is an ia32 number, generic record.
    pub const HDR_COMPAT: u32 = scry_header_flags::SCRY_HDR_COMPAT.0;
    /// `header.flags`: emitted at entry (exit, exit_group).
    pub const HDR_AT_ENTRY: u32 = scry_header_flags::SCRY_HDR_AT_ENTRY.0;

    /// `scry_param.kind`: no value.
    pub const PARAM_ABSENT: u8 = scry_param_kind::SCRY_PARAM_ABSENT.0 as u8;
    /// `scry_param.kind`: s64.
    pub const PARAM_INT: u8 = scry_param_kind::SCRY_PARAM_INT.0 as u8;
    /// `scry_param.kind`: u64.
    pub const PARAM_UINT: u8 = scry_param_kind::SCRY_PARAM_UINT.0 as u8;
    /// `scry_param.kind`: file descriptor, s64.
    pub const PARAM_FD: u8 = scry_param_kind::SCRY_PARAM_FD.0 as u8;
    /// `scry_param.kind`: string bytes without NUL.
    pub const PARAM_STR: u8 = scry_param_kind::SCRY_PARAM_STR.0 as u8;
    /// `scry_param.kind`: buffer bytes, at most the snaplen.
    pub const PARAM_BYTES: u8 = scry_param_kind::SCRY_PARAM_BYTES.0 as u8;
    /// `scry_param.kind`: raw `struct sockaddr`, family first.
    pub const PARAM_SOCKADDR: u8 = scry_param_kind::SCRY_PARAM_SOCKADDR.0 as u8;
    /// `scry_param.kind`: strings, each followed by a NUL.
    pub const PARAM_STRLIST: u8 = scry_param_kind::SCRY_PARAM_STRLIST.0 as u8;
    /// `scry_param.flags`: the value was cut to fit a limit.
    pub const PARAM_F_TRUNCATED: u8 = scry_param_flags::SCRY_PARAM_F_TRUNCATED.0 as u8;
}

/// The first kernel whose tracing programs may use task local storage.
pub const TASK_STORAGE_SINCE: (u32, u32) = (5, 12);

/// Whether a kernel of version `major.minor` can keep the per-syscall stash
/// in task local storage (cheaper than the hash map older kernels need).
pub fn task_storage_usable(version: (u32, u32)) -> bool {
    version >= TASK_STORAGE_SINCE
}

/// Picks where the probe keeps what `sys_enter` stashes for `sys_exit`:
/// task local storage (`handle__sys_*_task`) or the `inflight` hash
/// (`handle__sys_*_hash`). Exactly one pair must load, or every syscall
/// would be recorded twice; the unused map is not created (task storage
/// does not exist before 5.11) or is shrunk to one entry; the same for
/// the entry copies of paths and argv (`inflight_ext_task`, `inflight_ext`).
pub fn choose_stash(
    open_skel: &mut skel::OpenScrySkel<'_>,
    task_storage: bool,
) -> libbpf_rs::Result<()> {
    if let Some(rodata) = open_skel.maps.rodata_data.as_deref_mut() {
        rodata.targ_task_storage = u32::from(task_storage);
    }
    let progs = &mut open_skel.progs;
    progs.handle__sys_enter_task.set_autoload(task_storage);
    progs.handle__sys_exit_task.set_autoload(task_storage);
    progs.handle__sched_switch.set_autoload(task_storage);
    progs.handle__sys_enter_hash.set_autoload(!task_storage);
    progs.handle__sys_exit_hash.set_autoload(!task_storage);
    if task_storage {
        open_skel.maps.inflight.set_max_entries(1)?;
        open_skel.maps.inflight_ext.set_max_entries(1)
    } else {
        open_skel.maps.inflight_task.set_autocreate(false)?;
        open_skel.maps.inflight_ext_task.set_autocreate(false)
    }
}

/// The records of one ring-buffer sample, in order, each with its header:
/// each CPU's records reach its ring in batches (one sample holds several),
/// each record padded to 8 bytes so that every header is aligned. `None`
/// stands for bytes that do not frame a record (a length that does not fit
/// what is left of the sample), which end the walk.
pub fn batch_records(sample: &[u8]) -> impl Iterator<Item = Option<(&scry_event_header, &[u8])>> {
    let mut rest = sample;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let framed = header_of(rest).and_then(|header| {
            let len = header.len as usize;
            (len >= size_of::<scry_event_header>() && len <= rest.len())
                .then(|| (header, &rest[..len]))
        });
        let Some((header, record)) = framed else {
            rest = &[];
            return Some(None);
        };
        rest = rest
            .get(record.len().next_multiple_of(8)..)
            .unwrap_or_default();
        Some(Some((header, record)))
    })
}

/// Sends the records staged on `cpu` to its ring, by running
/// `handle__flush` there (pass `&skel.progs.handle__flush`). `Ok(false)`:
/// the CPU was building a record and kept its stage; ask again.
///
/// # Errors
/// The kernel's, e.g. `ENXIO` for an offline CPU.
pub fn flush_stage(flush: &libbpf_rs::ProgramMut<'_>, cpu: u32) -> libbpf_rs::Result<bool> {
    let mut context = [0u8; 8];
    let input = libbpf_rs::ProgramInput {
        context_in: Some(&mut context),
        cpu,
        flags: libbpf_rs::libbpf_sys::BPF_F_TEST_RUN_ON_CPU,
        ..Default::default()
    };
    Ok(flush.test_run(input)?.return_value == 0)
}

/// The header at the start of `record`, by reference. `None` if `record` is
/// shorter than a header or not 8-byte aligned (ring-buffer samples always
/// are).
pub fn header_of(record: &[u8]) -> Option<&scry_event_header> {
    plain::from_bytes(record).ok()
}

/// The header at the start of `record`, copied: for a record that has
/// left the ring, and may no longer be aligned. `None` if `record` is
/// shorter than a header.
pub fn header_copied(record: &[u8]) -> Option<scry_event_header> {
    let mut header = scry_event_header::default();
    plain::copy_from_bytes(&mut header, record).ok()?;
    Some(header)
}

/// The parameter header at the start of `bytes`, copied: parameters are
/// packed, so it may be unaligned. `None` if `bytes` is too short.
pub fn param_header_of(bytes: &[u8]) -> Option<scry_param> {
    let mut p = scry_param::default();
    plain::copy_from_bytes(&mut p, bytes).ok()?;
    Some(p)
}

/// Creates one `BPF_MAP_TYPE_RINGBUF` of `ring_bytes` bytes per CPU in
/// `0..ncpus` and stores it at index `cpu` of the `events` outer map (pass
/// `&skel.maps.events` of a loaded skeleton). `ring_bytes` must be a power of
/// two and a multiple of the page size (e.g.
/// `scry_limits::SCRY_RINGBUF_DEFAULT`).
///
/// Returns the rings, index = CPU, to read from. The
/// outer map keeps each ring alive as long as it is installed.
pub fn install_rings(
    events: &dyn MapCore,
    ncpus: usize,
    ring_bytes: u32,
) -> libbpf_rs::Result<Vec<MapHandle>> {
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        ..Default::default()
    };
    let mut rings = Vec::with_capacity(ncpus);
    for cpu in 0..ncpus {
        let ring = MapHandle::create(
            MapType::RingBuf,
            Some(format!("scry_rb{cpu}")),
            0,
            0,
            ring_bytes,
            &opts,
        )?;
        let key = u32::try_from(cpu).unwrap_or(u32::MAX).to_ne_bytes();
        let fd = u32::try_from(ring.as_fd().as_raw_fd()).unwrap_or(u32::MAX);
        events.update(&key, &fd.to_ne_bytes(), MapFlags::ANY)?;
        rings.push(ring);
    }
    Ok(rings)
}

/// Makes `tgid` a target of a probe loaded with `targ_targets` (pass
/// `&skel.maps.targets`): it and every process it forks from then on are
/// recorded. Insert the targets before attaching.
///
/// # Errors
/// The map update's error; `E2BIG` when [`abi::TARGETS_MAX`] processes are
/// already targets.
pub fn add_target(targets: &dyn MapCore, tgid: u32) -> libbpf_rs::Result<()> {
    targets.update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
}

/// Makes the processes of cgroup `id` (its cgroup v2 id: the inode number
/// of its directory) recorded by a probe loaded with `targ_cgroups` (pass
/// `&skel.maps.cgroups`), from their next syscall on. Safe while attached.
///
/// # Errors
/// The map update's error; `E2BIG` when [`abi::CGROUPS_MAX`] cgroups are
/// already in the map.
pub fn add_cgroup(cgroups: &dyn MapCore, id: u64) -> libbpf_rs::Result<()> {
    cgroups.update(&id.to_ne_bytes(), &[1u8], MapFlags::ANY)
}

/// Reads the per-CPU `counters` map (pass `&skel.maps.counters`): one entry
/// per possible CPU, index = CPU.
pub fn read_counters(counters: &dyn MapCore) -> libbpf_rs::Result<Vec<scry_counters>> {
    let per_cpu = counters
        .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)?
        .unwrap_or_default();
    Ok(per_cpu
        .iter()
        .map(|bytes| {
            let mut c = scry_counters::default();
            // A short value (never the case: the kernel returns value_size
            // bytes) leaves the counters at zero.
            let _ = plain::copy_from_bytes(&mut c, bytes);
            c
        })
        .collect())
}
