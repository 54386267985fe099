//! Capture overhead: one fixed syscall-heavy workload (the "storm") run
//! uninstrumented, under a count-only BPF baseline (bpftrace), under
//! `scry record`, and under `strace -f`, in the same run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scry_format::TraceFile;

/// `storm --iterations N`: the workload. Prints its pid, then its elapsed
/// nanoseconds, on stdout.
pub fn storm(args: &[String]) -> Result<(), String> {
    let iterations = crate::flag(args, "--iterations", 200_000)?;
    let io = |e: std::io::Error| e.to_string();
    let mut null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(io)?;
    let mut zero = std::fs::File::open("/dev/zero").map_err(io)?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let port = listener.local_addr().map_err(io)?.port();
    let payload = [0x5au8; 64];
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for i in 0..iterations {
        for _ in 0..4 {
            std::hint::black_box(rustix::process::getppid());
        }
        null.write_all(&payload).map_err(io)?;
        null.write_all(&payload).map_err(io)?;
        zero.read_exact(&mut buf).map_err(io)?;
        zero.read_exact(&mut buf).map_err(io)?;
        drop(std::fs::File::open("/etc/hostname").map_err(io)?);
        if i % 64 == 0 {
            let client = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
            let (server, _) = listener.accept().map_err(io)?;
            drop((client, server));
        }
        if i % 1024 == 0 {
            Command::new("/bin/true").status().map_err(io)?;
        }
    }
    let elapsed = start.elapsed();
    println!("{}", elapsed.as_nanos());
    Ok(())
}

/// One run of the storm: its pid and how long it took.
struct StormRun {
    pid: u32,
    elapsed: Duration,
}

fn run_storm(wrapper: &[&str], iterations: usize) -> Result<StormRun, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_string_lossy().into_owned();
    let iterations = iterations.to_string();
    let mut argv: Vec<&str> = wrapper.to_vec();
    argv.extend([exe.as_str(), "storm", "--iterations", &iterations]);
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the storm failed under {wrapper:?}"));
    }
    let nanos: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| "the storm printed no time".to_owned())?;
    Ok(StormRun {
        pid,
        elapsed: Duration::from_nanos(nanos),
    })
}

fn median_run(wrapper: &[&str], iterations: usize, runs: usize) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(run_storm(wrapper, iterations)?.elapsed);
    }
    Ok(crate::median(times))
}

fn stop(child: &mut Child) -> Result<(), String> {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("could not stop a background tool".to_owned());
    }
    child.wait().map_err(|e| e.to_string())?;
    Ok(())
}

/// Stops a capture and measures it whole, final drain and file close
/// included: peak memory is sampled until the process is a zombie (which
/// keeps its CPU times, not its memory), and the CPU time is read from the
/// zombie before it is reaped.
fn stop_measured(child: &mut Child) -> Result<(f64, u64), String> {
    let pid = child.id();
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("could not stop scry record".to_owned());
    }
    let mut peak_kib = 0;
    let mut cpu_seconds = 0.0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (cpu, peak, zombie) = usage(pid);
        peak_kib = peak_kib.max(peak);
        cpu_seconds = f64::max(cpu_seconds, cpu);
        if zombie || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().map_err(|e| e.to_string())?;
    Ok((cpu_seconds, peak_kib))
}

