//! Names for the flag and enum arguments of syscalls (`O_RDONLY|O_CLOEXEC`,
//! `AF_INET6`, `PTRACE_ATTACH`, `PROT_READ|PROT_EXEC`…), so that `evt.args`,
//! `evt.arg.X` and the default line read the way sysdig prints them, and
//! Falco conditions such as `evt.arg.flags contains O_TRUNC` carry over.
//!
//! The capture records the values the kernel was given (Linux x86_64
//! constants, not libsinsp's normalised ones), so the tables here are
//! Linux's. Names follow sysdig's flag tables where sysdig has the value;
//! Linux names fill in the rest. `evt.rawarg.X` keeps the number.
//!
//! Which argument gets which table is decided once per event type of a
//! trace ([`arg_format`]), never per event.

/// How one parameter is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArgFormat {
    /// As its value.
    #[default]
    Plain,
    /// A file mode, in octal with a leading 0 (`0644`).
    Octal,
    /// A number with names from a table.
    Names(&'static NameTable),
    /// An fd recorded as a raw register (the first argument of a call the
    /// capture records generically): shown as fds are, with what it
    /// resolves to.
    Fd,
}

/// Names for the values of one argument.
#[derive(Debug, PartialEq, Eq)]
pub struct NameTable {
    /// In the order names are printed.
    entries: &'static [Entry],
}

/// One name: it applies when the value's bits under `mask` equal `bits`.
/// A plain flag has `mask == bits`; a field inside the value (the access
/// mode of open flags, the type of a socket) has a wider mask; an enum
/// value has every bit in its mask. An entry without a name accounts for
/// bits that are not shown (the magic number old programs put in the top
/// half of mount flags).
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    name: &'static str,
    mask: u64,
    bits: u64,
}

const fn bit(name: &'static str, bits: u64) -> Entry {
    Entry {
        name,
        mask: bits,
        bits,
    }
}

const fn field(name: &'static str, mask: u64, bits: u64) -> Entry {
    Entry { name, mask, bits }
}

const fn eq(name: &'static str, value: u64) -> Entry {
    Entry {
        name,
        mask: u64::MAX,
        bits: value,
    }
}

impl NameTable {
    /// Appends the names that apply to `value`, joined by `|`; false when
    /// none does (the caller then shows the number alone).
    ///
    /// Like sysdig, the bits a name accounts for are not named twice
    /// (`O_SYNC` includes `O_DSYNC`'s bit), and a name for zero applies
    /// only to a field that is zero in `value` itself.
    pub fn write(&self, value: u64, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let mut remaining = value;
        for entry in self.entries {
            let applies = if entry.bits == 0 {
                value & entry.mask == 0
            } else {
                remaining & entry.mask == entry.bits
            };
            if applies {
                remaining &= !entry.mask;
                if entry.name.is_empty() {
                    continue;
                }
                if out.len() > start {
                    out.push(b'|');
                }
                out.extend_from_slice(entry.name.as_bytes());
            }
        }
        out.len() > start
    }
}

/// How parameter `param` of event type `syscall` is shown.
pub fn arg_format(syscall: &str, param: &str) -> ArgFormat {
    if param == "a0" && raw_first_fd(syscall).is_some() {
        return ArgFormat::Fd;
    }
    let table = match (syscall, param) {
        ("open" | "openat" | "openat2" | "creat", "flags") => &OPEN_FLAGS,
        (
            "open" | "openat" | "openat2" | "creat" | "mkdir" | "mkdirat" | "chmod" | "fchmod"
            | "fchmodat" | "fchmodat2",
            "mode",
        ) => return ArgFormat::Octal,
        ("socket" | "socketpair", "domain") => &SOCKET_FAMILIES,
        ("socket" | "socketpair", "type") => &SOCKET_TYPES,
        ("accept" | "accept4", "flags") => &SOCKET_FLAGS,
        ("dup" | "dup2" | "dup3" | "pipe" | "pipe2", "flags") => &FD_FLAGS,
        ("ptrace", "request") => &PTRACE_REQUESTS,
        ("clone" | "clone3" | "fork" | "vfork" | "unshare", "flags") | ("setns", "nstype") => {
            &CLONE_FLAGS
        }
        ("mmap" | "mprotect", "prot") => &PROT_FLAGS,
        ("mmap", "flags") => &MMAP_FLAGS,
        ("fcntl", "cmd") => &FCNTL_COMMANDS,
        // Recorded raw: the mode is the second (access) or third
        // (faccessat) register.
        ("access", "a1") | ("faccessat" | "faccessat2", "a2") => &ACCESS_MODES,
        ("unlinkat", "flags") => &UNLINKAT_FLAGS,
        ("renameat2", "flags") => &RENAMEAT2_FLAGS,
        ("linkat" | "fchmodat" | "fchmodat2" | "fchownat" | "execveat", "flags") => &AT_FLAGS,
        ("memfd_create", "flags") => &MEMFD_FLAGS,
        ("mount", "flags") => &MOUNT_FLAGS,
        ("umount2", "flags") => &UMOUNT_FLAGS,
        ("kill" | "tkill" | "tgkill", "sig") | ("procexit", "signal") => &SIGNALS,
        _ => return ArgFormat::Plain,
    };
    ArgFormat::Names(table)
}

