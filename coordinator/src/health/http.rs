//! A minimal HTTP/1.1 `GET` for health requests on loopback.
//!
//! Why not `reqwest`: the health client needs one request shape to one loopback address
//! (no TLS, no proxy, no redirects, no cookies, no connection pool), and `reqwest` with
//! its `hyper`/`url`/`idna` stack was about a fifth of the cold build of `cargo xtask`.
//! What is here: `Connection: close`, a connect timeout and an overall timeout, a body
//! cap, `Content-Length` and chunked bodies. Redirects are not followed (a 3xx is
//! reported with its `Location`), and nothing is ever sent to a non-loopback address.
//! A timeout after the head arrived is told apart from one before it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// An `http://host:port/path` URL with a literal loopback host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub addr: SocketAddr,
    /// The `Host` header: `127.0.0.1:8000` or `[::1]:8000`.
    pub authority: String,
    pub path: String,
}

/// Parses `http://127.0.0.1:8000/health` or `http://[::1]:8000/health`.
pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, port) = v6
                .split_once("]:")
                .ok_or_else(|| format!("{url}: missing port"))?;
            (host, port)
        }
        None => authority
            .rsplit_once(':')
            .ok_or_else(|| format!("{url}: missing port"))?,
    };
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("{url}: the host must be a literal IP address"))?;
    if !ip.is_loopback() {
        return Err(format!("{url}: only loopback addresses are probed"));
    }
    let port: u16 = port.parse().map_err(|_| format!("{url}: invalid port"))?;
    Ok(Url {
        addr: SocketAddr::new(ip, port),
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// A response: status code, the headers the health rules read, and the body up to
/// the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body is longer than the cap and was not read beyond it.
    pub truncated: bool,
}

/// Why there is no whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The status line and headers arrived, the body did not in time.
    Stalled { code: u16 },
    /// Anything else: refused, reset, timed out before the head, not HTTP.
    Other(String),
}

/// `GET` with extra headers; `connect` bounds the connection, `total` the whole request.
pub async fn get(
    url: &Url,
    headers: &[(&str, &str)],
    connect: Duration,
    total: Duration,
    cap: usize,
) -> Result<Response, Failure> {
    // Filled as bytes arrive, so that a timeout can still tell whether the head came.
    let mut raw = Vec::new();
    let exchange = exchange(url, headers, connect, cap, &mut raw);
    match timeout(total, exchange).await {
        Ok(Ok(cut)) => parse_response(&raw, cap, cut).map_err(Failure::Other),
        Ok(Err(why)) => Err(Failure::Other(why)),
        Err(_) => match parse_response(&raw, cap, false) {
            Ok(head) => Err(Failure::Stalled { code: head.code }),
            Err(_) => Err(Failure::Other(format!(
                "timed out after {} ms",
                total.as_millis()
            ))),
        },
    }
}

/// Connects, sends the request and reads into `raw` until the response is complete, the
/// server closes, or the cap is reached; returns whether the cap cut the reading short.
async fn exchange(
    url: &Url,
    headers: &[(&str, &str)],
    connect: Duration,
    cap: usize,
    raw: &mut Vec<u8>,
) -> Result<bool, String> {
    let mut stream = timeout(connect, TcpStream::connect(url.addr))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|err| format!("connection failed: {err}"))?;
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: dev-coordinator\r\nConnection: close\r\n",
        url.path, url.authority
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("request failed: {err}"))?;
    // The head is small; allow it on top of the body cap, and one byte more than the
    // cap so that a body of exactly the cap is not taken for a longer one.
    let limit = cap + 1 + 16 * 1024;
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|err| format!("reading the response failed: {err}"))?;
        if n == 0 {
            return Ok(false);
        }
        raw.extend_from_slice(&chunk[..n]);
        if complete(raw) {
            return Ok(false);
        }
        if raw.len() >= limit {
            return Ok(true);
        }
    }
}

