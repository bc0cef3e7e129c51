//! `cargo xtask wait [--timeout 60s]`: blocks until this checkout's run is up, for a
//! script that started `dev` elsewhere (`dev --detach &`, another terminal).

use clap::Args;
use coordinator::config::{Kind, Value};
use coordinator::control::{self, WaitOutcome};

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// How long to wait at most, e.g. `60s`, `500ms`, `2m`.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    timeout: String,
}

pub fn run(args: &WaitArgs) -> u8 {
    let Some(Value::Duration(timeout)) = Kind::Timeout.parse_text(&args.timeout) else {
        eprintln!(
            "error: invalid value {:?} for --timeout: expected {}",
            args.timeout,
            Kind::Timeout.expected()
        );
        return crate::exit::USAGE;
    };
    let config = match crate::load_config(&[]) {
        Ok(config) => config,
        Err(err) => return crate::config_error(&err),
    };
    match control::wait(&config, timeout) {
        WaitOutcome::Up(run) => {
            let urls: Vec<String> = run
                .processes
                .iter()
                .map(|p| format!("{} {}", p.role, p.url.as_deref().unwrap_or("-")))
                .collect();
            crate::print(&format!(
                "dev run {} is up: {}\n",
                run.correlation_id,
                urls.join(", ")
            ));
            crate::exit::OK
        }
        WaitOutcome::Failed { id, report } => {
            eprintln!("error: dev run {id} failed\n\n{report}");
            crate::exit::FAILED
        }
        WaitOutcome::Ended { id, log, tail } => {
            let log = log.map_or_else(String::new, |log| format!(" (log {log})"));
            eprintln!(
                "error: dev run {id} stopped before it was up{log}; its last lines:\n{}",
                tail.join("\n")
            );
            crate::exit::FAILED
        }
        WaitOutcome::TimedOut { waiting_for } => {
            eprintln!(
                "error: timed out after {}: still waiting for {waiting_for}",
                args.timeout
            );
            crate::exit::FAILED
        }
    }
}
