//! The `[process.NAME]` processes once they run: what the supervisor waits on
//! ([`Extras::next`]) and what it does then: an exit ends the run (`ends_run`), is left
//! (`restart = "never"`, a clean exit) or is restarted after the backend's backoff; a
//! `ready = { http }` process is probed for liveness as the backend is.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::process::ExitStatus;
use std::task::Poll;

use tokio::time::{Instant, sleep_until};

use super::super::outcome::{DevOutcome, Flow, fail_with};
use super::{
    Cx, Extra, Extras, Happened, STABLE_AFTER, State, command_line, forked, not_ready, say_ready,
    shown, spawn_one, stop, timed_out, until_ready,
};
use crate::backend::backoff;
use crate::config::{Config, Ready, Restart, duration};
use crate::events::Event;
use crate::process::{self, Running};
use crate::report::Cause;

impl Extras {
    /// The next thing that happens to one of them: an exit, the end of a backoff, a
    /// liveness probe due. Forever when there is nothing to wait for. Cancel-safe.
    pub(in crate::dev) async fn next(&mut self) -> Happened {
        let mut waits: Vec<Pin<Box<dyn Future<Output = Happened> + Send + '_>>> = Vec::new();
        for (i, extra) in self.list.iter_mut().enumerate() {
            let (probes, next_probe) = (extra.probes, extra.next_probe);
            match (&mut extra.running, &mut extra.state) {
                (
                    Some(running),
                    State::Starting {
                        ready, deadline, ..
                    },
                ) => {
                    let deadline = *deadline;
                    waits.push(Box::pin(async move {
                        tokio::select! {
                            biased;
                            () = ready.as_mut() => Happened::Ready(i),
                            status = running.wait() => Happened::Exited(i, status),
                            () = sleep_until(deadline) => Happened::NotReady(i),
                        }
                    }));
                }
                (Some(running), _) => {
                    waits.push(Box::pin(async move {
                        tokio::select! {
                            status = running.wait() => Happened::Exited(i, status),
                            () = sleep_until(next_probe), if probes => Happened::Probe(i),
                        }
                    }));
                }
                (None, State::Backoff { until }) => {
                    let until = *until;
                    waits.push(Box::pin(async move {
                        sleep_until(until).await;
                        Happened::BackoffOver(i)
                    }));
                }
                _ => {}
            }
        }
        if waits.is_empty() {
            return std::future::pending().await;
        }
        poll_fn(|cx| {
            for wait in &mut waits {
                if let Poll::Ready(happened) = wait.as_mut().poll(cx) {
                    return Poll::Ready(happened);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Acts on what happened: an exit ends the run (`ends_run`), is left (`restart =
    /// "never"`, or a clean exit) or is restarted after the backoff; a start after the
    /// backoff; a liveness probe.
    pub(in crate::dev) async fn on(&mut self, happened: Happened, cx: &mut Cx<'_>) -> Flow<()> {
        match happened {
            Happened::Exited(i, status) => self.exited(i, status, cx).await,
            Happened::BackoffOver(i) => {
                let extra = &mut self.list[i];
                let process = &cx.config.processes[extra.index];
                let started = Instant::now();
                match spawn_one(extra.index, extra.name, cx) {
                    Ok(running) => {
                        let ready =
                            until_ready(process, &running, cx.client.clone(), cx.log.clone());
                        extra.running = Some(running);
                        extra.state = State::Starting {
                            ready,
                            started,
                            deadline: started + process.startup_timeout,
                        };
                        Flow::Continue(())
                    }
                    Err(outcome) => Flow::Break(outcome),
                }
            }
            Happened::Ready(i) => {
                let extra = &mut self.list[i];
                let process = &cx.config.processes[extra.index];
                if let State::Starting { started, .. } = extra.state {
                    say_ready(
                        (cx.config, process),
                        extra.name,
                        started.elapsed(),
                        cx.log,
                        true,
                    );
                }
                extra.state = State::Up {
                    since: Instant::now(),
                };
                extra.missed = 0;
                extra.next_probe = Instant::now() + cx.config.backend.liveness_interval;
                Flow::Continue(())
            }
            Happened::NotReady(i) => {
                let extra = &mut self.list[i];
                let process = &cx.config.processes[extra.index];
                let why = timed_out(process);
                if let Some(mut running) = extra.running.take() {
                    stop(&mut running, cx.config, cx.log).await;
                    let command = command_line(cx.config, process);
                    if let DevOutcome::Failed(report) =
                        not_ready(process, &running, &command, &why, cx.log)
                    {
                        cx.log.error(&report.to_string());
                    }
                }
                self.failed(i, &why, cx)
            }
            Happened::Probe(i) => self.probe(i, cx).await,
        }
    }

    async fn exited(&mut self, i: usize, status: ExitStatus, cx: &mut Cx<'_>) -> Flow<()> {
        let extra = &mut self.list[i];
        let process = &cx.config.processes[extra.index];
        let said = process::describe_status(status);
        let command = command_line(cx.config, process);
        let forked = forked(process, status, &command, cx.log).await;
        if let Some(mut running) = extra.running.take() {
            stop(&mut running, cx.config, cx.log).await;
        }
        if let Some(report) = forked {
            return Flow::Break(report);
        }
        let name = extra.name;
        if process.ends_run {
            cx.log.info(&format!(
                "{name} exited ({said}): stopping (process.{name}.ends_run)"
            ));
            return Flow::Break(DevOutcome::FrontendExited(process::exit_code(status)));
        }
        if process.restart == Restart::Never || status.success() {
            let why = if status.success() {
                "it exited cleanly"
            } else {
                "restart = \"never\""
            };
            cx.log
                .warn(&format!("{name} exited ({said}): not restarted ({why})"));
            extra.state = State::Down;
            return Flow::Continue(());
        }
        cx.log.warn(&format!("{name} exited ({said})"));
        self.failed(i, &format!("it exited: {said}"), cx)
    }

    /// One more failure of process `i`, which is down: the backoff, or the end of the
    /// run after `max_restarts` in a row.
    fn failed(&mut self, i: usize, reason: &str, cx: &mut Cx<'_>) -> Flow<()> {
        let backend = &cx.config.backend;
        let extra = &mut self.list[i];
        let name = extra.name;
        if let State::Up { since } = extra.state
            && since.elapsed() >= STABLE_AFTER
        {
            extra.failures = 0;
        }
        extra.failures += 1;
        if extra.failures > backend.max_restarts {
            return Flow::Break(fail_with(
                cx.log,
                &format!(
                    "{name} failed {} times in a row: dev gave up ({reason})",
                    extra.failures
                ),
                vec![],
                vec![Cause {
                    cause: format!("{name} cannot stay up (its output is above)"),
                    fix: format!(
                        "fix what stops it, then run `cargo xtask dev` again (or set `process.{name}.restart = \"never\"`)"
                    ),
                }],
            ));
        }
        let delay = backoff(backend.retry_delay, extra.failures, backend.max_retry_delay);
        cx.log.info(&format!(
            "restarting {name} in {} (restart {} of at most {} in a row)",
            duration::format(delay),
            extra.failures,
            backend.max_restarts
        ));
        cx.log.event(&Event::Restarting {
            role: name.to_owned(),
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason: reason.to_owned(),
        });
        extra.state = State::Backoff {
            until: Instant::now() + delay,
        };
        Flow::Continue(())
    }

    /// A liveness probe of a `ready = { http }` process: `liveness_failures` misses in
    /// a row restart it, as a crash does.
    async fn probe(&mut self, i: usize, cx: &mut Cx<'_>) -> Flow<()> {
        let backend = &cx.config.backend;
        let extra = &mut self.list[i];
        let process = &cx.config.processes[extra.index];
        extra.next_probe = Instant::now() + backend.liveness_interval;
        let (Ready::Http(path), Some(url)) = (&process.ready, process.url()) else {
            return Flow::Continue(());
        };
        let client = cx
            .client
            .with_timeout(backend.health_timeout.min(backend.liveness_interval));
        let answer = client
            .status(&format!("{url}{path}"), cx.log.correlation_id())
            .await;
        if matches!(answer, Ok(code) if (200..300).contains(&code)) {
            extra.missed = 0;
            return Flow::Continue(());
        }
        extra.missed += 1;
        if extra.missed < backend.liveness_failures {
            return Flow::Continue(());
        }
        let name = extra.name;
        cx.log.warn(&format!(
            "{name} stopped answering GET {path} ({} probes in a row): restarting it",
            extra.missed
        ));
        if let Some(mut running) = extra.running.take() {
            stop(&mut running, cx.config, cx.log).await;
        }
        self.failed(i, &format!("it stopped answering GET {path}"), cx)
    }

    /// The ones running now.
    pub(in crate::dev) fn running(&self) -> impl Iterator<Item = (&Extra, &Running)> {
        self.list
            .iter()
            .filter_map(|extra| extra.running.as_ref().map(|running| (extra, running)))
    }

    /// The URL (or command) each one is shown with in the summary.
    pub(in crate::dev) fn shown_at(&self, extra: &Extra, config: &Config) -> String {
        shown(config, &config.processes[extra.index])
    }
}

/// Runs every future to its end, together.
pub(in crate::dev) async fn join_all<'a>(futures: Vec<Pin<Box<dyn Future<Output = ()> + 'a>>>) {
    let mut futures = futures;
    poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}
