//! Robustness of every decoder against arbitrary and mutated input: no
//! panic, no unbounded allocation, whatever the bytes. Checksums keep most
//! random damage away from the decoders, so these tests feed them directly.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::chunk::{ChunkBuilder, DecodedChunk};
use crate::model::{Event, SockAddr, Value};

/// A valid chunk payload and blob to mutate.
fn valid_chunk() -> (Vec<u8>, Vec<u8>) {
    let mut builder = ChunkBuilder::new();
    for i in 0..20u32 {
        let params = vec![
            Value::Fd(i64::from(i)),
            Value::Str(format!("/tmp/{}", i % 3).into_bytes()),
            Value::Bytes(vec![i as u8; (i % 7) as usize]),
            Value::SockAddr(SockAddr::Inet("10.0.0.1:80".parse().unwrap())),
            Value::StrList(vec![b"a".to_vec(), b"b".to_vec()]),
        ];
        builder.push(
            &Event {
                ts: u64::from(i) * 100,
                tid: i,
                tgid: 1,
                params,
                ..Event::default()
            },
            None,
        );
    }
    let crate::chunk::FinishedChunk { payload, blob, .. } = builder.finish(0);
    (payload, blob)
}

fn exercise(chunk: &DecodedChunk) {
    let _ = chunk.validate();
    for event in chunk.iter() {
        let _ = (event.ts(), event.tid(), event.tgid(), event.ret());
        for value in event.params() {
            let _ = value.to_value();
        }
        let _ = event.param(3);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn chunk_decoding_never_panics_on_arbitrary_bytes(payload in vec(any::<u8>(), 0..400), blob in vec(any::<u8>(), 0..50)) {
        if let Ok(chunk) = DecodedChunk::decode(payload, blob, 0) {
            exercise(&chunk);
        }
    }

    #[test]
    fn chunk_decoding_never_panics_on_mutated_chunks(
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let (mut payload, blob) = valid_chunk();
        for (at, value) in flips {
            let i = at.index(payload.len());
            payload[i] = value;
        }
        if cut_it {
            payload.truncate(cut.index(payload.len() + 1));
        }
        // Decoding the header columns must not panic; the lazy parameters
        // may be damaged, and must not panic either.
        let mut chunk = DecodedChunk::default();
        chunk.payload_buffer().extend_from_slice(&payload);
        chunk.set_blob(&blob, blob.len(), false);
        if chunk.decode_payload(0, 0, crate::PayloadLayout::Packed).is_ok() {
            exercise(&chunk);
        }
    }

    #[test]
    fn messages_never_panic_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..300)) {
        let _ = crate::codec::decode_header(&bytes);
        let _ = crate::codec::decode_snapshot(&bytes);
        let _ = crate::codec::decode_summary(&bytes);
        let _ = crate::codec::decode_stats(&bytes);
        let _ = crate::codec::decode_index(&bytes);
    }

    #[test]
    fn readers_never_panic_on_files_with_a_valid_header_and_garbage_after(tail in vec(any::<u8>(), 0..600)) {
        let mut data = crate::block::encode_file_header(&crate::FileHeader::default());
        data.extend_from_slice(&tail);
        if let Ok(trace) = crate::TraceFile::open(&data[..]) {
            let _ = trace.verify(2);
        }
        if let Ok(mut reader) = crate::StreamReader::open(&data[..], crate::ReadOptions::default()) {
            let _ = reader.for_each_chunk(2, |chunk| {
                if let Ok(chunk) = chunk {
                    exercise(chunk);
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
    }
}
