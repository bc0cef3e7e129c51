//! `cargo xtask status [--json]`: this checkout's live runs, for a person, a script or an
//! editor (which port did it get?).

use clap::Args;
use coordinator::control::{self, RunStatus};
use coordinator::holder::human_uptime;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One JSON object (schema version 1, see the README) rather than lines for people.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &StatusArgs) -> u8 {
    let config = match crate::load_config(&[]) {
        Ok(config) => config,
        Err(err) => return crate::config_error(&err),
    };
    let status = control::status(&config);
    if args.json {
        let text = serde_json::to_string_pretty(&status).unwrap_or_default();
        crate::print(&format!("{text}\n"));
    } else if status.runs.is_empty() {
        crate::print(&format!("no live dev run in {}\n", config.root.display()));
    } else {
        let text: String = status.runs.iter().map(human).collect();
        crate::print(&text);
    }
    crate::exit::of_status(status.any_up(), !status.runs.is_empty())
}

/// A run as lines for people.
fn human(run: &RunStatus) -> String {
    let uptime = human_uptime(std::time::Duration::from_millis(run.uptime_ms));
    let mut text = format!(
        "dev run {} (pid {}): {}, for {uptime}\n",
        run.id, run.pid, run.state
    );
    if let Some(waiting) = &run.waiting_for {
        text.push_str(&format!("  waiting for {waiting}\n"));
    }
    for process in &run.processes {
        let shown = &process.shown;
        // A process that is not a server is shown by its command, as the summary does.
        let at = shown
            .url
            .as_deref()
            .or(shown.command.as_deref())
            .unwrap_or("-");
        let pid = shown.pid.map_or("-".to_owned(), |pid| pid.to_string());
        let how = match &shown.reused_from {
            Some(run) => format!("reused from dev run {run}"),
            None => shown.how.clone(),
        };
        text.push_str(&format!(
            "  {:<9}{at} (pid {pid}, {how}): {}\n",
            shown.role, process.health
        ));
    }
    if let Some(frontend) = &run.frontend_config {
        let value = frontend.value.as_deref().unwrap_or("(not set)");
        text.push_str(&format!("  {} {} = {value}\n", frontend.path, frontend.key));
    }
    if let Some(log) = &run.log {
        text.push_str(&format!("  log {log}\n"));
    }
    text
}
