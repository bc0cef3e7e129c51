//! The run as its steps act on it: one value in place of the same four parameters on
//! every step of `dev.rs` and `dev/*.rs`.

use super::outcome::DevOptions;
use super::this_run::ThisRun;
use crate::runlog::RunLog;
use crate::signals::Shutdown;

/// What the command line asked for, the run's log, the shutdown requests a step waits
/// on, and this run's record. The config goes beside it, not in it: it is the one thing
/// the steps change (the settled ports make the run's config, and a backend that took
/// another port changes it again).
pub(super) struct Run<'a> {
    pub(super) options: &'a DevOptions,
    pub(super) log: &'a RunLog,
    pub(super) shutdown: &'a mut Shutdown,
    pub(super) this_run: &'a mut ThisRun,
}
