//! A child's output line on its way to the terminal and the log file: the part a
//! terminal would end up showing, its text without escape sequences, and whether it is
//! the backend's access-log line for a health request answered 2xx (a probe's noise).
//!
//! A child's bytes never become a `tracing` field on their way to the terminal:
//! tracing-subscriber escapes control characters in fields (on purpose, since 0.3.20),
//! which turned every colour code of a child into `\x1b[32m` text. The terminal gets the
//! bytes as written when it shows colour, and [`plain`] text otherwise; the log file
//! always gets [`plain`] text, so there is nothing left for `tracing` to escape.

/// The longest line kept whole: a child that never ends its line (a progress bar for
/// minutes, a binary dump) has it written in pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// The part of a line a terminal would end up showing: without its line ending, and
/// without the states a progress bar overwrote with `\r` (a terminal overwrites them;
/// written out, they would overwrite the `[origin]` prefix instead).
pub fn visible(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let line = &raw[..end];
    match line.iter().rposition(|byte| *byte == b'\r') {
        Some(at) => &line[at + 1..],
        None => line,
    }
}

/// The text of `bytes` without escape sequences (CSI such as colours, OSC such as
/// hyperlinks and titles, DCS, and the 8-bit forms) and without other control
/// characters than tab. Invalid UTF-8 becomes U+FFFD.
pub fn plain(bytes: &[u8]) -> String {
    struct Text(String);
    impl vte::Perform for Text {
        fn print(&mut self, c: char) {
            // C1 controls (U+0080..U+009F) and DEL are printed by the parser as text.
            if !c.is_control() {
                self.0.push(c);
            }
        }
        fn execute(&mut self, byte: u8) {
            if byte == b'\t' {
                self.0.push('\t');
            }
        }
    }
    let mut text = Text(String::with_capacity(bytes.len()));
    vte::Parser::new().advance(&mut text, bytes);
    text.0
}

/// Whether `line` (plain text) is an access-log line for a `GET` of `path` answered
/// with a 2xx: what a liveness probe or a page's health poll leaves in a backend's log.
/// Knows uvicorn (`"GET /health HTTP/1.1" 200 OK`), gunicorn, Flask/werkzeug and
/// http.server (`"GET /health HTTP/1.1" 200 -`), hypercorn (`"GET /health 1.1" 200`),
/// morgan's formats (`GET /health 200 3.1 ms`, `GET /health HTTP/1.1 200`), pino and
/// Fastify's JSON lines, and any `GET /health ... 200` line of the same shape. A line for
/// another status (a 503 from a degraded backend) is not noise: it is always shown.
pub fn is_health_ok(line: &str, path: &str) -> bool {
    if line.trim_start().starts_with('{') {
        return json_health_ok(line, path);
    }
    let mut rest = line;
    while let Some(at) = rest.find("GET ") {
        let after = &rest[at + 4..];
        if let Some(status) = status_after_request(after, path) {
            return (200..300).contains(&status);
        }
        rest = after;
    }
    false
}

