//! How the first answer is read: the head by `httparse`, the body by its framing, as
//! the client reads it; what this path does not read is left to the client (`None`).

use std::io::{self, Read};
use std::time::Instant;

use super::super::{Answer, BODY_CAP, Probe};
use super::{Sent, timed_out};

/// A head longer than this is not read here (the client reads it, or says why not).
const HEAD_CAP: usize = 16 * 1024;

/// A chunk-size line: at most 16 hex digits (a `u64`), then CRLF.
const SIZE_LINE_CAP: usize = 18;

/// The head of an answer: what a probe keeps of it, and how its body is framed.
struct Head {
    code: u16,
    location: Option<String>,
    content_type: Option<String>,
    framing: Framing,
    /// HTTP/1.1 without `Connection: close`: the connection may carry the next request.
    keep: bool,
}

enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
    Empty,
}

/// Why a read ended without a body: the deadline (a `Stalled` probe), or anything
/// else (the client asks instead).
enum Cut {
    Late,
    Other,
}

impl From<io::Error> for Cut {
    fn from(err: io::Error) -> Cut {
        if timed_out(&err) {
            Cut::Late
        } else {
            Cut::Other
        }
    }
}

impl Sent {
    /// Reads the answer within the client's timeout: the probe the client would have
    /// made of it, or `None` when the client should ask instead (see the module). The
    /// connection stays open until `self` is dropped (who holds its other end can still
    /// be asked of the kernel).
    pub fn answer(&mut self) -> Option<Probe> {
        let mut buf = Vec::with_capacity(1024);
        let (head, used) = loop {
            match self.fill(&mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) if timed_out(&err) => {
                    return Some(Probe::Unreachable(self.timed_out.clone()));
                }
                Err(_) => return None,
            }
            match parse_head(&buf) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) if buf.len() < HEAD_CAP => {}
                _ => return None,
            }
        };
        buf.drain(..used);
        let code = head.code;
        match self.body(buf, &head.framing) {
            Ok((body, truncated, whole)) => {
                self.reusable = head.keep && whole;
                Some(Probe::Answered(Answer {
                    code,
                    location: head.location,
                    content_type: head.content_type,
                    body,
                    truncated,
                }))
            }
            // The head came, the body did not: a hung handler, not "no answer".
            Err(Cut::Late) => Some(Probe::Stalled { code }),
            Err(Cut::Other) => None,
        }
    }

    /// Reads what arrives into `buf`, waiting until the deadline at most.
    fn fill(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// [`Sent::fill`] until `buf` holds `len` bytes; the end of the stream first is a
    /// body cut short.
    fn fill_to(&mut self, buf: &mut Vec<u8>, len: usize) -> Result<(), Cut> {
        while buf.len() < len {
            if self.fill(buf)? == 0 {
                return Err(Cut::Other);
            }
        }
        Ok(())
    }

    /// The body as the client keeps it: at most [`BODY_CAP`] bytes, whether more was
    /// declared or sent, and whether the answer was read to its exact end (nothing cut
    /// short, nothing after it: the connection can carry the next request).
    fn body(&mut self, mut buf: Vec<u8>, framing: &Framing) -> Result<(Vec<u8>, bool, bool), Cut> {
        let mut truncated = matches!(framing, Framing::Length(len) if *len > BODY_CAP as u64);
        let mut body = Vec::new();
        let mut whole = false;
        match framing {
            Framing::Empty => whole = buf.is_empty(),
            Framing::Length(len) => {
                let len = usize::try_from(*len).unwrap_or(usize::MAX);
                self.fill_to(&mut buf, len.min(BODY_CAP + 1))?;
                whole = buf.len() == len;
                buf.truncate(len);
                body = buf;
            }
            Framing::UntilClose => {
                while buf.len() <= BODY_CAP && self.fill(&mut buf)? > 0 {}
                body = buf;
            }
            Framing::Chunked => loop {
                let (used, size) = self.size_line(&mut buf)?;
                // The last chunk, then the blank line that ends the answer (a trailer
                // is the client's to read).
                if size == 0 {
                    self.fill_to(&mut buf, used + 2)?;
                    if buf[used..used + 2] != *b"\r\n" {
                        return Err(Cut::Other);
                    }
                    whole = buf.len() == used + 2;
                    break;
                }
                // As much of the chunk as the cap needs (one byte over says "over").
                let wanted = size.min(BODY_CAP + 1 - body.len());
                self.fill_to(&mut buf, used + wanted)?;
                body.extend_from_slice(&buf[used..used + wanted]);
                if body.len() > BODY_CAP {
                    break;
                }
                self.fill_to(&mut buf, used + size + 2)?;
                if buf[used + size..used + size + 2] != *b"\r\n" {
                    return Err(Cut::Other);
                }
                buf.drain(..used + size + 2);
            },
        }
        if body.len() > BODY_CAP {
            truncated = true;
            body.truncate(BODY_CAP);
        }
        Ok((body, truncated, whole && !truncated))
    }

    /// The chunk-size line at the start of `buf`: its length and the size. Only hex
    /// digits then CRLF (an extension, a bare LF or a longer line is the client's).
    fn size_line(&mut self, buf: &mut Vec<u8>) -> Result<(usize, usize), Cut> {
        loop {
            let digits = buf.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            match buf.get(digits..digits + 2) {
                Some(b"\r\n") if (1..=16).contains(&digits) => {
                    let text = std::str::from_utf8(&buf[..digits]).map_err(|_| Cut::Other)?;
                    let size = u64::from_str_radix(text, 16).map_err(|_| Cut::Other)?;
                    let size = usize::try_from(size).map_err(|_| Cut::Other)?;
                    // A size no body could reach is the client's to judge.
                    if size > isize::MAX as usize / 2 {
                        return Err(Cut::Other);
                    }
                    return Ok((digits + 2, size));
                }
                Some(_) => return Err(Cut::Other),
                None if buf.len() >= SIZE_LINE_CAP || digits < buf.len().saturating_sub(1) => {
                    return Err(Cut::Other);
                }
                None => {
                    if self.fill(buf)? == 0 {
                        return Err(Cut::Other);
                    }
                }
            }
        }
    }
}

