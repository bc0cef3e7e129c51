//! Human output of `doctor`: one line per check with a mark, details indented, fixes.

use super::{Report, Status};

/// Renders the report; `verbose` shows details of passing checks too.
pub fn human(report: &Report, verbose: bool, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for check in &report.checks {
        let (mark, code) = match check.status {
            Status::Ok => ("✓", "32"),
            Status::Warn => ("!", "33"),
            Status::Error => ("✗", "31"),
            Status::Skip => ("-", "2"),
        };
        // Summaries, details and fixes quote health answers, command lines and files:
        // their control characters are shown escaped, never sent to the terminal.
        let shown = crate::text::printable_lines;
        out.push_str(&format!(
            "{} {:<width$}  {}\n",
            paint(code, mark),
            check.id,
            shown(&check.summary)
        ));
        let show_details = verbose || matches!(check.status, Status::Warn | Status::Error);
        if show_details {
            for line in &check.details {
                out.push_str(&format!("    {}\n", shown(line)));
            }
        }
        if let Some(fix) = check.fix.as_ref().filter(|_| check.status != Status::Ok) {
            out.push_str(&format!("    {} {}\n", paint("1", "fix:"), shown(fix)));
        }
    }
    let count = |status| report.checks.iter().filter(|c| c.status == status).count();
    let (errors, warnings) = (count(Status::Error), count(Status::Warn));
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "\n{}, {} (correlation id {})\n",
        plural(errors, "error"),
        plural(warnings, "warning"),
        report.correlation_id
    ));
    out
}
