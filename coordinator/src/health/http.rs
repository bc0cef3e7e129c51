//! A minimal HTTP/1.1 `GET` for health requests on loopback.
//!
//! Why not `reqwest`: the health client needs one request shape to one loopback address
//! (no TLS, no proxy, no redirects, no cookies, no connection pool), and `reqwest` with
//! its `hyper`/`url`/`idna` stack was about a fifth of the cold build of `cargo xtask`.
//! What is here: `Connection: close`, a connect timeout and an overall timeout, a body
//! cap, `Content-Length` and chunked bodies. Redirects are not followed (a 3xx is just
//! "not ready"), and nothing is ever sent to a non-loopback address.

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

/// A response: status code and (possibly cut) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub body: Vec<u8>,
}

/// `GET` with extra headers; `connect` bounds the connection, `total` the whole request.
pub async fn get(
    url: &Url,
    headers: &[(&str, &str)],
    connect: Duration,
    total: Duration,
    cap: usize,
) -> Result<Response, String> {
    let exchange = async {
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
        // The head is small; allow it on top of the body cap.
        let limit = cap + 16 * 1024;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|err| format!("reading the response failed: {err}"))?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
            if raw.len() >= limit || complete(&raw) {
                break;
            }
        }
        parse_response(&raw, cap)
    };
    timeout(total, exchange)
        .await
        .map_err(|_| format!("timed out after {} ms", total.as_millis()))?
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
pub fn parse_response(raw: &[u8], cap: usize) -> Result<Response, String> {
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
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
        } else if let Some(value) = lower.strip_prefix("transfer-encoding:") {
            chunked = value.contains("chunked");
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
    body.truncate(cap);
    Ok(Response { code, body })
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
        assert_eq!(parse_response(sized, 100).expect("ok").body, b"{}");
        let chunked =
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(chunked, 100).expect("ok");
        assert_eq!(
            (response.code, response.body.as_slice()),
            (503, &b"abcde"[..])
        );
        let open = b"HTTP/1.0 200 OK\r\n\r\nuntil close";
        assert_eq!(parse_response(open, 5).expect("ok").body, b"until");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", 10).is_err());
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
}
