//! Facts about the capturing machine for the file header, and the clock
//! conversion from the kernel's boot-time clock to wall-clock time, and the
//! scheduling priority of the recorder's own threads.

use rustix::time::{ClockId, clock_gettime};
use scry_format::MachineInfo;

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Nanoseconds of a clock.
fn now_ns(clock: ClockId) -> u64 {
    let ts = clock_gettime(clock);
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Current wall-clock time, ns since the epoch.
pub fn realtime_ns() -> u64 {
    now_ns(ClockId::Realtime)
}

/// Current `CLOCK_BOOTTIME`, the clock BPF timestamps use.
pub fn boottime_ns() -> u64 {
    now_ns(ClockId::Boottime)
}

/// Wall-clock time of boot: adding it to a `CLOCK_BOOTTIME` reading gives
/// wall-clock time. Read as the tightest of a few back-to-back samples, so a
/// preemption between the two clock reads does not skew every timestamp.
pub fn boot_time_ns() -> u64 {
    (0..5)
        .map(|_| {
            let before = boottime_ns();
            let real = realtime_ns();
            let after = boottime_ns();
            (after - before, real.saturating_sub(before / 2 + after / 2))
        })
        .min_by_key(|&(spread, _)| spread)
        .map_or(0, |(_, boot)| boot)
}

/// Describes this machine.
pub fn machine_info() -> MachineInfo {
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("PRETTY_NAME="))
                .map(|value| value.trim_matches('"').to_owned())
        })
        .unwrap_or_default();
    MachineInfo {
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        kernel_release: read_trimmed("/proc/sys/kernel/osrelease"),
        kernel_version: read_trimmed("/proc/sys/kernel/version"),
        arch: std::env::consts::ARCH.to_owned(),
        os,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes: memory_kib * 1024,
        boot_time_ns: boot_time_ns(),
    }
}

/// Nice value of the threads that move events out of the kernel: ahead of
/// ordinary work, so that a busy host does not starve them while the ring
/// buffers fill, but not real-time.
const RECORDER_NICE: i32 = -10;

/// Raises the calling thread's scheduling priority to [`RECORDER_NICE`].
/// Best effort: without CAP_SYS_NICE the thread keeps its priority.
pub(crate) fn prioritize_this_thread() {
    let tid = rustix::thread::gettid();
    let _ = rustix::process::setpriority_process(Some(tid), RECORDER_NICE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_plus_boottime_is_now() {
        let boot = boot_time_ns();
        let now = realtime_ns();
        let estimate = boot + boottime_ns();
        assert!(
            estimate.abs_diff(now) < 1_000_000_000,
            "{estimate} vs {now}"
        );
    }

    #[test]
    fn machine_info_names_this_machine() {
        let info = machine_info();
        assert!(!info.kernel_release.is_empty());
        assert!(info.cpus >= 1);
        assert!(info.memory_bytes > 0);
    }
}
