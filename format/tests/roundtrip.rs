//! Round trips: whatever is written reads back identically, through both
//! readers, whatever the chunk size and the number of decoding threads.

mod common;

use common::*;
use std::ops::ControlFlow;

use proptest::prelude::*;
use scry_format::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_events_and_snapshot_read_back_identically(
        events in ordered_events(120),
        snapshot in snapshot(),
        chunk_events in 1u32..40,
        stats_every in 0usize..50,
        threads in 1usize..4,
    ) {
        let data = write(&events, &snapshot, chunk_events, stats_every);
        let trace = TraceFile::open(&data[..]).unwrap();
        prop_assert_eq!(trace.header(), &header());
        prop_assert_eq!(trace.snapshot(), &snapshot);
        prop_assert!(trace.has_index());
        prop_assert!(trace.truncation().is_none());
        prop_assert!(trace.damage().is_empty());
        prop_assert_eq!(trace.event_count(), events.len() as u64);
        prop_assert_eq!(&read_all(&trace, threads), &events);
        let expected_stats = events.len().checked_div(stats_every).unwrap_or(0);
        prop_assert_eq!(trace.stats().len(), expected_stats);

        let (streamed, reader) = read_stream(&data, threads);
        prop_assert_eq!(&streamed, &events);
        prop_assert_eq!(reader.snapshot(), &snapshot);
        prop_assert!(reader.truncation().is_none());
        prop_assert!(reader.damage().is_empty());
        prop_assert_eq!(reader.stats().count(), expected_stats);
        prop_assert!(trace.verify(threads).is_clean());
    }

    #[test]
    fn chunks_of_mixed_sizes_in_one_file_read_back_identically(
        events in ordered_events(150),
        sizes in proptest::collection::vec(1usize..60, 1..12),
        threads in 1usize..4,
    ) {
        // Chunks sealed after a schedule of sizes, as a capture seals
        // them on a timer: one file mixes single events with long runs.
        let options = WriterOptions { chunk_events: 1 << 20, ..WriterOptions::default() };
        let mut writer = TraceWriter::new(Vec::new(), &header(), &Snapshot::default(), options).unwrap();
        let mut expected_sizes = Vec::new();
        let mut rest = &events[..];
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at(size.min(rest.len()));
            for event in chunk {
                writer.push(event).unwrap();
            }
            writer.flush_chunk().unwrap();
            expected_sizes.push(chunk.len() as u64);
            rest = after;
        }
        let data = writer.finish().unwrap();
        let trace = TraceFile::open(&data[..]).unwrap();
        let chunk_sizes: Vec<u64> = trace.chunks().iter().map(|c| u64::from(c.summary.events)).collect();
        prop_assert_eq!(chunk_sizes, expected_sizes);
        prop_assert_eq!(&read_all(&trace, threads), &events);
        let (streamed, _) = read_stream(&data, threads);
        prop_assert_eq!(&streamed, &events);
        prop_assert!(trace.verify(threads).is_clean());
    }

    #[test]
    fn arbitrary_unordered_events_round_trip(events in proptest::collection::vec(event(), 0..60)) {
        let data = write(&events, &Snapshot::default(), 16, 0);
        let trace = TraceFile::open(&data[..]).unwrap();
        prop_assert_eq!(&read_all(&trace, 2), &events);
    }

    #[test]
    fn event_numbers_and_summaries_match_the_events(events in ordered_events(80), chunk_events in 1u32..20) {
        let data = write(&events, &Snapshot::default(), chunk_events, 0);
        let trace = TraceFile::open(&data[..]).unwrap();
        let mut expected_first = 0;
        for entry in trace.chunks() {
            let chunk = trace.decode_chunk(entry).unwrap();
            prop_assert_eq!(entry.summary.first_num, expected_first);
            for event in chunk.iter() {
                prop_assert_eq!(event.num(), expected_first);
                expected_first += 1;
                prop_assert!(entry.summary.may_contain_type(event.event_type()));
                prop_assert!(entry.summary.may_contain_tgid(event.tgid()));
                prop_assert!(entry.summary.overlaps(event.ts(), event.ts()));
            }
        }
        prop_assert_eq!(expected_first, events.len() as u64);
    }
}

