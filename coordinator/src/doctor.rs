//! `doctor`: diagnose the machine and the checkout, for people and for scripts.
//!
//! Each check is a plain function from a [`Context`] to a [`Check`]. They run
//! concurrently, each on its own thread with a deadline, so that one check crashing or
//! hanging becomes an `error` for that check and never takes the whole run down.
//! Checks reuse what `dev` uses: the config loader, interpreter discovery, the port
//! classifier, the health client and the frontend-config reader.

mod checks;
mod frontend;
mod processes;
mod remote;
mod render;
mod runs;

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, ConfigError, Source};

pub use render::human;

/// How long one check may take before it is reported as hanging.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Error,
    Skip,
}

/// One check's result: one object of `doctor --json`'s `checks` (see the README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `port`, or `process-redis` for a check made per `[process.NAME]`.
    pub id: Cow<'static, str>,
    pub status: Status,
    pub summary: String,
    pub details: Vec<String>,
    pub fix: Option<String>,
    pub data: serde_json::Value,
}

impl Check {
    pub fn new(
        id: impl Into<Cow<'static, str>>,
        status: Status,
        summary: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            status,
            summary: summary.into(),
            details: Vec::new(),
            fix: None,
            data: serde_json::Value::Null,
        }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Check {
        self.details.push(line.into());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub fn data(mut self, data: serde_json::Value) -> Check {
        self.data = data;
        self
    }
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub correlation_id: String,
    pub checks: Vec<Check>,
}

/// What every check may look at.
#[derive(Debug, Clone)]
pub struct Context {
    /// The effective config: every valid value, defaults for the invalid ones.
    pub config: Config,
    /// Why the config is invalid, if it is.
    pub config_error: Option<ConfigError>,
    pub correlation_id: String,
    /// A live `dev` run of this checkout that moved the backend to another port (its
    /// correlation ID, and the configured port): the checks look at the port it uses.
    pub moved_by: Option<(String, u16)>,
}

impl Context {
    /// Loads the config for `start` with the given environment. Invalid values are
    /// kept as the `config` check's finding; the other checks run on every valid value
    /// (an invalid one keeps its default, and the checks that need it say so). Fails
    /// only when there is no usable `dev.toml` from `start` up.
    pub fn load(
        start: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
        correlation_id: &str,
    ) -> Result<Context, ConfigError> {
        let (config, config_error) = Config::load_partial(start, env, &[])?;
        // While a run has moved the backend (`--port auto`), its port is the one to
        // look at: the configured one may be held by something unrelated.
        let live = crate::runs::Runs::of(&config.root)
            .read_all()
            .into_iter()
            .filter(crate::runs::Record::is_live)
            .rfind(|run| run.backend_port.is_some_and(|p| p != config.backend.port));
        let (config, moved_by) = match live {
            Some(run) if config.backend.url.is_none() => {
                let configured = config.backend.port;
                let port = run.backend_port.unwrap_or(configured);
                let moved = config.with_ports(port, config.frontend.port);
                (moved, Some((run.correlation_id, configured)))
            }
            _ => (config, None),
        };
        Ok(Context {
            config,
            config_error,
            correlation_id: correlation_id.to_owned(),
            moved_by,
        })
    }
}

/// The `config` check for a configuration with problems.
pub fn config_error_check(err: &ConfigError, shown: &str) -> Check {
    let mut check = Check::new(
        "config",
        Status::Error,
        if err.missing_file {
            err.problems
                .first()
                .map_or_else(|| "no dev.toml".to_owned(), |p| p.message.clone())
        } else {
            match err.problems.len() {
                1 => format!("{shown} is invalid (1 problem)"),
                n => format!("{shown} is invalid ({n} problems)"),
            }
        },
    );
    for problem in err.problems.iter().filter(|_| !err.missing_file) {
        check = check.detail(format!("{}: {}", problem.location, problem.message));
    }
    let fix = err
        .problems
        .first()
        .map(|p| p.fix.clone())
        .unwrap_or_default();
    check.fix(fix).data(serde_json::json!({"file": shown}))
}

/// The report when there is no usable `dev.toml` at all: the `config` check alone,
/// since every other check needs the config.
pub fn unusable_config(err: &ConfigError, correlation_id: &str) -> Report {
    Report {
        ok: false,
        correlation_id: correlation_id.to_owned(),
        checks: vec![config_error_check(err, crate::config::FILE_NAME)],
    }
}

/// A check to run: its id (for the report if it crashes or hangs) and its function.
pub type CheckFn = (Cow<'static, str>, Box<dyn FnOnce() -> Check + Send>);

/// Runs every check concurrently: the fixed ones of [`checks::ALL`], then the ones made
/// for each `[process.NAME]` (see [`processes`]).
pub fn run(context: &Context) -> Report {
    let mut checks: Vec<CheckFn> = checks::ALL
        .iter()
        .map(|(id, check)| {
            let context = context.clone();
            let check = *check;
            (
                Cow::Borrowed(*id),
                Box::new(move || check(&context)) as Box<dyn FnOnce() -> Check + Send>,
            )
        })
        .collect();
    checks.extend(processes::checks(context));
    Report {
        checks: run_checks(checks, CHECK_TIMEOUT),
        ok: false,
        correlation_id: context.correlation_id.clone(),
    }
    .settled()
}

impl Report {
    fn settled(mut self) -> Report {
        self.ok = !self.checks.iter().any(|c| c.status == Status::Error);
        self
    }

    /// `1` when any check is an error, else `0`.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.ok)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
    }
}

/// Runs checks on their own threads; a check that panics or outlives `timeout` is
/// reported as an error of that check. Results keep the order of `checks`.
pub fn run_checks(checks: Vec<CheckFn>, timeout: Duration) -> Vec<Check> {
    let (sender, receiver) = mpsc::channel();
    let ids: Vec<Cow<'static, str>> = checks.iter().map(|(id, _)| id.clone()).collect();
    for (index, (id, check)) in checks.into_iter().enumerate() {
        let thread_sender = sender.clone();
        let thread_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("doctor-{id}"))
            .spawn(move || {
                let id = thread_id;
                let result = std::panic::catch_unwind(AssertUnwindSafe(check));
                let check = result.unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Check::new(id, Status::Error, "the check crashed")
                        .detail(message)
                        .fix("report this as a bug in the coordinator")
                });
                let _ = thread_sender.send((index, check));
            });
        if spawned.is_err() {
            let _ = sender.send((
                index,
                Check::new(id, Status::Error, "the check could not be started"),
            ));
        }
    }
    drop(sender);
    let mut results: Vec<Option<Check>> = vec![None; ids.len()];
    let deadline = Instant::now() + timeout;
    while results.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((index, check)) => results[index] = Some(check),
            Err(_) => break,
        }
    }
    results
        .into_iter()
        .zip(ids)
        .map(|(check, id)| {
            check.unwrap_or_else(|| {
                Check::new(
                    id,
                    Status::Error,
                    format!("the check did not finish within {} s", timeout.as_secs()),
                )
                .fix("run `cargo xtask doctor --verbose` again; if it hangs again, report it")
            })
        })
        .collect()
}

