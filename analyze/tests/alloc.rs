//! Filters on command lines and capability sets do not allocate per event:
//! what they compare is built once per process (or per set) and kept. The
//! allocations of a scan are counted with a counting global allocator, so
//! this test lives in a binary of its own.

#![allow(clippy::unwrap_used)]
// Counting allocations takes a global allocator, whose trait is unsafe;
// the library itself forbids unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use scry_analyze::{Filter, Prepared, Scan, scan};
use scry_format::TraceFile;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system
        // allocator, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while scanning `trace` with `filter` on one thread,
/// and how many events it matched.
fn allocations(trace: &TraceFile<Vec<u8>>, prepared: &Prepared, filter: &str) -> (usize, usize) {
    let filter = Filter::new(filter, prepared.catalog(trace)).unwrap();
    let options = Scan {
        filter: Some(&filter),
        threads: 1,
        ..Scan::default()
    };
    let mut matched = 0;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let flow = scan(
        trace,
        prepared,
        &options,
        |e| panic!("{e}"),
        |_| {
            matched += 1;
            ControlFlow::<()>::Continue(())
        },
    );
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(flow.unwrap().is_continue());
    (after - before, matched)
}

#[test]
fn command_line_and_capability_filters_allocate_per_process_not_per_event() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/workload.scry");
    let trace = TraceFile::open(std::fs::read(path).unwrap()).unwrap();
    let prepared = Prepared::new(&trace);
    // The same replay (processes, no fds) with a field read in place.
    let (baseline, named) = allocations(&trace, &prepared, "proc.name exists");
    assert!(named > 1000, "{named} events with a known process");
    for filter in [
        "proc.cmdline contains nothing-like-this",
        "proc.args contains nothing-like-this",
        "proc.exeline contains nothing-like-this",
        "proc.pcmdline contains nothing-like-this",
        "proc.acmdline[2] contains nothing-like-this",
        "thread.cap_effective contains CAP_NOTHING",
        "thread.cap_permitted icontains nothing",
    ] {
        let (count, matched) = allocations(&trace, &prepared, filter);
        assert_eq!(matched, 0, "{filter}");
        // Each process builds its line (or set names) once: a few dozen
        // processes, against the ~2,000 events the filter reads.
        let extra = count.saturating_sub(baseline);
        assert!(
            extra < 200,
            "{filter}: {extra} more allocations than the baseline's {baseline}"
        );
    }
}
