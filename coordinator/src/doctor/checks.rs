//! The checks of DESIGN section 8, one function each. To add one, write a function
//! `fn(&Context) -> Check` here and list it in [`ALL`] (see CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::{Check, Context, Status};
use crate::config::{Source, display_path};
use crate::frontend_config;
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
    match (&cx.config_error, &cx.config.file) {
        (Some(err), _) => {
            let mut check = Check::new(
                "config",
                Status::Error,
                format!("{shown} is invalid ({} problems)", err.problems.len()),
            );
            for problem in &err.problems {
                check = check.detail(format!("{}: {}", problem.location, problem.message));
            }
            let fix = err
                .problems
                .first()
                .map(|p| p.fix.clone())
                .unwrap_or_default();
            check.fix(fix).data(json!({"file": shown}))
        }
        (None, Some(_)) => Check::new("config", Status::Ok, format!("{shown} is valid"))
            .detail(format!(
                "backend on {}:{}, frontend `{}`",
                cx.config.backend.host,
                cx.config.backend.port,
                cx.config.frontend.command.join(" ")
            ))
            .data(json!({"file": shown})),
        (None, None) => Check::new("config", Status::Warn, "no dev.toml: using the defaults")
            .fix("create dev.toml at the checkout root (see README.md)"),
    }
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
    let backend = &cx.config.backend;
    let root = &cx.config.root;
    let shown_req = display_path(&backend.requirements, root);
    let shown_venv = display_path(&backend.venv, root);
    let Ok(text) = std::fs::read_to_string(&backend.requirements) else {
        return Check::new("backend-deps", Status::Skip, format!("no {shown_req}"));
    };
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
            .fix("run `cargo xtask dev` to sync the venv")
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
            "run `cargo xtask dev` (it syncs the venv), or `{} -m pip install -r {shown_req}`",
            display_path(&python::venv_python(&backend.venv), root)
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

fn node(cx: &Context) -> Check {
    let uses_node = cx.config.frontend.command.first().is_some_and(|program| {
        ["node", "npm", "npx", "yarn", "pnpm", "electron"].contains(&program.as_str())
    });
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    match version {
        Some(version) => {
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
                Check::new(
                    "node",
                    Status::Error,
                    format!("Node {version} is older than 18"),
                )
                .fix("install Node 18 or newer (https://nodejs.org)")
                .data(json!({"version": version}))
            }
        }
        None if uses_node => Check::new("node", Status::Error, "node is not on PATH")
            .detail(format!(
                "the frontend command is `{}`",
                cx.config.frontend.command.join(" ")
            ))
            .fix("install Node 18 or newer (https://nodejs.org)"),
        None => Check::new(
            "node",
            Status::Skip,
            "node not found; the frontend does not use it",
        ),
    }
}

fn frontend_config(cx: &Context) -> Check {
    let config = &cx.config;
    let shown = display_path(&config.frontend.config_file, &config.root);
    let key = &config.frontend.port_key;
    // Name the layer the backend port came from: dev.toml, or an override.
    let port_source = match config.source("backend.port") {
        Source::File { path, .. } => format!("{} says", path.display()),
        Source::Env(var) => format!("env {var} sets"),
        Source::Flag(flag) => format!("flag {flag} sets"),
        Source::Default => "the default is".to_owned(),
    };
    if !config.frontend.config_file.exists() {
        return Check::new(
            "frontend-config",
            Status::Error,
            format!("{shown} does not exist"),
        )
        .fix("create it, or correct `frontend.config_file` in dev.toml");
    }
    let value = match frontend_config::read(&config.frontend.config_file, &shown, key) {
        Ok(Some(value)) => value,
        Ok(None) => {
            return Check::new(
                "frontend-config",
                Status::Error,
                format!("{shown} has no `{key}`"),
            )
            .fix(format!(
                "add `{key}` to it, or set `frontend.port_key` in dev.toml"
            ));
        }
        Err(err) => {
            return Check::new(
                "frontend-config",
                Status::Error,
                format!("{shown} cannot be parsed"),
            )
            .detail(format!("{}: {}", err.location, err.message))
            .fix(err.fix);
        }
    };
    let backend_port = config.backend.port;
    let data = json!({"file": shown, "key": key, "value": value, "backend_port": backend_port});
    if value == backend_port.to_string() {
        return Check::new(
            "frontend-config",
            Status::Ok,
            format!("{shown} {key} = {value}, the backend port"),
        )
        .data(data);
    }
    if let Some(run) = super::runs::live_writer(cx, &value) {
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

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    Some(runtime.block_on(future))
}

fn port(cx: &Context) -> Check {
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
    let next = suggested.map_or_else(String::new, |p| p.to_string());
    match state {
        PortState::Free => Check::new("port", Status::Ok, described),
        PortState::Reusable(_) => {
            Check::new("port", Status::Ok, described).detail("`cargo xtask dev` will reuse it")
        }
        PortState::Stale { .. } => Check::new("port", Status::Warn, described).fix(format!(
            "`cargo xtask dev --yes` stops it, or `cargo xtask dev --port auto` uses port {next}"
        )),
        PortState::OtherCheckout { .. } | PortState::Foreign { .. } => {
            Check::new("port", Status::Error, described).fix(format!(
                "stop that process, or run `cargo xtask dev --port auto` (uses port {next})"
            ))
        }
    }
    .data(data)
}

fn backend_health(cx: &Context) -> Check {
    let config = &cx.config;
    let backend = &config.backend;
    let format = backend.health_format;
    let url = format!("{}{}", config.backend_url(), backend.health_path);
    // With `backend.url`, the URL's host and `backend.ca_file`: as `dev` asks.
    let trust = std::sync::Arc::new(health::tls::Trust::new(backend.ca_file.clone()));
    let client = HealthClient::with_trust(
        backend
            .health_timeout
            .min(std::time::Duration::from_secs(2)),
        trust,
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
    let Some(dir) = super::hooks_dir(&cx.config.root) else {
        return Check::new("git-hooks", Status::Skip, "not a git checkout");
    };
    let hook = dir.join("pre-commit");
    match std::fs::read_to_string(&hook) {
        Ok(text) if text.contains(crate::hooks::MARKER) => {
            Check::new("git-hooks", Status::Ok, "the pre-commit hook is installed")
        }
        Ok(_) => Check::new(
            "git-hooks",
            Status::Warn,
            "a pre-commit hook exists that `install-hooks` did not write",
        )
        .detail(format!("{}", hook.display()))
        .fix("add `cargo xtask pre-commit` to it, or replace it: `cargo xtask install-hooks --force`"),
        Err(_) => Check::new("git-hooks", Status::Warn, "the pre-commit hook is not installed")
            .fix("cargo xtask install-hooks"),
    }
}

fn rust_tools(_: &Context) -> Check {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let rustfmt = version("rustfmt", &["--version"]);
    let clippy = version(&cargo, &["clippy", "--version"]);
    let data = json!({"rustfmt": rustfmt, "clippy": clippy});
    match (&rustfmt, &clippy) {
        (Some(fmt), Some(clippy)) => {
            Check::new("rust-tools", Status::Ok, "rustfmt and clippy are installed")
                .detail(fmt.clone())
                .detail(clippy.clone())
                .data(data)
        }
        _ => {
            let missing: Vec<&str> = [("rustfmt", &rustfmt), ("clippy", &clippy)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(name, _)| *name)
                .collect();
            Check::new(
                "rust-tools",
                Status::Error,
                format!("missing: {}", missing.join(", ")),
            )
            .fix(format!("rustup component add {}", missing.join(" ")))
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
