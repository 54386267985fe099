//! Falco-style conditions: a corpus written in the shapes Falco's stable
//! default rules use (their macros expanded by hand: list references
//! inlined, nested parentheses, negated macros), naming every field those
//! rules use in conditions or outputs, with every operator they use. Each
//! must compile against the catalog of a real capture and evaluate over it;
//! a field that disappears from the catalog fails here.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::Path;

use scry_analyze::{Filter, Prepared, Scan, scan};
use scry_format::TraceFile;

/// The fields Falco's stable rules name, in conditions or outputs.
const FALCO_FIELDS: &[&str] = &[
    "container.id",
    "container.image.repository",
    "container.privileged",
    "container.start_ts",
    "evt.arg.domain",
    "evt.arg.flags",
    "evt.arg.linkpath",
    "evt.arg.newpath",
    "evt.arg.oldpath",
    "evt.arg.request",
    "evt.arg.target",
    "evt.args",
    "evt.dir",
    "evt.hostname",
    "evt.is_open_read",
    "evt.is_open_write",
    "evt.num",
    "evt.rawres",
    "evt.res",
    "evt.type",
    "fd.connected",
    "fd.directory",
    "fd.filename",
    "fd.ip",
    "fd.l4proto",
    "fd.lport",
    "fd.name",
    "fd.name_changed",
    "fd.nameraw",
    "fd.net",
    "fd.num",
    "fd.rport",
    "fd.sip",
    "fd.sip.name",
    "fd.snet",
    "fd.sport",
    "fd.type",
    "fd.typechar",
    "group.gid",
    "group.name",
    "k8s.ns.name",
    "proc.aexepath",
    "proc.aname",
    "proc.args",
    "proc.cmdline",
    "proc.cwd",
    "proc.duration",
    "proc.exe",
    "proc.exe_ino.ctime",
    "proc.exe_ino.ctime_duration_proc_start",
    "proc.exe_ino.mtime",
    "proc.exepath",
    "proc.is_exe_from_memfd",
    "proc.is_exe_upper_layer",
    "proc.is_vpgid_leader",
    "proc.name",
    "proc.pcmdline",
    "proc.pexe",
    "proc.pexepath",
    "proc.pname",
    "proc.ppid.duration",
    "proc.sname",
    "proc.tty",
    "proc.vpgid.exe",
    "proc.vpgid.name",
    "syscall.type",
    "thread.cap_effective",
    "thread.cap_permitted",
    "user.loginname",
    "user.loginuid",
    "user.name",
    "user.uid",
];

/// The operators those rules use.
const FALCO_OPERATORS: &[&str] = &[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "glob",
    "exists",
];

/// Opening a file for writing (Falco's `open_write`).
const OPEN_WRITE: &str = "(evt.type in (open,openat,openat2) and evt.is_open_write=true \
                          and fd.typechar='f' and fd.num>=0)";
/// Opening a file for reading (Falco's `open_read`).
const OPEN_READ: &str = "(evt.type in (open,openat,openat2) and evt.is_open_read=true \
                         and fd.typechar='f' and fd.num>=0)";
/// A failed open (Falco's `open_file_failed`).
const OPEN_FILE_FAILED: &str = "(evt.type in (open,openat,openat2) and fd.typechar='f' \
                                and fd.num=-1 and evt.res startswith E)";
/// A new program (Falco's `spawned_process`).
const SPAWNED: &str = "(evt.type in (execve, execveat) and evt.dir=<)";
/// Inside a container (Falco's `container`).
const CONTAINER: &str = "(container.id != host)";

