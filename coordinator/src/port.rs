//! What is on the configured port before anything is started, who holds it, and the
//! way out that `dev` offers.
//!
//! A port counts as free only when nothing answers on it and a bind succeeds on both
//! loopback families: a server on `::1` leaves a bind of `127.0.0.1` free, and the
//! reverse, so one bind test is not enough.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;

use crate::health::{self, HealthClient, HealthFormat, HealthReport, Probe, Readiness, Reading};
use crate::holder::{self, Lookup, Sockets};
use crate::ownership::{self, Judge, Ownership};
use crate::runs::Runs;
use crate::text::printable;

/// How far above the configured port to look for a free one.
const SEARCH_SPAN: u16 = 200;

/// The configured port, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum PortState {
    Free,
    /// Our backend from this checkout, ready: reuse it.
    Reusable(HealthReport),
    /// Our backend from this checkout, but not ready.
    Stale {
        report: HealthReport,
        why: String,
        holder: Lookup,
    },
    /// The backend of this checkout's live `dev` run (by its record), not ready now: never
    /// stopped by another run, only a free port is offered.
    LiveRun {
        run: String,
        dev_pid: u32,
        why: String,
        holder: Lookup,
    },
    /// Our service, but started from another checkout.
    OtherCheckout {
        report: HealthReport,
        holder: Lookup,
    },
    /// Something else answers health, or holds the port without answering.
    Foreign {
        detail: String,
        holder: Lookup,
    },
}

impl PortState {
    /// The `state` of doctor's JSON: `free`, `ours` or `foreign`.
    pub fn kind(&self) -> &'static str {
        match self {
            PortState::Free => "free",
            PortState::Reusable(_) | PortState::Stale { .. } | PortState::LiveRun { .. } => "ours",
            PortState::OtherCheckout { .. } | PortState::Foreign { .. } => "foreign",
        }
    }

    pub fn holder(&self) -> Option<&Lookup> {
        match self {
            PortState::Free | PortState::Reusable(_) => None,
            PortState::Stale { holder, .. }
            | PortState::LiveRun { holder, .. }
            | PortState::OtherCheckout { holder, .. }
            | PortState::Foreign { holder, .. } => Some(holder),
        }
    }

    /// "held by `python3 -m http.server 8000` (pid 4242, user alice, up 3 min)".
    pub fn describe(&self, port: u16) -> String {
        let named = |lookup: &Lookup| match lookup {
            Lookup::Found(holders) => holders
                .first()
                .map_or_else(|| holder::hidden_hint(port, None), ToString::to_string),
            Lookup::Hidden { user } => holder::hidden_hint(port, user.as_deref()),
        };
        // The pid comes from the socket table (or the run record), never the answer.
        let pid = |report: &HealthReport| {
            report
                .pid
                .map_or_else(String::new, |pid| format!(" (pid {pid})"))
        };
        match self {
            PortState::Free => format!("port {port} is free"),
            PortState::Reusable(report) => {
                format!("port {port} is our backend{}, ready", pid(report))
            }
            PortState::Stale {
                report,
                why,
                holder,
                ..
            } => format!(
                "port {port} is held by our own backend from this checkout{}, but it is not ready: {}; {}",
                pid(report),
                printable(why),
                named(holder)
            ),
            PortState::LiveRun {
                run,
                dev_pid,
                why,
                holder,
            } => format!(
                "port {port} is the backend of this checkout's live dev run {} (dev pid {dev_pid}), but it is not ready: {}; {}",
                printable(run),
                printable(why),
                named(holder)
            ),
            PortState::OtherCheckout { report, holder } => format!(
                "port {port} is in use by {} from another checkout ({})",
                named(holder),
                printable(report.workspace.as_deref().unwrap_or("?"))
            ),
            PortState::Foreign { detail, holder } => {
                format!(
                    "port {port} is in use by {} ({})",
                    named(holder),
                    printable(detail)
                )
            }
        }
    }
}

