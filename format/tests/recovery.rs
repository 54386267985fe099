//! Damage and recovery: cut-off files give back exactly their complete
//! chunks, flipped bytes are caught by checksums and skipped, and files that
//! are not traces at all are refused with a clear error.

mod common;

use common::*;
use proptest::prelude::*;
use scry_format::*;

fn sample() -> (Vec<Event>, Vec<u8>) {
    let events: Vec<Event> = (0..500u64)
        .map(|i| Event {
            ts: 1_700_000_000_000_000_000 + i * 1000,
            tid: 100 + (i % 3) as u32,
            tgid: 100,
            event_type: (i % 7) as u16,
            ret: i as i64,
            params: vec![Value::Fd(3), Value::Bytes(vec![i as u8; (i % 40) as usize])],
            ..Event::default()
        })
        .collect();
    let data = write(
        &events,
        &Snapshot {
            ts: 5,
            ..Snapshot::default()
        },
        50,
        120,
    );
    (events, data)
}

/// The events of the chunks that end at or before `cut`.
fn expected_after_cut(trace: &TraceFile<&[u8]>, events: &[Event], cut: u64) -> Vec<Event> {
    let complete: u64 = trace
        .chunks()
        .iter()
        .filter(|c| c.offset + c.block_len <= cut)
        .map(|c| u64::from(c.summary.events))
        .sum();
    events[..complete as usize].to_vec()
}

