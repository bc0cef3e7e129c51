//! The checks of `cargo xtask doctor` (README lists them), one function each. To add
//! one, write a function `fn(&Context) -> Check` here and list it in [`ALL`] (see
//! CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::{Check, Context, Status, needs};
use crate::config::display_path;
use crate::exec::Cmd;
use crate::git::GitError;
use crate::health::{self, HealthClient, HealthFormat, HealthReport, Probe, Readiness, Reading};
use crate::ownership::{self, Ownership};
use crate::port::{self, PortState};
use crate::python;
use crate::requirements::{self, Line, Verdict};

/// A check: its stable id and the function that runs it.
pub type Entry = (&'static str, fn(&Context) -> Check);

/// Every check, in the order the report lists them.
pub const ALL: &[Entry] = &[
    ("config", config),
    ("python", python),
    ("backend-deps", backend_deps),
    ("node", node),
    ("frontend-config", super::frontend::frontend_config),
    ("port", port),
    ("frontend-port", super::frontend::frontend_port),
    ("node-deps", super::frontend::node_deps),
    ("backend-health", backend_health),
    ("backend-remote", super::remote::remote_backend),
    ("git-hooks", git_hooks),
    ("rust-tools", rust_tools),
    ("runs", super::runs::runs),
];

fn config(cx: &Context) -> Check {
    let shown = cx.config.file.as_deref().map_or_else(
        || "dev.toml".to_owned(),
        |f| display_path(f, &cx.config.root),
    );
    match &cx.config_error {
        Some(err) => super::config_error_check(err, &shown),
        None => Check::new("config", Status::Ok, format!("{shown} is valid"))
            .detail(format!(
                "backend on {}:{}, frontend `{}`",
                cx.config.backend.host,
                cx.config.backend.port,
                crate::text::shell_command(&cx.config.expanded(&cx.config.frontend.command))
            ))
            .data(json!({"file": shown})),
    }
}

fn python(_: &Context) -> Check {
    match python::discover() {
        Ok(found) => Check::new(
            "python",
            Status::Ok,
            format!(
                "Python {} ({})",
                found.version_text(),
                crate::text::shell_command(&found.argv)
            ),
        )
        .detail(format!("executable: {}", found.executable.display()))
        .data(json!({"version": found.version_text(), "executable": found.executable})),
        Err(err) => {
            let mut check = Check::new(
                "python",
                Status::Error,
                format!(
                    "no Python {}.{}+ found",
                    python::MINIMUM.0,
                    python::MINIMUM.1
                ),
            );
            for (candidate, result) in &err.tried {
                check = check.detail(format!("`{candidate}`: {result}"));
            }
            check.fix(err.fix())
        }
    }
}

/// A venv whose interpreter is a link to a Python that is gone (an error), if it is.
fn broken_interpreter(interpreter: &Path, shown_python: &str, shown_venv: &str) -> Option<Check> {
    if std::fs::symlink_metadata(interpreter).is_err() || interpreter.exists() {
        return None;
    }
    let target = std::fs::read_link(interpreter)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    Some(
        Check::new(
            "backend-deps",
            Status::Error,
            format!("the venv's interpreter {shown_python} is a broken link"),
        )
        .detail(format!(
            "it points to {target}, which no longer exists (the Python the venv was made from was removed or upgraded)"
        ))
        .fix(format!(
            "delete {shown_venv} and run `cargo xtask dev`, which recreates it"
        )),
    )
}

/// Nothing missing or at a wrong version: ok, or a warning when some requirements could
/// not be judged or the requirements changed since the last sync.
/// The files whose change makes a sync, as shown: the requirements file, or a
/// `pyproject.toml` and its lock file (`backend/pyproject.toml or backend/uv.lock`).
fn changed_files(declared: &crate::venv::Declared, root: &Path) -> String {
    match declared {
        crate::venv::Declared::Requirements(path) => display_path(path, root),
        _ => declared
            .files()
            .iter()
            .map(|file| display_path(&file.path, root))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn deps_satisfied(
    backend: &crate::config::BackendConfig,
    (shown_req, shown_venv, shown_python): (&str, &str, &str),
    satisfied: usize,
    undecided: &[String],
    notes: &[String],
) -> Check {
    if !undecided.is_empty() {
        return with_details(
            Check::new(
                "backend-deps",
                Status::Warn,
                format!(
                    "{satisfied} requirements satisfied in {shown_venv}; {} with environment markers not judged",
                    undecided.len()
                ),
            ),
            notes,
        )
        .fix(format!("check that `{shown_python}` runs"));
    }
    if crate::venv::is_up_to_date(backend) {
        let summary = format!("{satisfied} requirements satisfied in {shown_venv}");
        return with_details(Check::new("backend-deps", Status::Ok, summary), notes);
    }
    Check::new(
        "backend-deps",
        Status::Warn,
        format!("{shown_req} changed since the last sync"),
    )
    .fix("run `cargo xtask dev`, which syncs the venv")
}

fn backend_deps(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "backend-deps",
        &["backend.requirements", "backend.venv", "backend.extras"],
    ) {
        return skip;
    }
    let backend = &cx.config.backend;
    let root = &cx.config.root;
    let declared = crate::venv::Declared::of(backend);
    let shown_req = display_path(declared.main_file(), root);
    let shown_venv = display_path(&backend.venv, root);
    if !declared.main_file().is_file() {
        return Check::new("backend-deps", Status::Skip, format!("no {shown_req}"));
    }
    let lines = match declared_lines(&declared, &backend.extras, &shown_req) {
        Ok(lines) => lines,
        Err(err) => {
            return Check::new(
                "backend-deps",
                Status::Error,
                format!("{}: {}", err.location, err.message),
            )
            .fix(err.fix);
        }
    };
    let interpreter = python::venv_python(&backend.venv);
    let shown_python = display_path(&interpreter, root);
    if let Some(broken) = broken_interpreter(&interpreter, &shown_python, &shown_venv) {
        return broken;
    }
    let Some(site) = site_packages(&backend.venv) else {
        return Check::new(
            "backend-deps",
            Status::Error,
            format!("{shown_venv} does not exist"),
        )
        .fix("run `cargo xtask dev` (it creates the venv), or `cargo xtask dev --no-frontend`");
    };
    let installed = installed_packages(&site);
    // Only a requirement with markers needs the interpreter's answer.
    let has_markers = lines.iter().any(
        |line| matches!(line, Line::Requirement { requirement, .. } if !requirement.marker.is_true()),
    );
    let markers = has_markers.then(|| python::markers(&interpreter, python::PROBE_TIMEOUT));
    let judged = judge_all(
        &lines,
        &installed,
        markers.as_ref().and_then(|m| m.as_ref().ok()),
    );
    let notes = judged.notes(markers.as_ref().and_then(|m| m.as_ref().err()));
    let Judged {
        missing,
        mismatched,
        satisfied,
        undecided,
        ..
    } = judged;
    let data = json!({"missing": missing, "mismatched": mismatched, "venv": shown_venv});
    if missing.is_empty() && mismatched.is_empty() {
        let changed = changed_files(&declared, root);
        let shown = (changed.as_str(), shown_venv.as_str(), shown_python.as_str());
        return deps_satisfied(backend, shown, satisfied, &undecided, &notes).data(data);
    }
    let mut check = Check::new(
        "backend-deps",
        Status::Error,
        format!(
            "{} missing, {} at the wrong version in {shown_venv}",
            missing.len(),
            mismatched.len()
        ),
    );
    for line in missing.iter().map(|m| format!("missing: {m}")) {
        check = check.detail(line);
    }
    for line in mismatched.iter().map(|m| format!("wrong version: {m}")) {
        check = check.detail(line);
    }
    let by_hand = match declared {
        crate::venv::Declared::Requirements(_) => {
            format!(", or `{shown_python} -m pip install -r {shown_req}`")
        }
        _ => String::new(),
    };
    with_details(check, &notes)
        .fix(format!(
            "run `cargo xtask dev --resync` (it reinstalls the requirements){by_hand}"
        ))
        .data(data)
}

/// The requirement lines the declaration asks for: a requirements file's (includes
/// with `-r` too; constraints with `-c` install nothing), or a `pyproject.toml`'s PEP 621
/// dependencies and the configured extras (whichever tool installs them).
fn declared_lines(
    declared: &crate::venv::Declared,
    extras: &[String],
    shown: &str,
) -> Result<Vec<Line>, crate::pyproject::PyprojectError> {
    if let crate::venv::Declared::Requirements(path) = declared {
        return Ok(crate::venv::requirement_files(path)
            .into_iter()
            .filter(|file| !file.constraint)
            .filter_map(|file| file.text)
            .flat_map(|text| requirements::parse(&text))
            .collect());
    }
    let project = crate::pyproject::read(declared.main_file(), shown)?;
    Ok(project
        .wanted(extras, shown)?
        .iter()
        .map(|line| requirements::read_line(line.trim()))
        .collect())
}

/// The requirements of the files, sorted by how they stand in the venv.
#[derive(Debug, Default)]
struct Judged {
    satisfied: usize,
    missing: Vec<String>,
    /// `text (installed version)`.
    mismatched: Vec<String>,
    /// Excluded by their markers: pip does not install them here.
    not_for_this_python: Vec<String>,
    /// Markers that could not be evaluated.
    undecided: Vec<String>,
    /// `text: why` of lines that are not PEP 508 requirements.
    unreadable: Vec<String>,
}

fn judge_all(
    lines: &[Line],
    installed: &BTreeMap<String, String>,
    markers: Option<&pep508_rs::MarkerEnvironment>,
) -> Judged {
    let mut judged = Judged::default();
    for line in lines {
        let (text, requirement) = match line {
            Line::Requirement { text, requirement } => (text.clone(), requirement),
            Line::Unreadable { text, why } => {
                judged.unreadable.push(format!("{text}: {why}"));
                continue;
            }
            Line::Include { .. } | Line::Option(_) => continue,
        };
        match requirements::judge(requirement, installed, markers) {
            Verdict::Satisfied => judged.satisfied += 1,
            Verdict::NotForThisPython => judged.not_for_this_python.push(text),
            Verdict::Undecided => judged.undecided.push(text),
            Verdict::Missing => judged.missing.push(text),
            Verdict::WrongVersion { installed } => {
                judged
                    .mismatched
                    .push(format!("{text} (installed {installed})"));
            }
        }
    }
    judged
}

impl Judged {
    /// Detail lines on what was not counted either way, so that a requirement never
    /// silently disappears from the report.
    fn notes(&self, markers_error: Option<&String>) -> Vec<String> {
        let mut notes: Vec<String> = self
            .not_for_this_python
            .iter()
            .map(|text| format!("not for this interpreter (markers): {text}"))
            .collect();
        if !self.undecided.is_empty() {
            notes.push(format!(
                "environment markers not evaluated ({}): {}",
                markers_error.map_or("no answer", String::as_str),
                self.undecided.join(", ")
            ));
        }
        notes.extend(
            self.unreadable
                .iter()
                .map(|line| format!("not judged (not a PEP 508 requirement): {line}")),
        );
        notes
    }
}

fn with_details(mut check: Check, lines: &[String]) -> Check {
    for line in lines {
        check = check.detail(line.clone());
    }
    check
}

fn site_packages(venv: &Path) -> Option<PathBuf> {
    let windows = venv.join("Lib").join("site-packages");
    if windows.is_dir() {
        return Some(windows);
    }
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("site-packages"))
        .find(|path| path.is_dir())
}

/// Installed distributions, read from `*.dist-info` folder names (no `pip` run).
fn installed_packages(site: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(site)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".dist-info")?;
                    let (package, version) = stem.rsplit_once('-')?;
                    Some((requirements::normalise(package), version.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How long a `--version` probe may take; a hung one is stopped with its group.
const VERSION_TIMEOUT: Duration = Duration::from_secs(3);

/// `program args` to completion within [`VERSION_TIMEOUT`]: its trimmed stdout, or
/// why not, naming the command to try by hand.
fn version_of(program: &str, args: &[&str]) -> Result<String, VersionError> {
    let cmd = Cmd::new(program)
        .args(args.iter().copied())
        .timeout(VERSION_TIMEOUT);
    let by_hand = cmd.shown();
    match cmd.run() {
        Ok(out) if out.success() => Ok(out.stdout_text().trim().to_owned()),
        Ok(out) => Err(VersionError::Failed(format!(
            "`{by_hand}` exited with {}{}",
            out.status,
            out.tail()
                .last()
                .map_or_else(String::new, |line| format!(": {line}"))
        ))),
        Err(err) if err.is_not_found() => Err(VersionError::NotFound),
        Err(err @ crate::exec::ExecError::TimedOut { .. }) => Err(VersionError::Failed(format!(
            "{err}; try `{by_hand}` by hand"
        ))),
        Err(err) => Err(VersionError::Failed(err.to_string())),
    }
}

enum VersionError {
    NotFound,
    /// It ran but did not answer: a hang, a crash, a non-zero exit.
    Failed(String),
}

fn node(cx: &Context) -> Check {
    let uses_node = cx.config.frontend.command.first().is_some_and(|program| {
        ["node", "npm", "npx", "yarn", "pnpm", "electron"].contains(&program.as_str())
    });
    // Only a frontend that runs on Node makes Node's problems errors.
    let problem = if uses_node {
        Status::Error
    } else {
        Status::Warn
    };
    match version_of("node", &["--version"]) {
        Ok(version) => {
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major >= 18 {
                Check::new("node", Status::Ok, format!("Node {version}"))
                    .data(json!({"version": version}))
            } else {
                let check = Check::new("node", problem, format!("Node {version} is older than 18"));
                let check = if uses_node {
                    check
                } else {
                    check.detail("the frontend command does not use Node, so this does not block `dev`")
                };
                check
                    .fix("install Node 18 or newer (https://nodejs.org)")
                    .data(json!({"version": version}))
            }
        }
        Err(VersionError::Failed(why)) => Check::new("node", problem, "node does not answer")
            .detail(why)
            .fix("repair or reinstall Node (https://nodejs.org); `node --version` should print its version"),
        Err(VersionError::NotFound) if uses_node => Check::new("node", problem, "node is not on PATH")
            .detail(format!(
                "the frontend command is `{}`",
                crate::text::shell_command(&cx.config.expanded(&cx.config.frontend.command))
            ))
            .fix("install Node 18 or newer (https://nodejs.org)"),
        Err(VersionError::NotFound) => Check::new(
            "node",
            Status::Skip,
            "node not found; the frontend does not use it",
        ),
    }
}

/// `health_timeout`, as `dev` waits, but within the check's own deadline.
fn probe_timeout(health_timeout: std::time::Duration) -> std::time::Duration {
    health_timeout
        .min(crate::doctor::CHECK_TIMEOUT.saturating_sub(std::time::Duration::from_secs(1)))
}

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    Some(runtime.block_on(future))
}

fn port(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "port",
        &["backend.port", "backend.host", "backend.health_path"],
    ) {
        return skip;
    }
    let config = &cx.config;
    if config.backend.url.is_some() {
        return Check::new(
            "port",
            Status::Skip,
            "backend.url is set: dev uses no local backend port",
        );
    }
    let backend = &config.backend;
    let port = backend.port;
    let url = format!("{}{}", config.backend_url(), backend.health_path);
    // As long as `dev` waits: a slow answer of our own backend is still ours.
    let client = HealthClient::new(probe_timeout(backend.health_timeout));
    let Some(state) = block_on(port::classify(
        &client,
        &url,
        &cx.correlation_id,
        &backend.service,
        &config.root,
        backend.health_format,
        port,
    )) else {
        return Check::new("port", Status::Error, "cannot start the async runtime");
    };
    let holder = state
        .holder()
        .and_then(|lookup| lookup.holder())
        .map(|h| json!({"pid": h.pid, "name": h.name, "cmdline": h.cmdline}));
    let suggested = match state {
        PortState::Free | PortState::Reusable(_) => Some(port),
        _ => port::free_instead(port),
    };
    let data = json!({
        "port": port,
        "state": state.kind(),
        "holder": holder,
        "suggested_port": suggested,
    });
    let mut described = state.describe(port);
    if let Some((run, configured)) = &cx.moved_by {
        described.push_str(&format!(
            " (the live dev run {run} uses it; dev.toml says {configured})"
        ));
    }
    let instead = suggested.map_or_else(
        || "no free port was found above it".to_owned(),
        |p| format!("uses port {p}"),
    );
    match state {
        PortState::Free => Check::new("port", Status::Ok, described),
        PortState::Reusable(_) => {
            Check::new("port", Status::Ok, described).detail("`cargo xtask dev` will reuse it")
        }
        PortState::Stale { .. } => Check::new("port", Status::Warn, described).fix(format!(
            "`cargo xtask dev --yes` stops it, or `cargo xtask dev --port auto` ({instead})"
        )),
        PortState::LiveRun { .. } => Check::new("port", Status::Warn, described).fix(format!(
            "wait for it, or run `cargo xtask dev --port auto` ({instead}); stopping that dev run stops it"
        )),
        PortState::OtherCheckout { .. } | PortState::Foreign { .. } => {
            Check::new("port", Status::Error, described).fix(format!(
                "stop that process, or run `cargo xtask dev --port auto` ({instead})"
            ))
        }
    }
    .data(data)
}

fn backend_health(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "backend-health",
        &["backend.port", "backend.host", "backend.health_path"],
    ) {
        return skip;
    }
    let config = &cx.config;
    let backend = &config.backend;
    let format = backend.health_format;
    let url = format!("{}{}", config.backend_url(), backend.health_path);
    // With `backend.url`, the URL's host and `backend.ca_file`: as `dev` asks.
    let trust = std::sync::Arc::new(health::tls::Trust::new(backend.ca_file.clone()));
    let client = HealthClient::with_trust(probe_timeout(backend.health_timeout), trust);
    let Some(probe) = block_on(client.probe(&url, &cx.correlation_id)) else {
        return Check::new(
            "backend-health",
            Status::Error,
            "cannot start the async runtime",
        );
    };
    let (code, report) = match health_report(&probe, format, &url) {
        Ok(found) => found,
        Err(check) => return *check,
    };
    let ownership = ownership::decide(&report, &backend.service, &config.root, backend.port);
    // The socket table's pid, never the one in the answer's body.
    let listener = match &ownership {
        Ownership::Ours(evidence) => evidence.pid(),
        _ => None,
    };
    let pid = listener.map_or_else(|| "?".to_owned(), |p| p.to_string());
    let mut lines = vec![
        format!(
            "format: {} (health_format = {:?})",
            report.form.name(),
            format.name()
        ),
        format!("ownership: {}", ownership.describe()),
    ];
    // The answer's own words, one line each whatever they hold.
    let shown = crate::text::printable;
    lines.extend(report.parts.iter().map(|p| match &p.error {
        Some(error) => format!(
            "{}: {} ({})",
            shown(&p.name),
            shown(&p.status),
            shown(error)
        ),
        None => format!("{}: {}", shown(&p.name), shown(&p.status)),
    }));
    let (status, summary, fix) = match &ownership {
        // Its health says nothing about a backend of ours: anyone can answer alike.
        Ownership::OtherUser(_) => (
            Status::Warn,
            format!("the backend answering {url} is {}", ownership.describe()),
            Some("stop that user's process, or run `cargo xtask dev --port auto`".to_owned()),
        ),
        _ => health_verdict(&health::readiness(&probe, format, false), &pid),
    };
    let mut check = Check::new("backend-health", status, summary)
        .data(health_data(code, &report, &ownership, listener));
    for line in lines {
        check = check.detail(line);
    }
    match fix {
        Some(fix) => check.fix(fix),
        None => check,
    }
}

