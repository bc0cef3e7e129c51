//! The doctor checks about the frontend: its config file against the backend (every
//! key dev writes, a URL by its host and port), its port (`frontend-port`: who holds
//! it, as `port` says for the backend's), and its Node packages (`node-deps`: what
//! `package.json` asks for is in `node_modules`).

use serde_json::json;

use super::{Check, Context, Status, needs, port_source};
use crate::config::display_path;
use crate::frontend_config;
use crate::health;

pub(super) fn frontend_config(cx: &Context) -> Check {
    if let Some(skip) = needs(
        cx,
        "frontend-config",
        &["backend.port", "frontend.config_file", "frontend.port_key"],
    ) {
        return skip;
    }
    let config = &cx.config;
    let file = &config.frontend.config_file;
    let shown = display_path(file, &config.root);
    if !file.exists() {
        return missing_config(cx, &shown);
    }
    // Every key dev writes is what the app may read: each one is checked.
    let mut keys = vec![config.frontend.port_key.clone()];
    keys.extend(config.frontend.url_key.clone());
    let mut values = Vec::new();
    for key in keys {
        match frontend_config::read(file, &shown, &key) {
            Ok(Some(value)) => values.push((key, value)),
            Ok(None) => {
                let setting = if key == config.frontend.port_key {
                    "set `frontend.port_key`"
                } else {
                    "correct `frontend.url_key`"
                };
                return Check::new(
                    "frontend-config",
                    Status::Error,
                    format!("{shown} has no `{key}`"),
                )
                .fix(format!("add `{key}` to it, or {setting} in dev.toml"));
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
        }
    }
    frontend_values(cx, &shown, &values)
}

/// A frontend config that does not exist: a `.env` file dev creates for each run (a
/// fresh clone of an app that gitignores it) is a warning, anything else an error.
fn missing_config(cx: &Context, shown: &str) -> Check {
    let config = &cx.config;
    let env = frontend_config::Format::of(&config.frontend.config_file)
        == Some(frontend_config::Format::Env);
    if !env {
        return Check::new(
            "frontend-config",
            Status::Error,
            format!("{shown} does not exist"),
        )
        .fix("create it, or correct `frontend.config_file` in dev.toml");
    }
    let key = config
        .frontend
        .url_key
        .as_ref()
        .unwrap_or(&config.frontend.port_key);
    let lower = key.to_ascii_lowercase();
    let value = if lower.ends_with("url") || lower.ends_with("uri") {
        config.backend_url()
    } else {
        config.backend.port.to_string()
    };
    Check::new(
        "frontend-config",
        Status::Warn,
        format!("{shown} does not exist"),
    )
    .detail("`cargo xtask dev` creates it for each run and removes it after; the frontend started without dev has no backend address")
    .fix(format!("create it holding `{key}={value}` (it is gitignored, so each clone needs its own)"))
    .data(json!({"file": shown, "key": key, "exists": false}))
}

/// What a value at a key dev writes says against the backend: right, set for now by a
/// live dev run, or wrong (summary, the value that would be right).
enum Verdict {
    Right,
    /// Why, and the run's correlation ID.
    LiveRun(String, String),
    Wrong {
        summary: String,
        right: String,
    },
}

/// Judges one value: a URL by its host and port, anything else as the port number.
fn judge_value(cx: &Context, shown: &str, key: &str, value: &str) -> Verdict {
    let backend = &cx.config.backend;
    let backend_port = backend.port;
    let source = port_source(cx.config.source("backend.port"));
    let is_url_key = cx.config.frontend.url_key.as_deref() == Some(key);
    let (host, port) = match frontend_config::url::address(value) {
        Some((host, port)) => (Some(host), port),
        None if is_url_key => {
            return Verdict::Wrong {
                summary: format!("{shown} says {key} = {value}, which is not a URL"),
                right: cx.config.backend_url(),
            };
        }
        None => (None, value.parse::<u16>().ok()),
    };
    let right = || match &host {
        Some(_) => frontend_config::url::with_address(
            value,
            health::probe_host(&backend.host),
            backend_port,
        )
        .unwrap_or_else(|| cx.config.backend_url()),
        None => backend_port.to_string(),
    };
    let port_text = port.map(|p| p.to_string()).unwrap_or_default();
    let live = |port_text: &str| -> Option<(String, String)> {
        if let Some((run, configured)) = &cx.moved_by
            && port_text == backend_port.to_string()
        {
            return Some((
                format!(
                    "set for now by the live dev run {run}, which puts it back when it stops (dev.toml says backend.port = {configured})"
                ),
                run.clone(),
            ));
        }
        super::runs::live_writer(cx, port_text).map(|run| {
            (
                format!(
                    "set for now by the live dev run {} (pid {}), which puts it back when it stops",
                    run.correlation_id, run.pid
                ),
                run.correlation_id,
            )
        })
    };
    if let Some(host) = &host
        && !frontend_config::url::same_place(host, health::probe_host(&backend.host))
        && !frontend_config::url::same_place(host, &backend.host)
    {
        return Verdict::Wrong {
            summary: format!(
                "{shown} says {key} = {value}, but the backend's host is {}",
                backend.host
            ),
            right: right(),
        };
    }
    if port == Some(backend_port) && cx.moved_by.is_none() {
        return Verdict::Right;
    }
    if let Some((why, run)) = live(&port_text) {
        return Verdict::LiveRun(why, run);
    }
    if port == Some(backend_port) {
        return Verdict::Right;
    }
    Verdict::Wrong {
        summary: format!(
            "{shown} says {key} = {value}, but {source} backend.port = {backend_port}"
        ),
        right: right(),
    }
}

/// The values at the keys dev writes (`(key, value)`), against the backend: each must
/// point at it, or be set for now by a live dev run.
fn frontend_values(cx: &Context, shown: &str, values: &[(String, String)]) -> Check {
    let backend_port = cx.config.backend.port;
    let (key, value) = values
        .first()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unwrap_or_default();
    let all: serde_json::Map<String, serde_json::Value> =
        values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut data = json!({"file": shown, "key": key, "value": value, "backend_port": backend_port, "values": all});
    let verdicts: Vec<(&str, &str, Verdict)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str(), judge_value(cx, shown, k, v)))
        .collect();
    let wrong: Vec<(&str, &String, &String)> = verdicts
        .iter()
        .filter_map(|(k, _, verdict)| match verdict {
            Verdict::Wrong { summary, right } => Some((*k, summary, right)),
            _ => None,
        })
        .collect();
    if let Some((_, summary, _)) = wrong.first() {
        let mut check = Check::new("frontend-config", Status::Error, (*summary).clone())
            .detail("the frontend would talk to a port the backend does not listen on");
        for (_, other, _) in wrong.iter().skip(1) {
            check = check.detail((*other).clone());
        }
        let sets: Vec<String> = wrong
            .iter()
            .map(|(k, _, right)| format!("set {k} to {right}"))
            .collect();
        return check
            .fix(format!(
                "{} in {shown} (or run `cargo xtask dev`, which writes it)",
                sets.join(" and ")
            ))
            .data(data);
    }
    let live = verdicts.iter().find_map(|(_, _, v)| match v {
        Verdict::LiveRun(why, run) => Some((why, run)),
        _ => None,
    });
    let shown_values: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    if let Some((why, run)) = live {
        data["live_run"] = json!(run);
        return Check::new(
            "frontend-config",
            Status::Ok,
            format!("{shown} {}: {why}", shown_values.join(", ")),
        )
        .data(data);
    }
    let what = if values.len() == 1 && frontend_config::url::address(value).is_none() {
        "the backend port"
    } else {
        "the backend's address"
    };
    Check::new(
        "frontend-config",
        Status::Ok,
        format!("{shown} {}, {what}", shown_values.join(", ")),
    )
    .data(data)
}

