//! Ctrl-C and SIGTERM as a stream of shutdown requests.
//!
//! Children run in their own process groups and never see the terminal's Ctrl-C, so
//! the coordinator catches it here and stops each group itself. The first request
//! starts a graceful stop; the second one tells the stop to kill at once.

use tokio::signal::unix::{Signal, SignalKind, signal};

#[derive(Debug)]
pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
    received: u32,
}

impl Shutdown {
    /// Takes over SIGINT and SIGTERM for the rest of the process.
    pub fn install() -> std::io::Result<Shutdown> {
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            received: 0,
        })
    }

    /// Waits for the next request and names the signal. Cancel-safe.
    pub async fn next(&mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        self.received += 1;
        name
    }

    /// How many requests arrived so far.
    pub fn received(&self) -> u32 {
        self.received
    }
}
