//! The built-in views: the questions a responder asks first, each as a
//! [`ViewSpec`]. They follow sysdig's chisels (`topprocs_*`, `topfiles_*`,
//! `topconns`, `topscalls`…) and csysdig's views, measured with what a
//! scry trace records: calls, time spent in them, bytes moved, errors.

use std::sync::LazyLock;

use super::{Aggregate, Column, Measure, Unit, ViewSpec};

const NET: &str = "fd.type in (ipv4, ipv6)";
const FILES: &str = "fd.type=file";

fn count(header: &str) -> Measure {
    count_when(header, None)
}

fn count_when(header: &str, when: Option<&str>) -> Measure {
    Measure {
        header: header.to_owned(),
        aggregate: Aggregate::Count,
        field: None,
        when: when.map(str::to_owned),
        unit: Unit::Count,
    }
}

fn of(header: &str, aggregate: Aggregate, field: &str, when: Option<&str>, unit: Unit) -> Measure {
    Measure {
        header: header.to_owned(),
        aggregate,
        field: Some(field.to_owned()),
        when: when.map(str::to_owned),
        unit,
    }
}

fn bytes(header: &str, when: &str) -> Measure {
    of(
        header,
        Aggregate::Sum,
        "evt.rawres",
        Some(when),
        Unit::Bytes,
    )
}

fn total() -> Measure {
    bytes("TOTAL", "evt.is_io=true")
}

fn read(header: &str) -> Measure {
    bytes(header, "evt.is_io_read=true")
}

fn write(header: &str) -> Measure {
    bytes(header, "evt.is_io_write=true")
}

fn time() -> Measure {
    of("TIME", Aggregate::Sum, "evt.latency", None, Unit::Nanos)
}

fn errors() -> Measure {
    count_when("ERRORS", Some("evt.failed=true"))
}

fn distinct(header: &str, field: &str) -> Measure {
    of(header, Aggregate::Distinct, field, None, Unit::Count)
}

fn columns(pairs: &[(&str, &str)]) -> Vec<Column> {
    pairs
        .iter()
        .map(|(header, field)| Column::new(header, field))
        .collect()
}

struct Def<'a> {
    name: &'a str,
    title: &'a str,
    keys: &'a [(&'a str, &'a str)],
    labels: &'a [(&'a str, &'a str)],
    measures: Vec<Measure>,
    restrict: Option<&'a str>,
    sort: &'a str,
}

impl Def<'_> {
    fn build(self) -> ViewSpec {
        let sort = self
            .measures
            .iter()
            .position(|m| m.header == self.sort)
            .unwrap_or(0);
        ViewSpec {
            name: self.name.to_owned(),
            title: self.title.to_owned(),
            keys: columns(self.keys),
            labels: columns(self.labels),
            measures: self.measures,
            restrict: self.restrict.map(str::to_owned),
            sort,
        }
    }
}

