//! Progress for slow steps (the venv sync): a spinner on a terminal, plain lines otherwise.
//!
//! Logs and CI output must not fill up with spinner frames, so without a terminal each
//! step is one line when it starts and one when it ends.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::runlog::RunLog;

/// A running step. Finish it with [`Step::done`] or [`Step::failed`].
#[derive(Debug)]
pub struct Step {
    message: String,
    started: Instant,
    stop: Arc<AtomicBool>,
    spinner: Option<JoinHandle<()>>,
    log: RunLog,
}

impl Step {
    pub fn start(log: &RunLog, message: &str) -> Step {
        let stop = Arc::new(AtomicBool::new(false));
        let interactive = std::io::stderr().is_terminal();
        let spinner = if interactive {
            log.file_only(&format!("{message}..."));
            let stop = Arc::clone(&stop);
            let text = message.to_owned();
            Some(std::thread::spawn(move || spin(&text, &stop)))
        } else {
            log.info(&format!("{message}..."));
            None
        };
        Step {
            message: message.to_owned(),
            started: Instant::now(),
            stop,
            spinner,
            log: log.clone(),
        }
    }

    pub fn done(mut self, outcome: &str) {
        let text = format!(
            "{}: {outcome} ({:.1}s)",
            self.message,
            self.started.elapsed().as_secs_f64()
        );
        self.finish();
        self.log.info(&text);
    }

    pub fn failed(mut self) {
        let text = format!("{}: failed", self.message);
        self.finish();
        self.log.error(&text);
    }

    /// Stops the spinner and waits for it to clear its line, so that the next log line
    /// is not overwritten.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(spinner) = self.spinner.take() {
            let _ = spinner.join();
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish();
    }
}

fn spin(message: &str, stop: &AtomicBool) {
    const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    let started = Instant::now();
    let mut frame = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{} {message} ({}s)",
            FRAMES[frame % FRAMES.len()],
            started.elapsed().as_secs()
        );
        let _ = err.flush();
        drop(err);
        frame += 1;
        std::thread::sleep(Duration::from_millis(80));
    }
    let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
}