/// Parameter names Falco rules use that scry records under another name:
/// `(event type, name in rules, recorded name)`. Filters resolve either.
pub const ALIASES: &[(&str, &str, &str)] = &[
    ("symlink", "target", "oldpath"),
    ("symlink", "linkpath", "newpath"),
    ("access", "mode", "a1"),
    ("faccessat", "mode", "a2"),
    ("faccessat2", "mode", "a2"),
];

/// The name `evt.args` shows for a recorded parameter: Falco's where it
/// differs (a symlink's `target` and `linkpath`), and `fd` or `dirfd` for
/// the first register of a call recorded generically whose first argument
/// is one.
pub fn display_name(syscall: &str, recorded: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|&&(ty, _, real)| ty == syscall && real == recorded)
        .map(|&(_, shown, _)| shown)
        .or_else(|| (recorded == "a0").then(|| raw_first_fd(syscall)).flatten())
}

/// The fd a raw register holds: an int, in the low half of the register,
/// sign and all (`AT_FDCWD` is -100 whether or not the caller
/// sign-extended it).
pub fn fd_in_register(raw: u64) -> i64 {
    i64::from(raw as u32 as i32)
}

/// Calls the capture records generically (their registers `a0`…`a5`)
/// whose first argument is an fd: sysdig's name for it, `fd` for the fd
/// the call works on, `dirfd` for the directory of a relative path.
pub fn raw_first_fd(syscall: &str) -> Option<&'static str> {
    const FD: &[&str] = &[
        "lseek",
        "fstat",
        "ioctl",
        "fsync",
        "fdatasync",
        "ftruncate",
        "getdents",
        "getdents64",
        "fchmod",
        "fchown",
        "flock",
        "fadvise64",
        "fstatfs",
        "fgetxattr",
        "fsetxattr",
        "flistxattr",
        "fremovexattr",
        "fallocate",
        "sync_file_range",
        "syncfs",
        "readahead",
        "shutdown",
        "getsockname",
        "getpeername",
        "setsockopt",
        "getsockopt",
        "listen",
        "inotify_add_watch",
        "fanotify_mark",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "fchdir",
        "sendfile",
        "copy_file_range",
        "splice",
        "tee",
        "vmsplice",
    ];
    const DIRFD: &[&str] = &[
        "newfstatat",
        "statx",
        "faccessat",
        "faccessat2",
        "fchmodat",
        "fchmodat2",
        "fchownat",
        "futimesat",
        "utimensat",
        "readlinkat",
        "mknodat",
        "name_to_handle_at",
    ];
    if FD.contains(&syscall) {
        Some("fd")
    } else if DIRFD.contains(&syscall) {
        Some("dirfd")
    } else {
        None
    }
}

/// Open flags (`open`, `openat`, `openat2`, `creat`), in sysdig's order.
pub static OPEN_FLAGS: NameTable = NameTable {
    entries: &[
        bit("O_LARGEFILE", 0o100_000),
        bit("O_DIRECTORY", 0o200_000),
        bit("O_DIRECT", 0o40_000),
        bit("O_TRUNC", 0o1_000),
        // O_SYNC is __O_SYNC | O_DSYNC.
        bit("O_SYNC", 0o4_010_000),
        bit("O_NONBLOCK", 0o4_000),
        bit("O_EXCL", 0o200),
        bit("O_DSYNC", 0o10_000),
        bit("O_APPEND", 0o2_000),
        bit("O_CREAT", 0o100),
        field("O_RDWR", 0o3, 0o2),
        field("O_WRONLY", 0o3, 0o1),
        field("O_RDONLY", 0o3, 0),
        bit("O_CLOEXEC", 0o2_000_000),
        bit("O_NOCTTY", 0o400),
        bit("O_NOFOLLOW", 0o400_000),
        bit("O_NOATIME", 0o1_000_000),
        bit("O_PATH", 0o10_000_000),
        bit("FASYNC", 0o20_000),
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; O_DIRECTORY is named
        // on its own above.
        bit("O_TMPFILE", 0o20_000_000),
    ],
};