/// Whether the whole response has arrived (so we need not wait for the server to close,
/// which one that ignores `Connection: close` never does): all `Content-Length` bytes,
/// or a chunked body's last chunk.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        return raw[end..].ends_with(b"\r\n0\r\n\r\n");
    }
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| raw.len() >= end + 4 + len)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses status line, headers and body (`Content-Length`, chunked, or to the end).
/// `cut` says the reading stopped at the cap, so the body is longer than what arrived.
pub fn parse_response(raw: &[u8], cap: usize, cut: bool) -> Result<Response, String> {
    let end = find(raw, b"\r\n\r\n").ok_or("the response ended inside its head")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| status.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP response: {status:.60}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut location = None;
    let mut content_type = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_owned()),
            "content-type" => content_type = Some(value.to_owned()),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    let mut body = if chunked {
        dechunk(rest)
    } else {
        match length {
            Some(len) => rest[..len.min(rest.len())].to_vec(),
            None => rest.to_vec(),
        }
    };
    let truncated = cut || body.len() > cap || length.is_some_and(|len| len > cap);
    body.truncate(cap);
    Ok(Response {
        code,
        location,
        content_type,
        body,
        truncated,
    })
}

/// Decodes as much of a chunked body as arrived.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let stop = (start + size).min(rest.len());
        body.extend_from_slice(&rest[start..stop]);
        if stop + 2 > rest.len() {
            break;
        }
        rest = &rest[stop + 2..];
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_loopback_literals() {
        let url = parse_url("http://127.0.0.1:8000/health").expect("valid");
        assert_eq!(url.addr.port(), 8000);
        assert_eq!(url.authority, "127.0.0.1:8000");
        assert_eq!(url.path, "/health");
        let url = parse_url("http://[::1]:9000/h?x=1").expect("valid");
        assert_eq!(url.authority, "[::1]:9000");
        assert_eq!(url.path, "/h?x=1");
        assert!(parse_url("http://10.0.0.1:80/").is_err());
        assert!(parse_url("http://example.com:80/").is_err());
        assert!(parse_url("https://127.0.0.1:80/").is_err());
    }

    #[test]
    fn responses_with_length_chunks_or_neither() {
        let sized = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra";
        assert_eq!(parse_response(sized, 100, false).expect("ok").body, b"{}");
        let chunked =
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(chunked, 100, false).expect("ok");
        assert_eq!(
            (response.code, response.body.as_slice()),
            (503, &b"abcde"[..])
        );
        let open = b"HTTP/1.0 200 OK\r\n\r\nuntil close";
        assert_eq!(parse_response(open, 5, false).expect("ok").body, b"until");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", 10, false).is_err());
        assert!(parse_response(open, 5, false).expect("ok").truncated);
        assert!(!parse_response(sized, 100, false).expect("ok").truncated);
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n{\"a\"";
        let response = parse_response(big, 100, true).expect("ok");
        assert!(response.truncated, "the declared length is over the cap");
        let redirect = b"HTTP/1.1 301 Moved\r\nlocation: /health/\r\nContent-Type: text/html\r\ncontent-length: 0\r\n\r\n";
        let response = parse_response(redirect, 100, false).expect("ok");
        assert_eq!(response.location.as_deref(), Some("/health/"));
        assert_eq!(response.content_type.as_deref(), Some("text/html"));
        assert!(complete(sized));
        assert!(!complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_real_exchange_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 1024];
            let n = socket.read(&mut buf).await.expect("read");
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"status\":\"healthy\"}")
                .await
                .expect("write");
            request
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/health")).expect("url");
        let second = Duration::from_secs(1);
        let response = get(
            &url,
            &[("X-Correlation-ID", "dev-1-x")],
            second,
            second,
            1024,
        )
        .await
        .expect("answered");
        assert_eq!(response.code, 200);
        assert_eq!(response.body, b"{\"status\":\"healthy\"}");
        let request = server.await.expect("server");
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("X-Correlation-ID: dev-1-x\r\n"),
            "{request}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_that_never_comes_is_told_from_no_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 1024];
            let _ = socket.read(&mut buf).await;
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
                .await
                .expect("write");
            // Hold the connection open without sending the rest.
            let _ = socket.read(&mut buf).await;
        });
        let url = parse_url(&format!("http://127.0.0.1:{port}/health")).expect("url");
        let short = Duration::from_millis(300);
        let failure = get(&url, &[], short, short, 1024)
            .await
            .expect_err("the body never completes");
        assert_eq!(failure, Failure::Stalled { code: 200 });
        server.abort();
    }
}
