//! `cargo xtask stop [RUN_ID | --all]`: stops a run of this checkout as Ctrl-C in its
//! terminal would, from anywhere, and waits until it has stopped.

use clap::Args;
use coordinator::control::{self, Which};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run to stop (`status` shows it); the only live run when omitted.
    #[arg(value_name = "RUN_ID", conflicts_with = "all")]
    id: Option<String>,
    /// Stop every live run of this checkout.
    #[arg(long)]
    all: bool,
}

pub fn run(args: &StopArgs) -> u8 {
    let config = match crate::load_config(&[]) {
        Ok(config) => config,
        Err(err) => return crate::config_error(&err),
    };
    let which = match (&args.id, args.all) {
        (_, true) => Which::All,
        (Some(id), false) => Which::Id(id.clone()),
        (None, false) => Which::TheOne,
    };
    let report = control::stop(&config, &which);
    for line in &report.cleaned {
        eprintln!("{line}");
    }
    if !report.ambiguous.is_empty() {
        eprintln!(
            "error: {} live dev runs in this checkout ({}): name one (`cargo xtask stop <RUN_ID>`) or stop all with `cargo xtask stop --all`",
            report.ambiguous.len(),
            report.ambiguous.join(", ")
        );
        return crate::exit::USAGE;
    }
    for (id, pid) in &report.stopped {
        crate::print(&format!("stopped dev run {id} (pid {pid})\n"));
    }
    for (id, pid) in &report.still_running {
        eprintln!(
            "error: dev run {id} (pid {pid}) is still stopping; see `cargo xtask status`, or its log"
        );
    }
    for (id, pid) in &report.not_dev {
        eprintln!(
            "warning: the record of dev run {id} names pid {pid}, which is not a dev process: not signalled"
        );
    }
    if let Some(why) = &report.no_run {
        eprintln!("{why}: nothing to stop");
    }
    crate::exit::of_stop(&report)
}