/// Flags of the fds a dup3 or pipe2 makes.
pub static FD_FLAGS: NameTable = NameTable {
    entries: &[
        bit("O_DIRECT", 0o40_000),
        bit("O_NONBLOCK", 0o4_000),
        bit("O_CLOEXEC", 0o2_000_000),
    ],
};

/// `socket` domains, in sysdig's order (so 1 is `AF_LOCAL`, as sysdig
/// prints it).
pub static SOCKET_FAMILIES: NameTable = NameTable {
    entries: &[
        eq("AF_NFC", 39),
        eq("AF_ALG", 38),
        eq("AF_CAIF", 37),
        eq("AF_IEEE802154", 36),
        eq("AF_PHONET", 35),
        eq("AF_ISDN", 34),
        eq("AF_RXRPC", 33),
        eq("AF_IUCV", 32),
        eq("AF_BLUETOOTH", 31),
        eq("AF_TIPC", 30),
        eq("AF_CAN", 29),
        eq("AF_LLC", 26),
        eq("AF_WANPIPE", 25),
        eq("AF_PPPOX", 24),
        eq("AF_IRDA", 23),
        eq("AF_SNA", 22),
        eq("AF_RDS", 21),
        eq("AF_ATMSVC", 20),
        eq("AF_ECONET", 19),
        eq("AF_ASH", 18),
        eq("AF_PACKET", 17),
        eq("AF_NETLINK", 16),
        eq("AF_KEY", 15),
        eq("AF_SECURITY", 14),
        eq("AF_NETBEUI", 13),
        eq("AF_DECnet", 12),
        eq("AF_ROSE", 11),
        eq("AF_INET6", 10),
        eq("AF_X25", 9),
        eq("AF_ATMPVC", 8),
        eq("AF_BRIDGE", 7),
        eq("AF_NETROM", 6),
        eq("AF_APPLETALK", 5),
        eq("AF_IPX", 4),
        eq("AF_AX25", 3),
        eq("AF_INET", 2),
        eq("AF_LOCAL", 1),
        eq("AF_UNSPEC", 0),
        eq("AF_VSOCK", 40),
        eq("AF_KCM", 41),
        eq("AF_QIPCRTR", 42),
        eq("AF_SMC", 43),
        eq("AF_XDP", 44),
        eq("AF_MCTP", 45),
    ],
};

/// `socket` types: the kind in the low bits, then the fd flags.
pub static SOCKET_TYPES: NameTable = NameTable {
    entries: &[
        field("SOCK_STREAM", 0xf, 1),
        field("SOCK_DGRAM", 0xf, 2),
        field("SOCK_RAW", 0xf, 3),
        field("SOCK_RDM", 0xf, 4),
        field("SOCK_SEQPACKET", 0xf, 5),
        field("SOCK_DCCP", 0xf, 6),
        field("SOCK_PACKET", 0xf, 10),
        bit("SOCK_NONBLOCK", 0o4_000),
        bit("SOCK_CLOEXEC", 0o2_000_000),
    ],
};

/// `accept4` flags.
pub static SOCKET_FLAGS: NameTable = NameTable {
    entries: &[
        bit("SOCK_NONBLOCK", 0o4_000),
        bit("SOCK_CLOEXEC", 0o2_000_000),
    ],
};