/// The status code and the recognised report, or the finished check when there is no
/// report to read (nothing answers, a stalled body, an answer the format cannot read).
fn health_report(
    probe: &Probe,
    format: HealthFormat,
    url: &str,
) -> Result<(u16, HealthReport), Box<Check>> {
    let code = match probe {
        Probe::Unreachable(_) => {
            return Err(Box::new(Check::new(
                "backend-health",
                Status::Skip,
                format!("no backend answers {url}"),
            )));
        }
        Probe::Stalled { code } => {
            return Err(Box::new(
                Check::new(
                    "backend-health",
                    Status::Error,
                    format!(
                        "{url} answered HTTP {code}, but its body did not arrive within health_timeout"
                    ),
                )
                .fix("the backend's health handler blocks after sending its headers: check it")
                .data(json!({"code": code, "format": null, "ownership": null})),
            ));
        }
        Probe::Answered(answer) => answer.code,
    };
    let check = match probe.reading(format) {
        Some(Reading::Report(report)) => return Ok((code, report)),
        Some(Reading::Never(mismatch)) => Check::new(
            "backend-health",
            Status::Error,
            format!("{url} answered HTTP {code}, {}", mismatch.evidence()),
        )
        .detail(format!("health_format = {:?}", format.name()))
        .fix(mismatch.fix()),
        Some(Reading::Opaque(why)) => Check::new(
            "backend-health",
            Status::Warn,
            format!("{url} answered HTTP {code} without a health report ({why})"),
        )
        .fix("wait for it to start, or check `backend.health_path`"),
        None => Check::new(
            "backend-health",
            Status::Error,
            format!("{url} answered HTTP {code}"),
        ),
    };
    Err(Box::new(check.data(
        json!({"code": code, "format": null, "ownership": null}),
    )))
}

