//! Loads the real probe into the kernel, runs a small workload and checks the
//! records that come back. Needs root (or CAP_BPF + CAP_PERFMON): without it
//! each test prints a skip note and passes.

use std::cell::RefCell;
use std::io::Read;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;
use std::time::Instant;

use libbpf_rs::RingBufferBuilder;
use libbpf_rs::skel::OpenSkel;
use libbpf_rs::skel::Skel;
use libbpf_rs::skel::SkelBuilder;
use scry_probe::abi;
use scry_probe::batch_records;
use scry_probe::flush_stage;
use scry_probe::header_of;
use scry_probe::install_rings;
use scry_probe::param_header_of;
use scry_probe::read_counters;
use scry_probe::scry_event_header;
use scry_probe::scry_param;
use scry_probe::skel::ScrySkelBuilder;
use scry_probe::{choose_stash, task_storage_usable};

const SYS_READ: u16 = 0;
const SYS_CLOSE: u16 = 3;
const SYS_EXECVE: u16 = 59;
const SYS_GETPPID: u16 = 110;
const SYS_OPENAT: u16 = 257;
const CLONE_FAMILY: [u16; 4] = [56, 57, 58, 435];

const RING_BYTES: u32 = 1 << 20;

fn is_root() -> bool {
    // /proc/self is owned by the effective uid of the process.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[derive(Debug, Clone)]
struct Param {
    kind: u8,
    flags: u8,
    value: Vec<u8>,
}

impl Param {
    fn num(&self) -> i64 {
        let bytes: [u8; 8] = self.value.as_slice().try_into().expect("8-byte value");
        i64::from_le_bytes(bytes)
    }
}

#[derive(Debug, Clone)]
struct Record {
    hdr: scry_event_header,
    params: Vec<Param>,
}

/// Decodes one record of a ring sample, checking the framing as it goes.
fn decode(sample: &[u8]) -> Record {
    let hdr = *header_of(sample).expect("an aligned header");
    assert_eq!(
        hdr.len as usize,
        sample.len(),
        "header.len is the record length"
    );
    let mut off = size_of::<scry_event_header>();
    let mut params = Vec::new();
    for _ in 0..hdr.nparams {
        let p = param_header_of(&sample[off..]).expect("param header");
        off += size_of::<scry_param>();
        let end = off + usize::from(p.len);
        params.push(Param {
            kind: p.kind,
            flags: p.flags,
            value: sample[off..end].to_vec(),
        });
        off = end;
    }
    assert_eq!(off, sample.len(), "params fill the record exactly");
    Record { hdr, params }
}

/// Loads and attaches the probe, runs `workload`, then drains the rings until
/// `done` is satisfied or a few seconds pass. Returns every decoded record.
fn capture(
    task_storage: bool,
    targ_tgid: u32,
    workload: impl FnOnce(),
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let mut storage = MaybeUninit::uninit();
    let mut open_skel = ScrySkelBuilder::default()
        .open(&mut storage)
        .expect("open skeleton");
    let ncpus = libbpf_rs::num_possible_cpus().expect("possible cpus");
    {
        let ro = open_skel.maps.rodata_data.as_deref_mut().expect("rodata");
        ro.targ_snaplen = 64;
        ro.targ_self_tgid = 0;
        ro.targ_tgid = targ_tgid;
    }
    open_skel
        .maps
        .events
        .set_max_entries(u32::try_from(ncpus).expect("cpu count"))
        .expect("size events");
    choose_stash(&mut open_skel, task_storage).expect("choose stash");
    let mut skel = open_skel
        .load()
        .expect("load: the verifier must accept the probe");
    let rings = install_rings(&skel.maps.events, ncpus, RING_BYTES).expect("install rings");

    let records = RefCell::new(Vec::new());
    let mut builder = RingBufferBuilder::new();
    for ring in &rings {
        builder
            .add(ring, |sample: &[u8]| {
                for record in batch_records(sample) {
                    let (_, record) = record.expect("records frame the sample exactly");
                    records.borrow_mut().push(decode(record));
                }
                0
            })
            .expect("add ring");
    }
    let rb = builder.build().expect("ring buffer");

    skel.attach().expect("attach");
    workload();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for cpu in 0..ncpus {
            let cpu = u32::try_from(cpu).expect("cpu number");
            while !flush_stage(&skel.progs.handle__flush, cpu).expect("flush a stage") {}
        }
        rb.consume().expect("consume");
        if done(&records.borrow()) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let counters = read_counters(&skel.maps.counters).expect("counters");
    let delivered: u64 = counters.iter().map(|c| c.delivered).sum();
    let dropped: u64 = counters.iter().map(|c| c.dropped + c.dropped_no_ring).sum();
    eprintln!("{ncpus} cpus, delivered {delivered}, dropped {dropped}");
    assert!(delivered > 0, "counters report delivered records");
    drop(rb);
    records.into_inner()
}

/// The stash variant this kernel runs in a capture.
fn native_stash() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    task_storage_usable((major, minor))
}

