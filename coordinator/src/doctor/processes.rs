//! The doctor checks of each `[process.NAME]`: `process-NAME`, that its program is
//! there (found as a run would start it, from the checkout root), and, for a process
//! with a port, `process-NAME-port`: free, or who holds it, as `frontend-port` says
//! for the frontend's. There is one pair per process, so they are made here from the
//! config rather than listed in the fixed `checks::ALL`.

use std::path::Path;

use serde_json::json;

use super::{Check, CheckFn, Context, Status};
use crate::config::{Config, ProcessConfig, Source, display_path};
use crate::port::{self, PortState};

/// The checks of every process, in the config's order: its command, then its port.
pub(super) fn checks(cx: &Context) -> Vec<CheckFn> {
    let mut out: Vec<CheckFn> = Vec::new();
    for process in &cx.config.processes {
        let (context, this) = (cx.clone(), process.clone());
        out.push((
            format!("process-{}", process.name).into(),
            Box::new(move || command(&context, &this)),
        ));
        if let Some(port) = process.port {
            let (context, this) = (cx.clone(), process.clone());
            out.push((
                format!("process-{}-port", process.name).into(),
                Box::new(move || port_check(&context, &this, port)),
            ));
        }
    }
    out
}

/// `process-NAME`: the command's program exists and this user may run it, on `PATH`
/// for a bare name, else at its path from the checkout root (as the run's spawn finds
/// it: `which::which_in`, the kernel's own `access(X_OK)`).
fn command(cx: &Context, process: &ProcessConfig) -> Check {
    let id = format!("process-{}", process.name);
    let key = format!("process.{}.command", process.name);
    let argv = cx.config.expanded(&process.command);
    let Some(program) = argv.first() else {
        // No command, or an invalid one: the config check says which.
        return Check::new(
            id,
            Status::Skip,
            format!("no valid value for {key} (see the config check)"),
        )
        .data(json!({"invalid": [key]}));
    };
    let root = &cx.config.root;
    let found = crate::which::which_in(program, root);
    let data = json!({"command": argv, "program": program, "path": found});
    let shown = crate::text::shell_command(&argv);
    let at = match process.sources.get("command") {
        Some(Source::File { path, line }) => format!("{}:{line}", path.display()),
        _ => process.at.clone(),
    };
    let is_path = Path::new(program)
        .parent()
        .is_some_and(|dir| !dir.as_os_str().is_empty());
    if let Some(path) = found {
        let summary = if is_path {
            format!("`{program}` is executable")
        } else {
            format!("`{program}` is {}", display_path(&path, root))
        };
        return Check::new(id, Status::Ok, summary)
            .detail(format!("{key} ({at}): `{shown}`"))
            .data(data);
    }
    let (summary, fix) = if !is_path {
        (
            format!("`{program}` is not on PATH"),
            format!("install `{program}`, or correct `{key}` in dev.toml"),
        )
    } else if root.join(program).is_file() {
        (
            format!("`{program}` is not executable"),
            format!("make it executable (`chmod +x {program}`), or correct `{key}` in dev.toml"),
        )
    } else {
        (
            format!("`{program}` does not exist (a path is taken from the checkout root)"),
            format!("create it, or correct `{key}` in dev.toml"),
        )
    };
    Check::new(id, Status::Error, summary)
        .detail(format!("{key} ({at}): `{shown}`"))
        .detail(format!(
            "`cargo xtask dev` cannot start [process.{}] without it",
            process.name
        ))
        .fix(fix)
        .data(data)
}