/// `data` of `backend-health` for a recognised answer (README, `doctor --json`).
fn health_data(
    code: u16,
    report: &HealthReport,
    ownership: &Ownership,
    listener: Option<u32>,
) -> serde_json::Value {
    let parts: serde_json::Map<String, serde_json::Value> = report
        .parts
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                json!({"status": p.status, "error": p.error}),
            )
        })
        .collect();
    let (decided_by, ours) = match ownership {
        Ownership::Ours(evidence) => (evidence.id(), true),
        Ownership::OtherService(_) | Ownership::OtherCheckout(_) => ("health-report", false),
        Ownership::OtherUser(_) => ("socket-owner", false),
        Ownership::Foreign(_) => ("process", false),
    };
    json!({
        "code": code,
        "status": report.status,
        "format": report.form.id(),
        "service": report.service,
        "pid": listener,
        "workspace": report.workspace,
        "services": parts,
        "ownership": {"ours": ours, "decided_by": decided_by, "detail": ownership.describe()},
    })
}

/// Status, summary and fix of `backend-health` for a recognised answer.
fn health_verdict(readiness: &Readiness, pid: &str) -> (Status, String, Option<String>) {
    match readiness {
        Readiness::Ready => (Status::Ok, format!("backend pid {pid} is healthy"), None),
        Readiness::Degraded(failing) => (
            Status::Error,
            format!(
                "backend pid {pid} is degraded: {}",
                crate::health::services(failing)
            ),
            Some("fix the failing services (see the backend's log), then restart it".to_owned()),
        ),
        Readiness::NotReady(why) | Readiness::Failing { why, .. } => (
            Status::Warn,
            format!("backend pid {pid} is not ready: {why}"),
            Some("wait for it to start, or restart it with `cargo xtask dev`".to_owned()),
        ),
        Readiness::Never(mismatch) => (
            Status::Error,
            format!(
                "backend pid {pid} cannot report ready: {}",
                mismatch.evidence()
            ),
            Some(mismatch.fix()),
        ),
    }
}

