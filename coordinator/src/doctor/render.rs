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
        out.push_str(&format!(
            "{} {:<width$}  {}\n",
            paint(code, mark),
            check.id,
            check.summary
        ));
        let show_details = verbose || matches!(check.status, Status::Warn | Status::Error);
        if show_details {
            for line in &check.details {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(fix) = check.fix.as_ref().filter(|_| check.status != Status::Ok) {
            out.push_str(&format!("    {} {fix}\n", paint("1", "fix:")));
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