/// The corpus: (what it stands for, the condition).
fn corpus() -> Vec<(&'static str, String)> {
    vec![
        ("open_write", OPEN_WRITE.to_owned()),
        ("open_read", OPEN_READ.to_owned()),
        ("open_file_failed", OPEN_FILE_FAILED.to_owned()),
        (
            "open_directory",
            "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='d' and fd.num>=0"
                .to_owned(),
        ),
        ("never_true", "(evt.num=0)".to_owned()),
        (
            "proc_name_exists",
            r#"(not proc.name in ("<NA>","N/A"))"#.to_owned(),
        ),
        (
            "a process name that is known at all",
            r#"proc.name!="<NA>""#.to_owned(),
        ),
        (
            "file categories",
            "(fd.directory in (/bin, /sbin, /usr/bin, /usr/sbin)) or (fd.directory=/ or fd.name startswith /root/)"
                .to_owned(),
        ),
        (
            "paths of mkdir and rename",
            "evt.type in (mkdir, mkdirat, rename, renameat, renameat2) and \
             (evt.arg.path startswith /usr/bin/ or evt.arg.name startswith /sbin/ or \
              evt.arg.oldpath startswith /bin/ or evt.arg.newpath startswith /usr/sbin/)"
                .to_owned(),
        ),
        (
            "sensitive files read after startup",
            format!(
                "{OPEN_READ} and fd.name startswith /etc and (fd.name in (/etc/shadow, /etc/sudoers, \
                 /etc/pam.conf) or fd.directory in (/etc/sudoers.d, /etc/pam.d)) and \
                 proc.name in (nginx, httpd, mysqld, sshd) and not proc.duration <= 5000000000 \
                 and proc.name!=\"sshd\""
            ),
        ),
        (
            "directory traversal",
            format!(
                "({OPEN_READ} or {OPEN_FILE_FAILED}) and (fd.name startswith /etc/ or \
                 (fd.name contains '/.ssh/' and fd.name glob '/home/*/.ssh/*') or fd.name contains \"id_rsa\") \
                 and (fd.nameraw contains '../' and fd.nameraw glob '*../*../*') and \
                 not proc.pname in (ash, bash, csh, ksh, sh, tcsh, zsh, dash)"
            ),
        ),
        (
            "ancestors by level and any ancestor",
            "proc.pname in (dpkg, apt) or proc.aname[2] in (dpkg, apt) or proc.aname[3]=chef-client \
             or proc.aname[4] startswith google_accounts or proc.aname[5] in (tfm-rake,tfm-ruby) \
             or proc.aname[1] startswith sshd or proc.aname in (dpkg, needrestart) \
             or (proc.aname=sshd and proc.name != sshd)"
                .to_owned(),
        ),
        (
            "command lines with quotes and escapes",
            r#"(proc.pname=postgres and (proc.cmdline startswith "sh -c envdir /etc/wal-e.d/env /usr/local/bin/wal-e" or proc.cmdline startswith "sh -c envdir \"/run/etc/wal-e.d/env\" wal-g wal-push")) or proc.cmdline= "sh -s unix:cmd" or proc.pcmdline contains " -jar -Dappdynamics""#
                .to_owned(),
        ),
        (
            "parent executables and arguments",
            "(proc.pexe endswith java and proc.pcmdline contains org.apache.zookeeper.server) or \
             (proc.name=perl and proc.args startswith \"-e\" and proc.args contains \"@pwd = getpwnam(\")"
                .to_owned(),
        ),
        (
            "shell spawned by a protected parent",
            format!(
                "{SPAWNED} and proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash) and proc.pname exists \
                 and not proc.pname in (bash, runc:[0:PARENT], \"puma reactor\") \
                 and not proc.cmdline in (\"sh -c true\")"
            ),
        ),
        (
            "terminal shell in a container",
            format!(
                "{SPAWNED} and {CONTAINER} and proc.name in (bash, sh) and proc.tty != 0 and \
                 (not proc.pname exists or proc.pname in (runc:[0:PARENT], runc:[1:CHILD], runc, containerd-shim))"
            ),
        ),
        (
            "system user interactive",
            format!(
                "{SPAWNED} and user.name in (bin, daemon, games, nobody, www-data) and \
                 ((proc.aname=sshd and proc.name != sshd) or proc.name=systemd-logind or proc.name=login)"
            ),
        ),
        (
            "images by repository",
            "container.image.repository in (docker.io/sysdig/sysdig, registry.k8s.io/kube-proxy) or \
             (k8s.ns.name = \"kube-system\") or container.image.repository endswith \"splunk/fluentd-hec\""
                .to_owned(),
        ),
        (
            "contact the Kubernetes API server",
            format!(
                "evt.type=connect and (fd.typechar=4 or fd.typechar=6) and {CONTAINER} and \
                 (fd.sip.name=\"kubernetes.default.svc.cluster.local\")"
            ),
        ),
        (
            "netcat with a command",
            format!(
                "{SPAWNED} and ((proc.name = \"nc\" and (proc.cmdline contains \" -e\" or proc.cmdline contains \" -c\")) \
                 or (proc.name = \"ncat\" and proc.args contains \"--sh-exec\"))"
            ),
        ),
        (
            "private keys searched for",
            format!(
                "{SPAWNED} and proc.name in (grep, egrep) and (proc.args icontains \"BEGIN PRIVATE\" or \
                 proc.args icontains \"aws_secret_access_key\") or (proc.name = \"find\" and proc.args endswith \".aws/credentials\")"
            ),
        ),
        (
            "log files cleared",
            format!(
                "{OPEN_WRITE} and (fd.directory in (/var/log) or fd.filename in (syslog, auth.log, wtmp)) \
                 and evt.arg.flags contains \"O_TRUNC\""
            ),
        ),
        (
            "symlinks and hardlinks over sensitive files",
            "(evt.type in (symlink, symlinkat) and evt.dir=< and (evt.arg.target in (/etc/shadow, /etc/sudoers) \
             or evt.arg.target in (/, /etc, /etc/, /root, /root/))) or (evt.type in (link, linkat) and \
             evt.arg.oldpath in (/etc/shadow) and evt.arg.linkpath exists)"
                .to_owned(),
        ),
        (
            "packet socket",
            format!("evt.type=socket and {CONTAINER} and evt.arg.domain contains AF_PACKET"),
        ),
        (
            "standard streams redirected to a socket",
            format!(
                "evt.type in (dup, dup2, dup3) and {CONTAINER} and evt.rawres in (0, 1, 2) and fd.type in (\"ipv4\", \"ipv6\")"
            ),
        ),
        (
            "kernel module loaded from a container",
            format!(
                "evt.type in (init_module, finit_module) and evt.dir=< and {CONTAINER} and \
                 thread.cap_effective icontains sys_module"
            ),
        ),
        (
            "capabilities as Falco tests them",
            "thread.cap_effective contains CAP_SYS_ADMIN and thread.cap_permitted icontains sys_module \
             and (user.uid=0 or thread.cap_effective contains CAP_DAC_OVERRIDE)"
                .to_owned(),
        ),
        (
            "release_agent escape",
            format!(
                "{OPEN_WRITE} and {CONTAINER} and fd.name endswith release_agent and (user.uid=0 or \
                 thread.cap_effective contains CAP_DAC_OVERRIDE) and thread.cap_effective contains CAP_SYS_ADMIN"
            ),
        ),
        (
            "debugfs in a privileged container",
            format!("{SPAWNED} and {CONTAINER} and container.privileged=true and proc.name=debugfs"),
        ),
        (
            "ptrace requests",
            "evt.type=ptrace and (evt.arg.request contains PTRACE_POKETEXT or evt.arg.request contains PTRACE_ATTACH \
             or evt.arg.request contains PTRACE_TRACEME)"
                .to_owned(),
        ),
        (
            "execution from /dev/shm",
            format!(
                "{SPAWNED} and (proc.exe startswith \"/dev/shm/\" or (proc.cwd startswith \"/dev/shm/\" and \
                 proc.exe startswith \"./\") or (proc.args startswith \"-c /dev/shm\"))"
            ),
        ),
        (
            "binary dropped into a container",
            format!("{SPAWNED} and {CONTAINER} and proc.is_exe_upper_layer=true"),
        ),
        (
            "outbound connection",
            "((evt.type = connect and evt.dir=<) or (evt.type in (sendto,sendmsg) and evt.dir=< and \
             fd.l4proto != tcp and fd.connected=false and fd.name_changed=true)) and \
             (fd.typechar = 4 or fd.typechar = 6) and (fd.ip != \"0.0.0.0\" and fd.net != \"127.0.0.0/8\" \
             and not fd.snet in (\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\")) and \
             (evt.rawres >= 0 or evt.res = EINPROGRESS)"
                .to_owned(),
        ),
        (
            "ssh on a non-standard port",
            "evt.type=connect and proc.exe endswith ssh and fd.l4proto=tcp and not fd.sport in (22, ssh) \
             and fd.sport=22 or fd.lport > 1024 and fd.rport < 1024"
                .to_owned(),
        ),
        (
            "fileless execution",
            format!(
                "{SPAWNED} and proc.is_exe_from_memfd=true and not (proc.exepath = \"memfd:runc_cloned:/proc/self/exe\" \
                 or proc.exe = \"memfd:runc_cloned:/proc/self/exe\")"
            ),
        ),
        (
            "process groups and sessions",
            "proc.is_vpgid_leader=true and proc.vpgid.name in (bash, sh) or proc.vpgid.exe exists \
             or proc.sname exists or proc.ppid.duration > 0 or proc.aexepath[2] exists"
                .to_owned(),
        ),
        (
            "output fields (exists)",
            "container.start_ts exists or evt.args exists or evt.hostname exists or group.gid exists \
             or group.name exists or proc.exe_ino.ctime exists or proc.exe_ino.mtime exists \
             or proc.exe_ino.ctime_duration_proc_start exists or proc.pexepath exists \
             or user.loginname exists or user.loginuid exists or fd.rport exists or fd.sip exists \
             or syscall.type exists"
                .to_owned(),
        ),
        (
            "transformers",
            "tolower(proc.name) = bash or toupper(fd.typechar) = F or basename(proc.exe) = bash \
             or len(proc.cmdline) > 1000 or proc.name = val(proc.pname)"
                .to_owned(),
        ),
    ]
}

