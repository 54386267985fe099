//! `spy users`: every program interactive users ran and every directory
//! their shells moved to, indented under the shell of their terminal
//! session, as sysdig's `spy_users` chisel shows them.
//!
//! A process is interactive when it has a controlling terminal or an audit
//! login id (set by login and sshd for every process of a login session,
//! terminal or not). Its session shell is its oldest ancestor that is a
//! shell on the same terminal; the indentation is the number of generations
//! between the two.

use std::io::Write;

use scry_format::EventTable;

use super::{is_type, types_named};
use crate::fields::{Ctx, is_shell};
use crate::output::push_json_str;
use crate::render::{date_time, push_int};
use crate::state::Process;

/// What one command of a user was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// When, ns since the epoch.
    pub ts: u64,
    /// The user's name (or uid when unknown).
    pub user: String,
    /// The user's id.
    pub uid: u32,
    /// The process that ran it.
    pub pid: u32,
    /// Pid of its session shell.
    pub shell: u32,
    /// Generations between the process and its session shell.
    pub depth: usize,
    /// Its command line, or `cd DIR` for a shell changing directory.
    pub text: String,
}

/// Finds user commands among events.
#[derive(Debug)]
pub struct UserCommands {
    execs: Vec<bool>,
    chdirs: Vec<bool>,
}

impl UserCommands {
    /// Reads the event types of one trace.
    pub fn new(table: &EventTable) -> UserCommands {
        UserCommands {
            execs: types_named(table, &["execve", "execveat"]),
            chdirs: types_named(table, &["chdir", "fchdir"]),
        }
    }

    /// The command `ctx` stands for, if it is one: a successful exec, or a
    /// shell's successful change of directory, by an interactive process.
    /// Inlined up to the type check, which turns down nearly every event
    /// of a trace without a call.
    #[inline]
    pub fn command(&self, ctx: &Ctx<'_>) -> Option<Command> {
        let event = &ctx.event;
        let kind = event.event_type();
        let exec = is_type(&self.execs, kind);
        if !(exec || is_type(&self.chdirs, kind)) || event.ret() != 0 {
            return None;
        }
        Self::command_of(ctx, exec)
    }

    /// [`UserCommands::command`] for a successful exec (`exec`) or change
    /// of directory.
    fn command_of(ctx: &Ctx<'_>, exec: bool) -> Option<Command> {
        let event = &ctx.event;
        let process = ctx.state.process(event.tgid())?;
        if process.tty == 0 && process.loginuid == u32::MAX {
            return None;
        }
        let text = if exec {
            command_line(process)
        } else if is_shell(&process.comm) {
            format!("cd {}", String::from_utf8_lossy(&process.cwd))
        } else {
            return None;
        };
        let (shell, depth) = session_shell(ctx, process);
        let user = ctx
            .state
            .user(process.uid)
            .map_or_else(|| process.uid.to_string(), |user| user.name.clone());
        Some(Command {
            ts: event.ts(),
            user,
            uid: process.uid,
            pid: process.pid,
            shell,
            depth,
            text,
        })
    }
}

fn command_line(process: &Process) -> String {
    let mut text = String::from_utf8_lossy(&process.comm).into_owned();
    for arg in &process.args {
        text.push(' ');
        text.push_str(&String::from_utf8_lossy(arg));
    }
    text
}

/// The oldest shell ancestor on the process' terminal, and how many
/// generations up it is; the process itself (depth 0) when there is none.
fn session_shell(ctx: &Ctx<'_>, process: &Process) -> (u32, usize) {
    let mut found = (process.pid, 0);
    for level in 1..64 {
        let Some(ancestor) = ctx.state.ancestor(process.pid, level) else {
            break;
        };
        if ancestor.tty != process.tty {
            break;
        }
        if is_shell(&ancestor.comm) {
            found = (ancestor.pid, level);
        }
    }
    found
}

impl Command {
    /// `2026-11-30 20:05:32.345678901 root    1234   ls -a /etc/ssh`: time,
    /// user, session shell, and the command indented by its depth.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{} {:<8} {:>7} {:indent$}{}",
            date_time(self.ts),
            self.user,
            self.shell,
            "",
            self.text,
            indent = self.depth * 2
        );
        out.push(b'\n');
    }

    /// One JSON object, keys named after the fields they correspond to;
    /// what no field holds (the session's shell, the depth, the command
    /// line as typed) under a name without a dot.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"evt.rawtime\":");
        push_int(out, i128::from(self.ts));
        out.extend_from_slice(b",\"user.name\":");
        push_json_str(&self.user, out);
        out.extend_from_slice(b",\"user.uid\":");
        push_int(out, i128::from(self.uid));
        out.extend_from_slice(b",\"proc.pid\":");
        push_int(out, i128::from(self.pid));
        out.extend_from_slice(b",\"shell_pid\":");
        push_int(out, i128::from(self.shell));
        out.extend_from_slice(b",\"depth\":");
        push_int(out, self.depth as i128);
        out.extend_from_slice(b",\"command\":");
        push_json_str(&self.text, out);
        out.extend_from_slice(b"}\n");
    }
}
