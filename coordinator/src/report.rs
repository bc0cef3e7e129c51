//! Failure reports: what failed, the evidence, the likely causes ranked by that
//! evidence with their fixes, the correlation ID and the log file.
//!
//! Ranking is a pure function of the evidence ([`likely_causes`]), tested by tables.

use std::fmt;
use std::path::PathBuf;

use crate::backend::{AttemptFailure, FailureKind};
use crate::health::{Readiness, describe_mismatch, describe_probe, services};
use crate::process::named;
use crate::runlog::RunLog;

/// One likely cause and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub cause: String,
    pub fix: String,
}

/// The final report of a failed run.
#[derive(Debug, Clone)]
pub struct FailureReport {
    pub what: String,
    pub evidence: Vec<String>,
    pub causes: Vec<Cause>,
    pub correlation_id: String,
    pub log_file: Option<PathBuf>,
}

impl FailureReport {
    /// A report with no attempt evidence (a failed sync, a refused port).
    pub fn simple(log: &RunLog, what: &str, evidence: Vec<String>, causes: Vec<Cause>) -> Self {
        FailureReport {
            what: what.to_owned(),
            evidence,
            causes,
            correlation_id: log.correlation_id().to_owned(),
            log_file: log.path().map(PathBuf::from),
        }
    }

    /// The report after the backend's last failed attempt.
    pub fn backend(log: &RunLog, failures: &[AttemptFailure], context: &Context) -> Self {
        let what = format!(
            "the backend did not become ready after {} attempt{}",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        );
        FailureReport::simple(
            log,
            &what,
            evidence(failures, "attempt"),
            likely_causes(failures, context),
        )
    }

    /// The report when a backend that was ready exits while what it started keeps
    /// running: it put itself in the background.
    pub fn forked_after_ready(log: &RunLog, failure: &AttemptFailure, context: &Context) -> Self {
        let failures = std::slice::from_ref(failure);
        FailureReport::simple(
            log,
            "the backend command exited after the backend became ready, leaving it running in the background: dev cannot supervise it",
            evidence(failures, "exit"),
            likely_causes(failures, context),
        )
    }

    /// The report when the restart policy gives up: `failures` are the backend's
    /// failures in a row, each soon after it became ready.
    pub fn gave_up(
        log: &RunLog,
        failures: &[AttemptFailure],
        context: &Context,
        max_restarts: u32,
    ) -> Self {
        let what = format!(
            "the backend failed {} times in a row, each within a minute of becoming ready: dev gave up after {max_restarts} restart{}",
            failures.len(),
            if max_restarts == 1 { "" } else { "s" }
        );
        let mut causes = likely_causes(failures, context);
        causes.push(Cause {
            cause: "the backend starts, then fails again soon after every start".into(),
            fix: "fix what the evidence above shows, then run `cargo xtask dev` again (`backend.max_restarts` sets how many restarts in a row dev makes)".into(),
        });
        FailureReport::simple(log, &what, evidence(failures, "failure"), causes)
    }
}

/// One line per failure, then the last health response and stderr tail of the last.
fn evidence(failures: &[AttemptFailure], noun: &str) -> Vec<String> {
    let mut evidence = Vec::new();
    for failure in failures {
        evidence.push(format!(
            "{noun} {}: {} after {} ms",
            failure.attempt,
            failure.summary(),
            failure.elapsed.as_millis()
        ));
    }
    if let Some(last) = failures.last() {
        if let Some(probe) = &last.last_probe {
            evidence.push(format!(
                "last health response: {}",
                describe_probe(probe, last.last_readiness.as_ref())
            ));
        }
        if !last.stderr_tail.is_empty() {
            evidence.push(format!(
                "last {} lines of stderr ({noun} {}):",
                last.stderr_tail.len(),
                last.attempt
            ));
            evidence.extend(last.stderr_tail.iter().map(|line| format!("  | {line}")));
        }
    }
    evidence
}