fn open_sample(name: &str) -> TraceFile<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name);
    TraceFile::open(std::fs::read(path).unwrap()).unwrap()
}

/// How many events of `trace` each filter matches.
fn counts(trace: &TraceFile<Vec<u8>>, filters: &[Filter]) -> Vec<usize> {
    let prepared = Prepared::new(trace);
    let mut counts = vec![0; filters.len()];
    let options = Scan {
        caller_needs_state: true,
        threads: 1,
        ..Scan::default()
    };
    let flow = scan(
        trace,
        &prepared,
        &options,
        |e| panic!("{e}"),
        |ctx| {
            for (filter, count) in filters.iter().zip(&mut counts) {
                *count += usize::from(filter.matches(ctx));
            }
            ControlFlow::<()>::Continue(())
        },
    );
    assert!(flow.unwrap().is_continue());
    counts
}

/// Words of a condition that look like field names.
fn named_fields(condition: &str) -> BTreeSet<String> {
    condition
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .filter(|word| {
            [
                "evt.",
                "proc.",
                "thread.",
                "fd.",
                "user.",
                "group.",
                "container.",
                "k8s.",
                "syscall.",
            ]
            .iter()
            .any(|class| word.starts_with(class))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_corpus_names_every_field_and_operator_of_falcos_rules() {
    let corpus = corpus();
    let named: BTreeSet<String> = corpus.iter().flat_map(|(_, c)| named_fields(c)).collect();
    for field in FALCO_FIELDS {
        assert!(named.contains(*field), "no condition names {field}");
    }
    for op in FALCO_OPERATORS {
        let used = corpus.iter().any(|(_, c)| {
            c.split_whitespace()
                .any(|word| word == *op || (op.len() <= 2 && word.contains(op)))
        });
        assert!(used, "no condition uses {op}");
    }
}

#[test]
fn the_corpus_compiles_and_evaluates_over_real_captures() {
    for name in ["workload.scry", "incident.scry"] {
        let trace = open_sample(name);
        let prepared = Prepared::new(&trace);
        let catalog = prepared.catalog(&trace);
        let corpus = corpus();
        let filters: Vec<Filter> = corpus
            .iter()
            .map(|(what, source)| {
                Filter::new(source, catalog)
                    .unwrap_or_else(|e| panic!("{name}: {what}: {}", e.render(source)))
            })
            .collect();
        // Every field Falco names is in the catalog on its own, too.
        for field in FALCO_FIELDS {
            let source = format!("{field} exists");
            if let Err(e) = Filter::new(&source, catalog) {
                panic!("{name}: {}", e.render(&source));
            }
        }
        let counts = counts(&trace, &filters);
        let count_of = |what: &str| {
            let at = corpus.iter().position(|(w, _)| *w == what).unwrap();
            counts[at]
        };
        assert_eq!(count_of("never_true"), 0, "{name}");
        if name == "workload.scry" {
            // The workload opens files, fails to open some (its shell
            // looks for locales that are not there), runs programs as
            // root with every capability.
            assert!(count_of("open_read") > 0);
            assert!(count_of("open_write") > 0);
            assert!(count_of("open_file_failed") > 100);
            assert!(count_of("capabilities as Falco tests them") > 0);
            assert!(count_of("proc_name_exists") > 0);
            assert!(count_of("transformers") > 0);
        }
    }
}
