//! Finding a Python interpreter: `python3`, `python`, then `py -3`, version 3.10 or newer.
//!
//! Shared by the venv sync (which creates the venv from it), by `dev` (which runs a
//! `python` backend command with the venv's interpreter, or this one when there is no
//! venv) and by `doctor`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::{Cmd, ExecError};

/// The oldest Python the reference backend supports.
pub const MINIMUM: (u32, u32) = (3, 10);

/// The candidates tried, in order.
pub const CANDIDATES: &[&[&str]] = &[&["python3"], &["python"], &["py", "-3"]];

/// A usable interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// How it was invoked: `["py", "-3"]`.
    pub argv: Vec<String>,
    /// `sys.executable`.
    pub executable: PathBuf,
    pub version: (u32, u32, u32),
}

impl Interpreter {
    pub fn version_text(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

/// No usable interpreter: what was tried and what each attempt gave.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no Python {}.{}+ found; tried: {}", MINIMUM.0, MINIMUM.1, .tried.iter().map(|(c, r)| format!("`{c}` ({r})")).collect::<Vec<_>>().join(", "))]
pub struct PythonError {
    pub tried: Vec<(String, String)>,
}

impl PythonError {
    pub fn fix(&self) -> String {
        format!(
            "install Python {}.{} or newer (https://www.python.org/downloads/) and make sure `python3` is on PATH",
            MINIMUM.0, MINIMUM.1
        )
    }
}

/// Tries [`CANDIDATES`] in order.
pub fn discover() -> Result<Interpreter, PythonError> {
    discover_from(CANDIDATES)
}

/// All candidates together get this long, so that discovery ends well inside
/// `doctor`'s per-check deadline (a check abandoned there could not kill its probe).
pub const DISCOVER_BUDGET: Duration = Duration::from_secs(8);

/// Tries the given candidates in order; the first one that runs and is new enough wins.
pub fn discover_from(candidates: &[&[&str]]) -> Result<Interpreter, PythonError> {
    let mut tried = Vec::new();
    let deadline = std::time::Instant::now() + DISCOVER_BUDGET;
    for argv in candidates {
        let shown = argv.join(" ");
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            tried.push((
                shown,
                "not tried: the candidates before it did not answer in time".into(),
            ));
            continue;
        }
        match probe(argv, left.min(PROBE_TIMEOUT)) {
            Ok(found) if (found.version.0, found.version.1) >= MINIMUM => return Ok(found),
            Ok(found) => tried.push((shown, format!("{} is too old", found.version_text()))),
            Err(why) => tried.push((shown, why)),
        }
    }
    Err(PythonError { tried })
}

/// How long an interpreter may take to say its version: a healthy one answers in tens
/// of milliseconds; a hanging one (a broken shim, a wrapper waiting on the network) is
/// stopped with its process group.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks one interpreter for its version and executable.
pub fn probe<S: AsRef<str>>(argv: &[S], timeout: Duration) -> Result<Interpreter, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let cmd = Cmd::new(program.as_ref())
        .args(args.iter().map(AsRef::as_ref))
        .args([
            "-c",
            "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)",
        ])
        .timeout(timeout);
    let by_hand = format!(
        "{} --version",
        argv.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
    );
    let output = cmd.run().map_err(|err| match err {
        ExecError::NotFound { .. } => "not found".to_owned(),
        ExecError::TimedOut { timeout, .. } => format!(
            "did not answer within {} s and was stopped; try `{by_hand}` by hand",
            timeout.as_secs_f32()
        ),
        other => other.to_string(),
    })?;
    if !output.success() {
        let stderr = output.stderr_text();
        let last = crate::exec::tail(&stderr);
        return Err(if last.is_empty() {
            format!("exited with {}; try `{by_hand}` by hand", output.status)
        } else {
            format!("exited with {}: {}", output.status, last.join(" / "))
        });
    }
    let text = output.stdout_text();
    let mut lines = text.lines();
    let version = lines
        .next()
        .and_then(parse_version)
        .ok_or_else(|| format!("unexpected output {text:?}"))?;
    let executable = PathBuf::from(lines.next().unwrap_or_default().trim());
    Ok(Interpreter {
        argv: argv.iter().map(|a| a.as_ref().to_owned()).collect(),
        executable,
        version,
    })
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// The PEP 508 environment markers of the interpreter at `python` (a venv's), asked
/// from it: `python_version`, `sys_platform` and the rest are what that interpreter
/// says, not what this process guesses.
pub fn markers(python: &Path, timeout: Duration) -> Result<pep508_rs::MarkerEnvironment, String> {
    let cmd = Cmd::new(python)
        .args(["-c", crate::requirements::MARKERS_SCRIPT])
        .timeout(timeout);
    // The script is long: name the interpreter, not the whole command line.
    let shown = format!("{} -c <marker script>", python.display());
    let output = cmd.run().map_err(|err| match err {
        ExecError::TimedOut { timeout, .. } => format!(
            "`{shown}` did not say its environment within {} s",
            timeout.as_secs_f32()
        ),
        other => other.to_string(),
    })?;
    if !output.success() {
        let tail = crate::exec::tail(&output.stderr_text());
        return Err(format!(
            "`{shown}` exited with {}{}",
            output.status,
            tail.last()
                .map_or_else(String::new, |line| format!(": {line}"))
        ));
    }
    crate::requirements::read_markers(&output.stdout_text())
}

/// The interpreter inside a venv (`bin/python`, or `Scripts\python.exe` on Windows).
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("3.11.7\n"), Some((3, 11, 7)));
        assert_eq!(parse_version("3.11"), None);
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn missing_interpreters_are_named_in_the_error() {
        let err = discover_from(&[&["no-such-python-3a9f"], &["no-such-py-7c1e", "-3"]])
            .expect_err("nothing to find");
        let text = err.to_string();
        assert!(text.contains("`no-such-python-3a9f` (not found)"), "{text}");
        assert!(text.contains("`no-such-py-7c1e -3` (not found)"), "{text}");
        assert!(text.starts_with("no Python 3.10+ found"), "{text}");
    }
}