#[test]
fn cutting_at_every_chunk_boundary_recovers_the_chunks_before_it() {
    let (events, data) = sample();
    let whole = TraceFile::open(&data[..]).unwrap();
    assert!(whole.chunks().len() >= 10, "statistics also seal chunks");
    for entry in whole.chunks() {
        for cut in [entry.offset, entry.offset + entry.block_len] {
            let cut_data = &data[..cut as usize];
            let trace = TraceFile::open(cut_data).unwrap();
            let expected = expected_after_cut(&whole, &events, cut);
            assert!(
                trace.truncation().is_some(),
                "cut at {cut} must be reported"
            );
            assert!(!trace.has_index());
            assert!(
                trace.damage().is_empty(),
                "a clean cut is not damage: {:?}",
                trace.damage()
            );
            assert_eq!(read_all(&trace, 2), expected, "slice reader, cut at {cut}");
            let (streamed, reader) = read_stream(cut_data, 2);
            assert_eq!(streamed, expected, "stream reader, cut at {cut}");
            assert!(reader.truncation().is_some());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn cutting_anywhere_recovers_exactly_the_complete_chunks(fraction in 0.0f64..1.0) {
        let (events, data) = sample();
        let whole = TraceFile::open(&data[..]).unwrap();
        let header_end = whole.chunks()[0].offset as usize;
        let cut = header_end + ((data.len() - 1 - header_end) as f64 * fraction) as usize;
        let cut_data = &data[..cut];
        let trace = TraceFile::open(cut_data).unwrap();
        prop_assert!(trace.truncation().is_some());
        let expected = expected_after_cut(&whole, &events, cut as u64);
        prop_assert_eq!(&read_all(&trace, 2), &expected);
        let (streamed, _) = read_stream(cut_data, 1);
        prop_assert_eq!(&streamed, &expected);
        // Statistics written before the cut survive too.
        let stats_before = whole.stats().iter().filter(|s| s.offset < cut as u64).count();
        prop_assert!(trace.stats().len() <= stats_before);
    }

    #[test]
    fn a_flipped_byte_in_a_chunk_is_caught_and_only_that_chunk_is_lost(
        chunk_pick in 0usize..10,
        position in 0.0f64..1.0,
        bit in 0u8..8,
    ) {
        let (events, mut data) = sample();
        let whole = TraceFile::open(&data[..]).unwrap();
        let entry = whole.chunks()[chunk_pick].clone();
        let at = entry.offset as usize + 4 + ((entry.block_len as usize - 5) as f64 * position) as usize;
        data[at] ^= 1 << bit;
        let mut expected = events.clone();
        let first = entry.summary.first_num as usize;
        expected.drain(first..first + entry.summary.events as usize);

        let trace = TraceFile::open(&data[..]).unwrap();
        let report = trace.verify(2);
        prop_assert!(!report.is_clean());
        prop_assert_eq!(report.damage[0].offset, entry.offset);
        prop_assert_eq!(&read_all(&trace, 2), &expected);
        let (streamed, reader) = read_stream(&data, 2);
        prop_assert_eq!(&streamed, &expected);
        prop_assert_eq!(reader.damage()[0].offset, entry.offset);

        let strict = TraceFile::open_with(&data[..], ReadOptions { strict: true });
        let strict_failed = match strict {
            Err(_) => true,
            Ok(trace) => trace.for_each_chunk(1, |_| true, |_| std::ops::ControlFlow::<()>::Continue(())).is_err(),
        };
        prop_assert!(strict_failed, "strict mode must refuse damage");
    }
}

#[test]
fn a_damaged_index_falls_back_to_scanning() {
    let (events, mut data) = sample();
    let len = data.len();
    data[len - 20] ^= 0xff; // inside the index block
    let trace = TraceFile::open(&data[..]).unwrap();
    assert!(!trace.has_index());
    assert_eq!(read_all(&trace, 2), events);
    assert!(!trace.damage().is_empty());
}

#[test]
fn a_chunk_summary_the_index_did_not_vouch_for_sends_the_reader_to_the_scan() {
    // The index names each chunk's summary by its CRC; a summary that was
    // changed after the index was written is not trusted for planning.
    let (events, mut data) = sample();
    let whole = TraceFile::open(&data[..]).unwrap();
    assert!(whole.has_index());
    let entry = whole.chunks()[3].clone();
    data[entry.offset as usize + 20 + 2] ^= 0x01; // inside the chunk's summary
    let trace = TraceFile::open(&data[..]).unwrap();
    assert!(!trace.has_index());
    assert_eq!(trace.damage()[0].offset, entry.offset);
    let mut expected = events;
    let first = entry.summary.first_num as usize;
    expected.drain(first..first + entry.summary.events as usize);
    assert_eq!(read_all(&trace, 2), expected);
}

#[test]
fn a_damaged_snapshot_is_reported_and_events_still_read() {
    let (events, mut data) = sample();
    let whole = TraceFile::open(&data[..]).unwrap();
    let snapshot_at = whole.chunks()[0].offset as usize - 3;
    data[snapshot_at] ^= 0x10;
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.damage().len(), 1);
    assert_eq!(read_all(&trace, 1), events);
    assert!(TraceFile::open_with(&data[..], ReadOptions { strict: true }).is_err());
}

#[test]
fn not_a_trace_is_refused_clearly() {
    let (_, data) = sample();
    assert!(matches!(TraceFile::open(&b""[..]), Err(FormatError::Empty)));
    assert!(matches!(
        TraceFile::open(&b"hello world, not a trace"[..]),
        Err(FormatError::BadMagic)
    ));
    assert!(matches!(
        TraceFile::open(&data[..5]),
        Err(FormatError::TruncatedHeader { .. })
    ));
    // A version byte flipped by damage is damage, not a newer version...
    let mut flipped = data.clone();
    flipped[8] = 2;
    assert!(matches!(
        TraceFile::open(&flipped[..]),
        Err(FormatError::Corrupt {
            what: "file header",
            ..
        })
    ));
    // ...while a newer writer's header has a checksum that holds.
    let mut future = data.clone();
    future[8] = 2;
    let header_len = u32::from_le_bytes([future[12], future[13], future[14], future[15]]) as usize;
    let crc = crc32fast_hash(&future[8..16 + header_len]);
    future[16 + header_len..20 + header_len].copy_from_slice(&crc.to_le_bytes());
    match TraceFile::open(&future[..]) {
        Err(FormatError::UnsupportedVersion {
            found_major: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected a version error, got {other:?}"),
    }
    let mut header_flip = data.clone();
    header_flip[20] ^= 1;
    assert!(matches!(
        TraceFile::open(&header_flip[..]),
        Err(FormatError::Corrupt {
            what: "file header",
            ..
        })
    ));
    assert!(matches!(
        StreamReader::open(&b""[..], ReadOptions::default()),
        Err(FormatError::Empty)
    ));
    assert!(matches!(
        StreamReader::open(&future[..], ReadOptions::default()),
        Err(FormatError::UnsupportedVersion { .. })
    ));
}

#[test]
fn a_newer_minor_version_is_read() {
    let (events, mut data) = sample();
    data[10] = 9; // minor version 9; the header checksum covers it
    let header_len = u32::from_le_bytes([data[12], data[13], data[14], data[15]]) as usize;
    let crc_at = 16 + header_len;
    let crc = crc32fast_hash(&data[8..crc_at]);
    data[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.version(), (1, 9));
    assert_eq!(read_all(&trace, 2), events);
}

/// CRC-32 (IEEE), bit by bit: an independent check of the header checksum.
fn crc32fast_hash(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn verify_checks_statistics_blocks_too() {
    let (_, mut data) = sample();
    let whole = TraceFile::open(&data[..]).unwrap();
    assert!(whole.verify(2).is_clean());
    let stats_at = whole.stats()[0].offset as usize;
    data[stats_at + 21] ^= 0x04; // inside the statistics message
    let trace = TraceFile::open(&data[..]).unwrap();
    let report = trace.verify(2);
    assert!(!report.is_clean());
    assert!(
        report.damage.iter().any(|d| d.offset == stats_at as u64),
        "{:?}",
        report.damage
    );
}
