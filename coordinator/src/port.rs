//! What is on the configured port before anything is started.
//!
//! A port counts as free only when nothing answers on it and a bind succeeds on both
//! loopback families: a server on `::1` leaves a bind of `127.0.0.1` free, and the
//! reverse, so one bind test is not enough.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::Path;

use crate::health::{self, HealthClient, HealthReport, Ownership, Probe, Readiness};

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
    },
    /// Our service, but started from another checkout.
    OtherCheckout {
        report: HealthReport,
    },
    /// Something else answers health, or holds the port without answering.
    Foreign {
        detail: String,
    },
}

/// Classifies `port` by asking its health endpoint, then by trying to bind it.
pub async fn classify(
    client: &HealthClient,
    url: &str,
    correlation_id: &str,
    service: &str,
    workspace: &Path,
    port: u16,
) -> PortState {
    let probe = client.probe(url, correlation_id).await;
    if let Probe::Answered {
        report: Ok(report), ..
    } = &probe
    {
        return match health::ownership(report, service, workspace) {
            Ownership::Ours => match health::readiness(&probe, false) {
                Readiness::Ready => PortState::Reusable(report.clone()),
                Readiness::Degraded(failing) => PortState::Stale {
                    report: report.clone(),
                    why: format!("degraded: {}", crate::report::services(&failing)),
                },
                Readiness::NotReady(why) => PortState::Stale {
                    report: report.clone(),
                    why,
                },
            },
            Ownership::OtherCheckout(_) => PortState::OtherCheckout {
                report: report.clone(),
            },
            Ownership::OtherService(other) => PortState::Foreign {
                detail: format!("it answers health as service {other:?}"),
            },
        };
    }
    if let Probe::Answered { code, body, .. } = &probe {
        return PortState::Foreign {
            detail: format!("it answers HTTP {code} that is not a health report: {body:.80}"),
        };
    }
    if is_free(port) {
        PortState::Free
    } else {
        PortState::Foreign {
            detail: "it accepts no health request".into(),
        }
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
