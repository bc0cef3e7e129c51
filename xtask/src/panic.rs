//! What a panic prints: color-eyre's report (the message and where; a backtrace only
//! when `RUST_BACKTRACE` asks for one), then the run's correlation ID and log file when
//! a `dev` run has them, and a request for a bug report.
//!
//! Only bugs come here. What a user can fix (a failure report, a configuration error,
//! `doctor`'s findings) has its own rendering and never becomes a panic or an eyre
//! report.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the bug report can start: the run that panicked.
#[derive(Debug)]
struct Run {
    correlation_id: String,
    log: Option<PathBuf>,
}

/// Set once, by `dev`, as soon as its log exists; a hook cannot be given arguments.
static RUN: OnceLock<Run> = OnceLock::new();

/// Records the run for the panic hook (the first call wins: a process has one run).
pub fn set_run(correlation_id: &str, log: Option<&Path>) {
    let _ = RUN.set(Run {
        correlation_id: correlation_id.to_owned(),
        log: log.map(Path::to_path_buf),
    });
}

/// Installs the panic hook and eyre's report handler, coloured only when stderr is
/// coloured (`NO_COLOR`, `CLICOLOR_FORCE`, a terminal).
pub fn install() -> color_eyre::Result<()> {
    let colour = coordinator::runlog::Colour::detect(&|name| std::env::var(name).ok()).stderr;
    let theme = if colour {
        color_eyre::config::Theme::dark()
    } else {
        color_eyre::config::Theme::new()
    };
    color_eyre::config::HookBuilder::default()
        .theme(theme)
        .panic_section(RunSection)
        .install()
}

/// Formats [`panic_note`] for the run recorded when the panic happens, not when the
/// hook was installed (that is before `dev` has a log).
struct RunSection;

impl fmt::Display for RunSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = RUN.get();
        f.write_str(&panic_note(
            run.map(|r| r.correlation_id.as_str()),
            run.and_then(|r| r.log.as_deref()),
        ))
    }
}

/// The text a panic report ends with.
pub fn panic_note(correlation_id: Option<&str>, log: Option<&Path>) -> String {
    let mut lines = vec![
        "This is a bug in `cargo xtask`, not in your project.".to_owned(),
        "Please report it, with the message above and what you ran.".to_owned(),
    ];
    if let Some(id) = correlation_id {
        lines.push(format!("Correlation ID: {id}"));
    }
    if let Some(log) = log {
        lines.push(format!(
            "Run log: {} (attach it to the report)",
            log.display()
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Correlation ID, log path, texts that must be in the note, texts that must not.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a [&'a str],
        &'a [&'a str],
    );

    #[test]
    fn the_note_names_the_run_and_its_log_when_there_is_one() {
        let cases: &[Case] = &[
            (
                Some("dev-20260101-0000-ab12"),
                Some(".dev/logs/dev-20260101-0000-ab12.log"),
                &[
                    "Correlation ID: dev-20260101-0000-ab12",
                    "Run log: .dev/logs/dev-20260101-0000-ab12.log (attach it to the report)",
                ],
                &[],
            ),
            (
                Some("dev-20260101-0000-ab12"),
                None,
                &["Correlation ID: dev-20260101-0000-ab12"],
                &["Run log"],
            ),
            (None, None, &[], &["Correlation ID", "Run log"]),
        ];
        for (id, log, present, absent) in cases {
            let note = panic_note(*id, log.map(Path::new));
            assert!(note.starts_with("This is a bug in `cargo xtask`"), "{note}");
            assert!(note.contains("Please report it"), "{note}");
            for text in *present {
                assert!(note.contains(text), "{text:?} missing from {note}");
            }
            for text in *absent {
                assert!(!note.contains(text), "{text:?} in {note}");
            }
        }
    }
}
