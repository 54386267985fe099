//! A deterministic synthetic event stream shaped like a responder's capture
//! of a busy host: mostly reads and writes on a few hot fds, file opens from
//! a pool of realistic paths, cheap generic syscalls and some network
//! traffic from long-running services; and, as on a real host, forks and
//! execs that come in bursts (a cron job, a deploy, a health check run by a
//! script): a short-lived `curl` process appears for a few thousand events
//! every [`BURST_PERIOD`] events, and only there are `clone` and `execve`.
//! A filter on such a rare process or event type can therefore skip most
//! chunks by their index, as it can on a real capture.

use scry_format::{Event, ProcessInfo, Snapshot, SockAddr, ThreadInfo, UserInfo, Value};

/// xorshift64*: small, fast, and the same sequence on every machine.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: [&str; 24] = [
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/ld.so.cache",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libssl.so.3",
    "/usr/lib/locale/locale-archive",
    "/proc/self/status",
    "/proc/meminfo",
    "/proc/stat",
    "/var/log/syslog",
    "/var/log/auth.log",
    "/var/lib/app/data.db",
    "/var/lib/app/data.db-wal",
    "/tmp/.X11-unix/X0",
    "/home/alice/.bashrc",
    "/home/alice/.ssh/authorized_keys",
    "/usr/share/zoneinfo/UTC",
    "/dev/null",
    "/dev/urandom",
    "/run/systemd/journal/socket",
    "/sys/fs/cgroup/system.slice/app.service/memory.max",
];

const PAYLOADS: [&[u8]; 6] = [
    b"GET /api/v1/items?page=2 HTTP/1.1\r\nHost: app.internal\r\nUser-Agent: curl/8.5.0\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1832\r\n\r\n{\"items\":",
    b"Nov 25 05:01:02 host sshd[812]: Accepted publickey for alice from 10.0.0.7 port 51234",
    b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nbin:x",
    b"\x00\x00\x00\x1c\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x07example\x03com\x00\x00\x01",
    b"INSERT INTO events(ts, kind, payload) VALUES (1764046862, 'login', x'89ab'",
];

/// Syscall numbers (x86_64) used by the workload.
mod nr {
    pub const READ: u16 = 0;
    pub const WRITE: u16 = 1;
    pub const CLOSE: u16 = 3;
    pub const MMAP: u16 = 9;
    pub const GETPID: u16 = 39;
    pub const CONNECT: u16 = 42;
    pub const ACCEPT4: u16 = 288;
    pub const CLONE: u16 = 56;
    pub const EXECVE: u16 = 59;
    pub const FUTEX: u16 = 202;
    pub const EPOLL_WAIT: u16 = 232;
    pub const OPENAT: u16 = 257;
}

/// A burst of process activity starts every this many events…
pub const BURST_PERIOD: usize = 400_000;
/// …and lasts this many.
const BURST_LEN: usize = 4_000;
/// The pid of the process of burst `n` (the first is 30000).
const BURST_PID: u32 = 30_000;

/// The long-running services: name and executable; service `p` has pid
/// `1000 + 37 p`.
const SERVICES: [(&str, &str); 8] = [
    ("nginx", "/usr/sbin/nginx"),
    ("postgres", "/usr/lib/postgresql/16/bin/postgres"),
    ("sshd", "/usr/sbin/sshd"),
    ("app", "/srv/app/bin/app"),
    ("redis-server", "/usr/bin/redis-server"),
    ("systemd-journal", "/usr/lib/systemd/systemd-journald"),
    ("cron", "/usr/sbin/cron"),
    ("bash", "/usr/bin/bash"),
];

/// The pid of service `p` and its thread ids.
fn service_threads(p: u32) -> impl Iterator<Item = (u32, u32)> {
    let tgid = 1000 + p * 37;
    (0..=(p % 4)).map(move |t| (tgid + t, tgid))
}

/// The state the workload starts from: its services, their threads, and
/// the users they run as, so that process and user fields have values.
pub fn snapshot(start_ns: u64) -> Snapshot {
    let processes = SERVICES
        .iter()
        .zip(0u32..)
        .map(|(&(name, exe), p)| ProcessInfo {
            pid: 1000 + p * 37,
            ppid: 1,
            comm: name.as_bytes().to_vec(),
            exe: exe.as_bytes().to_vec(),
            args: vec![exe.as_bytes().to_vec()],
            cwd: b"/".to_vec(),
            uid: if p == 7 { 1000 } else { 0 },
            euid: if p == 7 { 1000 } else { 0 },
            loginuid: u32::MAX,
            start_ts: start_ns - 3_600_000_000_000,
            ..ProcessInfo::default()
        })
        .collect();
    let threads = (0..8u32)
        .flat_map(service_threads)
        .map(|(tid, tgid)| ThreadInfo {
            tid,
            tgid,
            comm: SERVICES[((tgid - 1000) / 37) as usize]
                .0
                .as_bytes()
                .to_vec(),
        })
        .collect();
    let user = |uid: u32, name: &str, home: &str| UserInfo {
        uid,
        gid: uid,
        name: name.to_owned(),
        home: home.to_owned(),
        shell: "/bin/bash".to_owned(),
    };
    Snapshot {
        ts: start_ns,
        processes,
        threads,
        users: vec![user(0, "root", "/root"), user(1000, "alice", "/home/alice")],
        ..Snapshot::default()
    }
}