/// Classifies `port`: the socket table first (another user's listener is never ours,
/// and is not even asked), the run records (the backend of a live run of this checkout
/// is recognised before any probe, so a slow answer cannot make it foreign), then its
/// health endpoint (read under `format`, waiting as long as `client` does: the
/// config's `health_timeout`), then a bind. Ownership is decided by [`ownership::judge`].
pub async fn classify(
    client: &HealthClient,
    url: &str,
    correlation_id: &str,
    service: &str,
    workspace: &Path,
    format: HealthFormat,
    port: u16,
) -> PortState {
    let sockets = holder::sockets(port);
    let me = Judge::this_process();
    if let Some(uid) = sockets.other_user(me.uid) {
        return foreign(ownership::other_user(uid), port);
    }
    // Only a live run that says it owns a backend on this port costs the holders' pids.
    let runs = Runs::of(workspace);
    let live_run = runs
        .read_all()
        .iter()
        .any(|run| run.owns_backend_on(port) && run.is_live())
        .then(|| runs.backend_owner(port, sockets.pids()))
        .flatten();
    // Who holds the other end of the connection that was answered: a process that
    // accepts it and closes its listener is gone from `sockets`, not from there.
    let (probe, answering) = client
        .probe_once(url, correlation_id, holder::other_end)
        .await;
    if let holder::OtherEnd::Held(uid) = answering
        && uid != me.uid
        && uid != 0
    {
        return foreign(ownership::other_user(uid), port);
    }
    if let Some(run) = live_run {
        return of_live_run(run, &probe, format, port);
    }
    let code = match &probe {
        Probe::Answered(answer) => answer.code,
        Probe::Stalled { code } => {
            return foreign(
                format!("not our backend: it answers HTTP {code} but its body never arrives"),
                port,
            );
        }
        Probe::Unreachable(_) if is_free(port) => return PortState::Free,
        Probe::Unreachable(_) => {
            return foreign(
                "not our backend: it does not answer health requests".into(),
                port,
            );
        }
    };
    let report = match report_of(&probe, format, code) {
        Ok(report) => report,
        Err(detail) => return foreign(detail, port),
    };
    match judged(&report, service, workspace, &sockets, me) {
        Ownership::Ours(evidence) => ours(report, &evidence, &probe, format, code, port),
        Ownership::OtherCheckout(_) => PortState::OtherCheckout {
            report,
            holder: holder::lookup(port),
        },
        Ownership::OtherService(other) => foreign(
            format!("not our backend: it answers health as service {other:?}"),
            port,
        ),
        Ownership::OtherUser(uid) => foreign(ownership::other_user(uid), port),
        Ownership::Foreign(why) => foreign(format!("not our backend: {why}"), port),
    }
}

/// [`ownership::judge`] with this checkout, canonical.
fn judged(
    report: &HealthReport,
    service: &str,
    workspace: &Path,
    sockets: &Sockets,
    me: Judge,
) -> Ownership {
    let checkout = workspace
        .canonicalize()
        .unwrap_or_else(|_| workspace.to_path_buf());
    ownership::judge(
        report,
        service,
        &checkout,
        sockets,
        me,
        crate::process::descends_from,
        holder::facts_of,
    )
}

/// The backend of this checkout's live run `run` holds the port: reusable when its
/// answer is ready, else [`PortState::LiveRun`] with the reason. Its pid is the
/// record's, whatever the answer says.
fn of_live_run(
    run: crate::runs::Record,
    probe: &Probe,
    format: HealthFormat,
    port: u16,
) -> PortState {
    let backend = run.owned_backend();
    let why = match probe {
        Probe::Answered(answer) => match report_of(probe, format, answer.code) {
            Ok(mut report) => match not_ready(probe, format, answer.code) {
                None => {
                    report.pid = backend;
                    return PortState::Reusable(report);
                }
                Some(why) => why,
            },
            Err(detail) => detail,
        },
        Probe::Stalled { code } => {
            format!("it answers HTTP {code} but its body does not arrive within health_timeout")
        }
        Probe::Unreachable(_) => "it does not answer health within health_timeout".into(),
    };
    tracing::debug!(
        "port {port}: the backend (pid {backend:?}) of live run {}",
        run.correlation_id
    );
    PortState::LiveRun {
        run: run.correlation_id,
        dev_pid: run.pid,
        why,
        holder: holder::lookup(port),
    }
}

/// Something that is not our backend holds `port`: `detail` says why, the socket
/// table says who.
fn foreign(detail: String, port: u16) -> PortState {
    PortState::Foreign {
        detail,
        holder: holder::lookup(port),
    }
}

