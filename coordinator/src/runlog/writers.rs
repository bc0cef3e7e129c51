//! The run log's writer threads: the terminal's (queued lines, and how many a slow
//! terminal missed) and the events' (one JSON line each on stdout), and what either
//! does when stdout is closed under it ([`StdoutGone`]).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::Message;

/// The terminal thread: writes queued lines; when it catches up after lines were
/// dropped, says how many. A closed stdout is [`StdoutGone`]'s to judge; other write
/// errors are ignored: they must not end supervision.
pub(super) fn write_terminal(
    queue: &Receiver<Message>,
    dropped: &AtomicU64,
    prefix: &str,
    log: Option<&str>,
    all_to_stderr: bool,
    gone: &mut StdoutGone,
) {
    let mut next = queue.recv().ok();
    while let Some(message) = next {
        match message {
            Message::Line { text, to_stderr } => {
                if to_stderr || all_to_stderr {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                } else if let Err(err) = std::io::stdout().lock().write_all(text.as_bytes()) {
                    gone.on(&err);
                }
            }
            Message::Flush(done) => {
                let _ = std::io::stdout().flush();
                let _ = done.send(());
            }
        }
        next = match queue.try_recv() {
            Ok(message) => Some(message),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                // Caught up: say what the terminal missed, once.
                let lost = dropped.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let whereabouts =
                        log.map_or_else(String::new, |log| format!("; all are in {log}"));
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "{prefix} {lost} lines not shown (terminal too slow){whereabouts}"
                    );
                }
                queue.recv().ok()
            }
        };
    }
}

/// The event thread: each event a line on stdout, flushed at once (a reader waits for
/// it). A closed stdout ends the run unless it is a `dev --detach`'s ([`StdoutGone`]).
pub(super) fn write_events(lines: &Receiver<Message>, gone: &mut StdoutGone) {
    let mut closed = false;
    while let Ok(message) = lines.recv() {
        match message {
            Message::Line { text, .. } if !closed => {
                let mut out = std::io::stdout().lock();
                if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                    closed = true;
                    gone.on(&err);
                }
            }
            Message::Line { .. } => {}
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// What a writer thread does when stdout is closed under it: with
/// `on_stdout_closed`, it says so (once) and calls it (`dev` stops as on SIGTERM),
/// as a program killed by SIGPIPE would have ended (`dev ... | head`); otherwise (the
/// background run of `dev --detach`, whose foreground has returned) nothing.
pub(super) struct StdoutGone {
    stop: Option<fn()>,
    said: bool,
    prefix: String,
}

impl StdoutGone {
    pub(super) fn new(stop: Option<fn()>, prefix: &str) -> StdoutGone {
        StdoutGone {
            stop,
            said: false,
            prefix: prefix.to_owned(),
        }
    }

    fn on(&mut self, err: &std::io::Error) {
        let Some(stop) = self.stop else {
            return;
        };
        if self.said || err.kind() != std::io::ErrorKind::BrokenPipe {
            return;
        }
        self.said = true;
        let _ = writeln!(
            std::io::stderr().lock(),
            "{} stdout was closed (whatever read dev's output has ended): stopping what dev started",
            self.prefix
        );
        stop();
    }
}
