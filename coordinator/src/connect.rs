//! The one connect poll: whether an address accepts a TCP connection now, each try
//! bounded (a host that drops packets, or a listener whose accept queue is full, would
//! otherwise hold a connect for minutes), and waiting until one does or until none does.
//! The ready waits of the backend, the remote backend and the frontend, and the
//! supervisor's looks at a port, all connect through here.

use std::io;
use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{Instant, sleep, timeout};

/// How long one try on this machine may take: a loopback listener answers at once unless
/// its accept queue is full.
pub const LOOPBACK: Duration = Duration::from_secs(1);

/// One try, bounded by `within`: `Ok` when the address accepted the connection.
pub async fn attempt(addr: impl ToSocketAddrs, within: Duration) -> io::Result<()> {
    match timeout(within, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} ms", within.as_millis()),
        )),
    }
}

/// Whether the address accepts a connection now (one try, bounded by `within`).
pub async fn accepts(addr: impl ToSocketAddrs, within: Duration) -> bool {
    attempt(addr, within).await.is_ok()
}

/// Tries every `poll` (each try bounded by `within`) until the address accepts a
/// connection; the caller bounds the wait.
pub async fn until_open(addr: impl ToSocketAddrs + Clone, poll: Duration, within: Duration) {
    while !accepts(addr.clone(), within).await {
        pause(poll).await;
    }
}

/// How often the ready waits try to connect while a port is not open yet: a port that
/// opens is seen 0.25 ms later on average.
pub const POLL: Duration = Duration::from_micros(500);

/// Waits `poll`. The runtime's timer has a 1 ms tick and rounds up (a 1 ms sleep lasts 1
/// to 2 ms, 2.5 ms between tries measured): a pause under 2 ms is slept on the blocking
/// pool instead, which wakes the run's thread when it ends.
pub async fn pause(poll: Duration) {
    if poll < Duration::from_millis(2) {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(poll)).await;
    } else {
        sleep(poll).await;
    }
}

/// Waits until nothing accepts connections at the address, for at most `limit`.
pub async fn until_closed(addr: impl ToSocketAddrs + Clone, poll: Duration, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && accepts(addr.clone(), limit).await {
        sleep(poll).await;
    }
}
