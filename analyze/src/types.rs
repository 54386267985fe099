//! What each event type of a trace is, precomputed once per file from its
//! event table: its name, its class (I/O, wait, open, …), and where its
//! commonly used parameters are, so field extraction never looks a
//! parameter up by name per event.

use scry_format::{EventTable, EventType};

use crate::flags::{ArgFormat, arg_format, display_name};
use crate::output::push_json_bytes_escaped;
use crate::render::Literal;

/// Facts about one event type.
#[derive(Debug, Clone, Default)]
pub struct TypeInfo {
    /// The type's name (`openat`).
    pub name: String,
    /// Reads data from an fd.
    pub is_io_read: bool,
    /// Writes data to an fd.
    pub is_io_write: bool,
    /// Makes the thread wait (sleep, poll, wait for a lock or child…).
    pub is_wait: bool,
    /// Opens a file (open family).
    pub is_open: bool,
    /// Its return value is a new fd.
    pub returns_fd: bool,
    /// Is a syscall (not `procexit` and other scry events).
    pub is_syscall: bool,
    /// Is `procexit`, the end of a process.
    pub is_process_exit: bool,
    /// Index of the `fd` parameter (or `oldfd`), if any.
    pub fd_param: Option<usize>,
    /// The fd parameter is a raw register (`a0` of a call recorded
    /// generically), read with [`crate::flags::fd_in_register`].
    pub fd_in_register: bool,
    /// Index of the buffer parameter (`data`), if any.
    pub data_param: Option<usize>,
    /// Index of the `flags` parameter, if any.
    pub flags_param: Option<usize>,
    /// Index of the path parameter of file system calls (`name`, `path`,
    /// `filename`, `pathname`, `oldpath`…), if any.
    pub path_param: Option<usize>,
    /// Index of the target path of rename/link calls, if any.
    pub target_param: Option<usize>,
    /// How each parameter is shown, in record order.
    pub(crate) params: Vec<ParamSpec>,
    /// What precedes each parameter's value in `evt.args`: its shown name
    /// and `=`.
    labels: Vec<Literal>,
    /// The same, escaped for a JSON string.
    json_labels: Vec<Literal>,
}

impl TypeInfo {
    /// How parameter `index` of this type is shown.
    #[inline]
    pub(crate) fn param_spec(&self, index: usize) -> ParamSpec {
        self.params.get(index).copied().unwrap_or_default()
    }

    /// `name=` of parameter `index` in `evt.args`.
    #[inline]
    pub(crate) fn arg_label(&self, index: usize) -> Option<&Literal> {
        self.labels.get(index)
    }

    /// [`TypeInfo::arg_label`] escaped for a JSON string.
    #[inline]
    pub(crate) fn arg_label_json(&self, index: usize) -> Option<&Literal> {
        self.json_labels.get(index)
    }
}

/// How one parameter of an event type is shown in `evt.args`/`evt.arg.X`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParamSpec {
    /// Names for its values, or octal for a mode.
    pub format: ArgFormat,
    /// The name shown instead of the recorded one (Falco's name).
    pub label: Option<&'static str>,
}

/// [`TypeInfo`] for every event type of a file, indexed by type id.
#[derive(Debug, Clone, Default)]
pub struct TypeTable {
    by_id: Vec<TypeInfo>,
    unknown: TypeInfo,
}

const IO_READ: &[&str] = &[
    "read", "readv", "pread64", "preadv", "preadv2", "recvfrom", "recvmsg", "recvmmsg",
];
const IO_WRITE: &[&str] = &[
    "write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto", "sendmsg", "sendmmsg",
    "sendfile",
];
const WAIT: &[&str] = &[
    "nanosleep",
    "clock_nanosleep",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "futex",
    "wait4",
    "waitid",
    "pause",
    "sigsuspend",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "accept",
    "accept4",
];
const OPEN: &[&str] = &["open", "openat", "openat2", "creat", "open_by_handle_at"];
const RETURNS_FD: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "socket",
    "accept",
    "accept4",
    "dup",
    "dup2",
    "dup3",
    "memfd_create",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "epoll_create",
    "epoll_create1",
    "pidfd_open",
    "pidfd_getfd",
    "userfaultfd",
    "io_uring_setup",
    "bpf",
    "perf_event_open",
    "fanotify_init",
];

