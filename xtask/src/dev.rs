//! `cargo xtask dev`.

use clap::Args;
use coordinator::config::{FlagValue, Kind, Value};
use coordinator::dev::{DevOptions, DevOutcome};
use coordinator::runlog::{RunLog, new_correlation_id};

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Backend port: a number, or `auto` to accept the next free port without asking.
    #[arg(long, value_name = "N|auto")]
    port: Option<String>,
    /// Accept every offer (a free port, stopping our own stale backend) without asking.
    #[arg(long)]
    yes: bool,
    /// Start only the backend.
    #[arg(long)]
    no_frontend: bool,
    /// Do not create or update the backend's virtualenv.
    #[arg(long)]
    no_sync: bool,
    /// Reinstall the backend's requirements even if they did not change (after a
    /// `pip uninstall`, or a venv edited by hand).
    #[arg(long, conflicts_with = "no_sync")]
    resync: bool,
    /// Print each setting's effective value and where it came from, then exit.
    #[arg(long)]
    print_config: bool,
    /// Run this command in place of the configured frontend; `dev` exits with its code.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(args: &DevArgs) -> u8 {
    let mut flags = Vec::new();
    if let Some(port) = args.port.as_deref().filter(|p| *p != "auto") {
        match Kind::Port.parse_text(port) {
            Some(value @ Value::Port(_)) => flags.push(FlagValue {
                key: "backend.port",
                flag: "--port",
                value,
            }),
            _ => {
                eprintln!(
                    "error: invalid value {port:?} for --port: expected {} or `auto`",
                    Kind::Port.expected()
                );
                return crate::exit::USAGE;
            }
        }
    }
    let config = match crate::load_config(&flags) {
        Ok(config) => config,
        Err(err) => return crate::config_error(&err),
    };
    if args.print_config {
        let header = match &config.file {
            Some(file) => format!("# config file: {}\n", file.display()),
            None => "# no dev.toml found: built-in defaults\n".to_owned(),
        };
        crate::print(&format!("{header}{}", config.describe()));
        return crate::exit::OK;
    }
    let options = DevOptions {
        no_sync: args.no_sync,
        no_frontend: args.no_frontend,
        frontend_command: (!args.command.is_empty()).then(|| args.command.clone()),
        port_auto: args.port.as_deref() == Some("auto"),
        yes: args.yes,
    };
    if args.resync
        && let Err(err) = coordinator::venv::forget_sync(&config.backend)
    {
        eprintln!(
            "error: --resync: cannot remove the sync marker in {}: {err}",
            config.backend.venv.display()
        );
        return crate::exit::FAILED;
    }
    let log = RunLog::create(&config.dev.log_dir, &new_correlation_id());
    let outcome = coordinator::dev::run(&config, &options, &log);
    match &outcome {
        DevOutcome::Failed(report) => eprintln!("\n{report}"),
        DevOutcome::Misconfigured(message) => eprintln!("error: invalid configuration\n{message}"),
        DevOutcome::Stopped | DevOutcome::FrontendExited(_) => {}
    }
    u8::try_from(outcome.exit_code()).unwrap_or(crate::exit::FAILED)
}