fn git_hooks(cx: &Context) -> Check {
    use crate::hooks::Existing;
    let dir = match crate::git::hooks_dir(&cx.config.root) {
        Ok(dir) => dir,
        Err(why) => return no_hooks_folder(why),
    };
    if let Some(husky) = crate::hooks::husky_hook(&dir) {
        return husky_hook(cx, &dir, &husky);
    }
    let hook = dir.join("pre-commit");
    let shown = hook.display().to_string();
    match Existing::at(&hook) {
        Ok(existing) => pre_commit_hook(&existing, shown),
        Err(err) => Check::new(
            "git-hooks",
            Status::Warn,
            format!("cannot read {shown}: {err}"),
        )
        .fix(format!("make {shown} readable")),
    }
}

/// Git cannot name the hooks folder: no checkout, no git, or git refuses it.
fn no_hooks_folder(why: GitError) -> Check {
    match why {
        GitError::NotARepository(_) => Check::new("git-hooks", Status::Skip, "not a git checkout"),
        GitError::NotInstalled => Check::new("git-hooks", Status::Skip, "git is not installed"),
        // Git refuses the repository (e.g. "dubious ownership"): say so, with git's
        // own advice, rather than pretend there is none.
        why => Check::new("git-hooks", Status::Warn, "git cannot read this checkout")
            .detail(why.to_string())
            .fix("follow git's advice above, then rerun `cargo xtask doctor`"),
    }
}

