//! Stopping what the run started, all together: the frontend, an owned backend and the
//! `[process.NAME]` processes, each with `Running::stop_with_leftovers` (SIGTERM to its
//! group, `shutdown_grace`, then SIGKILL); a second signal kills at once.

use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use tokio::sync::Notify;

use super::processes::{Backend, Processes};
use super::run::Run;
use crate::config::Config;
use crate::process::{self, Running};
use crate::runlog::RunLog;

impl Processes {
    /// Stops the frontend, an owned backend and the `[process.NAME]` processes together;
    /// a second signal kills at once.
    pub(super) async fn stop_all(&mut self, config: &Config, run: &mut Run<'_>) {
        let (log, shutdown) = (run.log, &mut *run.shutdown);
        let grace = config.dev.shutdown_grace;
        let hurry = Notify::new();
        let mut frontend = self.frontend.take();
        let mut backend = match self.backend.take() {
            Some(Backend::Owned(running)) => Some(running),
            _ => None,
        };
        let mut extras: Vec<Running> = self
            .extras
            .list
            .iter_mut()
            .filter_map(|extra| extra.running.take())
            .collect();
        let both = async {
            let others = extras
                .iter_mut()
                .map(|running| {
                    let stop = stop_one(Some(running), grace, &hurry, log);
                    Box::pin(async move {
                        stop.await;
                    }) as Pin<Box<dyn Future<Output = ()> + '_>>
                })
                .collect();
            tokio::join!(
                stop_one(frontend.as_mut(), grace, &hurry, log),
                stop_one(backend.as_mut(), grace, &hurry, log),
                super::extra::join_all(others)
            )
        };
        let mut both = pin!(both);
        loop {
            tokio::select! {
                _ = &mut both => break,
                name = shutdown.next() => {
                    log.warn(&format!("{name} again: killing everything now"));
                    hurry.notify_waiters();
                }
            }
        }
    }
}

async fn stop_one(
    running: Option<&mut Running>,
    grace: Duration,
    hurry: &Notify,
    log: &RunLog,
) -> Option<process::StopReport> {
    let running = running?;
    log.info(&format!(
        "stopping {} pid {}",
        running.origin().tag(),
        running.pid()
    ));
    // A process can exit before its last lines are copied (the output of `dev -- cmd`
    // is often all of it): they are printed before dev exits.
    let drain = Duration::from_millis(500);
    Some(
        running
            .stop_with_leftovers(grace, hurry.notified(), drain, log)
            .await,
    )
}
