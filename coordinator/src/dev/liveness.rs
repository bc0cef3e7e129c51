//! Liveness of a backend after it became ready: the verdict of each periodic health
//! probe, as a pure state machine (tested by tables).
//!
//! A backend is alive while it answers health with a report: `healthy`, or `degraded`
//! (it runs and says what is wrong; a restart would not fix a missing database, so it
//! is reported, not restarted). It is dead after `failures` probes in a row with no
//! usable answer: no connection, a timeout (a deadlocked server), or an answer that is
//! not a health report (a reloader whose worker died answers nothing useful).

use crate::health::{self, HealthFormat, Probe, Readiness};

/// What one probe means.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    /// Nothing new to say.
    Fine,
    /// It answers again after failed probes or a degraded spell.
    Recovered,
    /// It answers, but degraded: each failing service and its error. Said once.
    Degraded(Vec<(String, String)>),
    /// A probe failed, but not yet `failures` in a row.
    Failing(u32),
    /// `failures` probes in a row failed: this was the last one.
    Dead(Probe),
}

#[derive(Debug, Clone)]
pub(super) struct Liveness {
    failures: u32,
    in_a_row: u32,
    degraded: bool,
}

impl Liveness {
    pub(super) fn new(failures: u32) -> Liveness {
        Liveness {
            failures: failures.max(1),
            in_a_row: 0,
            degraded: false,
        }
    }

    /// Takes one probe into account. After `Dead`, counting starts again.
    pub(super) fn observe(
        &mut self,
        probe: &Probe,
        format: HealthFormat,
        accept_degraded: bool,
    ) -> Verdict {
        let answered_report = probe.report(format).is_some();
        match health::readiness(probe, format, accept_degraded) {
            Readiness::Ready => self.alive(false),
            Readiness::Degraded(failing) => {
                let first = !self.degraded;
                let verdict = self.alive(true);
                if first {
                    Verdict::Degraded(failing)
                } else {
                    verdict
                }
            }
            // A report that is not ready (`starting` again, failing parts) still proves
            // the process runs and answers.
            Readiness::NotReady(_) | Readiness::Failing { .. } if answered_report => {
                self.alive(self.degraded)
            }
            Readiness::NotReady(_) | Readiness::Failing { .. } | Readiness::Never(_) => {
                self.in_a_row += 1;
                if self.in_a_row >= self.failures {
                    self.in_a_row = 0;
                    Verdict::Dead(probe.clone())
                } else {
                    Verdict::Failing(self.in_a_row)
                }
            }
        }
    }

    fn alive(&mut self, degraded: bool) -> Verdict {
        let recovered = self.in_a_row > 0 || (self.degraded && !degraded);
        self.in_a_row = 0;
        self.degraded = degraded;
        if recovered {
            Verdict::Recovered
        } else {
            Verdict::Fine
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, body: &str) -> Probe {
        Probe::Answered(crate::health::Answer {
            code,
            location: None,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
            truncated: false,
        })
    }

    const AUTO: HealthFormat = HealthFormat::Auto;

    #[test]
    fn three_failures_in_a_row_are_dead_and_an_answer_in_between_resets() {
        let healthy = answer(200, r#"{"status":"healthy"}"#);
        let hung = Probe::Unreachable("timed out after 2000 ms".into());
        let mut liveness = Liveness::new(3);
        let seen: Vec<Verdict> = [&healthy, &hung, &hung, &healthy, &hung, &hung, &hung]
            .into_iter()
            .map(|probe| liveness.observe(probe, AUTO, false))
            .collect();
        assert_eq!(
            seen,
            [
                Verdict::Fine,
                Verdict::Failing(1),
                Verdict::Failing(2),
                Verdict::Recovered,
                Verdict::Failing(1),
                Verdict::Failing(2),
                Verdict::Dead(hung.clone()),
            ]
        );
    }

    #[test]
    fn degraded_is_said_once_and_not_dead_and_html_is_no_answer() {
        let degraded = answer(
            503,
            r#"{"status":"degraded","services":{"database":{"status":"error","error":"disk"}}}"#,
        );
        let healthy = answer(200, r#"{"status":"healthy"}"#);
        let mut liveness = Liveness::new(2);
        assert_eq!(
            liveness.observe(&degraded, AUTO, false),
            Verdict::Degraded(vec![("database".into(), "disk".into())])
        );
        assert_eq!(liveness.observe(&degraded, AUTO, false), Verdict::Fine);
        assert_eq!(liveness.observe(&healthy, AUTO, false), Verdict::Recovered);
        let html = answer(502, "<html>bad gateway</html>");
        assert_eq!(liveness.observe(&html, AUTO, false), Verdict::Failing(1));
        assert_eq!(
            liveness.observe(&html, AUTO, false),
            Verdict::Dead(html.clone())
        );
    }
}