/// Husky manages the hooks in `dir`: whether its editable `husky` hook runs the checks.
fn husky_hook(cx: &Context, dir: &Path, husky: &Path) -> Check {
    let shown = display_path(husky, &cx.config.root);
    match crate::user_file::read(husky) {
        Ok(bytes) if crate::hooks::runs_pre_commit(&bytes) => Check::new(
            "git-hooks",
            Status::Ok,
            format!("husky runs `cargo xtask pre-commit` ({shown})"),
        ),
        _ => Check::new(
            "git-hooks",
            Status::Warn,
            "husky manages the git hooks and does not run `cargo xtask pre-commit`",
        )
        .detail(format!(
            "{} is generated by husky; {shown} is the hook to edit",
            display_path(&dir.join("pre-commit"), &cx.config.root)
        ))
        .fix(format!("add the line `cargo xtask pre-commit` to {shown}")),
    }
}

/// The verdict on what is at the pre-commit hook's path (`shown`).
fn pre_commit_hook(existing: &crate::hooks::Existing, shown: String) -> Check {
    use crate::hooks::Existing;
    match existing {
        Existing::Missing => {
            Check::new("git-hooks", Status::Warn, "the pre-commit hook is not installed")
                .fix("cargo xtask install-hooks")
        }
        Existing::File {
            executable: false, ..
        } => Check::new(
            "git-hooks",
            Status::Warn,
            "the pre-commit hook is not executable, so git ignores it",
        )
        .detail(shown.clone())
        .fix(if existing.is_ours() {
            "cargo xtask install-hooks (it repairs the mode)".to_owned()
        } else {
            format!("chmod +x {shown}")
        }),
        Existing::File { .. } if existing.is_ours() => {
            Check::new("git-hooks", Status::Ok, "the pre-commit hook is installed")
        }
        Existing::File { .. } | Existing::Symlink { .. } => Check::new(
            "git-hooks",
            Status::Warn,
            "a pre-commit hook exists that `install-hooks` did not write",
        )
        .detail(shown)
        .fix("add `cargo xtask pre-commit` to it, or replace it: `cargo xtask install-hooks --force` (the previous hook is moved aside)"),
    }
}

