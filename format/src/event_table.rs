//! The event table: the name of every event type and the names of its
//! parameters. Each file carries its own table in its header, so a reader
//! never needs to know what the writer's version of scry captured; the
//! built-in table is what this version's capture writes.

use crate::model::EventType;

/// First event type id that is not a syscall number.
pub const FIRST_SPECIAL_TYPE: EventType = 1000;
/// A process ended (from the scheduler's exit hook, after its last thread):
/// parameters `status` and `signal`.
pub const PROCEXIT: EventType = 1000;
/// A syscall of a 32-bit (ia32) task, recorded raw: parameters `nr` (the
/// ia32 syscall number) and `a0`…`a5`.
pub const IA32_SYSCALL: EventType = 1001;
/// A syscall whose number the capture could not classify, recorded raw.
pub const UNKNOWN_SYSCALL: EventType = 1002;

/// Names one event type and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypeInfo {
    /// The id used in event records.
    pub id: EventType,
    /// The name used by filters (`evt.type=openat`).
    pub name: String,
    /// Parameter names, in record order (`evt.arg.fd`, `evt.arg[0]`).
    pub params: Vec<String>,
}

/// Every event type a file may contain, with a dense lookup by id.
#[derive(Debug, Clone, Default)]
pub struct EventTable {
    entries: Vec<EventTypeInfo>,
    /// `index_by_id[id]` is the entry's position plus one, 0 when absent.
    index_by_id: Vec<u32>,
}

impl PartialEq for EventTable {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for EventTable {}

impl EventTable {
    /// Builds a table; a later entry with the same id replaces an earlier one.
    pub fn new(entries: impl IntoIterator<Item = EventTypeInfo>) -> Self {
        let mut table = EventTable::default();
        for entry in entries {
            table.insert(entry);
        }
        table
    }

    fn insert(&mut self, entry: EventTypeInfo) {
        let id = usize::from(entry.id);
        if self.index_by_id.len() <= id {
            self.index_by_id.resize(id + 1, 0);
        }
        match self.index_by_id[id] {
            0 => {
                self.entries.push(entry);
                self.index_by_id[id] = self.entries.len() as u32;
            }
            position => self.entries[position as usize - 1] = entry,
        }
    }

    /// The entry for `id`, if the table has one.
    #[inline]
    pub fn get(&self, id: EventType) -> Option<&EventTypeInfo> {
        match self.index_by_id.get(usize::from(id)) {
            Some(&position) if position > 0 => self.entries.get(position as usize - 1),
            _ => None,
        }
    }

    /// The name of `id`, or `None` when the table does not know it.
    #[inline]
    pub fn name(&self, id: EventType) -> Option<&str> {
        self.get(id).map(|entry| entry.name.as_str())
    }

    /// The id of the event type called `name`.
    pub fn id_of(&self, name: &str) -> Option<EventType> {
        self.entries
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.id)
    }

    /// One more than the largest id: the length of a table indexed by id.
    pub fn id_bound(&self) -> usize {
        self.index_by_id.len()
    }

    /// All entries, in insertion order.
    pub fn entries(&self) -> &[EventTypeInfo] {
        &self.entries
    }

    /// The table this version of scry writes for the x86_64 architecture:
    /// every syscall by number, with named parameters where the capture
    /// decodes them and six raw arguments `a0`…`a5` otherwise.
    pub fn builtin_x86_64() -> Self {
        let syscalls = crate::syscalls_x86_64::X86_64
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty());
        let entries = syscalls.map(|(nr, &name)| EventTypeInfo {
            id: nr as EventType,
            name: name.to_owned(),
            params: decoded_params(name)
                .map(|params| params.iter().map(|&p| p.to_owned()).collect())
                .unwrap_or_else(|| GENERIC_PARAMS.iter().map(|&p| p.to_owned()).collect()),
        });
        let names = |list: &[&str]| list.iter().map(|&p| p.to_owned()).collect::<Vec<_>>();
        let special = [
            EventTypeInfo {
                id: PROCEXIT,
                name: "procexit".to_owned(),
                params: names(&["status", "signal"]),
            },
            EventTypeInfo {
                id: IA32_SYSCALL,
                name: "ia32_syscall".to_owned(),
                params: names(&["nr", "a0", "a1", "a2", "a3", "a4", "a5"]),
            },
            EventTypeInfo {
                id: UNKNOWN_SYSCALL,
                name: "unknown_syscall".to_owned(),
                params: names(&GENERIC_PARAMS),
            },
        ];
        EventTable::new(entries.chain(special))
    }
}