/// Every built-in view, in the order `scry top --help` lists them.
pub static VIEWS: LazyLock<Vec<ViewSpec>> = LazyLock::new(|| {
    let opens = "evt.type in (open, openat, openat2, creat) and evt.failed=false";
    let execs = "evt.type in (execve, execveat) and evt.failed=false";
    [
        Def {
            name: "procs",
            title: "processes by system calls, with their time, I/O and errors",
            keys: &[("PID", "proc.pid")],
            labels: &[("PROCESS", "proc.name"), ("USER", "user.name")],
            measures: vec![
                count("EVENTS"),
                time(),
                read("READ"),
                write("WRITE"),
                errors(),
            ],
            restrict: None,
            sort: "EVENTS",
        },
        Def {
            name: "threads",
            title: "threads by system calls",
            keys: &[("TID", "thread.tid")],
            labels: &[("PID", "proc.pid"), ("PROCESS", "proc.name")],
            measures: vec![count("EVENTS"), time(), errors()],
            restrict: None,
            sort: "EVENTS",
        },
        Def {
            name: "files",
            title: "files by bytes read and written",
            keys: &[("FILE", "fd.name")],
            labels: &[],
            measures: vec![
                total(),
                read("READ"),
                write("WRITE"),
                count_when("OPENS", Some(opens)),
                errors(),
            ],
            restrict: Some(FILES),
            sort: "TOTAL",
        },
        Def {
            name: "dirs",
            title: "directories by bytes read and written in their files",
            keys: &[("DIRECTORY", "fd.directory")],
            labels: &[],
            measures: vec![
                total(),
                read("READ"),
                write("WRITE"),
                count_when("OPENS", Some(opens)),
                distinct("FILES", "fd.name"),
            ],
            restrict: Some(FILES),
            sort: "TOTAL",
        },
        Def {
            name: "conns",
            title: "network connections by bytes, each end apart",
            keys: &[("CONNECTION", "fd.name"), ("PID", "proc.pid")],
            labels: &[("PROTO", "fd.l4proto"), ("PROCESS", "proc.name")],
            measures: vec![total(), read("IN"), write("OUT"), count("EVENTS"), errors()],
            restrict: Some(NET),
            sort: "TOTAL",
        },
        Def {
            name: "ports",
            title: "server ports by connections and bytes",
            keys: &[("PORT", "fd.sport"), ("PROTO", "fd.l4proto")],
            labels: &[],
            measures: vec![
                distinct("CONNS", "fd.name"),
                total(),
                read("IN"),
                write("OUT"),
                errors(),
            ],
            restrict: Some(NET),
            sort: "CONNS",
        },
        Def {
            name: "syscalls",
            title: "system calls by count, with their time and errors",
            keys: &[("SYSCALL", "evt.type")],
            labels: &[],
            measures: vec![
                count("CALLS"),
                time(),
                of("MAX", Aggregate::Max, "evt.latency", None, Unit::Nanos),
                errors(),
            ],
            // Only system calls: not the scheduler switches, process exits and
            // table entries (procinfo, useradded) a capture also records.
            restrict: Some("syscall.type exists"),
            sort: "CALLS",
        },
        Def {
            name: "errors",
            title: "failed system calls by error, call and process",
            keys: &[
                ("ERROR", "evt.res"),
                ("SYSCALL", "evt.type"),
                ("PROCESS", "proc.name"),
            ],
            labels: &[],
            measures: vec![count("COUNT")],
            restrict: Some("evt.failed=true"),
            sort: "COUNT",
        },
        Def {
            name: "containers",
            title: "containers by system calls, with their processes and I/O",
            keys: &[("CONTAINER", "container.id")],
            labels: &[("NAME", "container.name"), ("IMAGE", "container.image")],
            measures: vec![
                count("EVENTS"),
                distinct("PROCS", "proc.pid"),
                read("READ"),
                write("WRITE"),
                errors(),
            ],
            restrict: None,
            sort: "EVENTS",
        },
        Def {
            name: "users",
            title: "users by system calls, with their processes and programs run",
            keys: &[("UID", "user.uid")],
            labels: &[("USER", "user.name")],
            measures: vec![
                count("EVENTS"),
                distinct("PROCS", "proc.pid"),
                count_when("EXECS", Some(execs)),
                errors(),
            ],
            restrict: None,
            sort: "EVENTS",
        },
        Def {
            name: "procs-files",
            title: "file I/O per process and file",
            keys: &[("PID", "proc.pid"), ("FILE", "fd.name")],
            labels: &[("PROCESS", "proc.name")],
            measures: vec![total(), read("READ"), write("WRITE")],
            restrict: Some("fd.type=file and evt.is_io=true"),
            sort: "TOTAL",
        },
        Def {
            name: "procs-net",
            title: "network I/O per process",
            keys: &[("PID", "proc.pid")],
            labels: &[("PROCESS", "proc.name")],
            measures: vec![
                total(),
                read("IN"),
                write("OUT"),
                distinct("CONNS", "fd.name"),
            ],
            restrict: Some(NET),
            sort: "TOTAL",
        },
    ]
    .into_iter()
    .map(Def::build)
    .collect()
});

/// The built-in view named `name`.
pub fn view(name: &str) -> Option<&'static ViewSpec> {
    VIEWS.iter().find(|v| v.name == name)
}

/// The names of the built-in views.
pub fn view_names() -> impl Iterator<Item = &'static str> {
    VIEWS.iter().map(|v| &v.name[..])
}