impl fmt::Display for FailureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What failed, the evidence and the causes quote health answers, command lines
        // and output: shown with their control characters escaped.
        let shown = crate::text::printable_lines;
        writeln!(f, "error: {}", shown(&self.what))?;
        if !self.evidence.is_empty() {
            writeln!(f, "evidence:")?;
            for line in &self.evidence {
                writeln!(f, "  {}", shown(line))?;
            }
        }
        if !self.causes.is_empty() {
            writeln!(f, "likely causes, most likely first:")?;
            for (i, cause) in self.causes.iter().enumerate() {
                writeln!(f, "  {}. {}", i + 1, shown(&cause.cause))?;
                writeln!(f, "     fix: {}", shown(&cause.fix))?;
            }
        }
        write!(f, "correlation id: {}", self.correlation_id)?;
        if let Some(path) = &self.log_file {
            write!(f, "\nlog file: {}", path.display())?;
        }
        Ok(())
    }
}

/// What the cause ranking needs to know besides the attempts.
#[derive(Debug, Clone)]
pub struct Context {
    pub command: Vec<String>,
    pub port: u16,
    pub startup_timeout_key: &'static str,
}

/// Ranks the likely causes of a failed start by the evidence of its attempts: each
/// family of causes is one function below, asked in rank order.
pub fn likely_causes(failures: &[AttemptFailure], context: &Context) -> Vec<Cause> {
    let failing = failing_parts(failures);
    let degraded = degraded(failures);
    // A health report that names what fails explains a listening backend that never
    // became ready better than the generic "never reported healthy".
    let explained = failing.is_some() || degraded.is_some();
    let mut causes: Vec<Cause> = [
        spawn_failure(failures),
        missing_package(failures, context),
        forking(failures, context),
        wrong_port(failures, context),
        port_taken(failures, context),
        health_never_ready(failures),
        failing,
        degraded,
    ]
    .into_iter()
    .flatten()
    .collect();
    // An exit is only blamed on a crash when nothing above explains it.
    if causes.is_empty() {
        causes.extend(crashed(failures, context));
    }
    causes.extend(port_never_opened(failures, context));
    if !explained {
        causes.extend(never_healthy(failures, context));
    }
    causes
}

/// The backend command could not be started at all (the first such attempt).
fn spawn_failure(failures: &[AttemptFailure]) -> Option<Cause> {
    let (program, error) = failures.iter().find_map(|f| match &f.kind {
        FailureKind::Spawn { program, error, .. } => Some((program, error)),
        _ => None,
    })?;
    Some(Cause {
        cause: format!("the backend command `{program}` cannot be run ({error})"),
        fix: "install it or correct `backend.command` in dev.toml; for `python`, run without --no-sync so that the venv is created".into(),
    })
}

/// The stderr of some attempt shows a Python import failing.
fn missing_package(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let mentions = |needle: &str| {
        failures
            .iter()
            .flat_map(|f| &f.stderr_tail)
            .any(|line| line.contains(needle))
    };
    let program = context
        .command
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    // `python` is the venv's interpreter; any other (`python3`, a path, `sh -c ...`)
    // may be the system's, which has none of the requirements.
    let fix = if program == "python" {
        "run `cargo xtask dev --resync` (it installs the requirements again), or `cargo xtask doctor` to see which is missing".to_owned()
    } else {
        format!(
            "the command starts `{program}`, which may not be the venv's interpreter: start it with `python` (dev's name for the venv's) or backend/.venv/bin/python; or run `cargo xtask dev --resync`, and `cargo xtask doctor` to see which package is missing"
        )
    };
    (mentions("ModuleNotFoundError") || mentions("No module named")).then(|| Cause {
        cause: "a Python package is missing from the backend's environment".into(),
        fix,
    })
}

/// The backend command exited but left processes running: it daemonizes.
fn forking(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let left = failures.iter().find_map(|f| match &f.kind {
        FailureKind::Forked { left, .. } => Some(left),
        _ => None,
    })?;
    Some(Cause {
        cause: format!(
            "the backend command `{}` forks into the background: it exited while {} kept running",
            crate::text::shell_command(&context.command),
            named(left)
        ),
        fix: "run the server in the foreground (drop a --daemon/-D flag or a trailing `&`; in a wrapper script, `exec` the server) so that dev can supervise and stop it; dev stopped what it left behind".into(),
    })
}

