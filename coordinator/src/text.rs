//! Small text helpers that several modules need, written once: the last lines of
//! output kept as evidence, a byte offset as a 1-based line and column, and text from
//! outside (a health answer, the process table, a file) made safe to show.

use std::collections::VecDeque;

/// How many lines of output are kept as evidence (a child's stderr, a command's output).
pub const TAIL_LINES: usize = 20;

/// The last [`TAIL_LINES`] lines seen.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    /// The last lines of `text`.
    pub fn of(text: &str) -> Vec<String> {
        let mut tail = Tail::default();
        for line in text.lines() {
            tail.push(line);
        }
        tail.lines()
    }
}

/// 1-based line and column of a byte offset; the column counts characters, as editors
/// do, not bytes.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Text from outside made safe for a terminal: every control character (C0 with `\n`,
/// `\r`, `\t`, BEL and ESC, DEL, and C1) is shown escaped (`\u{1b}`), so a health
/// answer, a command line or a file cannot set the title, clear the screen, move the
/// cursor or fake extra lines. The one helper for every string `dev` did not write.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`printable`] for text of several lines: each line escaped, the line breaks kept.
/// For the last step before a terminal (`dev`'s own lines, a failure report), where
/// the lines are `dev`'s own and only what is inside them may come from outside.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A command as a person pastes it into a POSIX shell: each word quoted when it needs
/// it (`vite --port 5174 --base '/my app/'`). A word with a NUL byte (which no shell
/// can pass) is shown escaped instead.
pub fn shell_command<S: AsRef<str>>(argv: &[S]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|word| {
            let word = word.as_ref();
            match shlex::try_quote(word) {
                Ok(quoted) => quoted.into_owned(),
                Err(_) => word.escape_debug().to_string(),
            }
        })
        .collect();
    words.join(" ")
}

/// The wording of `EADDRINUSE` in Python, Node and Rust servers.
pub fn is_bind_conflict(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("address already in use") || lower.contains("eaddrinuse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbb = 2\né = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
        // `é` is two bytes, one column.
        assert_eq!(line_col(text, 13 + 2), (3, 2));
    }

    #[test]
    fn control_characters_from_outside_are_shown_escaped() {
        let hostile = "/other\u{1b}]0;PWNED\u{7}\u{1b}[2J\rfake\u{9b}31m\u{7f}\tend";
        let shown = printable(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(
            shown,
            "/other\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\rfake\\u{9b}31m\\u{7f}\\tend"
        );
        assert_eq!(printable("plain é text"), "plain é text");
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable_lines("a\u{1b}[2J\nb\r"), "a\\u{1b}[2J\nb\\r");
    }

    #[test]
    fn commands_are_shown_as_a_shell_reads_them() {
        let argv = ["vite", "--port", "5174", "--base", "/my app/", "it's", ""];
        assert_eq!(
            shell_command(&argv),
            "vite --port 5174 --base '/my app/' \"it's\" ''"
        );
        assert_eq!(shell_command(&["npm", "run", "dev"]), "npm run dev");
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let tail = Tail::of(&text);
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.first().map(String::as_str), Some("line 11"));
        assert_eq!(tail.last().map(String::as_str), Some("line 30"));
    }

    #[test]
    fn bind_conflict_wording() {
        assert!(is_bind_conflict(
            "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use"
        ));
        assert!(is_bind_conflict(
            "Error: listen EADDRINUSE: address already in use :::3000"
        ));
        assert!(!is_bind_conflict(
            "INFO: Uvicorn running on http://127.0.0.1:8000"
        ));
    }
}
