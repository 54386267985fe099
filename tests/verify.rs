use crate::util::*;

#[test]
fn verify_passes_a_whole_trace() {
    let dir = TempDir::new("verify-whole");
    let path = dir.path("t.scry");
    std::fs::write(&path, small_trace(200)).unwrap();
    let run = scry(&["verify", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stdout, "ok: 4 chunks, 200 events, every checksum good");
    let quiet = scry(&["verify", "--quiet", &path]);
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""));
    std::fs::write(&path, small_trace(1)).unwrap();
    let run = scry(&["verify", &path]);
    assert_contains!(run.stdout, "ok: 1 chunk, 1 event, every checksum good");
}

#[test]
fn verify_finds_a_flipped_byte_and_names_its_offset() {
    let path = samples().join("corrupt").join("flipped-chunk.scry");
    let run = scry(&["verify", path.to_str().unwrap()]);
    assert_eq!(run.code, 3);
    assert_contains!(run.stdout, "DAMAGED: 6 chunks (1,100 events) good");
    assert_contains!(run.stdout, "checksum mismatch");
    let streamed = scry_with_stdin(&["verify", "-"], &std::fs::read(&path).unwrap());
    assert_eq!(streamed.code, 3);
    assert_contains!(streamed.stdout, "DAMAGED: 6 chunks (1,100 events) good");
}

#[test]
fn verify_flags_truncation_and_unreadable_files() {
    let truncated = samples().join("corrupt").join("truncated-mid-chunk.scry");
    let run = scry(&["verify", truncated.to_str().unwrap()]);
    assert_eq!(run.code, 3);
    assert_contains!(run.stdout, "truncated at byte");
    let magic = samples().join("corrupt").join("bad-magic.scry");
    let run = scry(&["verify", magic.to_str().unwrap()]);
    assert_eq!(run.code, 3);
    assert_contains!(run.stdout, "UNREADABLE");
}

#[test]
fn every_flipped_byte_of_a_chunk_is_caught() {
    let dir = TempDir::new("verify-flips");
    let data = small_trace(64);
    let trace = scry_format::TraceFile::open(&data[..]).unwrap();
    let chunk = trace.chunks()[0].clone();
    let path = dir.path("t.scry");
    for at in chunk.offset..chunk.offset + chunk.block_len {
        let mut damaged = data.clone();
        damaged[at as usize] ^= 0x01;
        std::fs::write(&path, &damaged).unwrap();
        let run = scry(&["verify", "--quiet", &path]);
        assert_eq!(run.code, 3, "flip at byte {at} went unnoticed");
    }
}

#[test]
fn verify_refuses_files_that_are_not_readable_traces() {
    for (name, message) in [
        ("zero-length.scry", "the file is empty"),
        ("future-version.scry", "unsupported format version 2.0"),
        ("bad-header-checksum.scry", "checksum mismatch"),
        ("bad-magic.scry", "bad magic bytes"),
    ] {
        let path = samples().join("corrupt").join(name);
        let run = scry(&["verify", path.to_str().unwrap()]);
        assert_eq!(run.code, 3, "{name}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(message) || run.stderr.contains(message),
            "{name}: {}{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn strict_reading_stops_at_damage_instead_of_skipping_it() {
    let flipped = samples().join("corrupt").join("flipped-chunk.scry");
    let flipped = flipped.to_str().unwrap();
    let lenient = scry(&["read", flipped, "--count"]);
    assert_eq!((lenient.code, lenient.stdout.trim()), (0, "1100"));
    assert_contains!(lenient.stderr, "skipped a damaged chunk");
    let strict = scry(&["read", flipped, "--count", "--strict"]);
    assert_eq!(strict.code, 3);
    assert_contains!(strict.stderr, "corrupt chunk at byte offset");
    assert_eq!(scry(&["top", "syscalls", flipped, "--strict"]).code, 3);
    let truncated = samples().join("corrupt").join("truncated-mid-chunk.scry");
    let truncated = truncated.to_str().unwrap();
    assert_eq!(scry(&["read", truncated, "--count"]).code, 0);
    let strict = scry(&["read", truncated, "--count", "--strict"]);
    assert_eq!(strict.code, 3);
    assert_contains!(strict.stderr, "is truncated at byte");
    let streamed = scry_with_stdin(
        &["read", "-", "--count", "--strict"],
        &std::fs::read(truncated).unwrap(),
    );
    assert_eq!(streamed.code, 3, "{}", streamed.stderr);
}