/// The standard tables a file's event table can be written against
/// (`FORMAT.md`, header field 7): the file lists only the entries that
/// differ from its base or come after it. A base never changes once
/// released: a table that differs gets a new name.
pub(crate) const BASES: [&str; 2] = [X86_64_BASE, SCAP_BASE];
/// The table a capture of this version writes: [`EventTable::builtin_x86_64`].
pub(crate) const X86_64_BASE: &str = "x86_64/1";
/// The table a `.scap` capture is imported with.
pub(crate) const SCAP_BASE: &str = "scap-x86_64/1";

/// The standard table called `name`.
pub(crate) fn base(name: &str) -> Option<&'static EventTable> {
    static X86_64: std::sync::OnceLock<EventTable> = std::sync::OnceLock::new();
    static SCAP: std::sync::OnceLock<EventTable> = std::sync::OnceLock::new();
    match name {
        X86_64_BASE => Some(X86_64.get_or_init(EventTable::builtin_x86_64)),
        SCAP_BASE => Some(SCAP.get_or_init(crate::scap::import_table)),
        _ => None,
    }
}

impl EventTable {
    /// How the table is written against a standard one: the base's name
    /// and the entries that differ from it (at the same position, same id)
    /// or follow it, fewest first; `None` when the table does not start
    /// with the ids of any base, in their order.
    pub(crate) fn against_base(&self) -> Option<(&'static str, Vec<&EventTypeInfo>)> {
        BASES
            .iter()
            .filter_map(|&name| {
                let base = base(name)?;
                let prefix = self.entries.get(..base.entries.len())?;
                if !prefix.iter().zip(&base.entries).all(|(a, b)| a.id == b.id) {
                    return None;
                }
                let changed = prefix.iter().zip(&base.entries).filter(|(a, b)| a != b);
                let listed: Vec<&EventTypeInfo> = changed
                    .map(|(a, _)| a)
                    .chain(&self.entries[base.entries.len()..])
                    .collect();
                Some((name, listed))
            })
            .min_by_key(|(_, listed)| listed.len())
    }

    /// The base table called `name` with `entries` applied over it.
    pub(crate) fn from_base(
        name: &str,
        entries: impl IntoIterator<Item = EventTypeInfo>,
    ) -> Option<Self> {
        let mut table = base(name)?.clone();
        for entry in entries {
            table.insert(entry);
        }
        Some(table)
    }
}

/// Parameter names of syscalls recorded raw.
pub(crate) const GENERIC_PARAMS: [&str; 6] = ["a0", "a1", "a2", "a3", "a4", "a5"];

