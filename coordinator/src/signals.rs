//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT as a stream of shutdown requests.
//!
//! Children run in their own process groups and never see the terminal's Ctrl-C, so
//! the coordinator catches it here and stops each group itself. The first request
//! starts a graceful stop; the second one tells the stop to kill at once. SIGHUP (the
//! terminal closed, an ssh session dropped) is a shutdown like any other: dying by it
//! would skip restoring the frontend config.

use tokio::signal::unix::{Signal, SignalKind, signal};

#[derive(Debug)]
pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    quit: Signal,
    received: u32,
}

impl Shutdown {
    /// Takes over SIGINT, SIGTERM, SIGHUP and SIGQUIT for the rest of the process.
    pub fn install() -> std::io::Result<Shutdown> {
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
            received: 0,
        })
    }

    /// Waits for the next request and names the signal. Cancel-safe.
    pub async fn next(&mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
            _ = self.quit.recv() => "SIGQUIT",
        };
        self.received += 1;
        name
    }

    /// How many requests arrived so far.
    pub fn received(&self) -> u32 {
        self.received
    }
}
