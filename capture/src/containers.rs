//! Which container each written event's process runs in, for the chunk
//! summaries that let a reader skip chunks by `container.id`.
//!
//! The writer starts from each file's snapshot; processes started during
//! the capture are learnt from the events themselves, the way the analyser
//! replays them: a fork's child inherits its parent's container, an exec
//! names its cgroup (and so its container, or the host). A summary may only
//! claim what a reader would compute, so whenever the writer cannot tell
//! (a child whose first event comes before its parent's fork returns, the
//! exec that moves a process into a container), it says it does not know and
//! the chunk is marked incomplete: never skipped by container, never wrong.
//!
//! A container the file's snapshot does not describe (it started during the
//! capture) is described when an exec first names it, in a container record
//! written before the exec: its runtime, and its name and image from the
//! runtime's state files, which exist by the time its first process runs.

use std::collections::HashSet;
use std::io::Write;

use scry_format::{
    ContainerInfo, Event, EventTable, EventType, HOST_CONTAINER, PROCEXIT, TraceWriter, Value,
    container_id_of_cgroup,
};

const CLONE_THREAD: u64 = 0x0001_0000;

/// Follows process creation and exec to keep the writer's container table
/// current.
#[derive(Debug, Clone)]
pub(crate) struct ContainerTracker {
    /// `clone`, `clone3`, `fork`, `vfork`: parameter 0 is the flags.
    clones: Vec<EventType>,
    /// `execve`, `execveat` with the position of their `cgroup` parameter.
    execs: Vec<(EventType, usize)>,
}

/// What to tell the writer once the event has been written (or left out):
/// a change that the event itself must not be attributed to.
#[derive(Debug)]
#[must_use]
pub(crate) enum After {
    Nothing,
    Enter {
        tgid: u32,
        container: String,
        /// The runtime the exec's cgroup name says, `""` if it does not.
        runtime: &'static str,
    },
    Exit {
        tgid: u32,
    },
}

impl ContainerTracker {
    pub(crate) fn new(table: &EventTable) -> Self {
        let clones = ["clone", "clone3", "fork", "vfork"]
            .iter()
            .filter_map(|name| table.id_of(name))
            .collect();
        let execs = ["execve", "execveat"]
            .iter()
            .filter_map(|name| {
                let id = table.id_of(name)?;
                let cgroup = table.get(id)?.params.iter().position(|p| p == "cgroup")?;
                Some((id, cgroup))
            })
            .collect();
        Self { clones, execs }
    }

    /// Updates `writer` for `event` before it is written; the returned
    /// [`After`] must be applied once it is.
    pub(crate) fn before<W: Write>(&self, writer: &mut TraceWriter<W>, event: &Event) -> After {
        if event.event_type == PROCEXIT {
            return After::Exit { tgid: event.tgid };
        }
        if self.clones.contains(&event.event_type) {
            let flags = match event.params.first() {
                Some(Value::Uint(flags)) => *flags,
                _ => 0,
            };
            // The parent's side: the new process is in the parent's
            // cgroup. A child already known (the snapshot was taken after
            // the fork, or its own exec came first) keeps what it has.
            if let Ok(child) = u32::try_from(event.ret)
                && child > 0
                && flags & CLONE_THREAD == 0
                && writer.container_of(child).is_none()
                && let Some(parent) = writer.container_of(event.tgid)
            {
                let parent = parent.to_owned();
                writer.set_container(child, &parent);
            }
            return After::Nothing;
        }
        let Some(&(_, cgroup_at)) = self.execs.iter().find(|(id, _)| *id == event.event_type)
        else {
            return After::Nothing;
        };
        if event.ret != 0 {
            return After::Nothing;
        }
        let Some(Value::Str(cgroup)) = event.params.get(cgroup_at) else {
            return After::Nothing;
        };
        // A cgroup that names no container (a session, a service) says
        // nothing against a container known otherwise; the root cgroup is
        // the host's.
        let container = match container_id_of_cgroup(cgroup) {
            Some(id) => id,
            None if cgroup.is_empty() => HOST_CONTAINER.into(),
            None => return After::Nothing,
        };
        if writer.container_of(event.tgid) == Some(&*container) {
            return After::Nothing;
        }
        // A reader may attribute the exec itself to either side.
        writer.forget_container(event.tgid);
        let runtime = std::str::from_utf8(cgroup)
            .ok()
            .and_then(crate::snapshot::container_of)
            .filter(|(id, _)| *id == *container)
            .map_or("", |(_, runtime)| runtime);
        After::Enter {
            tgid: event.tgid,
            container: container.into_owned(),
            runtime,
        }
    }
}

