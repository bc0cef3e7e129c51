//! Asking the person at the terminal. Never used without a terminal or with `CI` set:
//! a script must never hang on a question nobody will answer.

use std::io::{BufRead, IsTerminal, Write};

/// True when someone can answer: stdin is a terminal and `CI` is not set.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::env::var_os("CI").is_none()
}

/// Asks a yes/no question on stderr; an empty answer takes `default`.
pub fn confirm(question: &str, default: bool) -> bool {
    let hint = if default { "[Y/n]" } else { "[y/N]" };
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} {hint} ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "" => default,
        "y" | "yes" => true,
        _ => false,
    }
}