/// The frontend's port: free, the frontend of a live dev run of this checkout, or
/// held by another process (named, as the `port` check names the backend's holder).
pub(super) fn frontend_port(cx: &Context) -> Check {
    if let Some(skip) = needs(cx, "frontend-port", &["frontend.port", "backend.port"]) {
        return skip;
    }
    let Some(port) = cx.config.frontend.port else {
        return Check::new(
            "frontend-port",
            Status::Skip,
            "frontend.port = false: the frontend is not a server",
        );
    };
    let backend = cx.config.backend.port;
    let mut data = json!({"port": port, "state": "free", "holder": null, "suggested_port": port});
    if port == backend {
        return Check::new(
            "frontend-port",
            Status::Error,
            format!("the frontend's port {port} is the backend's port"),
        )
        .fix("set another `frontend.port` in dev.toml, or run `cargo xtask dev --frontend-port auto`")
        .data(data);
    }
    if crate::port::is_free(port) {
        return Check::new(
            "frontend-port",
            Status::Ok,
            format!("port {port} (the frontend's) is free"),
        )
        .data(data);
    }
    let live = crate::runs::Runs::of(&cx.config.root)
        .read_all()
        .into_iter()
        .filter(crate::runs::Record::is_live)
        .find(|run| run.frontend_port == Some(port));
    if let Some(run) = live {
        data["state"] = json!("ours");
        return Check::new(
            "frontend-port",
            Status::Ok,
            match run.started.iter().find(|s| s.role == "frontend") {
                Some(frontend) => format!(
                    "port {port} (the frontend's) is the frontend (pid {}) of the live dev run {} (dev pid {})",
                    frontend.pid, run.correlation_id, run.pid
                ),
                None => format!(
                    "port {port} (the frontend's) is the frontend of the live dev run {} (dev pid {})",
                    run.correlation_id, run.pid
                ),
            },
        )
        .data(data);
    }
    let lookup = crate::holder::lookup(port);
    if let Some(holder) = lookup.holder() {
        data["holder"] = json!({"pid": holder.pid, "name": holder.name, "cmdline": holder.cmdline});
    }
    let suggested = crate::port::free_instead(port).filter(|p| *p != backend);
    data["state"] = json!("foreign");
    data["suggested_port"] = json!(suggested);
    let state = crate::port::PortState::Foreign {
        detail: "the frontend's port, `frontend.port`".into(),
        holder: lookup,
    };
    let instead = suggested.map_or_else(
        || "no free port was found above it".to_owned(),
        |p| format!("uses port {p}"),
    );
    Check::new("frontend-port", Status::Error, state.describe(port))
        .fix(format!(
            "stop that process, or run `cargo xtask dev --frontend-port auto` ({instead})"
        ))
        .data(data)
}