/// `ptrace` requests.
pub static PTRACE_REQUESTS: NameTable = NameTable {
    entries: &[
        eq("PTRACE_TRACEME", 0),
        eq("PTRACE_PEEKTEXT", 1),
        eq("PTRACE_PEEKDATA", 2),
        eq("PTRACE_PEEKUSR", 3),
        eq("PTRACE_POKETEXT", 4),
        eq("PTRACE_POKEDATA", 5),
        eq("PTRACE_POKEUSR", 6),
        eq("PTRACE_CONT", 7),
        eq("PTRACE_KILL", 8),
        eq("PTRACE_SINGLESTEP", 9),
        eq("PTRACE_GETREGS", 12),
        eq("PTRACE_SETREGS", 13),
        eq("PTRACE_GETFPREGS", 14),
        eq("PTRACE_SETFPREGS", 15),
        eq("PTRACE_ATTACH", 16),
        eq("PTRACE_DETACH", 17),
        eq("PTRACE_GETFPXREGS", 18),
        eq("PTRACE_SETFPXREGS", 19),
        eq("PTRACE_OLDSETOPTIONS", 21),
        eq("PTRACE_SYSCALL", 24),
        eq("PTRACE_GET_THREAD_AREA", 25),
        eq("PTRACE_SET_THREAD_AREA", 26),
        eq("PTRACE_ARCH_PRCTL", 30),
        eq("PTRACE_SYSEMU", 31),
        eq("PTRACE_SYSEMU_SINGLESTEP", 32),
        eq("PTRACE_SINGLEBLOCK", 33),
        eq("PTRACE_SETOPTIONS", 0x4200),
        eq("PTRACE_GETEVENTMSG", 0x4201),
        eq("PTRACE_GETSIGINFO", 0x4202),
        eq("PTRACE_SETSIGINFO", 0x4203),
        eq("PTRACE_GETREGSET", 0x4204),
        eq("PTRACE_SETREGSET", 0x4205),
        eq("PTRACE_SEIZE", 0x4206),
        eq("PTRACE_INTERRUPT", 0x4207),
        eq("PTRACE_LISTEN", 0x4208),
        eq("PTRACE_PEEKSIGINFO", 0x4209),
        eq("PTRACE_GETSIGMASK", 0x420a),
        eq("PTRACE_SETSIGMASK", 0x420b),
        eq("PTRACE_SECCOMP_GET_FILTER", 0x420c),
        eq("PTRACE_SECCOMP_GET_METADATA", 0x420d),
        eq("PTRACE_GET_SYSCALL_INFO", 0x420e),
    ],
};

/// `clone` flags (also `unshare` flags and `setns` namespace types). The
/// low byte, the signal sent to the parent at exit, has no name.
pub static CLONE_FLAGS: NameTable = NameTable {
    entries: &[
        bit("CLONE_FILES", 0x400),
        bit("CLONE_FS", 0x200),
        bit("CLONE_IO", 0x8000_0000),
        bit("CLONE_NEWIPC", 0x0800_0000),
        bit("CLONE_NEWNET", 0x4000_0000),
        bit("CLONE_NEWNS", 0x0002_0000),
        bit("CLONE_NEWPID", 0x2000_0000),
        bit("CLONE_NEWUTS", 0x0400_0000),
        bit("CLONE_PARENT", 0x8000),
        bit("CLONE_PARENT_SETTID", 0x0010_0000),
        bit("CLONE_PTRACE", 0x2000),
        bit("CLONE_SIGHAND", 0x800),
        bit("CLONE_SYSVSEM", 0x0004_0000),
        bit("CLONE_THREAD", 0x0001_0000),
        bit("CLONE_UNTRACED", 0x0080_0000),
        bit("CLONE_VM", 0x100),
        bit("CLONE_NEWUSER", 0x1000_0000),
        bit("CLONE_CHILD_CLEARTID", 0x0020_0000),
        bit("CLONE_CHILD_SETTID", 0x0100_0000),
        bit("CLONE_SETTLS", 0x0008_0000),
        bit("CLONE_VFORK", 0x4000),
        bit("CLONE_NEWCGROUP", 0x0200_0000),
        bit("CLONE_PIDFD", 0x1000),
        bit("CLONE_DETACHED", 0x0040_0000),
        bit("CLONE_CLEAR_SIGHAND", 0x1_0000_0000),
        bit("CLONE_INTO_CGROUP", 0x2_0000_0000),
        bit("CLONE_NEWTIME", 0x80),
    ],
};

/// Memory protection (`mmap`, `mprotect`).
pub static PROT_FLAGS: NameTable = NameTable {
    entries: &[
        bit("PROT_READ", 0x1),
        bit("PROT_WRITE", 0x2),
        bit("PROT_EXEC", 0x4),
        bit("PROT_SEM", 0x8),
        bit("PROT_GROWSDOWN", 0x0100_0000),
        bit("PROT_GROWSUP", 0x0200_0000),
        eq("PROT_NONE", 0),
    ],
};

