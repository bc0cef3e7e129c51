//! The `runs` check: the live `dev` runs of this checkout (from `.dev/runs/`), and the
//! leftovers of runs that were killed outright, with the command that stops them.

use serde_json::json;

use super::{Check, Context, Status};
use crate::holder::human_uptime;
use crate::runs::{Record, Runs};

pub(super) fn runs(cx: &Context) -> Check {
    let records = Runs::of(&cx.config.root).read_all();
    let (live, dead): (Vec<Record>, Vec<Record>) = records.into_iter().partition(Record::is_live);
    let leftovers: Vec<(String, Vec<crate::process::ProcessInfo>)> = dead
        .iter()
        .map(|run| {
            let left = run.leftovers().into_iter().map(|(_, info)| info).collect();
            (run.correlation_id.clone(), left)
        })
        .filter(|(_, left): &(String, Vec<_>)| !left.is_empty())
        .collect();
    let data = json!({
        "live": live.iter().map(|run| json!({
            "pid": run.pid,
            "correlation_id": run.correlation_id,
            "backend_port": run.backend_port,
            "frontend_port": run.frontend_port,
            "uptime_s": run.uptime().as_secs(),
        })).collect::<Vec<_>>(),
        "leftovers": leftovers.iter().flat_map(|(run, left)| left.iter().map(move |info| json!({
            "run": run, "pid": info.pid, "cmdline": info.cmdline,
        }))).collect::<Vec<_>>(),
    });
    let mut check = if !leftovers.is_empty() {
        let pids: Vec<String> = leftovers
            .iter()
            .flat_map(|(_, left)| left.iter().map(|info| info.pid.to_string()))
            .collect();
        Check::new(
            "runs",
            Status::Warn,
            format!(
                "{} process{} left running by dev runs that did not exit cleanly",
                pids.len(),
                if pids.len() == 1 { "" } else { "es" }
            ),
        )
        .fix(format!(
            "`cargo xtask stop` (or the next `cargo xtask dev`) stops them, or by hand: kill {}",
            pids.join(" ")
        ))
    } else if live.is_empty() {
        Check::new("runs", Status::Ok, "no dev run is live in this checkout")
    } else {
        Check::new(
            "runs",
            Status::Ok,
            format!(
                "{} dev run{} live in this checkout",
                live.len(),
                if live.len() == 1 { "" } else { "s" }
            ),
        )
    };
    for run in &live {
        let port = run
            .backend_port
            .map_or_else(|| "no port yet".to_owned(), |p| format!("backend port {p}"));
        check = check.detail(format!(
            "live: dev run {} (pid {}), {port}, up {}",
            run.correlation_id,
            run.pid,
            human_uptime(run.uptime())
        ));
    }
    for (run, left) in &leftovers {
        for info in left {
            check = check.detail(format!(
                "left by dev run {run}: pid {} ({})",
                info.pid, info.cmdline
            ));
        }
    }
    check.data(data)
}

/// The live run that set the frontend config's port to `value`, if one did: its value
/// is expected while it runs, and it restores the file when it stops.
pub(super) fn live_writer(cx: &Context, value: &str) -> Option<Record> {
    let file = &cx.config.frontend.config_file;
    Runs::of(&cx.config.root)
        .read_all()
        .into_iter()
        .filter(Record::is_live)
        .find(|run| {
            run.frontend_config
                .as_ref()
                .is_some_and(|c| &c.path == file)
                && run.backend_port.is_some_and(|p| p.to_string() == value)
        })
}
