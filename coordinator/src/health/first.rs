//! The first health request of a local wait, on the connection that found the port open.
//!
//! A backend that starts listening is asked at once, on that connection, from the
//! thread that polled it, and the listener is looked up while the backend prepares its
//! answer: no second connect, no hand-over to the runtime, no thread competing with the
//! backend's start for the two cores (ARCHITECTURE, Decisions: the first answer).
//!
//! It is a fast path, not a second client: only plain `http://`, only an answer framed
//! in the plainest ways (`Content-Length` in ASCII digits, `chunked` alone without
//! extensions or trailers, or until the close), read cleanly. Anything else (a broken
//! head, a reset, an interim `1xx`, any other `Transfer-Encoding`) is `None`, and the
//! caller asks through [`HealthClient`] as every later probe does, so that one client
//! words every failure; such an answer may then take up to twice the timeout. The
//! [`Probe`] it makes is the client's for the same bytes (the unit test serves each
//! answer to both).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod read;

use super::{HealthClient, Probe};

/// A request written on the connect poll's connection, its answer not read yet.
#[derive(Debug)]
pub struct Sent {
    stream: TcpStream,
    deadline: Instant,
    timed_out: String,
    /// The answer was read to its exact end, and may be followed by another.
    reusable: bool,
}

impl Sent {
    /// The connection, to carry the next request (HTTP/1.1 keep-alive), when its
    /// answer was read to its exact end and the server did not say it closes.
    pub fn into_kept(self) -> Option<TcpStream> {
        self.reusable.then_some(self.stream)
    }
}

impl HealthClient {
    /// Writes `GET url` on `stream` with the headers [`HealthClient::probe`] sends;
    /// `None` for a URL that is not plain `http://`, without a working client, or when
    /// the write fails. Blocking: call it from the thread that connected.
    pub fn send_on(&self, mut stream: TcpStream, url: &str, correlation_id: &str) -> Option<Sent> {
        self.http.as_ref().ok()?;
        let request = request(url, correlation_id)?;
        let deadline = Instant::now() + self.timeout;
        stream.set_write_timeout(Some(self.timeout)).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        Some(Sent {
            stream,
            deadline,
            timed_out: self.timed_out(),
            reusable: false,
        })
    }

    /// [`HealthClient::probe`], asked on a connection of its own when `url` is plain
    /// `http://` to a loopback address, which a client's first request on a new
    /// connection makes about half a millisecond slower (ARCHITECTURE, Decisions). The
    /// same probe either way. `look` runs on that connection before the request is
    /// written, with its two addresses (`None` without a connection of its own): what
    /// the caller asks the kernel of the connection's other end while a real server
    /// cannot have answered or closed it yet. An answer this path does not read is
    /// asked again through the client, right after, at the same address.
    pub async fn probe_once<T: Default + Send + 'static>(
        &self,
        url: &str,
        correlation_id: &str,
        look: impl Fn(Option<(SocketAddr, SocketAddr)>) -> T + Send + 'static,
    ) -> (Probe, T) {
        let (probe, seen, _) = self.probe_kept(url, correlation_id, None, look).await;
        (probe, seen)
    }

    /// [`HealthClient::probe_once`] on `kept` when it is given and still idle (the
    /// connection of the answer before, kept between polls), else on a new connection;
    /// the connection comes back when it can carry the next request.
    pub async fn probe_kept<T: Default + Send + 'static>(
        &self,
        url: &str,
        correlation_id: &str,
        kept: Option<TcpStream>,
        look: impl Fn(Option<(SocketAddr, SocketAddr)>) -> T + Send + 'static,
    ) -> (Probe, T, Option<TcpStream>) {
        let (Some(addr), Ok(_)) = (loopback(url), &self.http) else {
            return (self.probe(url, correlation_id).await, look(None), None);
        };
        let (client, asked, id) = (self.clone(), url.to_owned(), correlation_id.to_owned());
        let once =
            tokio::task::spawn_blocking(move || client.ask_once(addr, &asked, &id, kept, look));
        match once.await {
            Ok((Some(probe), seen, kept)) => (probe, seen, kept),
            Ok((None, seen, _)) => (self.probe(url, correlation_id).await, seen, None),
            // Only a panic: then nothing is known of the other end.
            Err(_) => (self.probe(url, correlation_id).await, T::default(), None),
        }
    }

    /// [`HealthClient::probe_kept`]'s blocking part: `None` leaves the question to the
    /// client; `look` runs on the connection the answer comes on, before its request.
    fn ask_once<T>(
        &self,
        addr: SocketAddr,
        url: &str,
        correlation_id: &str,
        kept: Option<TcpStream>,
        look: impl Fn(Option<(SocketAddr, SocketAddr)>) -> T,
    ) -> (Option<Probe>, T, Option<TcpStream>) {
        // A kept connection carries the next request only while idle: nothing left to
        // read and not closed (else it is dropped for a new one).
        if let Some(kept) = kept.filter(idle) {
            let seen = look(ends(&kept));
            if let Some(mut sent) = self.send_on(kept, url, correlation_id)
                && let Some(probe) = sent.answer()
            {
                return (Some(probe), seen, sent.into_kept());
            }
        }
        let within = self.timeout.min(Duration::from_secs(1));
        match TcpStream::connect_timeout(&addr, within) {
            // A connection to itself (see `connect`) is the client's to tell.
            Ok(stream) if crate::connect::is_itself(&stream) => (None, look(None), None),
            Ok(stream) => {
                let seen = look(ends(&stream));
                match self.send_on(stream, url, correlation_id) {
                    Some(mut sent) => {
                        let probe = sent.answer();
                        let kept = probe.as_ref().and(sent.into_kept());
                        (probe, seen, kept)
                    }
                    None => (None, seen, None),
                }
            }
            // As the client words them (`HealthClient::describe`).
            Err(err) if timed_out(&err) => {
                (Some(Probe::Unreachable(self.timed_out())), look(None), None)
            }
            Err(err) => (
                Some(Probe::Unreachable(format!("connection failed: {err}"))),
                look(None),
                None,
            ),
        }
    }
}

