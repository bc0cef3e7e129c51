//! `cargo xtask dev`.

use clap::{Args, ValueEnum};
use coordinator::config::{FlagValue, Kind, Value};
use coordinator::dev::{DevOptions, DevOutcome};
use coordinator::events::Event;
use coordinator::runlog::{LogOptions, RunLog, new_correlation_id};

/// How `dev` writes what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Lines for people.
    Human,
    /// One JSON event a line on stdout (schema in the README), lines for people on stderr.
    Json,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Backend port: a number, or `auto` to accept the next free port without asking.
    #[arg(long, value_name = "N|auto")]
    port: Option<String>,
    /// Frontend port: a number, or `auto` to accept the next free port without asking.
    #[arg(long, value_name = "N|auto")]
    frontend_port: Option<String>,
    /// A backend that `dev` does not start: its http:// or https:// base URL (`backend.url`).
    #[arg(long, value_name = "URL")]
    backend_url: Option<String>,
    /// Accept every offer (a free port, stopping our own stale backend) without asking.
    #[arg(long)]
    yes: bool,
    /// Start only the backend.
    #[arg(long)]
    no_frontend: bool,
    /// Do not create or update the backend's virtualenv.
    #[arg(long)]
    no_sync: bool,
    /// Do not restart the backend when its sources change (`backend.watch`).
    #[arg(long)]
    no_watch: bool,
    /// Reinstall the backend's requirements even if they did not change (after a
    /// `pip uninstall`, or a venv edited by hand).
    #[arg(long, conflicts_with = "no_sync")]
    resync: bool,
    /// Print each setting's effective value and where it came from, then exit.
    #[arg(long)]
    print_config: bool,
    /// Run in the background: return once the app is up (its summary, exit 0) or has
    /// failed (the report, exit 1, nothing left running). `cargo xtask stop` stops it.
    #[arg(long)]
    detach: bool,
    /// This run is the background half of `dev --detach`: its stdout (the events' pipe
    /// to the foreground) closes once the foreground has returned, which is no reason
    /// to stop.
    #[arg(long, hide = true)]
    detached_run: bool,
    /// `human` (default) or `json`: one JSON event a line on stdout, for scripts and
    /// editors; the lines for people then go to stderr.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "human")]
    message_format: MessageFormat,
    /// Run this command in place of the configured frontend; `dev` exits with its code.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(args: &DevArgs) -> u8 {
    // Before any thread starts, so that every thread inherits it.
    coordinator::process::hold_terminal_signals();
    let flags = match flags(args) {
        Ok(flags) => flags,
        Err(message) => {
            eprintln!("error: {message}");
            return crate::exit::USAGE;
        }
    };
    let config = match crate::load_config(&flags) {
        Ok(config) => config,
        Err(err) => return crate::config_error(&err),
    };
    if args.print_config {
        let header = match &config.file {
            Some(file) => format!("# config file: {}\n", file.display()),
            None => "# no dev.toml found: built-in defaults\n".to_owned(),
        };
        let preview = coordinator::dev::preview(&config);
        crate::print(&format!("{header}{}{preview}", config.describe()));
        return crate::exit::OK;
    }
    if args.resync
        && let Err(err) = coordinator::venv::forget_sync(&config.backend)
    {
        eprintln!(
            "error: --resync: cannot remove the sync marker in {}: {err}",
            config.backend.venv.display()
        );
        return crate::exit::FAILED;
    }
    if args.detach {
        return detach(args, &config);
    }
    let json = args.message_format == MessageFormat::Json;
    let log_options = LogOptions {
        keep: Some(config.dev.keep_logs as usize),
        max_size: config.dev.max_log_size,
        health_path: Some(config.backend.health_path.clone()),
        show_health_logs: config.backend.show_health_logs,
        events: json,
        // Whoever read dev's output has gone (`dev --message-format json | head`):
        // stop as on SIGTERM, as a program killed by SIGPIPE would have ended.
        on_stdout_closed: (!args.detached_run).then_some(coordinator::process::stop_self as fn()),
    };
    let log = RunLog::create_with(&config.dev.log_dir, &new_correlation_id(), &log_options);
    crate::panic::set_run(log.correlation_id(), log.path());
    let outcome = coordinator::dev::run(&config, &options(args), &log);
    let code = crate::exit::of_dev(&outcome);
    ended(&log, &outcome, code);
    // The report below must come after the run's last lines, and a terminal that is not
    // read (Ctrl-S) must not keep dev from exiting.
    log.flush(std::time::Duration::from_secs(1));
    match &outcome {
        DevOutcome::Failed(report) => eprintln!("\n{report}"),
        DevOutcome::Misconfigured(message) => eprintln!(
            "error: invalid configuration\n{}",
            coordinator::text::printable_lines(message)
        ),
        DevOutcome::Stopped | DevOutcome::FrontendExited(_) => {}
    }
    code
}

/// The run's last events: `failed` (the report as data), then `stopped`, beside the
/// report printed for people.
fn ended(log: &RunLog, outcome: &DevOutcome, code: u8) {
    let reason = match outcome {
        DevOutcome::Stopped => "stopped by a signal (Ctrl-C, SIGTERM, `cargo xtask stop`)",
        DevOutcome::FrontendExited(_) => "the frontend (or `dev -- <cmd>`) exited",
        DevOutcome::Failed(report) => {
            let shown = log.path().map(|path| path.display().to_string());
            log.event(&report.event(shown));
            "failed"
        }
        DevOutcome::Misconfigured(_) => "invalid configuration",
    };
    log.event(&Event::Stopped {
        reason: reason.to_owned(),
        exit_code: i32::from(code),
    });
}