/// CPU seconds (user + system) and peak resident memory of a process, and
/// whether it has exited (a zombie, not yet reaped).
fn usage(pid: u32) -> (f64, u64, bool) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let zombie = fields.first() == Some(&"Z");
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    (ticks as f64 / 100.0, peak_kib, zombie)
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts bpftrace counting every syscall exit per pid, once it is attached.
fn start_bpftrace() -> Result<Child, String> {
    if !Path::new("/sys/kernel/tracing/events").exists() {
        let _ = Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status();
    }
    let mut child = Command::new("bpftrace")
        .args([
            "-e",
            "tracepoint:raw_syscalls:sys_exit { @[pid] = count(); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("bpftrace: {e} (make bench installs it)"))?;
    // bpftrace prints "Attaching 1 probe..." once the probe is live.
    let mut stdout = child.stdout.take().ok_or("bpftrace has no stdout")?;
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Attaching") {
        if stdout.read(&mut byte).map_err(|e| e.to_string())? == 0 {
            return Err("bpftrace exited before attaching".to_owned());
        }
        seen.push(byte[0]);
    }
    // Keep reading its output so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    std::thread::sleep(Duration::from_millis(200));
    Ok(child)
}

/// What one storm under `scry record` showed.
struct ScryRun {
    elapsed: Duration,
    syscalls: u64,
    events: u64,
    dropped: u64,
    file_bytes: u64,
    cpu_seconds: f64,
    wall: Duration,
    peak_kib: u64,
}

fn scry_run(scry: &Path, out: &Path, iterations: usize) -> Result<ScryRun, String> {
    let _ = std::fs::remove_file(out);
    let started = Instant::now();
    let mut child = Command::new(scry)
        .args(["record", "-w"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", scry.display()))?;
    wait_for(
        || std::fs::metadata(out).is_ok_and(|m| m.len() > 0),
        "scry record",
    )?;
    let storm = run_storm(&[], iterations)?;
    let (cpu_seconds, peak_kib) = stop_measured(&mut child)?;
    // Up to its exit: the CPU time covers as much.
    let wall = started.elapsed();
    let data = std::fs::read(out).map_err(|e| e.to_string())?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    // The storm's own syscalls, and those of the children it forked.
    let mut family = vec![storm.pid];
    let mut syscalls = 0u64;
    let table = &trace.header().event_table;
    let forks: Vec<u16> = ["clone", "clone3", "vfork", "fork"]
        .iter()
        .filter_map(|n| table.id_of(n))
        .collect();
    let _ = trace.for_each_chunk(
        1,
        |_| true,
        |chunk| {
            if let Ok(chunk) = chunk {
                for event in chunk.iter() {
                    if family.contains(&event.tgid()) {
                        syscalls += 1;
                        if forks.contains(&event.event_type()) && event.ret() > 0 {
                            family.push(event.ret() as u32);
                        }
                    }
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        },
    );
    let stats = trace.final_stats().cloned().unwrap_or_default();
    Ok(ScryRun {
        elapsed: storm.elapsed,
        syscalls,
        events: trace.event_count(),
        dropped: stats.dropped(),
        file_bytes: data.len() as u64,
        cpu_seconds,
        wall,
        peak_kib,
    })
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Runs every mode and prints the capture table.
pub fn run(iterations: usize, runs: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let scry: PathBuf = exe.with_file_name("scry");
    if !scry.exists() {
        return Err(format!(
            "{} is missing: build it with cargo build --release",
            scry.display()
        ));
    }
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("out");
    let trace = out_dir.join("capture-bench.scry");

    // The three modes take turns, round after round, so that a machine
    // whose speed drifts over the minutes of the bench (shared hosts do)
    // shifts every mode alike instead of favouring the one measured first.
    let (mut bases, mut counts, mut scry_runs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=runs {
        eprintln!(
            "capture: round {round}/{runs}: uninstrumented, under bpftrace (count only), under scry record"
        );
        bases.push(run_storm(&[], iterations)?.elapsed);
        let mut bpftrace = start_bpftrace()?;
        let counted = run_storm(&[], iterations);
        stop(&mut bpftrace)?;
        counts.push(counted?.elapsed);
        scry_runs.push(scry_run(&scry, &trace, iterations)?);
    }
    let base = crate::median(bases);
    let counted = crate::median(counts);
    scry_runs.sort_by_key(|r| r.elapsed);
    let scry = &scry_runs[scry_runs.len() / 2];
    let syscalls = scry.syscalls.max(1) as f64;
    // strace is ~100× slower: run a twentieth of the storm and scale.
    eprintln!("capture: under strace -f");
    let strace_iterations = (iterations / 20).max(1);
    let straced = median_run(
        &["strace", "-f", "-qq", "-o", "/dev/null"],
        strace_iterations,
        1,
    )?;
    let strace_per_syscall =
        ns(straced) * (iterations as f64 / strace_iterations as f64) / syscalls;

    let per = |d: Duration| ns(d) / syscalls;
    let added = |d: Duration| per(d) - per(base);
    println!();
    println!(
        "scry bench: capture ({} syscalls per storm: getppid, 64-byte reads and writes, open/close, loopback connect/accept, fork/exec; {runs} runs, medians)",
        crate::count(scry.syscalls)
    );
    println!();
    println!("| measurement | scry | reference (same run) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| storm, uninstrumented | {:.0} ns/syscall | - | - |",
        per(base)
    );
    println!(
        "| added cost per syscall | +{:.0} ns | bpftrace count-only: +{:.0} ns | {:.2}x (target ≤ 2) |",
        added(scry.elapsed),
        added(counted),
        added(scry.elapsed) / added(counted).max(1.0)
    );
    println!(
        "| workload slowdown | {:.2}x | bpftrace count-only: {:.2}x | - |",
        ns(scry.elapsed) / ns(base),
        ns(counted) / ns(base)
    );
    println!(
        "| added cost per syscall, strace -f | +{:.0} ns | scry: +{:.0} ns | strace costs {:.0}x more |",
        strace_per_syscall - per(base),
        added(scry.elapsed),
        (strace_per_syscall - per(base)) / added(scry.elapsed).max(1.0)
    );
    println!(
        "| workload slowdown, strace -f | {:.1}x | scry: {:.2}x | - |",
        strace_per_syscall / per(base),
        ns(scry.elapsed) / ns(base),
    );
    println!(
        "| events captured during the storm | {:.2} M events/s, {} dropped | the storm's own rate: {:.2} M syscalls/s | - |",
        scry.events as f64 / scry.wall.as_secs_f64() / 1e6,
        crate::count(scry.dropped),
        syscalls / scry.elapsed.as_secs_f64() / 1e6,
    );
    println!(
        "| size on disk | {:.2} bytes/event | - | - |",
        scry.file_bytes as f64 / scry.events.max(1) as f64
    );
    println!(
        "| scry record CPU, final drain included | {:.2} s for {:.2} s of capture ({:.0} % of one core) | - | - |",
        scry.cpu_seconds,
        scry.wall.as_secs_f64(),
        100.0 * scry.cpu_seconds / scry.wall.as_secs_f64()
    );
    println!(
        "| scry record peak memory | {:.1} MiB | - | - |",
        scry.peak_kib as f64 / 1024.0
    );
    Ok(())
}
