//! Reading sysdig/Falco captures: `scry read` and `scry top` on a
//! multi-million-event `.scap` against `sysdig -r` on the same file, plain
//! and gzip'd, then the same queries on the `.scry` that `scry convert`
//! makes of it; and the size of the same events as gzip'd `.scap` and as
//! `.scry`, for that file and for the real captures of `samples/scap/`.
//!
//! The large capture is a real one (`samples/scap/curl_google.scap`) with
//! its event blocks repeated, timestamps shifted by the capture's span each
//! time, until it holds the wanted number of events. Its `procexit` events
//! are kept only in the last repetition, so that the process stays alive
//! (and named) across repetitions for both tools. Rates are capture events
//! (enter and exit events counted apart, as sysdig counts them) per second
//! of wall time, with each tool run as a child process writing to
//! /dev/null.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The capture the large file repeats.
const SOURCE: &str = "samples/scap/curl_google.scap";
/// A filter that matches a handful of events per repetition.
const SELECTIVE: &str = "evt.type=connect and proc.name=curl";
/// libscap's `procexit` event codes (old and current layouts).
const PROCEXIT_CODES: [u16; 2] = [16, 186];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut child = Command::new("gzip")
        .args(["-dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    let mut input = child.stdin.take().ok_or("gzip stdin")?;
    let data = bytes.to_vec();
    let feeder = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = feeder.join();
    if !out.status.success() {
        return Err("gzip -d failed".to_owned());
    }
    Ok(out.stdout)
}

/// The blocks of a plain capture: (type, offset, length).
fn blocks(data: &[u8]) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let word = |o: usize| u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
        let (kind, len) = (word(at), word(at + 4) as usize);
        if len < 12 || at + len > data.len() {
            break;
        }
        out.push((kind, at, len));
        at += len;
    }
    out
}

/// Offset of the event header in an event block's body, by block type.
fn event_offset(kind: u32) -> Option<usize> {
    match kind {
        0x204 | 0x8010_ABCD | 0x216 | 0x221 => Some(8 + 2),
        0x208 | 0x217 | 0x222 => Some(8 + 2 + 4),
        _ => None,
    }
}

/// Writes a capture of at least `events` events built from `source`; its
/// event count.
pub fn generate(source: &Path, events: u64, out: &Path) -> Result<u64, String> {
    let data = gunzip(&std::fs::read(source).map_err(|e| format!("{}: {e}", source.display()))?)?;
    let blocks = blocks(&data);
    let first_event = blocks
        .iter()
        .position(|(kind, _, _)| event_offset(*kind).is_some())
        .ok_or("the capture has no events")?;
    let ts_of = |&(kind, at, _): &(u32, usize, usize)| {
        event_offset(kind).map(|o| {
            let b = &data[at + o..at + o + 8];
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        })
    };
    let stamps: Vec<u64> = blocks[first_event..].iter().filter_map(ts_of).collect();
    let first = stamps.iter().copied().min().unwrap_or(0);
    let last = stamps.iter().copied().max().unwrap_or(0);
    let span = last - first + 1_000;
    let per_round = stamps.len() as u64;
    let rounds = events.div_ceil(per_round).max(1);
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut out_file = std::io::BufWriter::with_capacity(1 << 20, file);
    let write = |w: &mut std::io::BufWriter<std::fs::File>, b: &[u8]| {
        w.write_all(b).map_err(|e| e.to_string())
    };
    let (_, head_end, _) = blocks[first_event];
    write(&mut out_file, &data[..head_end])?;
    let mut written = 0u64;
    let mut block = Vec::new();
    for round in 0..rounds {
        let last_round = round + 1 == rounds;
        for &(kind, at, len) in &blocks[first_event..] {
            let Some(offset) = event_offset(kind) else {
                continue;
            };
            let code_at = at + offset + 20;
            let code = u16::from_le_bytes([data[code_at], data[code_at + 1]]);
            if !last_round && PROCEXIT_CODES.contains(&code) {
                continue;
            }
            block.clear();
            block.extend_from_slice(&data[at..at + len]);
            let ts_at = offset;
            let ts = u64::from_le_bytes(block[ts_at..ts_at + 8].try_into().unwrap_or([0; 8]));
            let shifted = ts.wrapping_add(round * span);
            block[ts_at..ts_at + 8].copy_from_slice(&shifted.to_le_bytes());
            write(&mut out_file, &block)?;
            written += 1;
        }
    }
    out_file.flush().map_err(|e| e.to_string())?;
    Ok(written)
}

