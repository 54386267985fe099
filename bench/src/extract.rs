//! `extract IN OUT --tree PID`: copies the events of one process tree out of
//! a host-wide capture. The samples in `samples/` are made this way, so that
//! they hold only their scripted workload and nothing else the host did.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use scry_format::{CaptureStats, Event, TraceFile, TraceWriter, WriterOptions};

pub fn extract(args: &[String]) -> Result<(), String> {
    let [input, output, ..] = args else {
        return Err("usage: extract IN OUT --tree PID".to_owned());
    };
    let root = u32::try_from(crate::flag(args, "--tree", 0)?).map_err(|_| "bad pid")?;
    let data = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    let table = &trace.header().event_table;
    let forks: Vec<u16> = ["clone", "clone3", "vfork", "fork"]
        .iter()
        .filter_map(|n| table.id_of(n))
        .collect();
    let mut events: Vec<Event> = Vec::new();
    let _ = trace.for_each_chunk(
        1,
        |_| true,
        |chunk| {
            if let Ok(chunk) = chunk {
                events.extend(chunk.iter().map(|e| e.to_event()));
            }
            ControlFlow::<()>::Continue(())
        },
    );
    // A child can run (and exec) before its parent's fork returns, so find
    // the whole tree first, then copy.
    let mut tree = BTreeSet::from([root]);
    loop {
        let before = tree.len();
        for e in &events {
            if tree.contains(&e.tgid) && forks.contains(&e.event_type) && e.ret > 0 {
                tree.insert(e.ret as u32);
            }
        }
        if tree.len() == before {
            break;
        }
    }
    let mut header = trace.header().clone();
    header.capture.target = format!("process tree of pid {root}, extracted from a host capture");
    let options = WriterOptions {
        chunk_events: 512,
        ..WriterOptions::default()
    };
    // The snapshot keeps only the tree's processes (and the tables every
    // trace needs): the rest of the host has no place in a sample.
    let full = trace.snapshot();
    let snapshot = scry_format::Snapshot {
        ts: full.ts,
        processes: full
            .processes
            .iter()
            .filter(|p| tree.contains(&p.pid))
            .cloned()
            .collect(),
        threads: full
            .threads
            .iter()
            .filter(|t| tree.contains(&t.tgid))
            .cloned()
            .collect(),
        fds: full
            .fds
            .iter()
            .filter(|f| tree.contains(&f.pid))
            .cloned()
            .collect(),
        users: full.users.clone(),
        groups: full.groups.clone(),
        containers: Vec::new(),
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header, &snapshot, options).map_err(|e| e.to_string())?;
    let kept: Vec<&Event> = events.iter().filter(|e| tree.contains(&e.tgid)).collect();
    for event in &kept {
        writer.push(event).map_err(|e| e.to_string())?;
    }
    let last = trace.final_stats().cloned().unwrap_or_default();
    let stats = CaptureStats {
        events_written: kept.len() as u64,
        events_filtered: last.events_written.saturating_sub(kept.len() as u64),
        ..last
    };
    writer.write_stats(&stats).map_err(|e| e.to_string())?;
    let bytes = writer.finish().map_err(|e| e.to_string())?;
    std::fs::write(output, bytes).map_err(|e| format!("{output}: {e}"))?;
    eprintln!(
        "{} of {} events, {} processes",
        kept.len(),
        events.len(),
        tree.len()
    );
    Ok(())
}
