//! The guardian: the small process that makes a `kill -9` of `dev` leave nothing behind.
//!
//! `dev`'s own stops cover every way out it sees (Ctrl-C, SIGTERM, SIGHUP, an error, a
//! panic), and its children get a parent-death signal; but a `kill -9` of `dev` (an
//! editor's stop button, a CI timeout, the OOM killer) gives it no chance to act, the
//! parent-death signal reaches only its direct children, and the child subreaper dies
//! with it. What is left (a Vite tree, a uvicorn worker) keeps its port, and the
//! frontend config keeps dev's temporary port, until the next run cleans up.
//!
//! So before it starts anything, `dev` starts the guardian: the same binary
//! (`xtask __guardian <ID>`), in a session of its own (see
//! [`process::spawn_guardian`]), holding the read end of a pipe whose write end only
//! `dev` holds. `dev` dying closes the pipe, however it dies: the guardian reads EOF.
//! A clean stop writes one byte first ([`Guardian::stand_down`]), and the guardian
//! exits. On EOF without that byte the guardian does, at once, what the next run would
//! do for a run that did not exit cleanly (`dev::clean_up_after_guarded`: the same
//! code): stops what the run's record proves is the run's, settles the frontend config
//! as a clean exit does, removes the record, and writes what it did into the run's log.
//!
//! It reads the record only after EOF, never before: the record is written as
//! processes start, so it holds everything that was started by the time `dev` died.
//! Killing the guardian alone changes nothing for the run: `dev` never reads the pipe,
//! and a `kill -9` of both is what the next run cleans up, as before.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::process;
use crate::runlog::RunLog;

/// The hidden subcommand that runs the guardian (`xtask __guardian <ID> [--log PATH]`).
pub const SUBCOMMAND: &str = "__guardian";

/// The byte `dev` writes when it stopped cleanly.
const STOOD_DOWN: u8 = b'.';

/// `dev`'s end of the guardian: its process and the pipe's write end.
#[derive(Debug)]
pub struct Guardian {
    child: std::process::Child,
    pipe: std::io::PipeWriter,
}

impl Guardian {
    /// Starts the guardian of run `correlation_id` in `root`, writing into `log_file`.
    pub fn start(
        root: &Path,
        correlation_id: &str,
        log_file: Option<&Path>,
    ) -> std::io::Result<Guardian> {
        // Close-on-exec on both ends: no child of `dev` inherits the write end (which
        // would keep the pipe open after `dev` died); the guardian gets the read end
        // as its stdin.
        let (reader, pipe) = std::io::pipe()?;
        let shown = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("xtask"));
        // `/proc/self/exe` is this very binary even when a build replaced the file
        // since `dev` started.
        let program = Path::new("/proc/self/exe");
        let program = if program.exists() {
            program.to_path_buf()
        } else {
            shown.clone()
        };
        let mut args: Vec<OsString> = vec![SUBCOMMAND.into(), correlation_id.into()];
        if let Some(log_file) = log_file {
            args.push("--log".into());
            args.push(log_file.into());
        }
        let child = process::spawn_guardian(&program, shown.as_os_str(), &args, root, reader)?;
        Ok(Guardian { child, pipe })
    }

    /// [`Guardian::start`] on a thread of its own: `dev` goes on registering its run
    /// meanwhile (a fork and an exec take from a few hundred µs to several ms on a busy
    /// machine) and waits for it ([`Starting::wait`]) before it starts anything.
    pub fn start_soon(root: &Path, correlation_id: &str, log_file: Option<&Path>) -> Starting {
        let (root, id) = (root.to_path_buf(), correlation_id.to_owned());
        let log_file = log_file.map(Path::to_path_buf);
        let start = move || Guardian::start(&root, &id, log_file.as_deref());
        let started = Instant::now();
        match std::thread::Builder::new()
            .name("guardian-start".into())
            .spawn(move || {
                let guardian = start();
                (guardian, started.elapsed())
            }) {
            Ok(thread) => Starting::Thread(thread),
            Err(err) => Starting::Failed(err),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The clean way out: tells the guardian that `dev` stopped cleanly (so it does
    /// nothing) and waits a moment for it to exit, so that no guardian outlives `dev`.
    /// A guardian that was killed meanwhile is not missed.
    pub fn stand_down(mut self) {
        let _ = self.pipe.write_all(&[STOOD_DOWN]);
        drop(self.pipe);
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                // Exited, or already reaped as an adopted orphan.
                Ok(Some(_)) | Err(_) => return,
            }
        }
    }
}

/// A guardian on its way: see [`Guardian::start_soon`].
#[derive(Debug)]
pub enum Starting {
    Thread(std::thread::JoinHandle<(std::io::Result<Guardian>, Duration)>),
    /// No thread could be started for it.
    Failed(std::io::Error),
}

impl Starting {
    /// The guardian once it runs, and how long its start took (fork to exec).
    pub fn wait(self) -> (std::io::Result<Guardian>, Duration) {
        match self {
            Starting::Thread(thread) => thread.join().unwrap_or_else(|_| {
                let err = std::io::Error::other("the thread starting it panicked");
                (Err(err), Duration::ZERO)
            }),
            Starting::Failed(err) => (Err(err), Duration::ZERO),
        }
    }
}

/// What the guardian did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// `dev` stopped cleanly: nothing to do.
    StoodDown,
    /// `dev` ended without saying so; its run was cleaned up (or had nothing left).
    CleanedUp,
}

/// The guardian's whole life (`xtask __guardian`): waits on stdin, the pipe from `dev`,
/// until `dev` stands it down or dies, and cleans up after a death with `clean_up`
/// (`dev::clean_up_as_guardian`, passed in by the caller so that this module, which
/// `dev` uses, does not import `dev` back), given the run's ID and log.
pub fn watch<F, Cleaning>(correlation_id: &str, log_file: Option<&Path>, clean_up: F) -> Watched
where
    F: FnOnce(String, RunLog) -> Cleaning,
    Cleaning: std::future::Future<Output = ()>,
{
    if wait_for_dev() {
        return Watched::StoodDown;
    }
    // Only now: the run's log, config and record are read after `dev` is gone, so
    // that they hold everything `dev` did (and waiting costs no memory for them).
    let log = RunLog::append_to(
        // Without a log file of the run's (`dev` could not create one), the lines go
        // nowhere: the guardian has no terminal.
        log_file.unwrap_or(Path::new("/dev/null")),
        correlation_id,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        log.warn("guardian: cannot start its async runtime: the next dev run cleans up");
        log.flush(Duration::from_secs(1));
        return Watched::CleanedUp;
    };
    let _entered = log.enter();
    runtime.block_on(clean_up(correlation_id.to_owned(), log.clone()));
    log.flush(Duration::from_secs(1));
    Watched::CleanedUp
}

/// Blocks until `dev` writes its byte (true) or the pipe ends without it (false).
fn wait_for_dev() -> bool {
    let mut stdin = std::io::stdin().lock();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => return false,
            Ok(_) => return byte[0] == STOOD_DOWN,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