/// `mmap` flags: the mapping type in the low bits, then flags.
pub static MMAP_FLAGS: NameTable = NameTable {
    entries: &[
        field("MAP_SHARED", 0x3, 0x1),
        field("MAP_PRIVATE", 0x3, 0x2),
        field("MAP_SHARED_VALIDATE", 0x3, 0x3),
        bit("MAP_FIXED", 0x10),
        bit("MAP_ANONYMOUS", 0x20),
        bit("MAP_32BIT", 0x40),
        bit("MAP_NORESERVE", 0x4000),
        bit("MAP_POPULATE", 0x8000),
        bit("MAP_NONBLOCK", 0x1_0000),
        bit("MAP_GROWSDOWN", 0x100),
        bit("MAP_DENYWRITE", 0x800),
        bit("MAP_EXECUTABLE", 0x1000),
        bit("MAP_LOCKED", 0x2000),
        bit("MAP_STACK", 0x2_0000),
        bit("MAP_HUGETLB", 0x4_0000),
        bit("MAP_SYNC", 0x8_0000),
        bit("MAP_FIXED_NOREPLACE", 0x10_0000),
    ],
};

/// `fcntl` commands.
pub static FCNTL_COMMANDS: NameTable = NameTable {
    entries: &[
        eq("F_DUPFD", 0),
        eq("F_GETFD", 1),
        eq("F_SETFD", 2),
        eq("F_GETFL", 3),
        eq("F_SETFL", 4),
        eq("F_GETLK", 5),
        eq("F_SETLK", 6),
        eq("F_SETLKW", 7),
        eq("F_SETOWN", 8),
        eq("F_GETOWN", 9),
        eq("F_SETSIG", 10),
        eq("F_GETSIG", 11),
        eq("F_SETOWN_EX", 15),
        eq("F_GETOWN_EX", 16),
        eq("F_OFD_GETLK", 36),
        eq("F_OFD_SETLK", 37),
        eq("F_OFD_SETLKW", 38),
        eq("F_SETLEASE", 1024),
        eq("F_GETLEASE", 1025),
        eq("F_NOTIFY", 1026),
        eq("F_CANCELLK", 1029),
        eq("F_DUPFD_CLOEXEC", 1030),
        eq("F_SETPIPE_SZ", 1031),
        eq("F_GETPIPE_SZ", 1032),
        eq("F_ADD_SEALS", 1033),
        eq("F_GET_SEALS", 1034),
    ],
};

/// `access` modes.
pub static ACCESS_MODES: NameTable = NameTable {
    entries: &[
        eq("F_OK", 0),
        bit("R_OK", 4),
        bit("W_OK", 2),
        bit("X_OK", 1),
    ],
};

/// `unlinkat` flags.
pub static UNLINKAT_FLAGS: NameTable = NameTable {
    entries: &[bit("AT_REMOVEDIR", 0x200)],
};

/// `renameat2` flags.
pub static RENAMEAT2_FLAGS: NameTable = NameTable {
    entries: &[
        bit("RENAME_NOREPLACE", 1),
        bit("RENAME_EXCHANGE", 2),
        bit("RENAME_WHITEOUT", 4),
    ],
};

/// `*at` flags (`linkat`, `fchmodat`, `fchownat`, `execveat`).
pub static AT_FLAGS: NameTable = NameTable {
    entries: &[
        bit("AT_SYMLINK_NOFOLLOW", 0x100),
        bit("AT_SYMLINK_FOLLOW", 0x400),
        bit("AT_NO_AUTOMOUNT", 0x800),
        bit("AT_EMPTY_PATH", 0x1000),
    ],
};

/// `memfd_create` flags.
pub static MEMFD_FLAGS: NameTable = NameTable {
    entries: &[
        bit("MFD_CLOEXEC", 1),
        bit("MFD_ALLOW_SEALING", 2),
        bit("MFD_HUGETLB", 4),
        bit("MFD_NOEXEC_SEAL", 8),
        bit("MFD_EXEC", 0x10),
    ],
};