/// `process-NAME-port`: not another process's port of the run, then free, or held by
/// a process that is named (its pid and command line from the socket table).
fn port_check(cx: &Context, process: &ProcessConfig, port: u16) -> Check {
    let id = format!("process-{}-port", process.name);
    let key = format!("process.{}.port", process.name);
    let whose = format!("{}'s", process.name);
    let mut data = json!({"port": port, "state": "free", "holder": null, "suggested_port": port, "same_as": null});
    if let Some(other) = same_port(&cx.config, process, port) {
        data["state"] = json!("clash");
        data["same_as"] = json!(other);
        return Check::new(
            id,
            Status::Error,
            format!("port {port} ({whose}) is also the {other}'s port"),
        )
        .detail("two processes of one run cannot listen on one port")
        .fix(format!("set another `{key}` in dev.toml"))
        .data(data);
    }
    // A live run of this checkout that runs it: on this port it is ours; on another one
    // (it was moved), said beside what this port is.
    let live = crate::runs::Runs::of(&cx.config.root)
        .read_all()
        .into_iter()
        .filter(crate::runs::Record::is_live)
        .find_map(|run| {
            let shown = run
                .processes
                .iter()
                .find(|p| p.role == process.name)?
                .clone();
            Some((run, shown))
        });
    let elsewhere = live.as_ref().and_then(|(run, shown)| {
        let moved = shown.port.filter(|p| *p != port)?;
        Some(format!(
            "the live dev run {} runs {} on port {moved}",
            run.correlation_id, process.name
        ))
    });
    if let Some((run, shown)) = &live
        && shown.port == Some(port)
    {
        data["state"] = json!("ours");
        let pid = shown
            .pid
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        return Check::new(
            id,
            Status::Ok,
            format!(
                "port {port} ({whose}) is {}{pid} of the live dev run {} (dev pid {})",
                process.name, run.correlation_id, run.pid
            ),
        )
        .data(data);
    }
    if port::is_free(port) {
        let check = Check::new(id, Status::Ok, format!("port {port} ({whose}) is free")).data(data);
        return match elsewhere {
            Some(said) => check.detail(said),
            None => check,
        };
    }
    let lookup = crate::holder::lookup(port);
    if let Some(holder) = lookup.holder() {
        data["holder"] = json!({"pid": holder.pid, "name": holder.name, "cmdline": holder.cmdline});
    }
    let taken = ports_of_the_run(&cx.config);
    let suggested = port::free_instead(port).filter(|p| !taken.contains(p));
    data["state"] = json!("foreign");
    data["suggested_port"] = json!(suggested);
    let state = PortState::Foreign {
        detail: format!("{whose} port, `{key}`"),
        holder: lookup,
    };
    let instead = suggested.map_or_else(
        || "no free port was found above it".to_owned(),
        |p| format!("it would use port {p}"),
    );
    let check = Check::new(id, Status::Error, state.describe(port))
        .fix(format!(
            "stop that process, or run `cargo xtask dev --yes`, which takes a free port ({instead}), or set another `{key}` in dev.toml"
        ))
        .data(data);
    match elsewhere {
        Some(said) => check.detail(said),
        None => check,
    }
}

/// Who else of the run has `port` (`backend`, `frontend`, `process worker`), if anyone:
/// a port the backend's or frontend's setting holds no valid value for is not compared,
/// nor the backend's when `backend.url` means dev starts none.
fn same_port(config: &Config, process: &ProcessConfig, port: u16) -> Option<String> {
    let backend = (config.backend.url.is_none() && !config.is_invalid("backend.port"))
        .then_some(config.backend.port);
    let frontend = config
        .frontend
        .port
        .filter(|_| !config.is_invalid("frontend.port"));
    if backend == Some(port) {
        return Some("backend".into());
    }
    if frontend == Some(port) {
        return Some("frontend".into());
    }
    config
        .processes
        .iter()
        .find(|other| other.name != process.name && other.port == Some(port))
        .map(|other| format!("process {}", other.name))
}

/// The ports the run's other servers are configured to: never offered instead.
fn ports_of_the_run(config: &Config) -> Vec<u16> {
    let mut ports = vec![config.backend.port];
    ports.extend(config.frontend.port);
    ports.extend(config.processes.iter().filter_map(|p| p.port));
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_of_the_backend_the_frontend_or_another_process_is_named() {
        let config = |rest: &str| {
            Config::from_text(
                Path::new("/app"),
                "dev.toml",
                &format!(
                    "[backend]\nport = 8000\n[frontend]\ncommand = [\"f\"]\nport = 5173\n{rest}"
                ),
            )
            .expect("a valid config")
        };
        // A clash is a config error since it is checked on load; doctor still reads
        // such a config (`load_partial`), as these ports stand for.
        let cases = [
            (8000, Some("backend")),
            (5173, Some("frontend")),
            (6380, Some("process cache")),
            (6379, None),
        ];
        for (port, expected) in cases {
            let text = "[process.redis]\ncommand = [\"r\"]\nport = 6379\n[process.cache]\ncommand = [\"c\"]\nport = 6380\n";
            let mut config = config(text);
            config.processes[0].port = Some(port);
            let redis = &config.processes[0];
            let found = same_port(&config, redis, port);
            assert_eq!(found.as_deref(), expected, "{port}");
        }
        let remote = Config::from_text(
            Path::new("/app"),
            "dev.toml",
            "[backend]\nport = 8000\nurl = \"https://api.example.com\"\n[process.redis]\ncommand = [\"r\"]\nport = 8000\n",
        )
        .expect("a valid config");
        assert_eq!(same_port(&remote, &remote.processes[0], 8000), None);
    }
}
