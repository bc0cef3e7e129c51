//! Settling every port of the run before anything starts: the backend's (which may be
//! reused), then the frontend's, then each `[process.NAME]`'s, never two the same.

use super::choose_port::{ResolvedPort, resolve_port};
use super::frontend_port::{self, FrontendPort, Whose};
use super::outcome::{Flow, proceed};
use super::run::Run;
use crate::config::Config;
use crate::events::Event;
use crate::port;
use crate::runlog::RunLog;

/// The ports, settled before anything starts.
pub(super) struct SettledPorts {
    pub(super) backend: ResolvedPort,
    /// No port when the frontend is not a server (or `dev -- cmd` replaces it).
    pub(super) frontend: FrontendPort,
    /// Each `[process.NAME]` with a port: its index, and its port settled.
    pub(super) processes: Vec<(usize, FrontendPort)>,
}

/// Settles the backend's port, then the frontend's, then the processes' (never the
/// same one twice).
pub(super) async fn settle_ports(
    config: &Config,
    run: &mut Run<'_>,
    policy: port::Policy,
) -> Flow<SettledPorts> {
    let (options, log) = (run.options, run.log);
    let backend = proceed!(flow: resolve_port(config, config.backend.port, policy, run).await);
    // `dev -- cmd` runs a command, not the frontend's server.
    let configured = if options.frontend_command.is_some() {
        None
    } else {
        config.frontend.port
    };
    let frontend = if options.no_frontend {
        FrontendPort {
            port: configured,
            moved: None,
        }
    } else {
        let policy = port::Policy {
            auto: options.frontend_port_auto,
            ..policy
        };
        let wanted = config.with_ports(backend.port, configured);
        proceed!(flow: frontend_port::resolve_frontend_port(&wanted, backend.port, policy, run).await)
    };
    port_chosen(log, "backend", backend.port, backend.moved.as_deref());
    if let Some(port) = frontend.port.filter(|_| !options.no_frontend) {
        port_chosen(log, "frontend", port, frontend.moved.as_deref());
    }
    let processes = proceed!(flow: settle_process_ports(config, backend.port, frontend.port, policy, run).await);
    Flow::Continue(SettledPorts {
        backend,
        frontend,
        processes,
    })
}

/// Settles each `[process.NAME]`'s port, never the backend's, the frontend's or
/// another process's: its index, and its port settled.
pub(super) async fn settle_process_ports(
    config: &Config,
    backend: u16,
    frontend: Option<u16>,
    policy: port::Policy,
    run: &mut Run<'_>,
) -> Flow<Vec<(usize, FrontendPort)>> {
    let log = run.log;
    let mut taken: Vec<(u16, String)> = vec![(backend, "the backend's port".into())];
    if let Some(port) = frontend {
        taken.push((port, "the frontend's port".into()));
    }
    let mut processes = Vec::new();
    for (index, process) in config.processes.iter().enumerate() {
        let Some(wanted) = process.port else {
            continue;
        };
        let key = format!("process.{}.port", process.name);
        let whose = Whose {
            role: &process.name,
            key: &key,
            flag: "--yes",
        };
        let theirs: Vec<(u16, &str)> = taken.iter().map(|(p, what)| (*p, what.as_str())).collect();
        let settled = proceed!(flow: frontend_port::resolve_port_of(&whose, wanted, &theirs, policy, run).await);
        if let Some(port) = settled.port {
            port_chosen(log, &process.name, port, settled.moved.as_deref());
            taken.push((port, format!("{}'s port", process.name)));
        }
        processes.push((index, settled));
    }
    Flow::Continue(processes)
}

/// The settled ports of the processes applied to the run's config; why each moved,
/// for the summary.
pub(super) fn apply_process_ports(
    config: &mut Config,
    settled: &[(usize, FrontendPort)],
    moved: &mut Vec<(String, String)>,
) {
    for (index, settled) in settled {
        config.processes[*index].port = settled.port;
        if let Some(why) = &settled.moved {
            moved.push((config.processes[*index].name.clone(), why.clone()));
        }
    }
}

/// The `port-chosen` event: a port settled, and why it is not the configured one.
pub(super) fn port_chosen(log: &RunLog, role: &str, port: u16, moved: Option<&str>) {
    log.event(&Event::PortChosen {
        role: role.to_owned(),
        port,
        why: moved.unwrap_or("configured").to_owned(),
    });
}