#[test]
fn empty_capture_reads_back_empty() {
    let data = write(&[], &Snapshot::default(), 10, 0);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.event_count(), 0);
    assert!(trace.chunks().is_empty());
    assert!(trace.time_range().is_none());
    assert!(trace.has_index());
    assert!(trace.verify(2).is_clean());
    let (events, reader) = read_stream(&data, 2);
    assert!(events.is_empty());
    assert!(reader.truncation().is_none());
}

#[test]
fn files_are_compact_for_repetitive_streams() {
    // A realistic run: a few threads reading and writing the same files.
    let events: Vec<Event> = (0..20_000u64)
        .map(|i| Event {
            ts: 1_700_000_000_000_000_000 + i * 1_500,
            tid: 1000 + (i % 4) as u32,
            tgid: 1000,
            cpu: (i % 2) as u16,
            event_type: if i % 3 == 0 { 257 } else { 0 },
            ret: 32,
            latency: 900 + i % 50,
            params: vec![
                Value::Fd(3),
                Value::Str(format!("/var/log/app{}.log", i % 8).into_bytes()),
            ],
        })
        .collect();
    let data = write(&events, &Snapshot::default(), 8192, 0);
    let per_event = data.len() as f64 / events.len() as f64;
    assert!(per_event < 6.0, "{per_event:.2} bytes per event");
}

#[test]
fn large_chunks_read_back_through_every_path_and_damage_to_their_parameters_is_found() {
    // Chunks of SPLIT_EVENTS events or more keep their parameters in a
    // frame of their own.
    let events: Vec<Event> = (0..3 * SPLIT_EVENTS as u64)
        .map(|i| Event {
            ts: 1_700_000_000_000_000_000 + i * 1_500,
            tid: 1000 + (i % 4) as u32,
            tgid: 1000,
            event_type: if i % 3 == 0 { 257 } else { 0 },
            ret: 32,
            latency: 900 + i % 50,
            params: vec![
                Value::Fd(3),
                Value::Str(format!("/var/log/app{}.log", i % 8).into_bytes()),
                Value::Bytes(format!("line {i}\n").into_bytes()),
            ],
            ..Event::default()
        })
        .collect();
    let data = write(&events, &Snapshot::default(), 2 * SPLIT_EVENTS as u32, 0);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.chunks().len(), 2);
    assert!(
        trace
            .chunks()
            .iter()
            .all(|c| c.summary.layout == PayloadLayout::Split)
    );
    assert_eq!(read_all(&trace, 2), events);
    let mut prepared = Vec::new();
    let flow = trace
        .for_each_chunk_prepared(
            2,
            |_| true,
            Prepare::Buffers,
            |chunk| {
                prepared.extend(chunk.unwrap().iter().map(|e| e.to_event()));
                ControlFlow::<()>::Continue(())
            },
        )
        .unwrap();
    assert!(flow.is_continue());
    assert_eq!(prepared, events);
    assert_eq!(read_stream(&data, 2).0, events);
    assert!(trace.verify(2).is_clean());

    // A byte of the first chunk flipped: its checksum
    // fails and the other chunk still reads.
    let first = &trace.chunks()[0];
    let mut damaged = data.clone();
    damaged[(first.offset + first.block_len) as usize - 100] ^= 0x40;
    let trace = TraceFile::open(&damaged[..]).unwrap();
    assert!(!trace.verify(2).is_clean());
    assert_eq!(read_all(&trace, 2), events[2 * SPLIT_EVENTS..]);
}

