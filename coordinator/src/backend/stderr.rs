//! What a backend's stderr tail says about a failed start: the port a bind conflict
//! names (the backend ignores the port dev gave it), and a Python traceback whose last
//! line no retry can change (a syntax error, a module that is not installed).

/// The port a bind conflict's line names (`('127.0.0.1', 8000)`, `127.0.0.1:8000`,
/// `port 8000`), from the last such line of the tail: which port the backend tried.
pub fn bind_conflict_port(tail: &[String]) -> Option<u16> {
    let line = tail
        .iter()
        .rev()
        .find(|line| crate::text::is_bind_conflict(line))?;
    let bytes = line.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let before = &line[..start];
        let after = bytes.get(i).copied();
        let introduced =
            before.ends_with(':') || before.ends_with(", ") || before.ends_with("port ");
        // Not an IPv4 octet (`127.0.0.1`) nor the first part of `host:port:...`.
        let alone = after != Some(b'.') && !before.ends_with('.');
        if introduced && alone {
            found = line[start..i]
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .or(found);
        }
    }
    found
}

/// The last line of a Python traceback that says the code cannot load at all
/// (`SyntaxError: invalid syntax`, an indentation error, a module that is not
/// installed): no retry can change it.
pub fn code_error(stderr_tail: &[String]) -> Option<String> {
    const LASTING: &[&str] = &[
        "SyntaxError:",
        "IndentationError:",
        "TabError:",
        "ModuleNotFoundError:",
    ];
    let last = stderr_tail
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())?;
    let last = last.trim();
    LASTING
        .iter()
        .any(|error| last.starts_with(error))
        .then(|| last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_a_bind_conflict_names() {
        let line = |text: &str| vec!["other".to_owned(), text.to_owned()];
        let cases = [
            (
                "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
                Some(8000),
            ),
            (
                "Error: listen EADDRINUSE: address already in use 127.0.0.1:5174",
                Some(5174),
            ),
            (
                "Error: listen EADDRINUSE: address already in use :::3000",
                Some(3000),
            ),
            ("OSError: [Errno 98] Address already in use", None),
            ("Address already in use (os error 98)", None),
            ("port 8000 is fine", None),
        ];
        for (text, expected) in cases {
            assert_eq!(bind_conflict_port(&line(text)), expected, "{text}");
        }
    }

    #[test]
    fn a_traceback_ending_in_a_syntax_or_import_error_is_lasting() {
        let tail = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            code_error(&tail(&[
                "  File \"main.py\", line 3",
                "    def (",
                "SyntaxError: invalid syntax",
                ""
            ])),
            Some("SyntaxError: invalid syntax".into())
        );
        assert!(code_error(&tail(&["ModuleNotFoundError: No module named 'fastapi'"])).is_some());
        assert_eq!(
            code_error(&tail(&["RuntimeError: database is locked"])),
            None
        );
        assert_eq!(code_error(&tail(&[])), None);
    }
}
