//! Finding the byte span of a value in a JSON document, so that it can be replaced
//! without touching a single other byte (key order, spacing, indentation).
//!
//! The document is validated by `serde_json` first (which also gives line and column
//! for errors), so this scanner only ever walks valid JSON.

use std::ops::Range;

/// The span of the value at `path` (object keys only), if every key exists.
pub fn find(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.find(path)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn find(&mut self, path: &[&str]) -> Option<Range<usize>> {
        self.skip_ws();
        let Some((first, rest)) = path.split_first() else {
            return Some(self.skip_value());
        };
        if self.peek()? != b'{' {
            return None;
        }
        self.pos += 1;
        // `JSON.parse` keeps the last of duplicate keys: remember each match, and
        // descend into the last one once the object ends.
        let mut last = None;
        loop {
            self.skip_ws();
            if self.peek()? == b'}' {
                self.pos = last?;
                return self.find(rest);
            }
            let key = self.string()?;
            self.skip_ws();
            self.pos += 1; // the ':'
            self.skip_ws();
            if key == *first {
                last = Some(self.pos);
            }
            self.skip_value();
            self.skip_ws();
            if self.peek()? == b',' {
                self.pos += 1;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips one value and returns its span.
    fn skip_value(&mut self) -> Range<usize> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.pos += 1;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => break,
                        Some(c) if c == close => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',' | b':') => self.pos += 1,
                        Some(_) => {
                            self.skip_value();
                        }
                    }
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.pos += 1;
                }
            }
        }
        start..self.pos
    }

    /// Reads a string at the cursor and decodes it (escapes included).
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'\\' => self.pos += 1,
                b'"' => break,
                _ => {}
            }
        }
        let raw = std::str::from_utf8(self.bytes.get(start..self.pos)?).ok()?;
        serde_json::from_str(raw).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_by_span() {
        let text = r#"{ "a\"b": [1, {"port": 1}], "backend" : {"host":"x", "port" : 8000 } }"#;
        let span = find(text, &["backend", "port"]).expect("found");
        assert_eq!(&text[span], "8000");
        let span = find(text, &["backend", "host"]).expect("found");
        assert_eq!(&text[span], "\"x\"");
        assert_eq!(find(text, &["backend", "nope"]), None);
        assert_eq!(
            find(text, &["port"]),
            None,
            "only the top level is searched"
        );
        let span = find(text, &["a\"b"]).expect("escaped key");
        assert_eq!(&text[span], "[1, {\"port\": 1}]");
        let text = r#"{"b": {"port": 1}, "b": {"port": 2, "port": 3}}"#;
        let span = find(text, &["b", "port"]).expect("the last of duplicates");
        assert_eq!(&text[span], "3");
    }
}