/// `mount` flags, named as sysdig names them (without the `MS_` prefix),
/// in its order; Linux's names for the flags sysdig lacks.
pub static MOUNT_FLAGS: NameTable = NameTable {
    entries: &[
        // MS_MGC_VAL: the magic number that programs written before Linux
        // 2.4 put in the top 16 bits. The kernel ignores it, as sysdig does.
        field("", 0xffff_0000, 0xc0ed_0000),
        bit("RDONLY", 1),
        bit("NOSUID", 1 << 1),
        bit("NODEV", 1 << 2),
        bit("NOEXEC", 1 << 3),
        bit("SYNCHRONOUS", 1 << 4),
        bit("REMOUNT", 1 << 5),
        bit("MANDLOCK", 1 << 6),
        bit("DIRSYNC", 1 << 7),
        bit("NOSYMFOLLOW", 1 << 8),
        bit("NOATIME", 1 << 10),
        bit("NODIRATIME", 1 << 11),
        bit("BIND", 1 << 12),
        bit("MOVE", 1 << 13),
        bit("REC", 1 << 14),
        bit("SILENT", 1 << 15),
        bit("POSIXACL", 1 << 16),
        bit("UNBINDABLE", 1 << 17),
        bit("PRIVATE", 1 << 18),
        bit("SLAVE", 1 << 19),
        bit("SHARED", 1 << 20),
        bit("RELATIME", 1 << 21),
        bit("KERNMOUNT", 1 << 22),
        bit("I_VERSION", 1 << 23),
        bit("STRICTATIME", 1 << 24),
        bit("LAZYTIME", 1 << 25),
        bit("SUBMOUNT", 1 << 26),
        bit("NOREMOTELOCK", 1 << 27),
        bit("NOSEC", 1 << 28),
        bit("BORN", 1 << 29),
        bit("ACTIVE", 1 << 30),
        bit("NOUSER", 1 << 31),
    ],
};

/// `umount2` flags, named as sysdig names them.
pub static UMOUNT_FLAGS: NameTable = NameTable {
    entries: &[
        bit("FORCE", 1),
        bit("DETACH", 2),
        bit("EXPIRE", 4),
        bit("NOFOLLOW", 8),
    ],
};