/// The health report of a whole answer (HTTP `code`), or why the answer is not one
/// our backend would give.
fn report_of(probe: &Probe, format: HealthFormat, code: u16) -> Result<HealthReport, String> {
    match probe.reading(format) {
        Some(Reading::Report(report)) => Ok(report),
        // Only a whole answer gets here.
        None => Err(format!("not our backend: it answers HTTP {code}")),
        // Maybe ours with a wrong `health_path` or `health_format`: say what would
        // make it readable rather than only "not ours".
        Some(Reading::Never(mismatch)) => Err(format!(
            "its health answer cannot be read: HTTP {code}, {}; if it is this checkout's backend: {}",
            mismatch.evidence(),
            mismatch.fix()
        )),
        Some(Reading::Opaque(why)) => Err(format!(
            "not our backend: it answers HTTP {code} without a health report ({why})"
        )),
    }
}

/// Our backend from this checkout: reusable when ready, else stale with the reason.
fn ours(
    mut report: HealthReport,
    evidence: &ownership::Evidence,
    probe: &Probe,
    format: HealthFormat,
    code: u16,
    port: u16,
) -> PortState {
    // The pid shown and stopped is the socket table's (or the record's), never the one
    // in the answer's body.
    report.pid = evidence.pid();
    match not_ready(probe, format, code) {
        None => PortState::Reusable(report),
        Some(why) => PortState::Stale {
            report,
            why,
            holder: holder::lookup(port),
        },
    }
}

/// Why our backend's answer (HTTP `code`) is not ready, `None` when it is.
fn not_ready(probe: &Probe, format: HealthFormat, code: u16) -> Option<String> {
    match health::readiness(probe, format, false) {
        Readiness::Ready => None,
        Readiness::Degraded(failing) => {
            Some(format!("degraded: {}", crate::health::services(&failing)))
        }
        Readiness::NotReady(why) | Readiness::Failing { why, .. } => Some(why),
        Readiness::Never(mismatch) => Some(format!("HTTP {code}, {}", mismatch.evidence())),
    }
}

/// True when `port` can be bound on both loopback families (IPv6 only where the host
/// has it).
pub fn is_free(port: u16) -> bool {
    let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_ok();
    let v6 = match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
        Ok(_) => true,
        // A host without IPv6 cannot have a listener there.
        Err(err) => err.kind() == std::io::ErrorKind::AddrNotAvailable,
    };
    v4 && v6
}

/// The next free port above `port`.
pub fn next_free(port: u16) -> Option<u16> {
    (port.saturating_add(1)..=port.saturating_add(SEARCH_SPAN))
        .filter(|p| *p != port)
        .find(|p| is_free(*p))
}

/// A free port to use in place of a taken one, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instead {
    /// The first free port in the scan above the taken one: predictable, close to
    /// what was configured.
    Above(u16),
    /// Nothing was free in the scan; an unused port the system handed out.
    Picked(u16),
}

impl Instead {
    pub fn port(self) -> u16 {
        match self {
            Instead::Above(port) | Instead::Picked(port) => port,
        }
    }
}

/// The free port to offer in place of `port`: the next free one above it, else (all
/// [`SEARCH_SPAN`] ports above are taken) an unused one from `portpicker`. A fallback
/// is said in the run's log, since the port is then far from the configured one.
pub fn free_instead(port: u16) -> Option<u16> {
    let found = instead(next_free(port), pick_unused)?;
    if let Instead::Picked(picked) = found {
        tracing::info!(
            "no free port in {}-{}: using {picked}, an unused port picked by the system",
            port.saturating_add(1),
            port.saturating_add(SEARCH_SPAN)
        );
    }
    Some(found.port())
}

/// The decision of [`free_instead`], given the scan's result and a way to pick a port
/// (called only when the scan found none).
pub fn instead(scan: Option<u16>, pick: impl FnOnce() -> Option<u16>) -> Option<Instead> {
    match scan {
        Some(port) => Some(Instead::Above(port)),
        None => pick().map(Instead::Picked),
    }
}

/// An unused port from `portpicker`, free on both loopback families by [`is_free`]'s
/// test. `portpicker` gives up on a host without IPv6 (it binds `::` too), so then the
/// kernel's choice for `127.0.0.1:0` is used.
fn pick_unused() -> Option<u16> {
    portpicker::pick_unused_port()
        .filter(|port| is_free(*port))
        .or_else(|| {
            let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).ok()?;
            let port = listener.local_addr().ok()?.port();
            drop(listener);
            is_free(port).then_some(port)
        })
}