/// The containers a file describes: those of its snapshot, and those it
/// has written a container record for.
#[derive(Debug, Default)]
pub(crate) struct Described(HashSet<String>);

impl Described {
    /// The containers of a new file's snapshot.
    pub(crate) fn of(snapshot: &scry_format::Snapshot) -> Self {
        Self(snapshot.containers.iter().map(|c| c.id.clone()).collect())
    }

    /// Writes a container record if `after` enters a container the file
    /// does not describe yet; `ts` is the time of the exec that revealed it.
    pub(crate) fn record<W: Write>(
        &mut self,
        writer: &mut TraceWriter<W>,
        after: &After,
        ts: u64,
    ) -> scry_format::Result<()> {
        let After::Enter {
            tgid,
            container,
            runtime,
        } = after
        else {
            return Ok(());
        };
        if container == HOST_CONTAINER || !self.0.insert(container.clone()) {
            return Ok(());
        }
        writer.write_container(&describe(container, runtime, *tgid, ts))
    }
}

/// A container first seen at `ts` through process `tgid`. The cgroup name
/// of an exec says the runtime only for the systemd drivers' scopes; for a
/// bare id (cgroupfs driver), the full path of the process' cgroup does.
fn describe(id: &str, runtime: &'static str, tgid: u32, ts: u64) -> ContainerInfo {
    let runtime = if runtime.is_empty() {
        std::fs::read_to_string(format!("/proc/{tgid}/cgroup"))
            .ok()
            .and_then(|cgroups| crate::snapshot::parse_cgroups(&cgroups).1)
            .filter(|(found, _)| found == id)
            .map_or("", |(_, runtime)| runtime)
    } else {
        runtime
    };
    let mut info = ContainerInfo {
        id: id.to_owned(),
        runtime: runtime.to_owned(),
        start_ts: ts,
        ..ContainerInfo::default()
    };
    crate::runtime::Runtimes::at("/").describe(&mut info);
    info
}

