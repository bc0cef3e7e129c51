//! How health evidence is said: the last answer, a mismatch that can never become
//! ready, the failing services (their own words shown with control characters escaped).

use super::{Mismatch, Probe, Readiness};

/// The last health answer as evidence: the code, and what it meant under the format.
pub fn describe_probe(probe: &Probe, readiness: Option<&Readiness>) -> String {
    match probe {
        Probe::Unreachable(why) => format!("no answer ({why})"),
        Probe::Stalled { code } => {
            format!("HTTP {code}: headers arrived, body did not within health_timeout")
        }
        Probe::Answered(answer) => match readiness {
            Some(Readiness::Never(mismatch)) => describe_mismatch(mismatch),
            Some(Readiness::NotReady(why) | Readiness::Failing { why, .. }) => why.clone(),
            Some(Readiness::Degraded(failing)) => format!(
                "HTTP {}, degraded, failing: {}",
                answer.code,
                services(failing)
            ),
            Some(Readiness::Ready) | None => format!("HTTP {}", answer.code),
        },
    }
}

/// `HTTP 301, redirect to /health/ (not followed)`.
pub fn describe_mismatch(mismatch: &Mismatch) -> String {
    match mismatch.code() {
        Some(code) => format!("HTTP {code}, {}", mismatch.evidence()),
        None => mismatch.evidence(),
    }
}

/// `database (disk I/O error), cache (miss)`.
pub fn services(failing: &[(String, String)]) -> String {
    failing
        .iter()
        .map(|(name, error)| {
            // A health answer's own words: one line, whatever they hold.
            let shown = crate::text::printable;
            format!("{} ({})", shown(name), shown(error))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