/// The backend took (or tried) another port than the one dev chose: it does not read
/// the port dev gives it.
fn wrong_port(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let (port, in_use) = failures.iter().find_map(|f| match f.kind {
        FailureKind::WrongPort { port, in_use } => Some((port, in_use)),
        _ => None,
    })?;
    let chosen = context.port;
    let held = if in_use {
        format!("; port {port} is in use by another process")
    } else {
        String::new()
    };
    Some(Cause {
        cause: format!(
            "the backend binds port {port}, not port {chosen} that dev chose and gave it as BACKEND_PORT (it ignores it){held}"
        ),
        fix: "make the backend take dev's port: `{port}` in `backend.command` (e.g. `[\"uvicorn\", \"app:app\", \"--port\", \"{port}\"]`), or read $BACKEND_PORT in its code".into(),
    })
}

/// Some attempt could not bind the port because another process holds it.
fn port_taken(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let elsewhere = failures
        .iter()
        .any(|f| matches!(f.kind, FailureKind::WrongPort { .. }));
    (!elsewhere && failures.iter().any(|f| f.bind_conflict)).then(|| Cause {
        cause: format!("port {} was taken by another process", context.port),
        fix: "rerun with `--port auto` to use a free port, or stop the process holding it (`cargo xtask doctor` names it)".into(),
    })
}

/// The last attempt ended on health answers that cannot become ready as configured.
fn health_never_ready(failures: &[AttemptFailure]) -> Option<Cause> {
    let Some(FailureKind::NeverReady(mismatch)) = failures.last().map(|f| &f.kind) else {
        return None;
    };
    Some(Cause {
        cause: format!(
            "the health endpoint cannot report ready as it is: {}",
            describe_mismatch(mismatch)
        ),
        fix: mismatch.fix(),
    })
}

/// The last attempt timed out while health named its failing parts.
fn failing_parts(failures: &[AttemptFailure]) -> Option<Cause> {
    let failing = failures
        .last()
        .and_then(|f| match (&f.kind, &f.last_readiness) {
            (FailureKind::TimedOut(_), Some(Readiness::Failing { failing, .. })) => Some(failing),
            _ => None,
        })?;
    Some(Cause {
        cause: format!(
            "the backend runs but its health reports failing parts: {}",
            services(failing)
        ),
        fix: "fix the failing parts (see the backend's output above), or raise `backend.startup_timeout` if they only need longer".into(),
    })
}

/// The latest attempt whose health said degraded, with the services it named.
fn degraded(failures: &[AttemptFailure]) -> Option<Cause> {
    let failing = failures
        .iter()
        .rev()
        .find_map(|f| match &f.last_readiness {
            Some(Readiness::Degraded(failing)) => Some(failing),
            _ => None,
        })?;
    Some(Cause {
        cause: format!(
            "the backend runs but reports degraded: {}",
            services(failing)
        ),
        fix: "fix the failing services (see the backend's output above), or set `backend.accept_degraded = true` to accept a degraded backend".into(),
    })
}

/// The backend exited before it was ready: it finished instead of serving, or it
/// crashed, silently or with stderr to read.
fn crashed(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let exited = failures
        .iter()
        .any(|f| matches!(f.kind, FailureKind::Exited(_)));
    if !exited {
        return None;
    }
    let program = context.command.first().cloned().unwrap_or_default();
    let silent = failures.iter().all(|f| f.stderr_tail.is_empty());
    let succeeded = failures
        .iter()
        .any(|f| matches!(&f.kind, FailureKind::Exited(status) if status == "exit code 0"));
    Some(match (succeeded, silent) {
        (true, _) => Cause {
            cause: format!(
                "the backend command (`{program}`) finished (exit code 0) instead of serving: it is not a long-running server"
            ),
            fix: "make `backend.command` run the server in the foreground".into(),
        },
        (false, true) => Cause {
            cause: format!(
                "the backend (`{program}`) crashed during start-up without printing anything on stderr"
            ),
            fix: "run the backend command by hand to see why (its stdout is in the log file)"
                .into(),
        },
        (false, false) => Cause {
            cause: format!("the backend (`{program}`) crashed during start-up"),
            fix: "read the stderr lines above; run the backend command by hand to reproduce".into(),
        },
    })
}

/// Some attempt timed out before the port ever opened.
fn port_never_opened(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let timed_out_closed = failures
        .iter()
        .any(|f| matches!(f.kind, FailureKind::TimedOut(_)) && !f.listening);
    timed_out_closed.then(|| Cause {
        cause: format!(
            "the backend never opened port {}: too slow to start, or listening on another host or port",
            context.port
        ),
        fix: format!(
            "make the backend bind BACKEND_HOST:BACKEND_PORT, or raise `{}` in dev.toml",
            context.startup_timeout_key
        ),
    })
}