/// `dev --detach`: this command again, in the background with JSON events, waited on
/// until it is up or has failed.
fn detach(args: &DevArgs, config: &coordinator::config::Config) -> u8 {
    use coordinator::detach::Detached;
    let json = args.message_format == MessageFormat::Json;
    let Ok(program) = std::env::current_exe() else {
        eprintln!("error: --detach: cannot find this program to start it in the background");
        return crate::exit::FAILED;
    };
    let mut argv = vec![program.into_os_string()];
    argv.extend(background_args(std::env::args_os().skip(1).collect()));
    let cwd = std::env::current_dir().unwrap_or_else(|_| config.root.clone());
    let mut echo = |line: &str| {
        if json {
            crate::print(&format!("{line}\n"));
        }
    };
    match coordinator::detach::start(&argv, &cwd, &mut echo) {
        Detached::Up { lines, .. } => {
            if !json {
                crate::print(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
            }
            crate::exit::OK
        }
        Detached::Failed { report } => {
            if !json {
                eprintln!("{report}");
            }
            crate::exit::FAILED
        }
        Detached::Ended { code, log } => {
            let how = code.map_or_else(|| "is gone".to_owned(), |c| format!("exited with {c}"));
            let log = log.map_or_else(String::new, |log| format!("; its log: {log}"));
            eprintln!("error: the background run {how} before it was up{log}");
            crate::exit::FAILED
        }
        Detached::Interrupted { code } => {
            let how = code.map_or_else(
                || "is still stopping".to_owned(),
                |c| format!("stopped (exit {c})"),
            );
            eprintln!("interrupted while the background run started: it {how}");
            crate::exit::of_interrupted_start(code)
        }
        Detached::NotStarted(why) => {
            eprintln!("error: {why}");
            crate::exit::FAILED
        }
    }
}

/// The background run's arguments: `dev --message-format json` and the given ones
/// without `--detach` and `--message-format` (those after `--` are the command's own).
fn background_args(given: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut rest = given.into_iter();
    let mut skip_value = false;
    for arg in rest.by_ref() {
        if skip_value {
            skip_value = false;
            continue;
        }
        match arg.to_str() {
            Some("--") => {
                out.push(arg);
                break;
            }
            Some("--detach") => {}
            Some("--message-format") => skip_value = true,
            Some(text) if text.starts_with("--message-format=") => {}
            Some("dev") if out.is_empty() => {
                out.push(arg);
                out.extend([
                    "--message-format".into(),
                    "json".into(),
                    "--detached-run".into(),
                ]);
            }
            _ => out.push(arg),
        }
    }
    out.extend(rest);
    out
}

/// What the command line asks of the run, besides the config.
fn options(args: &DevArgs) -> DevOptions {
    DevOptions {
        no_sync: args.no_sync,
        no_frontend: args.no_frontend,
        frontend_command: (!args.command.is_empty()).then(|| args.command.clone()),
        port_auto: args.port.as_deref() == Some("auto"),
        yes: args.yes,
        no_watch: args.no_watch,
        frontend_port_auto: args.frontend_port.as_deref() == Some("auto"),
    }
}

/// The config layer of the flags (`--port N`, `--frontend-port N`, `--backend-url`),
/// each validated by its setting's own parser; the message of the first invalid one.
fn flags(args: &DevArgs) -> Result<Vec<FlagValue>, String> {
    let mut flags = Vec::new();
    let ports = [
        (args.port.as_deref(), "backend.port", "--port"),
        (
            args.frontend_port.as_deref(),
            "frontend.port",
            "--frontend-port",
        ),
    ];
    for (given, key, flag) in ports {
        let Some(port) = given.filter(|p| *p != "auto") else {
            continue;
        };
        let Some(Value::Port(number)) = Kind::Port.parse_text(port) else {
            return Err(format!(
                "invalid value {port:?} for {flag}: expected {} or `auto`",
                Kind::Port.expected()
            ));
        };
        let value = if key == "frontend.port" {
            Value::OptionalPort(Some(number))
        } else {
            Value::Port(number)
        };
        flags.push(FlagValue { key, flag, value });
    }
    if let Some(url) = &args.backend_url {
        let Some(value) = Kind::Url.parse_text(url) else {
            return Err(format!(
                "invalid value {url:?} for --backend-url: expected {}",
                Kind::Url.expected()
            ));
        };
        flags.push(FlagValue {
            key: "backend.url",
            flag: "--backend-url",
            value,
        });
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::background_args;

    fn args(text: &[&str]) -> Vec<std::ffi::OsString> {
        text.iter().map(Into::into).collect()
    }

    #[test]
    fn the_background_run_gets_json_events_and_the_command_keeps_its_own_flags() {
        let cases: [(&[&str], &[&str]); 4] = [
            (
                &["dev", "--detach", "--no-sync"],
                &[
                    "dev",
                    "--message-format",
                    "json",
                    "--detached-run",
                    "--no-sync",
                ],
            ),
            (
                &[
                    "dev",
                    "--message-format",
                    "human",
                    "--detach",
                    "--port",
                    "auto",
                ],
                &[
                    "dev",
                    "--message-format",
                    "json",
                    "--detached-run",
                    "--port",
                    "auto",
                ],
            ),
            (
                &["dev", "--message-format=json", "--detach"],
                &["dev", "--message-format", "json", "--detached-run"],
            ),
            (
                &[
                    "dev",
                    "--detach",
                    "--",
                    "pytest",
                    "--detach",
                    "--message-format",
                    "x",
                ],
                &[
                    "dev",
                    "--message-format",
                    "json",
                    "--detached-run",
                    "--",
                    "pytest",
                    "--detach",
                    "--message-format",
                    "x",
                ],
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(background_args(args(given)), args(expected), "{given:?}");
        }
    }
}
