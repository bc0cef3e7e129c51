//! Settling the frontend's port, and a `[process.NAME]`'s, before anything starts, the
//! way the backend's is: a taken port names its holder and the next free port is offered
//! (asked on a terminal, taken with `--frontend-port auto` (the frontend's), `--port
//! auto` (a process's) or `--yes`, otherwise the run is refused with the command that
//! would take it). Nothing here ever signals the holder: such a port is never "ours" to
//! reclaim.

use super::choose_port::{capitalised, confirm};
use super::outcome::{DevOutcome, Flow, fail_with};
use super::run::Run;
use crate::config::Config;
use crate::holder;
use crate::port::{self, Offer, PortState};
use crate::report::Cause;
use crate::runlog::RunLog;

/// The frontend's port, settled, and why it is not the configured one.
#[derive(Debug, Clone, Default)]
pub(super) struct FrontendPort {
    pub(super) port: Option<u16>,
    pub(super) moved: Option<String>,
}

/// Whose port is settled, for the words and the fix.
pub(super) struct Whose<'a> {
    /// `the frontend`, `redis`: as a sentence names it.
    pub(super) role: &'a str,
    /// `frontend.port`, `process.redis.port`.
    pub(super) key: &'a str,
    /// The flag that takes the offered port: `--frontend-port auto`, `--yes`.
    pub(super) flag: &'a str,
}

/// Settles the frontend's port: the configured one when it is free. A frontend that is not a
/// server (`port = false`) has nothing to settle.
pub(super) async fn resolve_frontend_port(
    config: &Config,
    backend: u16,
    policy: port::Policy,
    run: &mut Run<'_>,
) -> Flow<FrontendPort> {
    let Some(wanted) = config.frontend.port else {
        return Flow::Continue(FrontendPort::default());
    };
    let whose = Whose {
        role: "the frontend",
        key: "frontend.port",
        flag: "--frontend-port auto",
    };
    let taken = [(backend, "the backend's port")];
    resolve_port_of(&whose, wanted, &taken, policy, run).await
}

/// Settles the port of a process that is not the backend (the frontend, a
/// `[process.NAME]`): `wanted` when it is free and not one of `taken` (another process's
/// port, and what it is); else the holder is named and the next free port offered.
/// Nothing here ever signals the holder.
pub(super) async fn resolve_port_of(
    whose: &Whose<'_>,
    mut wanted: u16,
    taken: &[(u16, &str)],
    policy: port::Policy,
    run: &mut Run<'_>,
) -> Flow<FrontendPort> {
    let (log, shutdown) = (run.log, &mut *run.shutdown);
    let role = whose.role;
    let mut moved = None;
    let avoid: Vec<u16> = taken.iter().map(|(port, _)| *port).collect();
    // Each round takes a new port; the bound only guards against ports that keep being
    // taken between the check and the next look.
    for _ in 0..5 {
        let theirs = taken
            .iter()
            .find(|(port, _)| *port == wanted)
            .map(|(_, what)| *what);
        if theirs.is_none() && port::is_free(wanted) {
            return Flow::Continue(FrontendPort {
                port: Some(wanted),
                moved,
            });
        }
        let described = match theirs {
            Some(what) => format!("{role}'s port {wanted} is {what}"),
            None => held(wanted, &format!("{role}'s port, `{}`", whose.key)),
        };
        let Some(next) = next_free_avoiding(wanted, &avoid) else {
            return Flow::Break(refuse(
                log,
                role,
                &described,
                format!("stop the process holding port {wanted}"),
            ));
        };
        log.warn(&capitalised(&described));
        let accepted = match port::decide_without_asking(Offer::NextPort(next), policy) {
            Some(accepted) => accepted,
            None if policy.interactive => {
                let question = format!("Use port {next} for {role} instead?");
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
            let hint = rerun_hint(whose.flag, wanted, next);
            return Flow::Break(refuse(log, role, &described, hint));
        }
        log.info(&format!(
            "{}: using port {next} instead of {wanted}",
            role.trim_start_matches("the ")
        ));
        moved.get_or_insert_with(|| match theirs {
            Some(what) => format!("{wanted} is {what}"),
            None => moved_because(wanted),
        });
        wanted = next;
    }
    Flow::Break(refuse(
        log,
        role,
        &format!("no port for {role} could be settled after 5 tries"),
        format!("choose a free one in `{}`", whose.key),
    ))
}

/// "port 5173 (the frontend's) is in use by `...` (pid 42, user alice, up 3 min)".
pub(super) fn describe(wanted: u16, backend: u16) -> String {
    if wanted == backend {
        return format!("the frontend's port {wanted} is the backend's port");
    }
    held(wanted, "the frontend's port, `frontend.port`")
}

/// "port 6379 (`detail`) is in use by ..."
fn held(wanted: u16, detail: &str) -> String {
    let state = PortState::Foreign {
        detail: detail.into(),
        holder: holder::lookup(wanted),
    };
    state.describe(wanted)
}

/// Why a process left `wanted`, for the summary.
fn moved_because(wanted: u16) -> String {
    let state = PortState::Foreign {
        detail: String::new(),
        holder: holder::lookup(wanted),
    };
    super::choose_port::moved_because(wanted, &state)
}

/// The next free port above `wanted` that is not the backend's.
pub(super) fn next_free_besides(wanted: u16, backend: u16) -> Option<u16> {
    next_free_avoiding(wanted, &[backend])
}

/// The next free port above `wanted` that is none of `avoid`: the same choice as for the
/// backend's port (the scan above, then a port the system picks).
fn next_free_avoiding(wanted: u16, avoid: &[u16]) -> Option<u16> {
    let mut next = port::free_instead(wanted)?;
    for _ in 0..=avoid.len() {
        if !avoid.contains(&next) {
            return Some(next);
        }
        next = port::free_instead(next)?;
    }
    None
}

/// The fix of a refusal: the exact command that takes the offered port.
fn rerun_hint(flag: &str, wanted: u16, next: u16) -> String {
    let or_yes = if flag == "--yes" { "" } else { " (or `--yes`)" };
    format!(
        "rerun with `cargo xtask dev {flag}`{or_yes} to use port {next}, or stop the process holding port {wanted}"
    )
}

fn refuse(log: &RunLog, role: &str, what: &str, fix: String) -> DevOutcome {
    fail_with(
        log,
        what,
        vec![],
        vec![Cause {
            cause: format!("{role}'s port is taken"),
            fix,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rerun_hint_names_the_flag_and_both_ports() {
        let hint = rerun_hint("--frontend-port auto", 5173, 5174);
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
