//! Ctrl-C, SIGTERM, SIGHUP and SIGQUIT as a stream of shutdown requests.
//!
//! Children run in their own process groups and never see the terminal's Ctrl-C, so
//! the coordinator catches it here and stops each group itself. The first request
//! starts a graceful stop; the second one tells the stop to kill at once. SIGHUP (the
//! terminal closed, an ssh session dropped) is a shutdown like any other: dying by it
//! would skip restoring the frontend config.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// One shutdown request, by the signal that made it: the first starts a graceful stop;
/// a second (or any later one) asks the stop under way to kill at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownRequest {
    Once(&'static str),
    Twice(&'static str),
}

impl ShutdownRequest {
    /// The signal's name (`SIGINT`).
    pub fn signal(self) -> &'static str {
        match self {
            ShutdownRequest::Once(name) | ShutdownRequest::Twice(name) => name,
        }
    }
}

impl std::fmt::Display for ShutdownRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.signal())
    }
}

#[derive(Debug)]
pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    quit: Signal,
    /// Whether a request came already: the next one is [`ShutdownRequest::Twice`].
    requested: bool,
}

impl Shutdown {
    /// Takes over SIGINT, SIGTERM, SIGHUP and SIGQUIT for the rest of the process.
    pub fn install() -> std::io::Result<Shutdown> {
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
            requested: false,
        })
    }

    /// Waits for the next request. Cancel-safe.
    pub async fn next(&mut self) -> ShutdownRequest {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
            _ = self.quit.recv() => "SIGQUIT",
        };
        let request = if self.requested {
            ShutdownRequest::Twice(name)
        } else {
            ShutdownRequest::Once(name)
        };
        self.requested = true;
        request
    }

    /// Resolves at the next request: what a stop under way waits on to kill at once.
    pub async fn hurry(&mut self) {
        self.next().await;
    }
}
