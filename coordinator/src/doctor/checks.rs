//! The checks of `doctor`, one function each. To add one, write a function
//! `fn(&Context) -> Check` here and list it in [`ALL`] (see CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::{Check, Context, Status};
use crate::config::{Source, display_path};
use crate::exec::Cmd;
use crate::frontend_config;
use crate::git::GitError;
use crate::health::{self, HealthClient, HealthFormat, HealthReport, Probe, Readiness, Reading};
use crate::ownership::{self, Ownership};
use crate::port::{self, PortState};
use crate::python;

/// A check: its stable id and the function that runs it.
pub type Entry = (&'static str, fn(&Context) -> Check);

/// Every check, in the order the report lists them.
pub const ALL: &[Entry] = &[
    ("config", config),
    ("python", python),
    ("backend-deps", backend_deps),
    ("node", node),
    ("frontend-config", frontend_config),
    ("port", port),
    ("backend-health", backend_health),
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
                cx.config.frontend.command.join(" ")
            ))
            .data(json!({"file": shown})),
    }
}

/// A `skip` when a setting the check needs has an invalid value: the check would
/// otherwise run on the default and give advice that breaks the app.
fn needs(cx: &Context, id: &'static str, keys: &[&str]) -> Option<Check> {
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
        .data(json!({"invalid": invalid}))
    })
}

fn python(_: &Context) -> Check {
    match python::discover() {
        Ok(found) => Check::new(
            "python",
            Status::Ok,
            format!("Python {} ({})", found.version_text(), found.argv.join(" ")),
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

fn backend_deps(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "backend-deps",
        &["backend.requirements", "backend.venv"],
    ) {
        return skip;
    }
    let backend = &cx.config.backend;
    let root = &cx.config.root;
    let shown_req = display_path(&backend.requirements, root);
    let shown_venv = display_path(&backend.venv, root);
    if !backend.requirements.is_file() {
        return Check::new("backend-deps", Status::Skip, format!("no {shown_req}"));
    }
    // Includes (`-r base.txt`) are requirements too; constraints (`-c`) install nothing.
    let text: String = crate::venv::requirement_files(&backend.requirements)
        .into_iter()
        .filter(|file| !file.constraint)
        .filter_map(|file| file.text)
        .collect::<Vec<_>>()
        .join("\n");
    let interpreter = python::venv_python(&backend.venv);
    let shown_python = display_path(&interpreter, root);
    if std::fs::symlink_metadata(&interpreter).is_ok() && !interpreter.exists() {
        let target = std::fs::read_link(&interpreter)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return Check::new(
            "backend-deps",
            Status::Error,
            format!("the venv's interpreter {shown_python} is a broken link"),
        )
        .detail(format!(
            "it points to {target}, which no longer exists (the Python the venv was made from was removed or upgraded)"
        ))
        .fix(format!(
            "delete {shown_venv} and run `cargo xtask dev`, which recreates it"
        ));
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
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    let mut satisfied = 0;
    for requirement in text.lines().filter_map(parse_requirement) {
        match installed.get(&requirement.name) {
            None => missing.push(requirement.text.clone()),
            Some(version) if !requirement.satisfied_by(version) => {
                mismatched.push(format!("{} (installed {version})", requirement.text));
            }
            Some(_) => satisfied += 1,
        }
    }
    let data = json!({"missing": missing, "mismatched": mismatched, "venv": shown_venv});
    if missing.is_empty() && mismatched.is_empty() {
        let check = Check::new(
            "backend-deps",
            Status::Ok,
            format!("{satisfied} requirements satisfied in {shown_venv}"),
        );
        return if crate::venv::is_up_to_date(backend) {
            check.data(data)
        } else {
            Check::new(
                "backend-deps",
                Status::Warn,
                format!("{shown_req} changed since the last sync"),
            )
            .fix("run `cargo xtask dev`, which syncs the venv")
            .data(data)
        };
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
    check
        .fix(format!(
            "run `cargo xtask dev --resync` (it reinstalls the requirements), or `{shown_python} -m pip install -r {shown_req}`"
        ))
        .data(data)
}

/// One `name<op>version` line of a requirements file.
#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    text: String,
    name: String,
    specs: Vec<(String, String)>,
}

fn parse_requirement(line: &str) -> Option<Requirement> {
    let line = line.split(" #").next()?.split(';').next()?.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
        return None;
    }
    let name_end = line
        .find(|c: char| "<>=!~[ ".contains(c))
        .unwrap_or(line.len());
    let name = normalise(&line[..name_end]);
    let rest = line[name_end..].trim();
    let rest = match rest.strip_prefix('[') {
        Some(extras) => extras.split_once(']').map_or("", |(_, after)| after),
        None => rest,
    };
    let specs = rest
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|spec| {
            let op_end = spec.find(|c: char| !"<>=!~".contains(c))?;
            Some((spec[..op_end].to_owned(), spec[op_end..].trim().to_owned()))
        })
        .collect();
    Some(Requirement {
        text: line.to_owned(),
        name,
        specs,
    })
}

impl Requirement {
    fn satisfied_by(&self, installed: &str) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        self.specs.iter().all(|(op, wanted)| {
            let order = compare_versions(installed, wanted);
            match op.as_str() {
                "==" | "===" => wanted
                    .strip_suffix(".*")
                    .map_or(order == Equal, |prefix| installed.starts_with(prefix)),
                "!=" => order != Equal,
                ">=" => order != Less,
                "<=" => order != Greater,
                ">" => order == Greater,
                "<" => order == Less,
                "~=" => order != Less,
                _ => true,
            }
        })
    }
}