impl TypeTable {
    /// Precomputes the facts of every type in `table`.
    pub fn new(table: &EventTable) -> Self {
        let mut by_id = vec![TypeInfo::default(); table.id_bound()];
        for entry in table.entries() {
            let name = entry.name.as_str();
            let param = |wanted: &[&str]| {
                entry
                    .params
                    .iter()
                    .position(|p| wanted.contains(&p.as_str()))
            };
            let recorded_fd = param(&["fd", "oldfd"]);
            // A call recorded generically has its fd in `a0`.
            let fd_in_register = (crate::flags::raw_first_fd(name) == Some("fd"))
                .then(|| param(&["a0"]))
                .flatten();
            let params: Vec<ParamSpec> = entry
                .params
                .iter()
                .map(|p| ParamSpec {
                    format: arg_format(name, p),
                    label: display_name(name, p),
                })
                .collect();
            let shown: Vec<String> = entry
                .params
                .iter()
                .zip(&params)
                .map(|(recorded, spec)| format!("{}=", spec.label.unwrap_or(recorded)))
                .collect();
            let labels = shown.iter().map(|l| Literal::new(l.as_bytes())).collect();
            let json_labels = shown
                .iter()
                .map(|label| {
                    let mut escaped = Vec::new();
                    push_json_bytes_escaped(label.as_bytes(), &mut escaped);
                    Literal::new(&escaped)
                })
                .collect();
            by_id[usize::from(entry.id)] = TypeInfo {
                name: entry.name.clone(),
                is_io_read: IO_READ.contains(&name),
                is_io_write: IO_WRITE.contains(&name),
                is_wait: WAIT.contains(&name),
                is_open: OPEN.contains(&name),
                returns_fd: RETURNS_FD.contains(&name),
                is_syscall: entry.id < scry_format::FIRST_SPECIAL_TYPE,
                is_process_exit: entry.id == scry_format::PROCEXIT,
                fd_param: recorded_fd.or(fd_in_register),
                fd_in_register: recorded_fd.is_none() && fd_in_register.is_some(),
                data_param: param(&["data"]),
                flags_param: param(&["flags"]),
                path_param: param(&[
                    "name", "path", "filename", "pathname", "oldpath", "target", "dir",
                ]),
                target_param: param(&["newpath", "linkpath"]),
                params,
                labels,
                json_labels,
            };
        }
        TypeTable {
            by_id,
            unknown: TypeInfo {
                name: "unknown".to_owned(),
                ..TypeInfo::default()
            },
        }
    }

    /// Facts about `id`.
    #[inline]
    pub fn get(&self, id: EventType) -> &TypeInfo {
        self.by_id
            .get(usize::from(id))
            .filter(|info| !info.name.is_empty())
            .unwrap_or(&self.unknown)
    }

    /// The ids of every type called `name`.
    pub fn ids_named(&self, name: &str) -> Vec<EventType> {
        self.by_id
            .iter()
            .enumerate()
            .filter(|(_, info)| info.name == name)
            .map(|(id, _)| id as EventType)
            .collect()
    }

    /// A bitmap by type id of the types for which `wanted` holds.
    pub(crate) fn bitmap(&self, wanted: impl Fn(&TypeInfo) -> bool) -> Vec<bool> {
        self.by_id
            .iter()
            .map(|info| !info.name.is_empty() && wanted(info))
            .collect()
    }

    /// A bitmap by type id of the types for which `wanted` holds, judged
    /// as an event of each id is (an id without a name as an unknown
    /// type); `None` when `wanted` holds for an unknown type, which the
    /// ids past the bitmap's end would have to say too.
    pub(crate) fn exact_bitmap(&self, wanted: impl Fn(&TypeInfo) -> bool) -> Option<Vec<bool>> {
        if wanted(&self.unknown) {
            return None;
        }
        let by_id = self.by_id.iter().map(|info| {
            let info = if info.name.is_empty() {
                &self.unknown
            } else {
                info
            };
            wanted(info)
        });
        Some(by_id.collect())
    }

    /// Number of type ids (one past the largest).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