fn rust_tools(_: &Context) -> Check {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustfmt = version_of("rustfmt", &["--version"]);
    let clippy = version_of(&cargo, &["clippy", "--version"]);
    let ok = |v: &Result<String, VersionError>| v.as_ref().ok().cloned();
    let data = json!({"rustfmt": ok(&rustfmt), "clippy": ok(&clippy)});
    match (&rustfmt, &clippy) {
        (Ok(fmt), Ok(clippy)) => {
            Check::new("rust-tools", Status::Ok, "rustfmt and clippy are installed")
                .detail(fmt.clone())
                .detail(clippy.clone())
                .data(data)
        }
        _ => {
            let tools = [("rustfmt", &rustfmt), ("clippy", &clippy)];
            let missing: Vec<&str> = tools
                .iter()
                .filter(|(_, v)| matches!(v, Err(VersionError::NotFound)))
                .map(|(name, _)| *name)
                .collect();
            let broken: Vec<String> = tools
                .iter()
                .filter_map(|(name, v)| match v {
                    Err(VersionError::Failed(why)) => Some(format!("{name}: {why}")),
                    _ => None,
                })
                .collect();
            let mut summary = Vec::new();
            if !missing.is_empty() {
                summary.push(format!("missing: {}", missing.join(", ")));
            }
            if !broken.is_empty() {
                summary.push("not answering: see details".to_owned());
            }
            let mut check = Check::new("rust-tools", Status::Error, summary.join("; "));
            for line in broken {
                check = check.detail(line);
            }
            check
                .fix(if missing.is_empty() {
                    "repair the Rust toolchain: `rustup update`".to_owned()
                } else {
                    format!("rustup component add {}", missing.join(" "))
                })
                .data(data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_excluded_by_markers_or_unreadable_are_named_not_counted() {
        let text = "fastapi==0.162.5 \\\n    --hash=sha256:aaaa\ntomli; python_version < \"3.11\"\n./local\n";
        let lines = requirements::parse(text);
        let installed = BTreeMap::from([("fastapi".to_owned(), "0.162.5".to_owned())]);
        let judged = judge_all(&lines, &installed, None);
        assert_eq!(judged.satisfied, 1);
        assert!(judged.missing.is_empty(), "{judged:?}");
        assert_eq!(judged.undecided, ["tomli; python_version < \"3.11\""]);
        let notes = judged.notes(Some(&"it hung".to_owned()));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(
            notes[0],
            "environment markers not evaluated (it hung): tomli; python_version < \"3.11\""
        );
        assert!(
            notes[1].starts_with("not judged (not a PEP 508 requirement): ./local: "),
            "{notes:?}"
        );
    }
}