/// Whether `path` exists and was written after `source`.
fn fresh(path: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(path), modified(source)) {
        (Some(made), Some(from)) => made >= from,
        _ => false,
    }
}

/// The events of a plain capture, counted by walking its blocks.
fn count_events(path: &Path) -> Result<u64, String> {
    // Read whole: the blocks are walked by their lengths alone, and a
    // buffered reader that seeks refills its buffer at every block that
    // crosses its end.
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut at = 0;
    let mut events = 0;
    while let Some(head) = data.get(at..at + 8) {
        let kind = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len < 12 {
            return Err(format!("{}: damaged block at {at}", path.display()));
        }
        if event_offset(kind).is_some() {
            events += 1;
        }
        at += len;
    }
    Ok(events)
}

/// Runs a command with its output to /dev/null; its wall time.
fn timed(program: &Path, args: &[&str]) -> Result<Duration, String> {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let elapsed = start.elapsed();
    // `read` exits 1 when nothing matched, which is not a failure here.
    if out.status.code().is_none_or(|code| code > 1) {
        return Err(format!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(elapsed)
}

fn median_of(runs: usize, program: &Path, args: &[&str]) -> Result<Duration, String> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(timed(program, args)?);
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}

fn sysdig() -> Option<PathBuf> {
    let out = Command::new("sysdig").arg("--version").output().ok()?;
    out.status.success().then(|| PathBuf::from("sysdig"))
}

/// Whether this `scry` has the `top` command.
fn has_top(scry: &Path) -> bool {
    Command::new(scry)
        .args(["top", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn gzip_file(path: &Path) -> Result<PathBuf, String> {
    let out = path.with_extension("scap.gz");
    let file = std::fs::File::create(&out).map_err(|e| e.to_string())?;
    let status = Command::new("gzip")
        .args(["-c", "-6"])
        .arg(path)
        .stdout(file)
        .status()
        .map_err(|e| format!("gzip: {e}"))?;
    if !status.success() {
        return Err("gzip failed".to_owned());
    }
    Ok(out)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Prints the `.scap` table.
pub fn run_table(events: u64, runs: usize) -> Result<(), String> {
    let scry = crate::read::scry_binary()?;
    let dir = repo().join("bench").join("out");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let plain = dir.join(format!("repeated-{events}.scap"));
    let source = repo().join(SOURCE);
    // The capture is rebuilt only when it is missing or older than the
    // sample it repeats (building and gzipping it takes a minute).
    let count = match fresh(&plain, &source).then(|| count_events(&plain)) {
        // Whole repetitions of the sample make up the count, less the
        // process exits left out: a little under the events asked for.
        Some(Ok(count)) if count >= events - events / 100 => {
            eprintln!("scap: reusing {} ({count} events)", plain.display());
            count
        }
        _ => {
            eprintln!("scap: building {} ({events} events)…", plain.display());
            generate(&source, events, &plain)?
        }
    };
    let gz = plain.with_extension("scap.gz");
    let gz = if fresh(&gz, &plain) {
        gz
    } else {
        eprintln!("scap: gzip…");
        gzip_file(&plain)?
    };
    let converted = dir.join(format!("repeated-{events}.scry"));
    eprintln!("scap: convert…");
    let convert_time = timed(
        &scry,
        &[
            "convert",
            &plain.to_string_lossy(),
            "-w",
            &converted.to_string_lossy(),
            "-q",
        ],
    )?;
    let sysdig = sysdig();
    println!();
    println!(
        "scry bench: .scap captures ({} capture events: {SOURCE} repeated; {runs} runs, medians; capture events per second; output to /dev/null)",
        crate::count(count)
    );
    println!();
    println!("| query | file | scry | sysdig 0.29.3 -r | scry / sysdig | target |");
    println!("|---|---|---|---|---|---|");
    let rate = |time: Duration| crate::rate(count, time);
    let row = |label: &str,
               file: &Path,
               scry_args: &[&str],
               sysdig_args: Option<&[&str]>,
               sysdig_file: &Path,
               target: &str|
     -> Result<(), String> {
        eprintln!("scap: {label} on {}", file.display());
        // The trace goes after the command and, for `top`, its view.
        let file_arg = file.to_string_lossy().into_owned();
        let at = if scry_args.first() == Some(&"top") {
            2
        } else {
            1
        };
        let args: Vec<&str> = [&scry_args[..at], &[file_arg.as_str()], &scry_args[at..]].concat();
        let ours = rate(median_of(runs, &scry, &args)?);
        let theirs = match (&sysdig, sysdig_args) {
            (Some(sysdig), Some(extra)) => {
                let file_arg = sysdig_file.to_string_lossy().into_owned();
                let args: Vec<&str> = [&["-r", file_arg.as_str()][..], extra].concat();
                Some(rate(median_of(runs, sysdig, &args)?))
            }
            _ => None,
        };
        let name = file
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        println!(
            "| {label} | {name} | {} | {} | {} | {target} |",
            crate::millions(ours),
            theirs.map_or("-".to_owned(), crate::millions),
            theirs.map_or("-".to_owned(), |t| format!("{:.1}×", ours / t))
        );
        Ok(())
    };
    let selective = &["read", "--count", SELECTIVE][..];
    let print = &["read"][..];
    for file in [&plain, &gz] {
        row(
            "read --count, selective filter",
            file,
            selective,
            Some(&[SELECTIVE]),
            file,
            "≥ 3× sysdig",
        )?;
        row(
            "read, print every event",
            file,
            print,
            Some(&[]),
            file,
            "≥ 5× sysdig",
        )?;
        if has_top(&scry) {
            row(
                "top files",
                file,
                &["top", "files"],
                Some(&["-c", "topfiles_bytes"]),
                file,
                "-",
            )?;
        }
    }
    row(
        "read --count, selective filter (after convert)",
        &converted,
        selective,
        Some(&[SELECTIVE]),
        &plain,
        "≥ 10× sysdig on the .scap",
    )?;
    row(
        "read, print every event (after convert)",
        &converted,
        print,
        Some(&[]),
        &plain,
        "≥ 10× sysdig on the .scap",
    )?;
    if has_top(&scry) {
        row(
            "top files (after convert)",
            &converted,
            &["top", "files"],
            Some(&["-c", "topfiles_bytes"]),
            &plain,
            "-",
        )?;
    } else {
        println!("| top files | - | `scry top` is not in this build: skipped | | | |");
    }
    if sysdig.is_none() {
        println!(
            "\nsysdig is not installed (`apt-get install sysdig`, scripts/deps.sh bench): its column is empty."
        );
    }
    println!(
        "\n`scry convert` of the plain file: {} events/s.",
        crate::millions(rate(convert_time))
    );

    println!();
    println!("| file | events | gzip'd .scap | .scry | .scry / .scap.gz | target |");
    println!("|---|---|---|---|---|---|");
    let per_event = |bytes: u64, n: u64| bytes as f64 / n.max(1) as f64;
    println!(
        "| {} (repeated) | {} | {:.1} B/event | {:.1} B/event | {:.3} | - |",
        SOURCE,
        crate::count(count),
        per_event(size(&gz), count),
        per_event(size(&converted), count),
        size(&converted) as f64 / size(&gz).max(1) as f64
    );
    let samples = repo().join("samples").join("scap");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&samples)
        .map_err(|e| format!("{}: {e}", samples.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "scap"))
        .collect();
    names.sort();
    for capture in names {
        let data = std::fs::read(&capture).map_err(|e| e.to_string())?;
        let plain_bytes = gunzip(&data)?;
        let events = blocks(&plain_bytes)
            .iter()
            .filter(|(kind, _, _)| event_offset(*kind).is_some())
            .count() as u64;
        let gz_len = if data.starts_with(&[0x1f, 0x8b]) {
            data.len() as u64
        } else {
            let tmp = dir.join("sample.scap");
            std::fs::write(&tmp, &data).map_err(|e| e.to_string())?;
            size(&gzip_file(&tmp)?)
        };
        let out = dir.join("sample.scry");
        timed(
            &scry,
            &[
                "convert",
                &capture.to_string_lossy(),
                "-w",
                &out.to_string_lossy(),
                "-q",
            ],
        )?;
        let scry_len = size(&out);
        println!(
            "| {} | {} | {} B ({:.1} B/event) | {} B ({:.1} B/event) | {:.3} | ≤ 1/3 (0.333) |",
            capture
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            crate::count(events),
            gz_len,
            per_event(gz_len, events),
            scry_len,
            per_event(scry_len, events),
            scry_len as f64 / gz_len.max(1) as f64
        );
    }
    Ok(())
}