/// A connection's two addresses, ours and theirs (to ask the kernel who holds its
/// other end).
pub fn ends(stream: &TcpStream) -> Option<(SocketAddr, SocketAddr)> {
    Some((stream.local_addr().ok()?, stream.peer_addr().ok()?))
}

/// Whether a kept connection is idle: nothing to read and not closed by the server.
fn idle(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let quiet = matches!(
        stream.peek(&mut [0u8; 1]),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).is_ok() && quiet
}

/// The address of a plain `http://` URL whose host is a loopback address.
fn loopback(url: &str) -> Option<SocketAddr> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (parsed.scheme() == "http" && ip.is_loopback())
        .then(|| SocketAddr::new(ip, parsed.port_or_known_default().unwrap_or(80)))
}

/// The request line and headers, as the client writes them (the port in `host` only
/// when it is not 80), or `None` when the URL is not one this path sends.
fn request(url: &str, correlation_id: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if parsed.scheme() != "http" || correlation_id.chars().any(char::is_control) {
        return None;
    }
    let host = match (parsed.host_str()?, parsed.port()) {
        (host, Some(port)) => format!("{host}:{port}"),
        (host, None) => host.to_owned(),
    };
    let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!(
        "GET {}{query} HTTP/1.1\r\nx-correlation-id: {correlation_id}\r\n\
         accept: application/json\r\nuser-agent: dev-coordinator\r\nhost: {host}\r\n\r\n",
        parsed.path()
    ))
}