#[test]
fn records_own_file_syscalls_with_task_storage() {
    if !is_root() || !native_stash() {
        eprintln!("skipping: loading BPF needs root, task storage needs Linux 5.12");
        return;
    }
    records_own_file_syscalls(true);
}

/// The variant kernels before 5.12 run, tested wherever the probe loads.
#[test]
fn records_own_file_syscalls_with_the_hash_stash() {
    if !is_root() {
        eprintln!("skipping: loading BPF needs root");
        return;
    }
    records_own_file_syscalls(false);
}

fn records_own_file_syscalls(task_storage: bool) {
    let dir = std::env::temp_dir().join(format!(
        "scry-probe-load-{}-{task_storage}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("hello.txt");
    let content = b"scry probe load test: hello from the workload\n";
    std::fs::write(&path, content).expect("write temp file");
    let path_str = path.to_str().expect("utf-8 path").to_owned();

    let me = std::process::id();
    let mut parent = 0;
    let mut read_back = Vec::new();
    let records = capture(
        task_storage,
        me,
        || {
            let mut f = std::fs::File::open(&path).expect("open");
            f.read_to_end(&mut read_back).expect("read");
            drop(f);
            for _ in 0..3 {
                parent = std::os::unix::process::parent_id();
            }
        },
        |recs| {
            [SYS_OPENAT, SYS_READ, SYS_CLOSE, SYS_GETPPID]
                .iter()
                .all(|nr| recs.iter().any(|r| r.hdr.nr == *nr))
        },
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(read_back, content);

    let mine: Vec<&Record> = records.iter().filter(|r| r.hdr.tgid == me).collect();
    assert!(
        records.iter().all(|r| r.hdr.tgid == me),
        "targ_tgid filters other processes"
    );

    let open = mine
        .iter()
        .find(|r| {
            r.hdr.nr == SYS_OPENAT
                && r.params
                    .get(1)
                    .is_some_and(|p| p.value == path_str.as_bytes())
        })
        .unwrap_or_else(|| panic!("an openat record for {path_str}"));
    let opens = mine
        .iter()
        .filter(|r| r.hdr.nr == SYS_OPENAT && r.params[1].value == path_str.as_bytes())
        .count();
    assert_eq!(opens, 1, "one record per syscall");
    assert_eq!(open.params.len(), 5);
    assert_eq!(open.params[0].kind, abi::PARAM_FD);
    assert_eq!(open.params[0].num(), -100, "dirfd is AT_FDCWD");
    assert_eq!(open.params[1].kind, abi::PARAM_STR);
    assert_eq!(open.params[4].kind, abi::PARAM_FD);
    let fd = open.hdr.ret;
    assert!(fd >= 0, "open succeeded");
    assert_eq!(open.params[4].num(), fd);
    assert!(open.hdr.latency_ns > 0, "entry was seen");

    let read = mine
        .iter()
        .find(|r| r.hdr.nr == SYS_READ && r.params[0].num() == fd && r.hdr.ret > 0)
        .expect("a read record on the opened fd");
    assert_eq!(read.params.len(), 4);
    assert_eq!(read.params[2].kind, abi::PARAM_BYTES);
    assert_eq!(
        read.params[2].value, content,
        "data is the bytes read (under the snaplen)"
    );
    assert_eq!(read.params[3].kind, abi::PARAM_ABSENT);

    assert!(
        mine.iter()
            .any(|r| r.hdr.nr == SYS_CLOSE && r.params[0].num() == fd && r.hdr.ret == 0),
        "a close record for fd {fd}"
    );
    let ppid: Vec<_> = mine.iter().filter(|r| r.hdr.nr == SYS_GETPPID).collect();
    assert!(ppid.len() >= 3, "three getppid records, got {}", ppid.len());
    for r in ppid {
        assert_eq!(r.hdr.ret, i64::from(parent));
        assert_eq!(r.params.len(), 6, "generic record: a0..a5");
        assert!(r.params.iter().all(|p| p.kind == abi::PARAM_UINT));
    }
}

#[test]
fn records_child_exec_and_exit() {
    if !is_root() {
        eprintln!("skipping: loading BPF needs root");
        return;
    }
    let mut child_pid = 0;
    let records = capture(
        native_stash(),
        0,
        || {
            let mut child = std::process::Command::new("/bin/sh")
                .args(["-c", "exit 3"])
                .spawn()
                .expect("spawn /bin/sh");
            child_pid = child.id();
            assert_eq!(child.wait().expect("wait").code(), Some(3));
        },
        |recs| {
            recs.iter().any(|r| r.hdr.nr == abi::EVT_PROCEXIT)
                && recs.iter().any(|r| r.hdr.nr == SYS_EXECVE)
        },
    );
    let child: Vec<&Record> = records.iter().filter(|r| r.hdr.tgid == child_pid).collect();

    let exec = child
        .iter()
        .find(|r| r.hdr.nr == SYS_EXECVE && r.hdr.ret == 0)
        .expect("a successful execve record from the child");
    assert_eq!(exec.params.len(), 16);
    assert_eq!(exec.params[1].value, b"/bin/sh", "filename copied at entry");
    assert_eq!(exec.params[2].kind, abi::PARAM_STRLIST);
    assert_eq!(
        exec.params[2].value, b"/bin/sh\0-c\0exit 3\0",
        "argv copied at entry"
    );
    assert_eq!(exec.params[2].flags, 0, "argv complete");
    let exe = String::from_utf8_lossy(&exec.params[3].value).into_owned();
    assert!(
        exe.starts_with('/') && exe.ends_with("sh"),
        "exe is a full path: {exe}"
    );
    let cwd = String::from_utf8_lossy(&exec.params[4].value).into_owned();
    let want_cwd = std::env::current_dir().expect("cwd");
    assert_eq!(std::path::Path::new(&cwd), want_cwd, "cwd is a full path");
    assert_eq!(exec.params[5].num(), 0, "uid is root");
    assert_eq!(exec.params[15].num(), 0, "execve flags");

    let exit = child
        .iter()
        .find(|r| r.hdr.nr == abi::EVT_PROCEXIT)
        .expect("a procexit record for the child");
    assert_eq!(exit.params.len(), 2);
    assert_eq!(exit.params[0].num(), 3, "exit status");
    assert_eq!(exit.params[1].num(), 0, "no signal");

    assert!(
        child
            .iter()
            .any(|r| CLONE_FAMILY.contains(&r.hdr.nr) && r.hdr.ret == 0),
        "the child side of clone/fork is recorded"
    );
}

/// The value of a SOCKADDR parameter as (family, port, IPv4 address).
fn inet(p: &Param) -> (u16, u16, [u8; 4]) {
    assert_eq!(p.kind, abi::PARAM_SOCKADDR, "a sockaddr: {p:?}");
    let v = &p.value;
    (
        u16::from_le_bytes([v[0], v[1]]),
        u16::from_be_bytes([v[2], v[3]]),
        [v[4], v[5], v[6], v[7]],
    )
}

#[test]
fn records_socket_pipe_and_path_syscalls() {
    use std::io::Write;
    use std::net::TcpListener;
    use std::net::TcpStream;
    use std::net::UdpSocket;

    if !is_root() {
        eprintln!("skipping: loading BPF needs root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("scry-probe-paths-{}", std::process::id()));
    let (sub, moved) = (dir.join("sub"), dir.join("moved"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let me = std::process::id();
    let (mut server_port, mut client_port, mut udp_port) = (0, 0, 0);
    let payload = b"ping over udp";

    let records = capture(
        native_stash(),
        me,
        || {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            server_port = listener.local_addr().expect("addr").port();
            let client = TcpStream::connect(("127.0.0.1", server_port)).expect("connect");
            client_port = client.local_addr().expect("addr").port();
            let (_conn, _) = listener.accept().expect("accept");

            let rx = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
            udp_port = rx.local_addr().expect("addr").port();
            let tx = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
            tx.send_to(payload, ("127.0.0.1", udp_port))
                .expect("send_to");
            let mut buf = [0u8; 64];
            let (n, _) = rx.recv_from(&mut buf).expect("recv_from");
            assert_eq!(&buf[..n], payload);

            let (_r, mut w) = std::io::pipe().expect("pipe");
            w.write_all(b"x").expect("pipe write");

            std::fs::create_dir(&sub).expect("mkdir");
            std::fs::rename(&sub, &moved).expect("rename");
            std::fs::remove_dir(&moved).expect("rmdir");
        },
        |recs| recs.iter().any(|r| r.hdr.nr == 84),
    );
    std::fs::remove_dir_all(&dir).ok();
    let find = |nr: u16, what: &str| {
        records
            .iter()
            .find(|r| r.hdr.nr == nr && r.hdr.ret >= 0)
            .unwrap_or_else(|| panic!("a successful {what} record"))
    };
    let str_param = |p: &Param| String::from_utf8_lossy(&p.value).into_owned();

    let connect = records
        .iter()
        .find(|r| r.hdr.nr == 42 && inet(&r.params[1]).1 == server_port)
        .expect("a connect record to the listener");
    assert_eq!(inet(&connect.params[1]), (2, server_port, [127, 0, 0, 1]));
    assert_eq!(
        inet(&connect.params[2]),
        (2, client_port, [127, 0, 0, 1]),
        "local address from the kernel socket"
    );

    let accept = find(288, "accept4");
    assert_eq!(
        inet(&accept.params[2]),
        (2, client_port, [127, 0, 0, 1]),
        "peer"
    );
    assert_eq!(
        inet(&accept.params[3]),
        (2, server_port, [127, 0, 0, 1]),
        "local"
    );

    let bind = find(49, "bind");
    assert_eq!(inet(&bind.params[1]).0, 2);
    assert!(records.iter().any(|r| r.hdr.nr == 50), "a listen record");
    assert!(records.iter().any(|r| r.hdr.nr == 41), "a socket record");

    let sendto = find(44, "sendto");
    assert_eq!(sendto.params[2].value, payload);
    assert_eq!(inet(&sendto.params[3]), (2, udp_port, [127, 0, 0, 1]));
    let recvfrom = find(45, "recvfrom");
    assert_eq!(recvfrom.params[2].value, payload);
    assert_eq!(inet(&recvfrom.params[3]).0, 2, "sender address");

    let pipe = find(293, "pipe2");
    assert_eq!(pipe.params[0].kind, abi::PARAM_FD);
    assert!(pipe.params[0].num() >= 0 && pipe.params[1].num() > pipe.params[0].num());

    let mkdir = records
        .iter()
        .find(|r| r.hdr.nr == 83 || r.hdr.nr == 258)
        .expect("a mkdir record");
    let path_idx = usize::from(mkdir.hdr.nr == 258);
    assert_eq!(
        str_param(&mkdir.params[path_idx]),
        sub.to_str().expect("utf-8")
    );
    let rename = records
        .iter()
        .find(|r| [82, 264, 316].contains(&r.hdr.nr))
        .expect("a rename record");
    let names: Vec<String> = rename.params.iter().map(str_param).collect();
    assert!(
        names.contains(&moved.to_str().expect("utf-8").to_owned()),
        "{names:?}"
    );
    assert_eq!(
        str_param(&find(84, "rmdir").params[0]),
        moved.to_str().expect("utf-8")
    );
}