#[test]
fn container_ids_reach_the_chunk_summaries() {
    let snapshot = Snapshot {
        processes: vec![ProcessInfo {
            pid: 10,
            container_id: "abc123".into(),
            ..ProcessInfo::default()
        }],
        ..Snapshot::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header(), &snapshot, WriterOptions::default()).unwrap();
    for tgid in [10, 11, 12] {
        writer
            .push(&Event {
                tgid,
                tid: tgid,
                ..Event::default()
            })
            .unwrap();
    }
    writer.set_container(12, "def456");
    writer
        .push(&Event {
            tgid: 12,
            tid: 12,
            ..Event::default()
        })
        .unwrap();
    let data = writer.finish().unwrap();
    let trace = TraceFile::open(&data[..]).unwrap();
    let summary = &trace.chunks()[0].summary;
    // 11 and 12 (before set_container) were of unknown processes.
    assert_eq!(summary.containers, vec!["abc123", "def456"]);
    assert!(summary.containers_incomplete);
    assert!(
        summary.may_contain_container("zzz"),
        "an incomplete list cannot rule a container out"
    );
    assert_eq!(summary.tgids, vec![10, 11, 12]);

    // Everything known: the list is complete and rules containers out.
    let snapshot = Snapshot {
        processes: vec![
            ProcessInfo {
                pid: 20,
                ..ProcessInfo::default()
            },
            ProcessInfo {
                pid: 21,
                container_id: "abc123".into(),
                ..ProcessInfo::default()
            },
        ],
        ..Snapshot::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header(), &snapshot, WriterOptions::default()).unwrap();
    for tgid in [20, 21] {
        writer
            .push(&Event {
                tgid,
                tid: tgid,
                ..Event::default()
            })
            .unwrap();
    }
    let data = writer.finish().unwrap();
    let trace = TraceFile::open(&data[..]).unwrap();
    let summary = &trace.chunks()[0].summary;
    assert_eq!(summary.containers, vec!["abc123", "host"]);
    assert!(!summary.containers_incomplete);
    assert!(summary.may_contain_container("host"));
    assert!(!summary.may_contain_container("zzz"));
}

#[test]
fn containers_first_seen_during_the_capture_read_back_from_every_reader() {
    let late = ContainerInfo {
        id: "5c7a".repeat(16),
        runtime: "docker".into(),
        name: "web".into(),
        image: "nginx:1.27".into(),
        privileged: true,
        start_ts: 7,
    };
    let event = |tgid: u32, ts: u64| Event {
        ts,
        tgid,
        tid: tgid,
        ..Event::default()
    };
    let options = WriterOptions {
        chunk_events: 2,
        ..WriterOptions::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header(), &Snapshot::default(), options).unwrap();
    writer.push(&event(1, 1)).unwrap();
    writer.write_container(&late).unwrap();
    for ts in 2..6 {
        writer.push(&event(2, ts)).unwrap();
    }
    let data = writer.finish().unwrap();
    let events: Vec<Event> = (1..6)
        .map(|ts| event(if ts == 1 { 1 } else { 2 }, ts))
        .collect();

    // Through the index.
    let trace = TraceFile::open(&data[..]).unwrap();
    assert!(trace.has_index());
    assert_eq!(trace.version(), (1, 4));
    let recorded: Vec<&ContainerInfo> = trace
        .recorded_containers()
        .iter()
        .map(|c| &c.info)
        .collect();
    assert_eq!(recorded, [&late]);
    assert_eq!(read_all(&trace, 2), events, "a container block is no chunk");
    assert!(trace.damage().is_empty());

    // Through a scan of a file whose writer never finished.
    let index_at = trace
        .chunks()
        .last()
        .map(|c| c.offset + c.block_len)
        .unwrap();
    let cut = &data[..usize::try_from(index_at).unwrap()];
    let scanned = TraceFile::open(cut).unwrap();
    assert!(!scanned.has_index());
    assert_eq!(scanned.recorded_containers(), trace.recorded_containers());
    assert_eq!(read_all(&scanned, 1), events);

    // Through a stream.
    let (streamed, reader) = read_stream(&data, 2);
    assert_eq!(streamed, events);
    assert_eq!(reader.recorded_containers(), trace.recorded_containers());
}