/// "Who holds port P, and which port is free instead?" without asking the holder
/// anything: the fast path of `cargo xtask port`. `None` when the port is free.
pub fn who_holds(port: u16) -> Option<(Lookup, Option<u16>)> {
    if is_free(port) {
        None
    } else {
        Some((holder::lookup(port), free_instead(port)))
    }
}

/// True when `port` is free but this user may not listen on it: the kernel refuses
/// the bind for lack of privilege (ports below `ip_unprivileged_port_start`, 1024 by
/// default, for a non-root user), and nothing answers a connect on loopback. Such a
/// port is not "in use by a process that cannot be inspected".
pub fn needs_privilege(port: u16) -> bool {
    let refused = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
        Ok(_) => false,
        Err(err) => err.kind() == std::io::ErrorKind::PermissionDenied,
    };
    refused
        && std::net::TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            std::time::Duration::from_millis(500),
        )
        .is_err()
}

/// What the user lets `dev` do about a taken port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--port auto`: take the offered free port.
    pub auto: bool,
    /// `--yes`: accept every offer (stopping our own stale backend included).
    pub yes: bool,
    /// A terminal, and no `CI`: ask.
    pub interactive: bool,
}

/// The way out offered for a taken port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Use this free port instead.
    NextPort(u16),
    /// Stop our own stale backend (this pid), or use this free port.
    StopOrNextPort { pid: u32, port: u16 },
}

/// Which offer to make for a state that is neither free nor reusable.
pub fn offer(state: &PortState, next: u16) -> Offer {
    match state {
        PortState::Stale { holder, .. } => {
            // Only the pid that really holds the socket may be stopped: the health
            // report's pid is a claim, the socket table is the evidence. Without it,
            // only the free port is offered.
            match holder.holder().map(|h| h.pid) {
                Some(pid) => Offer::StopOrNextPort { pid, port: next },
                None => Offer::NextPort(next),
            }
        }
        _ => Offer::NextPort(next),
    }
}

/// What to do without asking, if the policy decides it: `Some(true)` to take the
/// first choice of the offer (stop, or the free port), `Some(false)` for the second
/// (the free port, for a stale backend), `None` when someone must be asked (or, without
/// a terminal, the run refused).
pub fn decide_without_asking(offer: Offer, policy: Policy) -> Option<bool> {
    match offer {
        Offer::NextPort(_) if policy.auto || policy.yes => Some(true),
        Offer::StopOrNextPort { .. } if policy.yes => Some(true),
        Offer::StopOrNextPort { .. } if policy.auto => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_follow_the_policy() {
        let none = Policy {
            auto: false,
            yes: false,
            interactive: false,
        };
        let auto = Policy { auto: true, ..none };
        let yes = Policy { yes: true, ..none };
        let next = Offer::NextPort(8001);
        let stale = Offer::StopOrNextPort {
            pid: 42,
            port: 8001,
        };
        assert_eq!(decide_without_asking(next, none), None);
        assert_eq!(decide_without_asking(next, auto), Some(true));
        assert_eq!(decide_without_asking(next, yes), Some(true));
        assert_eq!(decide_without_asking(stale, none), None);
        assert_eq!(
            decide_without_asking(stale, auto),
            Some(false),
            "auto: use the free port"
        );
        assert_eq!(
            decide_without_asking(stale, yes),
            Some(true),
            "yes: stop it"
        );
    }

    #[test]
    fn a_full_scan_falls_back_to_a_picked_port() {
        let picker = || Some(43_210);
        assert_eq!(instead(Some(8001), picker), Some(Instead::Above(8001)));
        assert_eq!(instead(None, picker), Some(Instead::Picked(43_210)));
        assert_eq!(instead(None, || None), None);
        assert_eq!(
            instead(Some(8001), || panic!(
                "the picker is only asked when the scan fails"
            )),
            Some(Instead::Above(8001))
        );
        assert_eq!(Instead::Picked(43_210).port(), 43_210);
    }

    #[test]
    fn a_picked_port_is_free_on_both_loopback_families() {
        let port = pick_unused().expect("a free port");
        assert!(is_free(port));
    }

    #[test]
    fn the_next_free_port_is_above_and_free() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        if let Some(next) = next_free(port) {
            assert!(next > port);
            assert!(is_free(next));
        }
        assert!(!is_free(port));
    }
}
