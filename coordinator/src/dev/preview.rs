//! `dev --print-config`'s second half: what a run would do now, without starting
//! anything. Each command as it would run (placeholders filled in for the configured
//! ports, `python` resolved to the interpreter), and what the port policy would do with
//! each port (free; our backend, reused; or the holder and the port `auto` would take).
//! It asks the same functions the run asks, so the two cannot disagree.

use std::time::Duration;

use super::frontend_port;
use crate::config::Config;
use crate::health::HealthClient;
use crate::port::{self, PortState};

/// The preview as `# ` comment lines, to follow `Config::describe`.
pub fn preview(config: &Config) -> String {
    let mut lines = vec!["as a run would start now (nothing was started):".to_owned()];
    // As a person pastes it: placeholders filled in, quoted for a POSIX shell.
    let expanded = |argv: &[String]| crate::text::shell_command(&config.expanded(argv));
    match (&config.backend.url, resolve_python(config)) {
        (Some(url), _) => lines.push(format!(
            "backend: none started, backend.url is set ({url:?})"
        )),
        (None, Ok(argv)) => lines.push(format!("backend.command runs  {}", expanded(&argv))),
        (None, Err(err)) => lines.push(format!(
            "backend.command cannot run: {err}; fix: {}",
            err.fix()
        )),
    }
    lines.push(format!(
        "frontend.command runs {}",
        expanded(&config.frontend.command)
    ));
    if config.backend.url.is_none() {
        lines.push(backend_port(config));
    }
    if let Some(wanted) = config.frontend.port {
        lines.push(frontend_port_line(wanted, config.backend.port));
    }
    for process in &config.processes {
        let name = &process.name;
        lines.push(format!(
            "process.{name}.command runs {}",
            expanded(&process.command)
        ));
        if let Some(wanted) = process.port {
            let what = if port::is_free(wanted) {
                "free".to_owned()
            } else {
                let state = PortState::Foreign {
                    detail: format!("`process.{name}.port`"),
                    holder: crate::holder::lookup(wanted),
                };
                state.describe(wanted)
            };
            lines.push(format!("process.{name}.port {wanted}: {what}"));
        }
    }
    if !config.processes.is_empty()
        && let Ok(order) = crate::config::process::start_order(config)
    {
        let names: Vec<&str> = order
            .into_iter()
            .map(|node| crate::config::process::node_name(config, node))
            .collect();
        lines.push(format!("start order: {}", names.join(", ")));
    }
    lines.iter().map(|line| format!("# {line}\n")).collect()
}

/// `backend.port 8000: free`, or what is there and what the policy would do.
fn backend_port(config: &Config) -> String {
    let port = config.backend.port;
    let state = classify(config);
    let offer = || {
        port::free_instead(port).map_or_else(
            || "; no free port to offer".to_owned(),
            |next| format!("; `--port auto` would take {next}"),
        )
    };
    let what = match &state {
        PortState::Free => "free".to_owned(),
        PortState::Reusable(report) => format!(
            "our backend (pid {}) is ready there: a run reuses it",
            report.pid.map_or_else(|| "?".into(), |pid| pid.to_string())
        ),
        PortState::Stale { .. } => {
            format!("{}; `--yes` would stop it{}", state.describe(port), offer())
        }
        _ => format!("{}{}", state.describe(port), offer()),
    };
    format!("backend.port {port}: {what}")
}

/// `frontend.port 5173: free`, or its holder and the port `--frontend-port auto` takes.
fn frontend_port_line(wanted: u16, backend: u16) -> String {
    if wanted != backend && port::is_free(wanted) {
        return format!("frontend.port {wanted}: free");
    }
    let offer = frontend_port::next_free_besides(wanted, backend).map_or_else(
        || "; no free port to offer".to_owned(),
        |next| format!("; `--frontend-port auto` would take {next}"),
    );
    format!(
        "frontend.port {wanted}: {}{offer}",
        frontend_port::describe(wanted, backend)
    )
}

/// The backend port's state, by the run's own classifier (one health `GET` at most).
fn classify(config: &Config) -> PortState {
    let port = config.backend.port;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        return if port::is_free(port) {
            PortState::Free
        } else {
            PortState::Foreign {
                detail: "not asked: no async runtime".into(),
                holder: crate::holder::lookup(port),
            }
        };
    };
    let client = HealthClient::new(config.backend.health_timeout.min(Duration::from_secs(1)));
    let url = format!("{}{}", config.backend_url(), config.backend.health_path);
    let correlation_id = crate::runlog::new_correlation_id();
    runtime.block_on(port::classify(
        &client,
        &url,
        &correlation_id,
        &config.backend.service,
        &config.root,
        config.backend.health_format,
        port,
    ))
}

/// The backend command with `python` resolved: the venv's interpreter, else a system
/// one (placeholders are filled in later, once the port is settled).
pub(super) fn resolve_python(config: &Config) -> Result<Vec<String>, crate::python::PythonError> {
    let mut argv = config.backend.command.clone();
    if argv.first().map(String::as_str) == Some("python") {
        let in_venv = crate::python::venv_python(&config.backend.venv);
        let resolved = if in_venv.exists() {
            in_venv
        } else {
            crate::python::discover()?.executable
        };
        argv[0] = resolved.display().to_string();
    }
    Ok(argv)
}