/// Signal numbers.
pub static SIGNALS: NameTable = NameTable {
    entries: &[
        eq("SIGHUP", 1),
        eq("SIGINT", 2),
        eq("SIGQUIT", 3),
        eq("SIGILL", 4),
        eq("SIGTRAP", 5),
        eq("SIGABRT", 6),
        eq("SIGBUS", 7),
        eq("SIGFPE", 8),
        eq("SIGKILL", 9),
        eq("SIGUSR1", 10),
        eq("SIGSEGV", 11),
        eq("SIGUSR2", 12),
        eq("SIGPIPE", 13),
        eq("SIGALRM", 14),
        eq("SIGTERM", 15),
        eq("SIGSTKFLT", 16),
        eq("SIGCHLD", 17),
        eq("SIGCONT", 18),
        eq("SIGSTOP", 19),
        eq("SIGTSTP", 20),
        eq("SIGTTIN", 21),
        eq("SIGTTOU", 22),
        eq("SIGURG", 23),
        eq("SIGXCPU", 24),
        eq("SIGXFSZ", 25),
        eq("SIGVTALRM", 26),
        eq("SIGPROF", 27),
        eq("SIGWINCH", 28),
        eq("SIGIO", 29),
        eq("SIGPWR", 30),
        eq("SIGSYS", 31),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn names(table: &NameTable, value: u64) -> String {
        let mut out = Vec::new();
        table.write(value, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn open_flags_name_the_access_mode_and_every_flag() {
        assert_eq!(names(&OPEN_FLAGS, 0), "O_RDONLY");
        assert_eq!(names(&OPEN_FLAGS, 0o2_000_000), "O_RDONLY|O_CLOEXEC");
        // O_WRONLY|O_CREAT|O_TRUNC, what a shell's `>` asks for.
        assert_eq!(names(&OPEN_FLAGS, 577), "O_TRUNC|O_CREAT|O_WRONLY");
        assert_eq!(names(&OPEN_FLAGS, 0o2), "O_RDWR");
        // O_SYNC covers O_DSYNC's bit: named once.
        assert_eq!(names(&OPEN_FLAGS, 0o4_010_001), "O_SYNC|O_WRONLY");
        assert_eq!(names(&OPEN_FLAGS, 0o10_001), "O_DSYNC|O_WRONLY");
    }

    #[test]
    fn enums_name_one_value_and_unknown_values_none() {
        assert_eq!(names(&SOCKET_FAMILIES, 17), "AF_PACKET");
        assert_eq!(names(&SOCKET_FAMILIES, 1), "AF_LOCAL");
        assert_eq!(names(&SOCKET_FAMILIES, 0), "AF_UNSPEC");
        assert_eq!(names(&SOCKET_FAMILIES, 999), "");
        assert_eq!(names(&PTRACE_REQUESTS, 16), "PTRACE_ATTACH");
        assert_eq!(names(&PTRACE_REQUESTS, 0), "PTRACE_TRACEME");
        assert_eq!(names(&PTRACE_REQUESTS, 0x4206), "PTRACE_SEIZE");
        assert_eq!(names(&FCNTL_COMMANDS, 1030), "F_DUPFD_CLOEXEC");
    }

    #[test]
    fn zero_names_apply_only_to_zero() {
        assert_eq!(names(&PROT_FLAGS, 0), "PROT_NONE");
        assert_eq!(names(&PROT_FLAGS, 1), "PROT_READ");
        assert_eq!(names(&PROT_FLAGS, 5), "PROT_READ|PROT_EXEC");
        assert_eq!(names(&ACCESS_MODES, 0), "F_OK");
        assert_eq!(names(&ACCESS_MODES, 6), "R_OK|W_OK");
        assert_eq!(names(&CLONE_FLAGS, 0), "");
    }

    #[test]
    fn fields_inside_a_value_are_named_with_the_flags() {
        // SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK
        assert_eq!(
            names(&SOCKET_TYPES, 526_337),
            "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
        assert_eq!(names(&MMAP_FLAGS, 0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(
            names(&MMAP_FLAGS, 0x812),
            "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE"
        );
        // A thread: CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD
        // and SIGCHLD (17) in the low byte, which has no name.
        assert_eq!(
            names(&CLONE_FLAGS, 0x1_0f00 | 17),
            "CLONE_FILES|CLONE_FS|CLONE_SIGHAND|CLONE_THREAD|CLONE_VM"
        );
    }

    #[test]
    fn mount_flags_are_named_as_sysdig_names_them() {
        // What `mount --bind -o ro` and a private recursive remount ask for.
        assert_eq!(names(&MOUNT_FLAGS, 0x1001), "RDONLY|BIND");
        assert_eq!(names(&MOUNT_FLAGS, 0x4_4000), "REC|PRIVATE");
        assert_eq!(
            names(&MOUNT_FLAGS, 0x20 | 0x2 | 0x4 | 0x8),
            "NOSUID|NODEV|NOEXEC|REMOUNT"
        );
        assert_eq!(names(&MOUNT_FLAGS, 1 << 31), "NOUSER");
        // The old magic number in the top half is not a flag.
        assert_eq!(names(&MOUNT_FLAGS, 0xc0ed_0000 | 0x1), "RDONLY");
        assert_eq!(names(&MOUNT_FLAGS, 0xc0ed_0000), "");
        assert_eq!(names(&MOUNT_FLAGS, 0), "");
        assert_eq!(names(&UMOUNT_FLAGS, 2), "DETACH");
        assert_eq!(names(&UMOUNT_FLAGS, 1 | 8), "FORCE|NOFOLLOW");
        assert_eq!(arg_format("mount", "flags"), ArgFormat::Names(&MOUNT_FLAGS));
        assert_eq!(
            arg_format("umount2", "flags"),
            ArgFormat::Names(&UMOUNT_FLAGS)
        );
    }

    #[test]
    fn arguments_get_their_tables_by_type_and_name() {
        assert_eq!(arg_format("openat", "flags"), ArgFormat::Names(&OPEN_FLAGS));
        assert_eq!(arg_format("openat", "mode"), ArgFormat::Octal);
        assert_eq!(arg_format("openat", "name"), ArgFormat::Plain);
        assert_eq!(arg_format("access", "a1"), ArgFormat::Names(&ACCESS_MODES));
        assert_eq!(arg_format("getpid", "a1"), ArgFormat::Plain);
        assert_eq!(display_name("symlink", "oldpath"), Some("target"));
        assert_eq!(display_name("rename", "oldpath"), None);
    }
}