/// Whether human output may use colour: a terminal, and no `NO_COLOR`.
pub fn use_colour() -> bool {
    // The one colour decision (`NO_COLOR`, `CLICOLOR_FORCE`, per stream): the report
    // goes to stdout.
    crate::runlog::Colour::detect(&|name| std::env::var(name).ok()).stdout
}

/// A `skip` when a setting the check needs has an invalid value: the check would
/// otherwise run on the default and give advice that breaks the app.
pub(super) fn needs(cx: &Context, id: &'static str, keys: &[&str]) -> Option<Check> {
    let invalid: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| cx.config.is_invalid(key))
        .collect();
    (!invalid.is_empty()).then(|| {
        Check::new(
            id,
            Status::Skip,
            format!(
                "no valid value for {} (see the config check)",
                invalid.join(", ")
            ),
        )
        .data(serde_json::json!({"invalid": invalid}))
    })
}

/// Names the layer a setting came from, as the subject of a sentence: dev.toml, or
/// an override.
pub(super) fn port_source(source: &Source) -> String {
    match source {
        Source::File { path, .. } => format!("{} says", path.display()),
        Source::Env(var) => format!("env {var} sets"),
        Source::Flag(flag) => format!("flag {flag} sets"),
        Source::Default => "the default is".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashing_or_hanging_check_is_an_error_of_that_check_only() {
        let checks: Vec<CheckFn> = vec![
            (
                "fine".into(),
                Box::new(|| Check::new("fine", Status::Ok, "all good")),
            ),
            ("crashes".into(), Box::new(|| panic!("boom"))),
            (
                "hangs".into(),
                Box::new(|| {
                    std::thread::sleep(Duration::from_secs(120));
                    Check::new("hangs", Status::Ok, "never")
                }),
            ),
        ];
        let started = Instant::now();
        // Long enough for the quick checks on a loaded machine (a panic captures a
        // backtrace), far shorter than the hang.
        let results = run_checks(checks, Duration::from_secs(3));
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_eq!(results[0].status, Status::Ok);
        assert_eq!(results[1].status, Status::Error);
        assert_eq!(results[1].summary, "the check crashed");
        assert_eq!(results[1].details, ["boom"]);
        assert_eq!(results[2].status, Status::Error);
        assert!(results[2].summary.contains("did not finish"));
        assert_eq!(results[2].id, "hangs");
    }
}
