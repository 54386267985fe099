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

use std::io::Write;

use scry_format::{
    Event, EventTable, EventType, HOST_CONTAINER, PROCEXIT, TraceWriter, Value,
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
    Enter { tgid: u32, container: String },
    Exit { tgid: u32 },
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
            None if cgroup.is_empty() => HOST_CONTAINER,
            None => return After::Nothing,
        };
        if writer.container_of(event.tgid) == Some(container) {
            return After::Nothing;
        }
        // A reader may attribute the exec itself to either side.
        writer.forget_container(event.tgid);
        After::Enter {
            tgid: event.tgid,
            container: container.to_owned(),
        }
    }
}

impl After {
    pub(crate) fn apply<W: Write>(self, writer: &mut TraceWriter<W>) {
        match self {
            After::Nothing => {}
            After::Enter { tgid, container } => writer.set_container(tgid, &container),
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
