//! The one connect poll: whether an address accepts a TCP connection now, each try
//! bounded (a host that drops packets, or a listener whose accept queue is full, would
//! otherwise hold a connect for minutes), and waiting until one does or until none does.
//! The ready waits of the backend, the remote backend and the frontend, and the
//! supervisor's looks at a port, all connect through here.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{Instant, sleep, timeout};

/// How long one try on this machine may take: a loopback listener answers at once unless
/// its accept queue is full.
pub const LOOPBACK: Duration = Duration::from_secs(1);

/// One try, bounded by `within`: `Ok` when the address accepted the connection.
pub async fn attempt(addr: impl ToSocketAddrs, within: Duration) -> io::Result<()> {
    match timeout(within, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) if to_itself(stream.local_addr(), stream.peer_addr()) => Err(itself()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} ms", within.as_millis()),
        )),
    }
}

/// Whether `stream` is connected to itself (see [`to_itself`]): not a listener.
pub fn is_itself(stream: &std::net::TcpStream) -> bool {
    to_itself(stream.local_addr(), stream.peer_addr())
}

/// A connection to itself: a try whose source port the kernel picked equal to the port
/// it tried (a port of the ephemeral range that nobody listens on) "succeeds" by TCP's
/// simultaneous open, with no listener at all. Seen once in a full test run, when the
/// ready waits polled every 0.5 ms: the frontend was announced ready before it served.
fn to_itself(local: io::Result<SocketAddr>, peer: io::Result<SocketAddr>) -> bool {
    matches!((local, peer), (Ok(local), Ok(peer)) if local == peer)
}

fn itself() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "connected to itself: nobody listens",
    )
}

/// Whether the address accepts a connection now (one try, bounded by `within`).
pub async fn accepts(addr: impl ToSocketAddrs, within: Duration) -> bool {
    attempt(addr, within).await.is_ok()
}

/// Tries every `poll` (each try bounded by `within`) until the address accepts a
/// connection; the caller bounds the wait.
pub async fn until_open(addr: impl ToSocketAddrs + Clone, poll: Duration, within: Duration) {
    while !accepts(addr.clone(), within).await {
        sleep(poll).await;
    }
}

/// How often the ready waits on loopback try to connect while a port is not open yet: a
/// port that opens is seen 0.25 ms later on average.
pub const POLL: Duration = Duration::from_micros(500);

/// How long one stretch of [`first_open`] polls before its caller looks around (the
/// process tree, the log).
pub const STRETCH: Duration = Duration::from_millis(25);

/// Tries `addrs` in turn every [`POLL`], for at most `stretch` (each try too): the first
/// that accepts a connection, if one does. The runtime's timer has a 1 ms tick and rounds up (a 1 ms
/// sleep between tries made 2.4 ms between them), and a handoff to the blocking pool per
/// try cost 15% of a core while a backend started; so one blocking thread polls the
/// whole stretch with plain connects (microseconds each on loopback) and sleeps. A
/// caller that stops waiting leaves the thread to end its stretch.
pub async fn first_open(addrs: Vec<SocketAddr>, stretch: Duration) -> Option<SocketAddr> {
    let found = first_open_then(addrs, stretch, |addr, _| addr).await;
    found.map(|found| found.unwrap_or_else(|addr| addr))
}

/// [`first_open`], then `then` with the address and the connection that found it open,
/// on the polling thread (blocking calls are fine there): what the caller asks the port
/// first, with no second connect and no hand-over between threads. `Err` with the
/// address if `then` panicked.
pub async fn first_open_then<T: Send + 'static>(
    addrs: Vec<SocketAddr>,
    stretch: Duration,
    then: impl FnOnce(SocketAddr, std::net::TcpStream) -> T + Send + 'static,
) -> Option<Result<T, SocketAddr>> {
    let polling = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + stretch;
        loop {
            let open = addrs.iter().find_map(|addr| {
                std::net::TcpStream::connect_timeout(addr, stretch.min(LOOPBACK))
                    .ok()
                    .filter(|stream| !is_itself(stream))
                    .map(|stream| (*addr, stream))
            });
            if let Some((addr, stream)) = open {
                let asked = std::panic::AssertUnwindSafe(|| then(addr, stream));
                return Some(std::panic::catch_unwind(asked).map_err(|_| addr));
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    });
    polling.await.ok().flatten()
}

/// [`first_open`] of one loopback address, stretch after stretch, until it accepts a
/// connection; the caller bounds the wait.
pub async fn until_open_loopback(addr: SocketAddr) {
    while first_open(vec![addr], STRETCH).await.is_none() {}
}

/// Waits until nothing accepts connections at the address, for at most `limit`.
pub async fn until_closed(addr: impl ToSocketAddrs + Clone, poll: Duration, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && accepts(addr.clone(), limit).await {
        sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket bound to a port and connected to that same port: what a try makes of a
    /// port nobody listens on when the kernel picks that port as its source.
    fn self_connected() -> std::net::TcpStream {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket,
        };
        use std::os::fd::AsRawFd;
        let port = portpicker::pick_unused_port().expect("a free port");
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .expect("a socket");
        let addr = SockaddrIn::new(127, 0, 0, 1, port);
        bind(fd.as_raw_fd(), &addr).expect("bound");
        connect(fd.as_raw_fd(), &addr).expect("connected to itself");
        std::net::TcpStream::from(fd)
    }

    #[test]
    fn a_connection_to_itself_is_not_a_listener() {
        let stream = self_connected();
        assert!(to_itself(stream.local_addr(), stream.peer_addr()));
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bound");
        let other =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        assert!(!to_itself(other.local_addr(), other.peer_addr()));
    }
}
