//! `scry view`: checks made before the terminal is taken over, and a real
//! session in tmux: open a sample, drill down twice, go back, quit.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{TempDir, samples, scry};

#[test]
fn bad_filter_is_a_usage_error_with_a_caret() {
    let sample = samples().join("workload.scry");
    let run = scry(&["view", sample.to_str().unwrap(), "proc.nmae=cat"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("^~~~~~~~~"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown field 'proc.nmae'"),
        "{}",
        run.stderr
    );
}

#[test]
fn needs_a_terminal() {
    let sample = samples().join("workload.scry");
    let run = scry(&["view", sample.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("needs a terminal"), "{}", run.stderr);
}

#[test]
fn unreadable_trace_exits_3() {
    let corrupt = samples().join("corrupt/bad-magic.scry");
    let run = scry(&["view", corrupt.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = scry(&["view", "/nonexistent/trace.scry"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}

/// A tmux server of our own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named `socket` with one session, `view`, of `columns` by
    /// `rows`, running `command` in `sh`.
    fn start(socket: String, columns: u16, rows: u16, command: &str) -> Tmux {
        let tmux = Tmux { socket };
        let (columns, rows) = (columns.to_string(), rows.to_string());
        let started = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "view",
            "-x",
            &columns,
            "-y",
            &rows,
            "sh",
            "-c",
            command,
        ]);
        assert!(started.status.success(), "{started:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "view"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "view"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Waits until the screen satisfies `ready` and has settled, and
    /// returns it. A capture can land in the middle of a frame being
    /// written, so a screen counts only once two captures 100 ms apart
    /// agree.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut previous = String::new();
        loop {
            let screen = self.screen();
            if ready(&screen) && screen == previous {
                return screen;
            }
            previous = screen.clone();
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The second line: the breadcrumbs.
fn crumbs(screen: &str) -> String {
    screen.lines().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn drill_twice_go_back_and_quit_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed (scripts/deps.sh test installs it); skipped");
        return;
    }
    let dir = TempDir::new("view-tmux");
    let status = dir.0.join("status");
    let sample = samples().join("workload.scry");
    let command = format!(
        "{} view {}; echo $? > {}",
        env!("CARGO_BIN_EXE_scry"),
        sample.display(),
        status.display()
    );
    let tmux = Tmux::start(
        format!("scry-test-{}", std::process::id()),
        120,
        40,
        &command,
    );

    let overview = tmux.wait_for("the overview", |s| {
        s.contains("8 Drops") && s.contains("2,298")
    });
    assert!(overview.contains("1 Events"), "{overview}");
    assert!(overview.contains("13 pids"), "{overview}");

    tmux.keys(&["2"]);
    let procs = tmux.wait_for("the process list", |s| {
        crumbs(s).contains("Overview › Processes")
    });
    assert!(
        procs.contains(" cat ") && procs.contains(" uname "),
        "{procs}"
    );
    // The third process by events is `id`; its files, then one file's
    // events.
    tmux.keys(&["Down", "Down", "Enter"]);
    let files = tmux.wait_for("the files of a process", |s| {
        crumbs(s).ends_with("› Files") || crumbs(s).contains("› Files ")
    });
    assert!(crumbs(&files).contains("proc.pid="), "{files}");
    assert!(files.contains("/etc/passwd"), "{files}");
    tmux.keys(&["Enter"]);
    let events = tmux.wait_for("the events of a file", |s| crumbs(s).contains("› Events"));
    assert!(crumbs(&events).contains("fd.name="), "{events}");

    tmux.keys(&["Escape"]);
    // Back to the very screen left: same rows, same selection.
    tmux.wait_for("the files screen again", |s| s == files);

    tmux.keys(&["q"]);
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "scry view did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(50));
    let code = std::fs::read_to_string(&status).unwrap();
    assert_eq!(code.trim(), "0");
    assert!(Path::new(&status).exists());
}

#[test]
fn sigterm_quits_and_gives_the_terminal_back() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed (scripts/deps.sh test installs it); skipped");
        return;
    }
    let dir = TempDir::new("view-sigterm");
    let (pid, status, stty) = (dir.path("pid"), dir.path("status"), dir.path("stty"));
    let sample = samples().join("workload.scry");
    // The inner shell records its pid and becomes scry view; the outer one
    // then looks at the terminal scry left behind.
    let command = format!(
        "sh -c 'echo $$ > {pid}; exec {} view {}'; echo $? > {status}; stty -a > {stty}; sleep 10",
        env!("CARGO_BIN_EXE_scry"),
        sample.display(),
    );
    let tmux = Tmux::start(
        format!("scry-test-term-{}", std::process::id()),
        100,
        30,
        &command,
    );
    tmux.wait_for("the overview", |s| s.contains("8 Drops"));
    let pid = std::fs::read_to_string(&pid).unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    while std::fs::read_to_string(&stty).map_or(true, |s| s.is_empty()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "scry view did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "0");
    // Raw mode is off again: line editing and echo are back.
    let modes = std::fs::read_to_string(&stty).unwrap();
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{modes}");
    assert!(words.contains(&"echo"), "{modes}");
    // And the alternate screen is left: the screen is the shell's again.
    let screen = tmux.screen();
    assert!(!screen.contains("8 Drops"), "{screen}");
}

#[test]
fn a_view_whose_terminal_dies_ends() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed (scripts/deps.sh test installs it); skipped");
        return;
    }
    let dir = TempDir::new("view-hangup");
    let pid = dir.path("pid");
    let sample = samples().join("workload.scry");
    let command = format!(
        "echo $$ > {pid}; exec {} view {}",
        env!("CARGO_BIN_EXE_scry"),
        sample.display(),
    );
    let tmux = Tmux::start(
        format!("scry-test-hangup-{}", std::process::id()),
        100,
        30,
        &command,
    );
    tmux.wait_for("the overview", |s| s.contains("8 Drops"));
    let pid = std::fs::read_to_string(&pid).unwrap().trim().to_owned();
    // The terminal emulator dies without a word: its side of the
    // terminal closes under the view.
    let server = tmux.run(&["display-message", "-p", "#{pid}"]);
    let server = String::from_utf8_lossy(&server.stdout).trim().to_owned();
    let killed = Command::new("kill")
        .args(["-KILL", &server])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    // Gone, or a zombie waiting for its new parent to reap it.
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(") ")
                .next()
                .is_some_and(|s| !s.starts_with('Z'))
        })
    };
    while running() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "scry view went on after its terminal died"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `path` holds something.
fn wait_for_file(path: &Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            // The writer may still be at it.
            std::thread::sleep(Duration::from_millis(100));
            return std::fs::read_to_string(path).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_background_pass_that_panics_ends_the_view_with_an_error() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed (scripts/deps.sh test installs it); skipped");
        return;
    }
    let dir = TempDir::new("view-panic");
    let (status, stderr, stty) = (dir.path("status"), dir.path("stderr"), dir.path("stty"));
    let sample = samples().join("workload.scry");
    // The switch makes the indexing pass, on its background thread, panic.
    let command = format!(
        "{}=1 {} view {} 2> {stderr}; echo $? > {status}; stty -a > {stty}; sleep 10",
        scry_tui::source::PANIC_SWITCH,
        env!("CARGO_BIN_EXE_scry"),
        sample.display(),
    );
    let tmux = Tmux::start(
        format!("scry-test-panic-{}", std::process::id()),
        100,
        30,
        &command,
    );
    let modes = wait_for_file(
        Path::new(&stty),
        "scry view went on after its pass panicked",
    );
    let code = std::fs::read_to_string(&status).unwrap();
    assert_eq!(code.trim(), "3", "a failed pass exits 3");
    let stderr = std::fs::read_to_string(&stderr).unwrap();
    assert!(stderr.contains("the indexing pass failed"), "{stderr}");
    assert!(stderr.contains(scry_tui::source::PANIC_SWITCH), "{stderr}");
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{modes}");
    assert!(words.contains(&"echo"), "{modes}");
    // The alternate screen is left, and nothing was drawn over the shell's.
    let screen = tmux.screen();
    assert!(!screen.contains("Overview"), "{screen}");
    assert!(!screen.contains("indexing"), "{screen}");
}

#[test]
fn no_mouse_leaves_mouse_reporting_off() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed (scripts/deps.sh test installs it); skipped");
        return;
    }
    let sample = samples().join("workload.scry");
    // tmux knows which mouse modes the program in a pane asked for.
    let mouse_flag = |flags: &str| {
        let command = format!(
            "{} view {} {flags}; sleep 10",
            env!("CARGO_BIN_EXE_scry"),
            sample.display()
        );
        let tmux = Tmux::start(
            format!("scry-test-mouse{}-{}", flags.len(), std::process::id()),
            100,
            30,
            &command,
        );
        tmux.wait_for("the overview", |s| s.contains("8 Drops"));
        let flag = tmux.run(&["display-message", "-p", "#{mouse_any_flag}"]);
        tmux.keys(&["q"]);
        String::from_utf8_lossy(&flag.stdout).trim().to_owned()
    };
    assert_eq!(mouse_flag(""), "1", "mouse reporting is on by default");
    assert_eq!(mouse_flag("--no-mouse"), "0");
}