impl After {
    pub(crate) fn apply<W: Write>(self, writer: &mut TraceWriter<W>) {
        match self {
            After::Nothing => {}
            After::Enter {
                tgid, container, ..
            } => writer.set_container(tgid, &container),
            // Its pid may be reused by a process the writer knows nothing
            // about.
            After::Exit { tgid } => writer.forget_container(tgid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scry_format::{FileHeader, ProcessInfo, Snapshot, TraceFile, WriterOptions};

    const ID: &str = "5c7a0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";

    fn event(table: &EventTable, name: &str, tgid: u32, ret: i64, params: Vec<Value>) -> Event {
        Event {
            ts: 1,
            tid: tgid,
            tgid,
            event_type: if name == "procexit" {
                PROCEXIT
            } else {
                table.id_of(name).unwrap()
            },
            ret,
            params,
            ..Event::default()
        }
    }

    fn exec(table: &EventTable, tgid: u32, cgroup: &str) -> Event {
        let mut params = vec![Value::Absent; 16];
        params[14] = Value::Str(cgroup.as_bytes().to_vec());
        event(table, "execve", tgid, 0, params)
    }

    /// The container list of each chunk, `None` when incomplete, after
    /// writing `events` one chunk each.
    fn summaries(snapshot: &Snapshot, events: &[Event]) -> Vec<Option<Vec<String>>> {
        let table = EventTable::builtin_x86_64();
        let header = FileHeader {
            event_table: table.clone(),
            ..FileHeader::default()
        };
        let options = WriterOptions {
            chunk_events: 1,
            ..WriterOptions::default()
        };
        let mut writer = TraceWriter::new(Vec::new(), &header, snapshot, options).unwrap();
        let tracker = ContainerTracker::new(&table);
        for event in events {
            let after = tracker.before(&mut writer, event);
            writer.push(event).unwrap();
            after.apply(&mut writer);
        }
        let trace = TraceFile::open(writer.finish().unwrap()).unwrap();
        trace
            .chunks()
            .iter()
            .map(|c| (!c.summary.containers_incomplete).then(|| c.summary.containers.clone()))
            .collect()
    }

    #[test]
    fn a_container_the_snapshot_does_not_describe_is_recorded_once_when_first_entered() {
        let table = EventTable::builtin_x86_64();
        let other = "b0b0".repeat(16);
        let snapshot = Snapshot {
            containers: vec![ContainerInfo {
                id: ID.to_owned(),
                runtime: "docker".to_owned(),
                ..ContainerInfo::default()
            }],
            ..Snapshot::default()
        };
        let header = FileHeader {
            event_table: table.clone(),
            ..FileHeader::default()
        };
        let mut writer =
            TraceWriter::new(Vec::new(), &header, &snapshot, WriterOptions::default()).unwrap();
        let tracker = ContainerTracker::new(&table);
        let mut described = Described::of(&snapshot);
        let mut events = [
            exec(&table, 10, &format!("docker-{ID}.scope")),
            exec(&table, 11, &format!("crio-{other}.scope")),
            exec(&table, 12, &format!("crio-{other}.scope")),
            exec(&table, 13, ""),
        ];
        for (ts, event) in events.iter_mut().enumerate() {
            event.ts = 100 + ts as u64;
            let after = tracker.before(&mut writer, event);
            described.record(&mut writer, &after, event.ts).unwrap();
            writer.push(event).unwrap();
            after.apply(&mut writer);
        }
        let trace = TraceFile::open(writer.finish().unwrap()).unwrap();
        let recorded: Vec<ContainerInfo> = trace
            .recorded_containers()
            .iter()
            .map(|c| c.info.clone())
            .collect();
        assert_eq!(
            recorded,
            [ContainerInfo {
                id: other,
                runtime: "cri-o".to_owned(),
                start_ts: 101,
                ..ContainerInfo::default()
            }]
        );
    }

    #[test]
    fn forks_inherit_and_execs_name_their_container() {
        let table = EventTable::builtin_x86_64();
        let snapshot = Snapshot {
            processes: vec![
                ProcessInfo {
                    pid: 10,
                    container_id: ID.to_owned(),
                    ..ProcessInfo::default()
                },
                ProcessInfo {
                    pid: 20,
                    ..ProcessInfo::default()
                },
            ],
            ..Snapshot::default()
        };
        let known = |id: &str| Some(vec![id.to_owned()]);
        let events = [
            // A child's first event before its parent's fork returns.
            event(&table, "getpid", 11, 11, vec![]),
            event(
                &table,
                "clone",
                10,
                11,
                vec![Value::Uint(0x11), Value::Int(11)],
            ),
            event(&table, "getpid", 11, 11, vec![]),
            // A new thread is no new process.
            event(
                &table,
                "clone",
                20,
                21,
                vec![Value::Uint(CLONE_THREAD), Value::Int(21)],
            ),
            event(&table, "getpid", 21, 21, vec![]),
            // A host process moves into the container and execs.
            exec(&table, 20, &format!("docker-{ID}.scope")),
            event(&table, "getpid", 20, 20, vec![]),
            // A cgroup naming no container changes nothing.
            exec(&table, 20, "init.scope"),
            // The process ends; its pid is reused by a stranger.
            event(
                &table,
                "procexit",
                20,
                0,
                vec![Value::Int(0), Value::Int(0)],
            ),
            event(&table, "getpid", 20, 20, vec![]),
        ];
        assert_eq!(
            summaries(&snapshot, &events),
            vec![
                None,
                known(ID),
                known(ID),
                known(HOST_CONTAINER),
                None,
                None,
                known(ID),
                known(ID),
                known(ID),
                None,
            ]
        );
    }
}