/// Generates `count` events starting at `start_ns`.
pub fn generate(count: usize, start_ns: u64) -> Vec<Event> {
    let mut rng = Rng::new(0x5c7e_5eed);
    let mut ts = start_ns;
    // Eight services with one to four threads each.
    let threads: Vec<(u32, u32)> = (0..8u32).flat_map(service_threads).collect();
    let mut events = Vec::with_capacity(count);
    for i in 0..count {
        ts += 200 + rng.below(4_000);
        let burst = (i % BURST_PERIOD < BURST_LEN).then_some((i / BURST_PERIOD) as u32);
        let roll = match (burst, rng.below(1000)) {
            // The burst opens with the exec of its process.
            (Some(_), _) if i % BURST_PERIOD == 0 => 999,
            // Inside a burst, one event in ten forks or execs…
            (Some(_), roll) if roll >= 900 => 985 + roll % 15,
            // …outside, none does: those rolls become generic syscalls.
            (None, roll) if roll >= 985 => 710 + roll % 250,
            (_, roll) => roll,
        };
        let (tid, tgid) = match burst {
            // Half the events of a burst are its process's, and all its
            // forks and execs: the services never exec.
            Some(n) if roll >= 985 || rng.below(2) == 0 => (BURST_PID + n, BURST_PID + n),
            _ => threads[rng.below(threads.len() as u64) as usize],
        };
        let fd = 3 + rng.below(12) as i64;
        let (event_type, ret, params) = match roll {
            0..300 => {
                let data = PAYLOADS[rng.below(PAYLOADS.len() as u64) as usize];
                let size = 64 + rng.below(4096);
                let got = data.len().min(80);
                (
                    nr::READ,
                    size as i64,
                    vec![
                        Value::Fd(fd),
                        Value::Uint(size),
                        Value::Bytes(data[..got].to_vec()),
                        Value::Absent,
                    ],
                )
            }
            300..500 => {
                let data = PAYLOADS[rng.below(PAYLOADS.len() as u64) as usize];
                let len = 16 + rng.below(data.len() as u64 - 16) as usize;
                (
                    nr::WRITE,
                    len as i64,
                    vec![
                        Value::Fd(fd),
                        Value::Uint(len as u64),
                        Value::Bytes(data[..len].to_vec()),
                        Value::Absent,
                    ],
                )
            }
            500..580 => {
                let path = PATHS[rng.below(PATHS.len() as u64) as usize];
                let ret = if rng.below(10) == 0 { -2 } else { fd };
                (
                    nr::OPENAT,
                    ret,
                    vec![
                        Value::Fd(-100),
                        Value::Str(path.as_bytes().to_vec()),
                        Value::Uint(0o2_000_000),
                        Value::Uint(0),
                        Value::Fd(ret),
                    ],
                )
            }
            580..660 => (nr::CLOSE, 0, vec![Value::Fd(fd)]),
            660..710 => (
                nr::MMAP,
                0x7f00_0000_0000 + rng.below(1 << 30) as i64 * 4096,
                vec![
                    Value::Uint(0),
                    Value::Uint(4096 * (1 + rng.below(64))),
                    Value::Uint(3),
                    Value::Uint(0x22),
                    Value::Fd(-1),
                    Value::Uint(0),
                ],
            ),
            710..960 => {
                let event_type = [nr::FUTEX, nr::EPOLL_WAIT, nr::GETPID][rng.below(3) as usize];
                let args = (0..6)
                    .map(|i| Value::Uint(if i < 3 { rng.below(1 << 16) } else { 0 }))
                    .collect();
                (event_type, rng.below(3) as i64, args)
            }
            960..985 => {
                let port = [443u16, 80, 53, 5432][rng.below(4) as usize];
                let addr = SockAddr::Inet(
                    format!("10.0.{}.{}:{port}", rng.below(4), 1 + rng.below(20))
                        .parse()
                        .expect("valid address"),
                );
                let local = SockAddr::Inet(
                    format!("10.0.0.5:{}", 32768 + rng.below(28000))
                        .parse()
                        .expect("valid address"),
                );
                let (event_type, ret) = if rng.below(2) == 0 {
                    (nr::CONNECT, 0)
                } else {
                    (nr::ACCEPT4, fd)
                };
                (
                    event_type,
                    ret,
                    vec![Value::Fd(fd), Value::SockAddr(addr), Value::SockAddr(local)],
                )
            }
            985..995 => (
                nr::CLONE,
                i64::from(tgid) + 500,
                vec![Value::Uint(0x1200011), Value::Int(i64::from(tgid) + 500)],
            ),
            _ => {
                let argv = vec![
                    b"/usr/bin/curl".to_vec(),
                    b"-s".to_vec(),
                    b"https://app.internal/health".to_vec(),
                ];
                let mut params = vec![
                    Value::Fd(-100),
                    Value::Str(b"/usr/bin/curl".to_vec()),
                    Value::StrList(argv),
                    Value::Str(b"/usr/bin/curl".to_vec()),
                    Value::Str(b"/srv/app".to_vec()),
                ];
                params.extend([1000u64, 1000, 1000, 1000, 1000, 34816, 0, 0, 0].map(Value::Uint));
                params.push(Value::Str(b"/system.slice/app.service".to_vec()));
                params.push(Value::Uint(0));
                (nr::EXECVE, 0, params)
            }
        };
        let latency = 300
            + rng.below(if event_type == nr::READ {
                20_000
            } else {
                2_000
            });
        events.push(Event {
            ts,
            tid,
            tgid,
            cpu: rng.below(2) as u16,
            event_type,
            ret,
            latency,
            params,
        });
    }
    events
}