/// After `GET `: the path (query string allowed), an optional protocol (`HTTP/1.1` or
/// hypercorn's `1.1`), an optional closing quote, then the status code.
fn status_after_request(after: &str, path: &str) -> Option<u16> {
    let end = after.find([' ', '"']).unwrap_or(after.len());
    let target = &after[..end];
    let requested = target.split_once('?').map_or(target, |(path, _)| path);
    if requested != path {
        return None;
    }
    let mut words = after[end..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .filter(|word| !word.is_empty());
    let mut word = words.next()?;
    let version = word.contains('.') && word.chars().all(|c| c.is_ascii_digit() || c == '.');
    if word.starts_with("HTTP/") || version {
        word = words.next()?;
    }
    (word.len() == 3).then(|| word.parse().ok()).flatten()
}

/// pino-http and Fastify: `{"req": {"method": "GET", "url": "/health"}, "res":
/// {"statusCode": 200}, ...}`; Fastify's `incoming request` line (no `res` yet) for the
/// health path counts too, since its `request completed` line tells how it went.
fn json_health_ok(line: &str, path: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return false;
    };
    let req = &value["req"];
    let url = req["url"].as_str().unwrap_or_default();
    let requested = url.split_once('?').map_or(url, |(path, _)| path);
    if req["method"].as_str() != Some("GET") || requested != path {
        return false;
    }
    match value["res"]["statusCode"].as_u64() {
        Some(code) => (200..300).contains(&code),
        None => value["msg"].as_str() == Some("incoming request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_shows_of_a_line() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"plain\n", b"plain"),
            (b"crlf\r\n", b"crlf"),
            (b" 10%\r 50%\r100%\n", b"100%"),
            (b" 10%\r 50%\r\n", b" 50%"),
            (b"no newline at the end", b"no newline at the end"),
            (b"\n", b""),
        ];
        for (raw, shown) in cases {
            assert_eq!(visible(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn escape_sequences_and_controls_are_stripped() {
        let cases: [(&[u8], &str); 7] = [
            (b"\x1b[32mGREEN\x1b[0m", "GREEN"),
            (
                b"  \x1b[32m\x1b[1mVITE\x1b[22m v8.4.0\x1b[39m",
                "  VITE v8.4.0",
            ),
            (b"\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\", "link"),
            (b"\x1b]0;title\x07after", "after"),
            (
                b"tab\tkept, bell\x07 and backspace\x08 dropped",
                "tab\tkept, bell and backspace dropped",
            ),
            // A C1 control in UTF-8 is dropped; UTF-8 terminals do not start a CSI with it.
            ("c1 \u{9b}31mcsi".as_bytes(), "c1 31mcsi"),
            (b"bad \xff utf-8", "bad \u{fffd} utf-8"),
        ];
        for (raw, text) in cases {
            assert_eq!(plain(raw), text, "{raw:?}");
        }
    }

    #[test]
    fn health_access_lines_of_common_servers() {
        let noise = [
            // uvicorn
            r#"INFO:     127.0.0.1:51234 - "GET /health HTTP/1.1" 200 OK"#,
            // gunicorn
            r#"127.0.0.1 - - [04/Dec/2026:20:50:00 +0000] "GET /health HTTP/1.1" 200 123 "-" "reqwest""#,
            // werkzeug (Flask), http.server
            r#"127.0.0.1 - - [04/Dec/2026 20:50:00] "GET /health HTTP/1.1" 200 -"#,
            // hypercorn
            r#"[2026-12-04 20:50:00 +0000] [42] [INFO] 127.0.0.1:5123 - - [04/Dec/2026:20:50:00 +0000] "GET /health 1.1" 200 45 "-" "-""#,
            // morgan dev, tiny, short, combined
            "GET /health 200 3.123 ms - 45",
            "GET /health 204 - - 0.8 ms",
            "::1 - GET /health HTTP/1.1 200 45 - 2.1 ms",
            r#"::ffff:127.0.0.1 - - [04/Dec/2026:20:50:00 +0000] "GET /health HTTP/1.1" 200 45 "-" "-""#,
            // the reference backend's own request log
            "INFO correlation_id=dev-1-abc GET /health 200 3.4ms",
            // a query string
            r#"INFO:     127.0.0.1:1 - "GET /health?probe=1 HTTP/1.1" 200 OK"#,
            // pino-http, Fastify
            r#"{"level":30,"req":{"method":"GET","url":"/health"},"res":{"statusCode":200},"msg":"request completed"}"#,
            r#"{"level":30,"reqId":"req-1","req":{"method":"GET","url":"/health","host":"127.0.0.1:3000"},"msg":"incoming request"}"#,
        ];
        for line in noise {
            assert!(is_health_ok(line, "/health"), "{line}");
        }
        let shown = [
            r#"INFO:     127.0.0.1:51234 - "GET /health HTTP/1.1" 503 Service Unavailable"#,
            "INFO correlation_id=dev-1-abc GET /health 503 3.4ms",
            r#"INFO:     127.0.0.1:51234 - "GET /healthz HTTP/1.1" 200 OK"#,
            r#"INFO:     127.0.0.1:51234 - "GET /api/items HTTP/1.1" 200 OK"#,
            r#"INFO:     127.0.0.1:51234 - "POST /health HTTP/1.1" 200 OK"#,
            "GET /health was slow",
            r#"{"req":{"method":"GET","url":"/health"},"res":{"statusCode":500},"msg":"request completed"}"#,
            r#"{"req":{"method":"GET","url":"/other"},"res":{"statusCode":200}}"#,
            "{not json GET /health 200",
            "starting: health checks GET /health every 2s",
        ];
        for line in shown {
            assert!(!is_health_ok(line, "/health"), "{line}");
        }
        assert!(is_health_ok(
            r#""GET /api/health HTTP/1.1" 200"#,
            "/api/health"
        ));
    }
}