/// The folder of the frontend's `package.json`: the one holding the frontend config,
/// a `--prefix` folder of its command, or the checkout.
fn package_dir(cx: &Context) -> Option<std::path::PathBuf> {
    let config = &cx.config;
    let command = &config.frontend.command;
    let prefix = command
        .iter()
        .position(|arg| arg == "--prefix" || arg == "-C" || arg == "--cwd" || arg == "--dir")
        .and_then(|i| command.get(i + 1))
        .map(|dir| config.root.join(dir));
    let candidates = [
        prefix,
        config
            .frontend
            .config_file
            .parent()
            .map(std::path::Path::to_path_buf),
        Some(config.root.clone()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("package.json").is_file())
}

/// Whether Node finds package `name` from `dir`: `node_modules/<name>` in `dir` or a
/// folder above it, up to the checkout (workspaces hoist packages to the top).
fn installed(name: &str, dir: &std::path::Path, root: &std::path::Path) -> bool {
    let mut current = Some(dir);
    while let Some(folder) = current {
        if folder
            .join("node_modules")
            .join(name)
            .join("package.json")
            .is_file()
        {
            return true;
        }
        if folder == root {
            break;
        }
        current = folder.parent();
    }
    false
}

/// The command that installs what the lock file pins (`npm ci`), or, without one,
/// what `package.json` asks for.
fn install_command(dir: &std::path::Path) -> &'static str {
    if dir.join("package-lock.json").is_file() || dir.join("npm-shrinkwrap.json").is_file() {
        "npm ci"
    } else if dir.join("pnpm-lock.yaml").is_file() {
        "pnpm install --frozen-lockfile"
    } else if dir.join("yarn.lock").is_file() {
        "yarn install --frozen-lockfile"
    } else {
        "npm install"
    }
}

/// The packages of the frontend's `package.json` (dependencies and devDependencies)
/// are in `node_modules`: without them the dev server does not start (`npx` asks, or
/// fails with "canceled due to missing packages").
pub(super) fn node_deps(cx: &Context) -> Check {
    let Some(dir) = package_dir(cx) else {
        return Check::new(
            "node-deps",
            Status::Skip,
            "no package.json for the frontend",
        );
    };
    let root = &cx.config.root;
    let manifest = dir.join("package.json");
    let shown = display_path(&manifest, root);
    let parsed = crate::user_file::read(&manifest)
        .map_err(|err| err.to_string())
        .and_then(|bytes| {
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|err| err.to_string())
        });
    let manifest_json = match parsed {
        Ok(value) => value,
        Err(err) => {
            return Check::new(
                "node-deps",
                Status::Error,
                format!("{shown} cannot be read"),
            )
            .detail(err)
            .fix(format!("correct the JSON of {shown}"));
        }
    };
    let mut wanted: Vec<String> = Vec::new();
    for section in ["dependencies", "devDependencies"] {
        if let Some(deps) = manifest_json.get(section).and_then(|d| d.as_object()) {
            wanted.extend(deps.keys().cloned());
        }
    }
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| !installed(name, &dir, root))
        .collect();
    let install = install_command(&dir);
    let data = json!({"package_json": shown, "packages": wanted.len(), "missing": missing, "install": install});
    if missing.is_empty() {
        return Check::new(
            "node-deps",
            Status::Ok,
            format!("{shown}: {} installed", all(wanted.len())),
        )
        .data(data);
    }
    let names: Vec<String> = missing
        .iter()
        .map(|name| crate::text::printable(name))
        .collect();
    let folder = display_path(&dir, root);
    let fix = if dir == *root {
        install.to_owned()
    } else {
        format!(
            "cd {} && {install}",
            crate::text::shell_command(&[folder.as_str()])
        )
    };
    Check::new(
        "node-deps",
        Status::Error,
        format!(
            "{shown}: {} of {} not installed: {}",
            missing.len(),
            packages(wanted.len()),
            names.join(", ")
        ),
    )
    .detail("the frontend's dev server cannot start without them")
    .fix(fix)
    .data(data)
}

/// "1 package", "3 packages".
fn packages(n: usize) -> String {
    if n == 1 {
        "1 package".into()
    } else {
        format!("{n} packages")
    }
}

/// "the 1 package", "all 3 packages".
fn all(n: usize) -> String {
    if n == 1 {
        "its 1 package".into()
    } else {
        format!("all {n} packages")
    }
}