/// Numeric comparison of dotted versions (`0.10.2` > `0.9`); non-numeric parts compare
/// as text. Pre-release rules are not modelled: pins in requirements are exact.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<String> { v.split('.').map(str::to_owned).collect() };
    let (a, b) = (parts(a), parts(b));
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).map_or("0", String::as_str);
        let y = b.get(i).map_or("0", String::as_str);
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order.is_ne() {
            return order;
        }
    }
    std::cmp::Ordering::Equal
}

/// PEP 503 name normalisation: lower case, runs of `-_.` become `-`.
fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
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
                    Some((normalise(package), version.to_owned()))
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
                cx.config.frontend.command.join(" ")
            ))
            .fix("install Node 18 or newer (https://nodejs.org)"),
        Err(VersionError::NotFound) => Check::new(
            "node",
            Status::Skip,
            "node not found; the frontend does not use it",
        ),
    }
}

fn frontend_config(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "frontend-config",
        &["backend.port", "frontend.config_file", "frontend.port_key"],
    ) {
        return skip;
    }
    let config = &cx.config;
    let shown = display_path(&config.frontend.config_file, &config.root);
    let key = &config.frontend.port_key;
    if !config.frontend.config_file.exists() {
        return Check::new(
            "frontend-config",
            Status::Error,
            format!("{shown} does not exist"),
        )
        .fix("create it, or correct `frontend.config_file` in dev.toml");
    }
    match frontend_config::read(&config.frontend.config_file, &shown, key) {
        Ok(Some(value)) => frontend_port(cx, &shown, key, &value),
        Ok(None) => Check::new(
            "frontend-config",
            Status::Error,
            format!("{shown} has no `{key}`"),
        )
        .fix(format!(
            "add `{key}` to it, or set `frontend.port_key` in dev.toml"
        )),
        Err(err) => Check::new(
            "frontend-config",
            Status::Error,
            format!("{shown} cannot be parsed"),
        )
        .detail(format!("{}: {}", err.location, err.message))
        .fix(err.fix),
    }
}

