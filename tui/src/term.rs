//! The real terminal: raw mode, the alternate screen and mouse reporting
//! on the way in, all undone on the way out: on quitting, on error, on
//! panic, and on SIGTERM, SIGHUP or SIGINT; and the event loop that feeds
//! keys and mouse actions to the application while background passes run.
//!
//! A panic on the UI thread restores the terminal before its message is
//! printed. A panic in a background pass is not the end of the process
//! but it is the end of the view: the loop sees the pass fail, stops
//! drawing, and returns the panic's message as an error once the terminal
//! is restored.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use rustix::event::{PollFd, PollFlags, Timespec};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::app::App;
use crate::source::Source;
use crate::ui;

/// How often the screen is redrawn while nothing happens (progress).
const TICK: Duration = Duration::from_millis(100);

/// Puts the terminal back as it was. Safe to call more than once.
fn restore(mouse: bool) {
    let mut out = io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// The message and place of the first panic on a thread other than the
/// UI's, kept for the error the view ends with: printed at once it would
/// land on the alternate screen and vanish with it.
static BACKGROUND_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Restores the terminal when dropped, however the loop ends.
struct Guard {
    mouse: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore(self.mouse);
    }
}

fn setup(mouse: bool) -> io::Result<(Guard, Terminal<CrosstermBackend<Stdout>>)> {
    // A panic of the UI thread must leave a usable terminal behind, with
    // its message readable: restore first, then let the usual hook print.
    // Another thread's panic leaves the terminal to the UI thread, which
    // is maybe drawing: its job fails and the loop ends (see `run`).
    let ui: ThreadId = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui {
            restore(mouse);
            previous(info);
        } else {
            let mut slot = BACKGROUND_PANIC
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert_with(|| info.to_string());
        }
    }));
    enable_raw_mode()?;
    let guard = Guard { mouse };
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let terminal = Terminal::new(CrosstermBackend::new(out))?;
    Ok((guard, terminal))
}

/// Whether an event is ready within `timeout`; a signal arriving while
/// waiting is no error (the loop looks at the stop flag next).
fn poll(timeout: Duration) -> io::Result<bool> {
    match event::poll(timeout) {
        Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(false),
        other => other,
    }
}

/// What waiting on the terminal gave.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// Input is waiting to be read.
    Ready,
    /// Nothing within the time (or a signal came).
    Idle,
    /// The terminal is gone: its emulator closed, its connection dropped.
    HungUp,
}

/// Waits up to `timeout` for input on the terminal. The wait is ours, not
/// crossterm's: crossterm keeps reading a hung-up terminal, which answers
/// every read at once with nothing, and never says so, so a view whose
/// terminal died would spin instead of ending.
fn wait_for_input(timeout: Duration) -> io::Result<Input> {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(0) => Ok(Input::Idle),
        Ok(_) => {
            let events = fds[0].revents();
            if events.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                Ok(Input::HungUp)
            } else {
                Ok(Input::Ready)
            }
        }
        Err(rustix::io::Errno::INTR) => Ok(Input::Idle),
        Err(error) => Err(error.into()),
    }
}

/// The error a failed background pass ends the view with: what failed,
/// and where the panic was when one was caught.
fn failure(why: &str) -> io::Error {
    let panic = BACKGROUND_PANIC
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match panic {
        Some(panic) => io::Error::other(format!("{why}\n{panic}")),
        None => io::Error::other(why.to_owned()),
    }
}

/// Runs the UI over `source` until the user quits.
///
/// # Errors
/// Terminal I/O errors; a background pass that failed (panicked), after
/// the terminal is restored.
pub fn run(source: Arc<dyn Source>, filter: &str, mouse: bool) -> io::Result<()> {
    // A signal ends the loop like `q`, so the guard restores the terminal.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGHUP, SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut app = App::new(source, filter, mouse);
    let (_guard, mut terminal) = setup(mouse)?;
    terminal.clear()?;
    loop {
        if let Some(why) = app.failure() {
            return Err(failure(why));
        }
        terminal.draw(|frame| ui::draw(frame, &mut app))?;
        if app.quit || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let input = wait_for_input(TICK)?;
        if input == Input::HungUp {
            return Ok(());
        }
        if input == Input::Ready && poll(Duration::ZERO)? {
            // Handle everything pending before the next frame, so key
            // repeat never queues up redraws.
            loop {
                match event::read()? {
                    Event::Key(key) => app.on_key(key),
                    Event::Mouse(action) if mouse => app.on_mouse(action),
                    _ => {}
                }
                if app.quit || stop.load(Ordering::Relaxed) || !poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        app.poll();
    }
}
