//! `dev --detach`'s process: this program again, in a group of its own, with no
//! terminal and its events on a pipe.

use std::process::Stdio;
use std::time::Duration;

use super::exit_code;

/// A `dev` run started in the background by `dev --detach`: its events come on
/// `events` (its stdout) until the foreground has what it waits for.
#[derive(Debug)]
pub struct Detached {
    pub pid: u32,
    events: Option<std::process::ChildStdout>,
    child: std::process::Child,
}

impl Detached {
    /// The run's stdout, its events (once; an empty stream after that).
    pub fn take_events(&mut self) -> Box<dyn std::io::Read + Send> {
        match self.events.take() {
            Some(events) => Box::new(events),
            None => Box::new(std::io::empty()),
        }
    }

    /// Waits (at most `within`) for the run to exit; its exit code, if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(exit_code(status)),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return None,
            }
        }
    }
}

/// Starts `argv` (this program again, as the run of `dev --detach`) in a process group
/// of its own, so that the terminal's Ctrl-C and hang-up never reach it, with no
/// terminal: stdin and stderr are `/dev/null` (the run writes its own log file) and
/// stdout is a pipe for its events. No parent-death signal: it is meant to outlive the
/// command that started it. It is not killed on drop.
pub fn spawn_detached(
    argv: &[std::ffi::OsString],
    cwd: &std::path::Path,
) -> std::io::Result<Detached> {
    use std::os::unix::process::CommandExt;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let events = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("the detached run has no stdout"))?;
    Ok(Detached {
        pid: child.id(),
        events: Some(events),
        child,
    })
}