/// A read or connect that ran into its deadline.
fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::health::BODY_CAP;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one connection: answers each request on it with `response` (the first
    /// request is sent back through the receiver), and closes after the first answer
    /// with `close`; never accepts another connection.
    pub(in crate::health) async fn serve(
        response: Vec<u8>,
        close: bool,
    ) -> (
        u16,
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Receiver<String>,
    ) {
        let (read, request_read) = tokio::sync::oneshot::channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            drop(listener);
            let (mut read, mut request, mut buf) = (Some(read), Vec::new(), [0u8; 4096]);
            loop {
                let end = loop {
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end + 4;
                    }
                    let Ok(n @ 1..) = socket.read(&mut buf).await else {
                        return;
                    };
                    request.extend_from_slice(&buf[..n]);
                };
                let asked: Vec<u8> = request.drain(..end).collect();
                if let Some(read) = read.take() {
                    let _ = read.send(String::from_utf8_lossy(&asked).into_owned());
                }
                let _ = socket.write_all(&response).await;
                if close {
                    return;
                }
            }
        });
        (port, server, request_read)
    }

    /// What the first path makes of `response` (`None`: it leaves it to the client), and
    /// the request it wrote.
    async fn first(client: &HealthClient, response: &[u8], close: bool) -> (Option<Probe>, String) {
        let (port, server, request) = serve(response.to_vec(), close).await;
        let client = client.clone();
        let probe = tokio::task::spawn_blocking(move || {
            let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            client
                .send_on(
                    stream,
                    &format!("http://127.0.0.1:{port}/health?x=1"),
                    "dev-7-q",
                )
                .and_then(|mut sent| sent.answer())
        })
        .await
        .expect("no panic");
        server.abort();
        (probe, request.await.unwrap_or_default())
    }

    async fn through_client(client: &HealthClient, response: &[u8], close: bool) -> Probe {
        let (port, server, _) = serve(response.to_vec(), close).await;
        let probe = client
            .probe(&format!("http://127.0.0.1:{port}/health?x=1"), "dev-7-q")
            .await;
        server.abort();
        probe
    }

    fn chunked(body: &[u8], pieces: usize) -> Vec<u8> {
        let mut bytes = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for piece in body.chunks(body.len().div_ceil(pieces).max(1)) {
            bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            bytes.extend_from_slice(piece);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
        bytes
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_answer_reads_as_the_client_reads_it() {
        let json = br#"{"status":"healthy"}"#;
        let with_length = |head: &str, body: &[u8]| {
            let mut bytes =
                format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            bytes.extend_from_slice(body);
            bytes
        };
        let big = vec![b'x'; BODY_CAP + 10];
        // (the answer, whether the server closes after it)
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (
                with_length("HTTP/1.1 200 OK\r\nContent-Type: application/json", json),
                false,
            ),
            (
                with_length(
                    "HTTP/1.1 503 Service Unavailable\r\nCONTENT-TYPE: application/json",
                    br#"{"status":"starting"}"#,
                ),
                false,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), false),
            (
                with_length("HTTP/1.1 307 Temporary Redirect\r\nLocation: /health/", b""),
                false,
            ),
            (
                with_length(
                    "HTTP/1.1 200 OK\r\nLocation: /café\r\nContent-Type: text/plain",
                    b"OK",
                ),
                false,
            ),
            (with_length("HTTP/1.0 200 OK", b"plain"), true),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end".to_vec(),
                true,
            ),
            (chunked(json, 3), false),
            (chunked(&big, 1), false),
            (chunked(&big, 7), false),
            (with_length("HTTP/1.1 200 OK", &big), false),
            (with_length("HTTP/1.1 200 OK", &big[..BODY_CAP]), false),
        ];
        let client = HealthClient::new(Duration::from_secs(2));
        for (i, (response, close)) in cases.iter().enumerate() {
            let (fast, request) = first(&client, response, *close).await;
            let slow = through_client(&client, response, *close).await;
            assert_eq!(fast.as_ref(), Some(&slow), "case {i}");
            let lower = request.to_ascii_lowercase();
            assert!(
                request.starts_with("GET /health?x=1 HTTP/1.1\r\n"),
                "{request}"
            );
            for header in [
                "host: 127.0.0.1:",
                "x-correlation-id: dev-7-q\r\n",
                "accept: application/json\r\n",
                "user-agent: dev-coordinator\r\n",
            ] {
                assert!(lower.contains(header), "{header} in {request}");
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_that_never_comes_is_stalled_and_no_head_is_a_timeout() {
        let client = HealthClient::new(Duration::from_millis(300));
        let stalled = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{";
        let (fast, _) = first(&client, stalled, false).await;
        assert_eq!(fast, Some(Probe::Stalled { code: 200 }));
        assert_eq!(fast, Some(through_client(&client, stalled, false).await));
        for chunk_stalled in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"[..],
            // The last chunk, without the blank line that ends the answer.
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
        ] {
            let (fast, _) = first(&client, chunk_stalled, false).await;
            assert_eq!(fast, Some(Probe::Stalled { code: 200 }));
            assert_eq!(
                fast,
                Some(through_client(&client, chunk_stalled, false).await)
            );
        }
        // Nothing at all within the timeout: the client's words for it.
        let (fast, _) = first(&client, b"", false).await;
        assert_eq!(fast, Some(through_client(&client, b"", false).await));
        assert_eq!(
            fast,
            Some(Probe::Unreachable("timed out after 300 ms".into()))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn what_it_does_not_read_cleanly_is_left_to_the_client() {
        let client = HealthClient::new(Duration::from_secs(2));
        for (response, close) in [
            (
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"[..],
                false,
            ),
            (b"SSH-2.0-OpenSSH_9.2\r\n", true),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
                false,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", true),
            (b"", true),
            // Framings this path leaves to the client (which may read them otherwise).
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}", false),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n", true),
            (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", false),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\xc2\xa0\r\n\r\n{}", false),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n{}", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\n{}\r\n0\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nx-trailer: 1\r\n\r\n", true),
        ] {
            let (fast, _) = first(&client, response, close).await;
            assert_eq!(fast, None, "{}", String::from_utf8_lossy(response));
        }
        // A chunk-size line that never ends is not read on and on.
        let mut endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1".to_vec();
        endless.extend(std::iter::repeat_n(b' ', 64 * 1024));
        let started = std::time::Instant::now();
        assert_eq!(first(&client, &endless, false).await.0, None);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let stream = || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let stream = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
            (listener, stream)
        };
        let (_held, tls) = stream();
        assert!(
            client
                .send_on(tls, "https://127.0.0.1:1/health", "dev-1")
                .is_none()
        );
        let (_held, injected) = stream();
        assert!(
            client
                .send_on(injected, "http://127.0.0.1:1/health", "dev-1\r\nx: y")
                .is_none()
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_one_off_probe_is_the_clients_probe() {
        let client = HealthClient::new(Duration::from_secs(2));
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let closed = format!("http://{}/health", free.local_addr().expect("addr"));
        drop(free);
        let (refused, local) = client.probe_once(&closed, "dev-1", |local| local).await;
        assert_eq!(local, None, "no connection");
        assert_eq!(refused, client.probe(&closed, "dev-1").await);
        assert!(
            matches!(&refused, Probe::Unreachable(why) if why.starts_with("connection failed: ")),
            "{refused:?}"
        );
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let mut probes = Vec::new();
        for once in [true, false] {
            let (port, server, request) = serve(answer.to_vec(), false).await;
            let url = format!("http://127.0.0.1:{port}/health");
            probes.push(if once {
                let (probe, local) = client.probe_once(&url, "dev-2", |local| local).await;
                // Asked on a connection of its own, still open when `while_open` ran.
                assert!(
                    local.is_some_and(|(_, theirs)| theirs.port() == port),
                    "{local:?}"
                );
                probe
            } else {
                client.probe(&url, "dev-2").await
            });
            let request = request.await.unwrap_or_default().to_ascii_lowercase();
            assert!(request.contains("x-correlation-id: dev-2\r\n"), "{request}");
            server.abort();
        }
        assert_eq!(probes[0], probes[1]);
        assert!(matches!(&probes[0], Probe::Answered(answer) if answer.code == 200));
        // And it was asked on the plain connection, not left to the client.
        let (port, server, _) = serve(answer.to_vec(), false).await;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let url = format!("http://{addr}/health");
        let asking = client.clone();
        let once = tokio::task::spawn_blocking(move || {
            asking.ask_once(addr, &url, "dev-3", None, |ends| ends)
        });
        let (probe, ends, _) = once.await.expect("no panic");
        assert_eq!((probe.as_ref(), ends.is_some()), (Some(&probes[0]), true));
        server.abort();
        // Only a loopback address is asked this way.
        for url in [
            "http://localhost:1/h",
            "https://127.0.0.1:1/h",
            "http://10.0.0.1:1/h",
        ] {
            assert_eq!(loopback(url), None, "{url}");
        }
        assert_eq!(
            loopback("http://[::1]:8000/h"),
            Some("[::1]:8000".parse().expect("addr"))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_is_kept_between_polls_unless_the_answer_says_close() {
        let client = HealthClient::new(Duration::from_secs(2));
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let (port, server, _) = serve(ok.to_vec(), false).await;
        let url = format!("http://127.0.0.1:{port}/health");
        let (first, _, kept) = client.probe_kept(&url, "dev-1", None, |ends| ends).await;
        assert!(
            matches!(first, Probe::Answered(ref a) if a.code == 200),
            "{first:?}"
        );
        let kept = kept.expect("kept for the next poll");
        let local = kept.local_addr().ok();
        // The server serves no other connection: the second answer came on the kept one.
        let (second, ends, again) = client
            .probe_kept(&url, "dev-1", Some(kept), |ends| ends)
            .await;
        assert_eq!(second, first);
        assert_eq!(ends.map(|(ours, _)| ours), local);
        assert!(again.is_some());
        server.abort();
        let closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
        let (port, server, _) = serve(closing.to_vec(), false).await;
        let url = format!("http://127.0.0.1:{port}/health");
        let (_, _, kept) = client.probe_kept(&url, "dev-1", None, |ends| ends).await;
        assert!(kept.is_none(), "an answer that says close is not kept");
        server.abort();
    }
}