/// The head, once it is whole, and how many bytes it took; `Err` for what is not a
/// final HTTP/1.x answer framed as this path reads (see the module).
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let code = response.code.ok_or(())?;
    if code < 200 {
        return Err(());
    }
    let named = |name: &str| -> Vec<&[u8]> {
        response
            .headers
            .iter()
            .filter(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
            .collect()
    };
    // As `HeaderValue::to_str` reads the first value: visible ASCII (and tabs), else
    // nothing.
    let value = |name: &str| {
        let first = *named(name).first()?;
        std::str::from_utf8(first)
            .ok()
            .filter(|text| text.bytes().all(|b| b == b'\t' || (32..127).contains(&b)))
            .map(str::to_owned)
    };
    let codings = named("transfer-encoding");
    let framing = match (codings.as_slice(), named("content-length").as_slice()) {
        _ if code == 204 || code == 304 => Framing::Empty,
        ([coding], [])
            if response.version == Some(1)
                && coding.trim_ascii().eq_ignore_ascii_case(b"chunked") =>
        {
            Framing::Chunked
        }
        ([], []) => Framing::UntilClose,
        ([], [length]) => Framing::Length(digits(length).ok_or(())?),
        _ => return Err(()),
    };
    let closes = named("connection").iter().any(|value| {
        String::from_utf8_lossy(value)
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("close"))
    });
    let head = Head {
        code,
        location: value("location"),
        content_type: value("content-type"),
        framing,
        keep: response.version == Some(1) && !closes,
    };
    Ok(Some((head, used)))
}

/// A `Content-Length` as the client reads one: ASCII digits only, well inside a `u64`.
fn digits(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) || value.len() > 18 {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}