/// Parameter names of the syscalls whose arguments the capture decodes.
/// Names follow sysdig's where sysdig has the same argument, so that
/// `evt.arg.NAME` filters carry over.
fn decoded_params(syscall: &str) -> Option<&'static [&'static str]> {
    Some(match syscall {
        "open" | "creat" => &["name", "flags", "mode", "fd"],
        "openat" | "openat2" => &["dirfd", "name", "flags", "mode", "fd"],
        "read" | "write" | "recvfrom" | "sendto" | "recvmsg" | "sendmsg" | "readv" | "writev" => {
            &["fd", "size", "data", "addr"]
        }
        "pread64" | "pwrite64" | "preadv" | "pwritev" | "preadv2" | "pwritev2" => {
            &["fd", "size", "pos", "data"]
        }
        "close" => &["fd"],
        "dup" | "dup2" | "dup3" => &["oldfd", "newfd", "flags"],
        "pipe" | "pipe2" => &["fd1", "fd2", "flags"],
        "socket" => &["domain", "type", "proto"],
        "socketpair" => &["domain", "type", "proto", "fd1", "fd2"],
        "bind" => &["fd", "addr"],
        "listen" => &["fd", "backlog"],
        "connect" => &["fd", "addr", "local"],
        "accept" | "accept4" => &["fd", "flags", "addr", "local"],
        "execve" | "execveat" => &[
            "dirfd",
            "filename",
            "args",
            "exe",
            "cwd",
            "uid",
            "gid",
            "euid",
            "egid",
            "loginuid",
            "tty",
            "cap_effective",
            "cap_permitted",
            "cap_inheritable",
            "cgroup",
            "flags",
        ],
        "clone" | "clone3" | "fork" | "vfork" => &["flags", "child_tid"],
        "exit" | "exit_group" => &["status"],
        "kill" | "tkill" => &["pid", "sig"],
        "tgkill" => &["tgid", "tid", "sig"],
        "unlink" | "rmdir" => &["path"],
        "unlinkat" => &["dirfd", "name", "flags"],
        "mkdir" => &["path", "mode"],
        "mkdirat" => &["dirfd", "path", "mode"],
        "rename" | "link" | "symlink" => &["oldpath", "newpath"],
        "renameat" | "renameat2" | "linkat" => {
            &["olddirfd", "oldpath", "newdirfd", "newpath", "flags"]
        }
        "symlinkat" => &["target", "linkdirfd", "linkpath"],
        "chmod" => &["filename", "mode"],
        "fchmod" => &["fd", "mode"],
        "fchmodat" | "fchmodat2" => &["dirfd", "filename", "mode", "flags"],
        "chown" | "lchown" => &["path", "uid", "gid"],
        "fchown" => &["fd", "uid", "gid"],
        "fchownat" => &["dirfd", "pathname", "uid", "gid", "flags"],
        "mount" => &["dev", "dir", "type", "flags"],
        "umount2" => &["name", "flags"],
        "setuid" | "setfsuid" => &["uid"],
        "setgid" | "setfsgid" => &["gid"],
        "setgroups" => &["size"],
        "setreuid" => &["ruid", "euid"],
        "setregid" => &["rgid", "egid"],
        "setresuid" => &["ruid", "euid", "suid"],
        "setresgid" => &["rgid", "egid", "sgid"],
        "capset" => &["cap_effective", "cap_permitted", "cap_inheritable"],
        "ptrace" => &["request", "pid", "addr", "data"],
        "memfd_create" => &["name", "flags"],
        "mmap" => &["addr", "length", "prot", "flags", "fd", "offset"],
        "mprotect" => &["addr", "length", "prot"],
        "init_module" => &["length", "uargs"],
        "finit_module" => &["fd", "uargs", "flags"],
        "unshare" => &["flags"],
        "setns" => &["fd", "nstype"],
        "chdir" => &["path"],
        "fchdir" => &["fd"],
        "fcntl" => &["fd", "cmd", "arg"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_names_well_known_syscalls() {
        let table = EventTable::builtin_x86_64();
        assert_eq!(table.name(0), Some("read"));
        assert_eq!(table.name(59), Some("execve"));
        assert_eq!(table.name(257), Some("openat"));
        assert_eq!(table.name(PROCEXIT), Some("procexit"));
        assert_eq!(table.id_of("connect"), Some(42));
        assert_eq!(table.get(257).map(|e| e.params[1].as_str()), Some("name"));
        assert_eq!(
            table.get(39).map(|e| e.params.len()),
            Some(6),
            "getpid is generic"
        );
        assert_eq!(table.name(999), None);
    }

    /// A digest of every id, name and parameter name of a table.
    fn digest(table: &EventTable) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        for entry in table.entries() {
            hasher.update(&entry.id.to_le_bytes());
            hasher.update(entry.name.as_bytes());
            for param in &entry.params {
                hasher.update(b"\0");
                hasher.update(param.as_bytes());
            }
            hasher.update(b"\n");
        }
        hasher.finalize()
    }

    /// Files written against a base table mean what that table says: a
    /// released base must never change. If this fails, the table a capture
    /// or an import writes has changed: keep the old one under its name
    /// and give the new one a new name (`x86_64/2`) in `BASES`.
    #[test]
    fn base_tables_never_change() {
        let digests: Vec<(&str, u32)> = BASES
            .iter()
            .map(|&name| (name, digest(base(name).unwrap())))
            .collect();
        assert_eq!(
            digests,
            [(X86_64_BASE, 1_984_792_965), (SCAP_BASE, 3_006_565_284)]
        );
    }

    #[test]
    fn a_table_is_written_against_the_closest_base() {
        let builtin = EventTable::builtin_x86_64();
        let (name, listed) = builtin.against_base().unwrap();
        assert_eq!((name, listed.len()), (X86_64_BASE, 0));
        let mut entries = builtin.entries().to_vec();
        entries[3].params = vec!["x".to_owned()];
        entries.push(EventTypeInfo {
            id: 3000,
            name: "extra".to_owned(),
            params: vec![],
        });
        let changed = EventTable::new(entries);
        let (name, listed) = changed.against_base().unwrap();
        assert_eq!(name, X86_64_BASE);
        let listed: Vec<EventTypeInfo> = listed.into_iter().cloned().collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(EventTable::from_base(name, listed), Some(changed));
        let (name, listed) = base(SCAP_BASE).unwrap().against_base().unwrap();
        assert_eq!((name, listed.len()), (SCAP_BASE, 0));
        let unrelated = EventTable::new([EventTypeInfo {
            id: 5,
            name: "five".to_owned(),
            params: vec![],
        }]);
        assert!(unrelated.against_base().is_none());
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let info = |name: &str| EventTypeInfo {
            id: 7,
            name: name.into(),
            params: vec![],
        };
        let table = EventTable::new([info("a"), info("b")]);
        assert_eq!(table.entries().len(), 1);
        assert_eq!(table.name(7), Some("b"));
    }
}