/// The frontend config's port `value` (at `key` in `shown`) against the backend
/// port: the same, set for now by a live dev run, or a mismatch.
fn frontend_port(cx: &Context, shown: &str, key: &str, value: &str) -> Check {
    let backend_port = cx.config.backend.port;
    let port_source = port_source(cx.config.source("backend.port"));
    let data = json!({"file": shown, "key": key, "value": value, "backend_port": backend_port});
    if value == backend_port.to_string() {
        return Check::new(
            "frontend-config",
            Status::Ok,
            format!("{shown} {key} = {value}, the backend port"),
        )
        .data(data);
    }
    if let Some(run) = super::runs::live_writer(cx, value) {
        let mut data = data;
        data["live_run"] = json!(run.correlation_id);
        return Check::new(
            "frontend-config",
            Status::Ok,
            format!(
                "{shown} {key} = {value}: set for now by the live dev run {} (pid {}), which puts it back when it stops",
                run.correlation_id, run.pid
            ),
        )
        .detail(format!("{port_source} backend.port = {backend_port}"))
        .data(data);
    }
    Check::new(
        "frontend-config",
        Status::Error,
        format!("{shown} says {key} = {value}, but {port_source} backend.port = {backend_port}"),
    )
    .detail("the frontend would talk to a port the backend does not listen on")
    .fix(format!(
        "set {key} to {backend_port} in {shown} (or run `cargo xtask dev`, which writes it)"
    ))
    .data(data)
}

/// Names the layer a setting came from, as the subject of a sentence: dev.toml, or
/// an override.
fn port_source(source: &Source) -> String {
    match source {
        Source::File { path, .. } => format!("{} says", path.display()),
        Source::Env(var) => format!("env {var} sets"),
        Source::Flag(flag) => format!("flag {flag} sets"),
        Source::Default => "the default is".to_owned(),
    }
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
    let backend = &config.backend;
    let port = backend.port;
    let url = format!("{}{}", config.backend_url(), backend.health_path);
    let client = HealthClient::new(
        backend
            .health_timeout
            .min(std::time::Duration::from_secs(1)),
    );
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
        _ => port::next_free(port),
    };
    let data = json!({
        "port": port,
        "state": state.kind(),
        "holder": holder,
        "suggested_port": suggested,
    });
    let described = state.describe(port);
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
    let client = HealthClient::new(
        backend
            .health_timeout
            .min(std::time::Duration::from_secs(2)),
    );
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
    let pid = report
        .pid
        .or(match &ownership {
            Ownership::Ours(evidence) => evidence.pid(),
            _ => None,
        })
        .map_or_else(|| "?".to_owned(), |p| p.to_string());
    let mut lines = vec![
        format!(
            "format: {} (health_format = {:?})",
            report.form.name(),
            format.name()
        ),
        format!("ownership: {}", ownership.describe()),
    ];
    lines.extend(report.parts.iter().map(|p| match &p.error {
        Some(error) => format!("{}: {} ({error})", p.name, p.status),
        None => format!("{}: {}", p.name, p.status),
    }));
    let (status, summary, fix) = health_verdict(&health::readiness(&probe, format, false), &pid);
    let mut check =
        Check::new("backend-health", status, summary).data(health_data(code, &report, &ownership));
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
fn health_data(code: u16, report: &HealthReport, ownership: &Ownership) -> serde_json::Value {
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
        Ownership::Foreign(_) => ("process", false),
    };
    json!({
        "code": code,
        "status": report.status,
        "format": report.form.id(),
        "service": report.service,
        "pid": report.pid,
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
                crate::report::services(failing)
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
    match std::fs::read(husky) {
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
    fn requirements_parse_and_compare() {
        let r = parse_requirement("Uvicorn[standard]==0.54.0  # server").expect("parsed");
        assert_eq!(r.name, "uvicorn");
        assert!(r.satisfied_by("0.54.0"));
        assert!(!r.satisfied_by("0.53.9"));
        let r = parse_requirement("typing_extensions>=4.10,<5").expect("parsed");
        assert_eq!(r.name, "typing-extensions");
        assert!(r.satisfied_by("4.12.2"));
        assert!(!r.satisfied_by("4.9"));
        assert!(!r.satisfied_by("5.0"));
        assert_eq!(parse_requirement("# comment"), None);
        assert_eq!(parse_requirement("-r other.txt"), None);
        assert!(compare_versions("0.10.2", "0.9").is_gt());
    }
}