/// Some attempt timed out with the port open but health never ready.
fn never_healthy(failures: &[AttemptFailure], context: &Context) -> Option<Cause> {
    let timed_out_open = failures
        .iter()
        .any(|f| matches!(f.kind, FailureKind::TimedOut(_)) && f.listening);
    timed_out_open.then(|| Cause {
        cause: "the backend listens but its health endpoint never reported healthy".into(),
        fix: format!(
            "check `backend.health_path` and the last health response above, or raise `{}`",
            context.startup_timeout_key
        ),
    })
}

impl FailureReport {
    /// The report as the `failed` event (`log`: the run's log file).
    pub fn event(&self, log: Option<String>) -> crate::events::Event {
        crate::events::Event::Failed {
            what: self.what.clone(),
            evidence: self.evidence.clone(),
            causes: self
                .causes
                .iter()
                .map(|c| crate::events::Cause {
                    cause: c.cause.clone(),
                    fix: c.fix.clone(),
                })
                .collect(),
            log,
            report: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::health::Mismatch;

    fn failure(kind: FailureKind, tail: &[&str], listening: bool) -> AttemptFailure {
        AttemptFailure {
            attempt: 1,
            kind,
            stderr_tail: tail.iter().map(|s| (*s).to_owned()).collect(),
            last_probe: None,
            last_readiness: None,
            listening,
            bind_conflict: tail.iter().any(|l| crate::text::is_bind_conflict(l)),
            elapsed: Duration::from_millis(5),
        }
    }

    fn first_cause(failure: AttemptFailure) -> String {
        let context = Context {
            command: vec!["python".into(), "main.py".into()],
            port: 8000,
            startup_timeout_key: "backend.startup_timeout",
        };
        likely_causes(&[failure], &context)
            .first()
            .map(|c| c.cause.clone())
            .unwrap_or_default()
    }

    #[test]
    fn causes_follow_the_evidence() {
        let exited = || FailureKind::Exited("exit code 1".into());
        let timed_out = || FailureKind::TimedOut(Duration::from_secs(30));
        let cases = [
            (
                failure(
                    exited(),
                    &["ModuleNotFoundError: No module named 'fastapi'"],
                    false,
                ),
                "a Python package is missing",
            ),
            (
                failure(exited(), &["[Errno 98] ... address already in use"], false),
                "port 8000 was taken",
            ),
            (
                failure(exited(), &["Traceback"], false),
                "crashed during start-up",
            ),
            (failure(timed_out(), &[], false), "never opened port 8000"),
            (failure(timed_out(), &[], true), "never reported healthy"),
            (
                failure(
                    FailureKind::Spawn {
                        program: "python".into(),
                        error: "No such file or directory".into(),
                        lasting: true,
                    },
                    &[],
                    false,
                ),
                "cannot be run",
            ),
        ];
        for (failure, expected) in cases {
            let cause = first_cause(failure.clone());
            assert!(cause.contains(expected), "{failure:?} gave {cause:?}");
        }
    }

    #[test]
    fn health_evidence_gives_its_own_cause_and_fix() {
        let context = Context {
            command: vec!["python".into(), "main.py".into()],
            port: 8000,
            startup_timeout_key: "backend.startup_timeout",
        };
        let mut redirect = failure(
            FailureKind::NeverReady(Mismatch::Redirect {
                code: 301,
                location: Some("/health/".into()),
            }),
            &[],
            true,
        );
        redirect.last_readiness = Some(Readiness::Never(Mismatch::Redirect {
            code: 301,
            location: Some("/health/".into()),
        }));
        let causes = likely_causes(&[redirect], &context);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0].cause.contains("HTTP 301, redirect to /health/"),
            "{causes:?}"
        );
        assert!(causes[0].fix.contains("backend.health_path"), "{causes:?}");

        let mut failing = failure(FailureKind::TimedOut(Duration::from_secs(3)), &[], true);
        failing.last_readiness = Some(Readiness::Failing {
            why: "HTTP 503, status \"fail\"".into(),
            failing: vec![("db".into(), "refused".into())],
        });
        let causes = likely_causes(&[failing], &context);
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0].cause.contains("failing parts: db (refused)"),
            "{causes:?}"
        );
    }
}
