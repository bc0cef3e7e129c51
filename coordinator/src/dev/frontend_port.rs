//! Settling the frontend's port before anything starts, the way the backend's is: a
//! taken port names its holder and the next free port is offered (asked on a terminal,
//! taken with `--frontend-port auto` or `--yes`, otherwise the run is refused with the
//! command that would take it). Nothing here ever signals the holder: the frontend's
//! port is never "ours" to reclaim.

use super::choose_port::{capitalised, confirm};
use super::outcome::{DevOutcome, Flow, fail_with};
use crate::config::Config;
use crate::holder;
use crate::port::{self, Offer, PortState};
use crate::report::Cause;
use crate::runlog::RunLog;
use crate::signals::Shutdown;

/// The frontend's port, settled, and why it is not the configured one.
#[derive(Debug, Clone, Default)]
pub(super) struct FrontendPort {
    pub(super) port: Option<u16>,
    pub(super) moved: Option<String>,
}

/// Settles the frontend's port: the configured one when it is free. A frontend that is not a
/// server (`port = false`) has nothing to settle.
pub(super) async fn resolve_frontend_port(
    config: &Config,
    backend: u16,
    policy: port::Policy,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> Flow<FrontendPort> {
    let Some(mut wanted) = config.frontend.port else {
        return Flow::Continue(FrontendPort::default());
    };
    let mut moved = None;
    // Each round takes a new port; the bound only guards against ports that keep being
    // taken between the check and the next look.
    for _ in 0..5 {
        if wanted != backend && port::is_free(wanted) {
            return Flow::Continue(FrontendPort {
                port: Some(wanted),
                moved,
            });
        }
        let described = describe(wanted, backend);
        let Some(next) = next_free_besides(wanted, backend) else {
            return Flow::Break(refuse(
                log,
                &described,
                format!("stop the process holding port {wanted}"),
            ));
        };
        log.warn(&capitalised(&described));
        let accepted = match port::decide_without_asking(Offer::NextPort(next), policy) {
            Some(accepted) => accepted,
            None if policy.interactive => {
                let question = format!("Use port {next} for the frontend instead?");
                match confirm(question, true, shutdown).await {
                    Ok(accepted) => accepted,
                    Err(name) => {
                        log.info(&format!("{name} received at the prompt: stopping"));
                        return Flow::Break(DevOutcome::Stopped);
                    }
                }
            }
            None => false,
        };
        if !accepted {
            return Flow::Break(refuse(log, &described, rerun_hint(wanted, next)));
        }
        log.info(&format!("frontend: using port {next} instead of {wanted}"));
        moved.get_or_insert_with(|| moved_because(wanted, backend));
        wanted = next;
    }
    Flow::Break(refuse(
        log,
        "no frontend port could be settled after 5 tries",
        "choose one with --frontend-port N".into(),
    ))
}

/// "port 5173 (the frontend's) is in use by `...` (pid 42, user alice, up 3 min)".
pub(super) fn describe(wanted: u16, backend: u16) -> String {
    if wanted == backend {
        return format!("the frontend's port {wanted} is the backend's port");
    }
    let state = PortState::Foreign {
        detail: "the frontend's port, `frontend.port`".into(),
        holder: holder::lookup(wanted),
    };
    state.describe(wanted)
}

/// Why the frontend left `wanted`, for the summary.
fn moved_because(wanted: u16, backend: u16) -> String {
    if wanted == backend {
        return format!("{wanted} is the backend's port");
    }
    let state = PortState::Foreign {
        detail: String::new(),
        holder: holder::lookup(wanted),
    };
    super::choose_port::moved_because(wanted, &state)
}

/// The next free port above `wanted` that is not the backend's.
pub(super) fn next_free_besides(wanted: u16, backend: u16) -> Option<u16> {
    // The same choice as for the backend's port (the scan above, then a port the system
    // picks), never the backend's own.
    let next = port::free_instead(wanted)?;
    if next == backend {
        port::free_instead(next)
    } else {
        Some(next)
    }
}

/// The fix of a refusal: the exact command that takes the offered port.
fn rerun_hint(wanted: u16, next: u16) -> String {
    format!(
        "rerun with `cargo xtask dev --frontend-port auto` (or `--yes`) to use port {next}, or stop the process holding port {wanted}"
    )
}

fn refuse(log: &RunLog, what: &str, fix: String) -> DevOutcome {
    fail_with(
        log,
        what,
        vec![],
        vec![Cause {
            cause: "the frontend port is taken".into(),
            fix,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rerun_hint_names_the_flag_and_both_ports() {
        let hint = rerun_hint(5173, 5174);
        assert!(
            hint.contains("cargo xtask dev --frontend-port auto"),
            "{hint}"
        );
        assert!(hint.contains("port 5174"), "{hint}");
        assert!(hint.contains("port 5173"), "{hint}");
    }

    #[test]
    fn the_backend_port_is_never_offered_to_the_frontend() {
        let held =
            std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("bind a port");
        let port = held.local_addr().expect("its address").port();
        let Some(first) = port::next_free(port) else {
            return;
        };
        assert_ne!(next_free_besides(port, first), Some(first));
        assert_eq!(
            describe(first, first),
            format!("the frontend's port {first} is the backend's port")
        );
    }
}
